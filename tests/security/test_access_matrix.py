"""Who may do what, on every route footy has: the matrix is built from app.url_map, so a route
added later is covered without touching this file.

Callers: coach A (owner of job A) and coach B, each by session cookie and by Bearer token; the
admin; anonymous; a revoked token; a made-up token. For each route and method, each answer is
checked, and B's answer about A's job must be exactly B's answer about a job that does not exist.
"""
from __future__ import annotations

import json
import re

import pytest

from footy.security import HEADERS

MISSING_JOB = "0" * 32
SKIP_ENDPOINTS = {"auth.logout"}  # signs the shared session out; tested on its own in test_auth.py
PUBLIC_ENDPOINTS = {"static", "auth.login", "web.index"}


def rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint not in SKIP_ENDPOINTS),
                  key=lambda r: (r.rule, r.endpoint))


def sample_url(rule, job_id: str) -> str:
    values = {}
    for arg in rule.arguments:
        if arg == "job_id":
            values[arg] = job_id
        elif "frames" in rule.rule:
            values[arg] = "frame_0001.jpg"
        elif "artefacts" in rule.rule:
            values[arg] = "spotlight.mp4"
        elif rule.endpoint == "static":
            values[arg] = "footy.css"
        else:
            values[arg] = "x"
    return rule.build(values, append_unknown=False)[1]


def methods(rule):
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def is_api(rule) -> bool:
    return rule.rule.startswith("/api")


class Caller:
    def __init__(self, world, name: str):
        self.world, self.name = world, name
        kind, _, who = name.partition(":")
        self.kind, self.who = kind, who
        if kind == "session":
            self.client, self.csrf = world.sessions[who]
        else:
            self.client, self.csrf = world.app.test_client(), None
        self.headers = {"Authorization": f"Bearer {world.tokens[who]}"} if kind == "bearer" else {}

    def call(self, method: str, url: str, api: bool, with_csrf: bool = True):
        headers = dict(self.headers)
        kwargs = {}
        if method != "GET":
            if api:
                kwargs["data"], kwargs["content_type"] = "{}", "application/json"
                if self.csrf and with_csrf:
                    headers["X-CSRFToken"] = self.csrf
            else:
                kwargs["data"] = {"csrf_token": self.csrf} if self.csrf and with_csrf else {}
        return self.client.open(url, method=method, headers=headers, **kwargs)


CALLERS = ["session:A", "bearer:A", "session:B", "bearer:B", "session:admin", "bearer:admin",
           "anonymous:", "bearer:revoked", "bearer:bogus"]


def _code(res):
    if res.mimetype == "application/json":
        body = res.get_json()
        assert set(body) == {"ok", "data", "error", "message"}, body
        return (body["error"] or {}).get("code")
    return None


def _unstamped(page: str) -> str:
    """The page with its CSRF tokens blanked: Flask-WTF signs each with the current second, so two
    answers a second apart differ there whatever the job (the token says nothing about it)."""
    return re.sub(r'((?:name="csrf_token" value|name="csrf-token" content)=")[^"]*"', r'\1"', page)


def _check_headers(res, where):
    for name, value in HEADERS.items():
        assert res.headers.get(name) == value, f"{where}: {name} is {res.headers.get(name)!r}"
    assert "frame-ancestors 'none'" in res.headers["Content-Security-Policy"]


@pytest.mark.parametrize("caller_name", CALLERS)
def test_every_route_answers_each_caller_as_it_should(world, caller_name):
    caller = Caller(world, caller_name)
    problems = []
    for rule in rules(world.app):
        api = is_api(rule)
        for method in methods(rule):
            url = sample_url(rule, world.job_a)
            res = caller.call(method, url, api)
            where = f"{caller_name} {method} {url}"
            _check_headers(res, where)
            code = _code(res) if api else None
            status = res.status_code
            if status >= 500:
                problems.append(f"{where}: {status}")
                continue
            anonymous = caller.kind == "anonymous" or caller.who in ("revoked", "bogus") or (
                caller.kind == "bearer" and not api)  # tokens are for /api; pages want a session
            if rule.endpoint in PUBLIC_ENDPOINTS and not api:
                if status >= 400 and not (method == "POST" and rule.endpoint == "auth.login"):
                    problems.append(f"{where}: public page answered {status}")
                continue
            if anonymous:
                if api:
                    want = "UNAUTHORIZED" if caller.kind == "anonymous" else "INVALID_TOKEN"
                    if (status, code) != (401, want):
                        problems.append(f"{where}: want 401 {want}, got {status} {code}")
                elif not (status == 302 and res.location.startswith("/login")) and status not in (400, 401):
                    problems.append(f"{where}: an anonymous caller got {status} (want a redirect to /login)")
                elif status == 400 and method == "GET":
                    problems.append(f"{where}: 400 for a GET")
                continue
            if "job_id" in rule.arguments and caller.who == "B":
                other = caller.call(method, sample_url(rule, MISSING_JOB), api)
                if (status, code) != (other.status_code, _code(other) if api else None):
                    problems.append(f"{where}: B sees A's job differently from a missing job: "
                                    f"{status} {code} vs {other.status_code} {_code(other) if api else None}")
                if method == "GET" and status != 404:
                    problems.append(f"{where}: B got {status} for A's job (want 404)")
                if _unstamped(res.get_data(as_text=True).replace(world.job_a, MISSING_JOB)) != \
                        _unstamped(other.get_data(as_text=True)):
                    problems.append(f"{where}: B's answer differs from the one about a missing job")
                continue
            # the owner or the admin: never refused, never told the job is missing
            if status in (401, 403) or code in ("JOB_NOT_FOUND", "CSRF_FAILED", "INVALID_TOKEN") or (
                    status == 404 and not api):
                problems.append(f"{where}: owner/admin refused: {status} {code}")
            elif method == "GET" and status not in (200, 206, 302):
                problems.append(f"{where}: owner/admin GET answered {status} {code}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("who", ["A", "B", "admin"])
def test_session_posts_without_the_csrf_token_are_refused_bearer_posts_need_none(world, who):
    session = Caller(world, f"session:{who}")
    bearer = Caller(world, f"bearer:{who}")
    problems = []
    for rule in rules(world.app):
        if "POST" not in rule.methods:
            continue
        url = sample_url(rule, world.job_a)
        res = session.call("POST", url, is_api(rule), with_csrf=False)
        code = _code(res) if is_api(rule) else None
        if res.status_code != 400 or (is_api(rule) and code != "CSRF_FAILED"):
            problems.append(f"session {who} POST {url} without CSRF: {res.status_code} {code}")
        if is_api(rule):
            res = bearer.call("POST", url, True)
            if _code(res) == "CSRF_FAILED":
                problems.append(f"bearer {who} POST {url}: asked for a CSRF token")
    assert not problems, "\n".join(problems)


def test_lists_show_each_coach_their_own_jobs_and_the_admin_all(world):
    def ids(who, url="/api/jobs"):
        res = Caller(world, f"bearer:{who}").call("GET", url, True)
        assert res.status_code == 200
        return {j["job_id"] for j in res.get_json()["data"]}

    assert ids("A") == {world.job_a}
    assert ids("B") == {world.job_b}
    assert ids("admin") >= {world.job_a, world.job_b}
    for who, visible, hidden in (("A", world.job_a, world.job_b), ("B", world.job_b, world.job_a)):
        page = Caller(world, f"session:{who}").call("GET", "/jobs", False).get_data(as_text=True)
        assert visible in page and hidden not in page
    admin_page = Caller(world, "session:admin").call("GET", "/jobs", False).get_data(as_text=True)
    assert world.job_a in admin_page and world.job_b in admin_page


def test_media_keys_of_another_coach_are_404_whatever_the_name(world):
    b = Caller(world, "bearer:B")
    for name in ("frame_0001.jpg", "frame_9999.jpg", "../../etc/passwd", "%2e%2e%2fvideo.mp4"):
        for kind in ("frames", "artefacts"):
            res = b.call("GET", f"/api/jobs/{world.job_a}/{kind}/{name}", True)
            assert res.status_code == 404, (kind, name, res.status_code)
    a = Caller(world, "bearer:A")
    for name in ("..%2f..%2fvideo.mp4", "video.mp4", "frame_1.jpg"):
        res = a.call("GET", f"/api/jobs/{world.job_a}/frames/{name}", True)
        assert res.status_code in (400, 404) and _code(res) in ("INVALID_FRAME_KEY", "NOT_FOUND"), name
    assert a.call("GET", f"/api/jobs/{world.job_a}/artefacts/video.mp4", True).status_code == 400


def test_the_matrix_really_covers_every_route(world):
    covered = {r.rule for r in rules(world.app)}
    every = {r.rule for r in world.app.url_map.iter_rules()} - {"/logout"}
    assert covered == every
    assert any(r.startswith("/api/jobs/<job_id>") for r in covered) and "/jobs/<job_id>" in covered
    print(json.dumps(sorted(covered), indent=1))
