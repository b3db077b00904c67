"""The pages' forms. They carry the CSRF token and the raw values; the rules (what is a valid box,
who may pick, when the analysis may start) stay in jobs.service, whose errors the pages show."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SelectField, StringField

from ..jobs.payloads import ROLES


class UploadForm(FlaskForm):
    video = FileField("Match video")


class PickForm(FlaskForm):
    frame_key = HiddenField()
    track_id = HiddenField()  # each player's <button name="track_id" value="9"> sets it


class TargetForm(FlaskForm):
    frame_key = HiddenField()
    x = StringField("x")
    y = StringField("y")
    w = StringField("width")
    h = StringField("height")
    role = SelectField("Role (optional)", choices=[("", "No role")] + [(r, r.capitalize()) for r in ROLES],
                       default="", validate_choice=False)
    force = HiddenField(default="")


class StartForm(FlaskForm):
    pass
