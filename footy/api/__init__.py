"""JSON blueprint: parse, call jobs.service, wrap in the envelope. No rule lives here."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

from . import routes  # noqa: E402,F401
