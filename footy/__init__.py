"""footy: study one football player from match video."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config as footy_config
from .extensions import csrf, db, login_manager, migrate
from .storage import make_storage

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    instance = Path((overrides or {}).get("INSTANCE_PATH") or ROOT / "instance")
    app = Flask(__name__, instance_path=str(instance), instance_relative_config=True,
                template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    instance.mkdir(parents=True, exist_ok=True)
    # "/api/jobs//x" must be a JSON 404, not werkzeug's HTML redirect to a merged path
    app.url_map.merge_slashes = False
    app.config.from_mapping(footy_config.load(instance))
    if overrides:
        app.config.update({k: v for k, v in overrides.items() if k != "INSTANCE_PATH"})
        if "MAX_UPLOAD_MB" in overrides:
            app.config["MAX_CONTENT_LENGTH"] = int(overrides["MAX_UPLOAD_MB"]) * 1024 * 1024
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Sign in to see your jobs."
    app.extensions["footy.storage"] = make_storage(app.config)

    from . import auth, errors, security
    from .api import bp as api_bp
    from .web import bp as web_bp

    app.before_request(auth.authenticate)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(web_bp)
    errors.register(app)
    security.register(app)

    from .cli import footy_cli

    app.cli.add_command(footy_cli)
    return app


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """Web and worker write at once: WAL lets readers carry on, busy_timeout makes writers wait."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
