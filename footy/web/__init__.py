"""HTML blueprint: forms and pages over the same jobs.service calls as the API."""
from flask import Blueprint

bp = Blueprint("web", __name__)

from . import routes  # noqa: E402,F401
