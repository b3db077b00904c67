"""The migrations are the schema: `flask db upgrade` (the Procfile's release) builds exactly what
footy/models.py declares, from scratch, on SQLite and on PostgreSQL; there is one head; and it
downgrades and upgrades again cleanly. When a model changes without a migration, these fail."""
from __future__ import annotations

import subprocess

import pytest
import sqlalchemy as sa

from footy import create_app
from footy.config import normalise_database_url
from footy.extensions import db

from .conftest import ROOT, procfile_command, process_env, run_process

TABLES = {"users", "api_tokens", "jobs"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'footy.db'}"
    return request.getfixturevalue("postgres_url")


def footy_env(tmp_path, database_url: str) -> dict:
    return process_env(DATABASE_URL=database_url, SECRET_KEY="migrations-test",
                       FOOTY_MEDIA_DIR=tmp_path / "media", REDIS_URL="redis://127.0.0.1:1/0")


def flask_cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["flask", "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def table_names(url: str) -> set[str]:
    engine = sa.create_engine(normalise_database_url(url))
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_release_builds_exactly_the_models_schema_from_scratch(database_url, tmp_path):
    # platforms hand out postgres://user:pass@host/db (Heroku style): footy takes it as it is
    env = footy_env(tmp_path, database_url.replace("postgresql://", "postgres://", 1))
    assert table_names(database_url) == set()
    release = run_process("release", env)  # the Procfile's `flask --app wsgi db upgrade`
    assert "Running upgrade  -> " in release.stderr
    assert table_names(database_url) == TABLES | {"alembic_version"}

    check = flask_cli(env, "db", "check")  # alembic compares the migrated database with the models
    assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout + check.stderr, (
        "footy/models.py and migrations/ disagree; generate a migration with "
        "`flask --app wsgi db migrate -m '...'` and review it:\n" + check.stdout + check.stderr)

    again = run_process("release", env)  # a second release is a no-op
    assert "Running upgrade" not in again.stderr

    # the check can fail: a schema that drifted from the models is reported
    engine = sa.create_engine(normalise_database_url(database_url))
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE jobs ADD COLUMN drifted INTEGER"))
    engine.dispose()
    drift = flask_cli(env, "db", "check")
    assert drift.returncode != 0 and "drifted" in drift.stdout + drift.stderr


def test_migrations_downgrade_to_nothing_and_upgrade_again(database_url, tmp_path):
    from flask_migrate import downgrade, upgrade

    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
                      "FOOTY_MEDIA_DIR": str(tmp_path / "media")})
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        assert table_names(database_url) <= {"alembic_version"}
        upgrade()
        assert table_names(database_url) == TABLES | {"alembic_version"}
        db.engine.dispose()


def test_one_linear_history_with_a_single_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config(str(ROOT / "migrations" / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, f"several heads, merge them: {script.get_heads()}"
    revisions = list(script.walk_revisions())
    assert len(revisions) == len(list((ROOT / "migrations" / "versions").glob("*.py")))
    assert sum(1 for r in revisions if r.down_revision is None) == 1
    assert all(not isinstance(r.down_revision, tuple) or len(r.down_revision) <= 2 for r in revisions)


def test_make_run_upgrades_through_init_db(tmp_path):
    """`make run` (embedded defaults) goes through `flask footy init-db`, the same migrations."""
    app = create_app({"INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "x",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'run.db'}",
                      "FOOTY_MEDIA_DIR": str(tmp_path / "media")})
    result = app.test_cli_runner().invoke(args=["footy", "init-db"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(sa.inspect(db.engine).get_table_names()) == TABLES | {"alembic_version"}
        head = db.session.execute(sa.text("select version_num from alembic_version")).scalar_one()
        db.engine.dispose()
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(ROOT / "migrations"))
    assert head == ScriptDirectory.from_config(config).get_current_head()


def test_the_procfile_declares_web_worker_and_release():
    assert procfile_command("release") == ["flask", "--app", "wsgi", "footy", "release"]
    assert procfile_command("web")[:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    assert procfile_command("worker")[:5] == ["flask", "--app", "wsgi", "footy", "worker"]
