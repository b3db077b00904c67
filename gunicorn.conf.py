"""gunicorn settings for the Procfile's web process (`gunicorn -c gunicorn.conf.py wsgi:app`).

Every value can be set from the environment, as platforms expect: PORT and WEB_CONCURRENCY are set
by Heroku-style platforms, the others by the admin.
"""
import os

# the platform says where to listen
bind = os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{os.environ.get('PORT', '5000')}"
# processes x threads: threads let one process keep serving pages while others stream a long upload
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# A whole match on a slow line takes minutes to upload. gthread workers keep heart-beating while a
# request runs, so `timeout` only kills a process that is stuck; a generous value still protects uploads.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "600"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Recycling processes after N requests is off by default: a recycled process gives its requests in
# flight only graceful_timeout to finish, which would cut a long upload or video stream.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10
# heartbeat files on tmpfs: a slow or network disk must not make the arbiter kill healthy workers
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# behind the platform's router / a reverse proxy: trust its X-Forwarded-* (set "*" on Heroku-style routers)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's runtime control socket (gunicornc) defaults to one path per user; several footy web
# processes on one host would fight over it. Off unless GUNICORN_CONTROL_SOCKET names a path.
control_socket_disable = not os.environ.get("GUNICORN_CONTROL_SOCKET")
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]


def on_starting(server):
    """`honcho start` runs release, web and worker at once: serve only once release has migrated."""
    if not os.environ.get("HONCHO_PROCESS_NAME"):
        return  # a platform runs the release phase before it starts web
    from footy import create_app
    from footy.cli import wait_for_schema
    from footy.extensions import db

    app = create_app()
    with app.app_context():
        wait_for_schema()
        db.engine.dispose()  # no connection of the master's may leak into the forked workers
