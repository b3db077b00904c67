from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..extensions import db
from ..models import User
from . import bp
from .throttle import throttle_failed_sign_in, record_failed_sign_in, clear_failed_sign_ins


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    remember = BooleanField("Keep me signed in")


def _safe_next(target: str | None) -> str:
    # only a local path: never an open redirect
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("web.jobs")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = SignInForm()
    status = 200
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        wait = throttle_failed_sign_in(email, request.remote_addr or "")
        user = db.session.scalar(db.select(User).where(User.email == email))
        if wait is None and user is not None and user.check_password(form.password.data):
            clear_failed_sign_ins(email, request.remote_addr or "")
            login_user(user, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")))
        if wait is None:
            record_failed_sign_in(email, request.remote_addr or "")
            flash("Wrong email or password.", "error")
            status = 401
        else:
            flash(f"Too many failed sign-ins. Try again in {wait} seconds.", "error")
            status = 429
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout():
    logout_user()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
