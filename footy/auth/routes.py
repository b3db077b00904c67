from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import User
from . import bp
from .throttle import clear_failed_sign_ins, record_failed_sign_in, throttle_failed_sign_in

# checked when the email is unknown, so a wrong email takes as long as a wrong password
_NO_USER_HASH = generate_password_hash("footy: no such user")


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
        if wait is None and _password_ok(user, form.password.data):
            clear_failed_sign_ins(email, request.remote_addr or "")
            session.clear()  # nothing from before the sign-in carries over
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


def _password_ok(user: User | None, password: str) -> bool:
    if user is None:
        check_password_hash(_NO_USER_HASH, password)
        return False
    return user.check_password(password)


@bp.post("/logout")
def logout():
    logout_user()
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))
