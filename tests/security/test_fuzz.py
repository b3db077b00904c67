"""Hostile and malformed input on every JSON route: never a 500, always the envelope.

Routes come from app.url_map (every /api rule), bodies from hypothesis: wrong types, huge and
non-finite numbers, path-traversal frame keys, unicode, broken JSON, raw bytes."""
from __future__ import annotations

import io
import json
from urllib.parse import quote

from hypothesis import HealthCheck, example, given, settings, strategies as st

FIELDS = ["frame_key", "track_id", "time_sec", "bbox", "force", "role", "selections", "frame_time_sec",
          "x", "y", "w", "h"]
HOSTILE_STRINGS = st.sampled_from([
    "../../etc/passwd", "jobs/../../../etc/passwd", "jobs/%s/frames/../../video.mp4", "jobs/%s/frames/frame_0001.jpg",
    "jobs/%s/frames/frame_0001.jpg\x00.png", "/etc/passwd", "\\\\server\\share", "frame_0001.jpg", "",
    "\u202e\u0000\ud7ff\uffff", "𝔣𝔯𝔞𝔪𝔢", "a" * 5000, "NaN", "1e999", "-0", "true", "goalkeeper",
])
NUMBERS = st.one_of(st.integers(), st.integers(min_value=-(10 ** 400), max_value=10 ** 400),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([2 ** 63, -2 ** 63 - 1, 1e308]))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, st.text(max_size=50), HOSTILE_STRINGS)
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                     st.dictionaries(st.text(max_size=10), inner, max_size=5)),
                    max_leaves=12)
BBOX = st.fixed_dictionaries({k: st.one_of(NUMBERS, SCALARS) for k in "xywh"})
PAYLOAD = st.one_of(
    st.dictionaries(st.sampled_from(FIELDS), st.one_of(JSON, BBOX, st.lists(BBOX, max_size=3)), max_size=6),
    JSON,
)


def _body(job_id: str):
    return st.one_of(
        PAYLOAD.map(lambda p: json.dumps(p, allow_nan=True).replace("%s", job_id).encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
        st.sampled_from([b"", b"{", b"[1,2", b'{"bbox": NaN}', b'{"track_id": 1e999}', b"null", b"\xff\xfe{}",
                         b'{"frame_key": "jobs/%s/frames/frame_0001.jpg", "track_id": 99999999999999999999}',
                         b'{"selections": [' + b"{}," * 200 + b"{}]}", b'{"a":' * 1000 + b"1" + b"}" * 1000]),
    )


def _envelope(res, where):
    assert res.status_code < 500, f"{where}: {res.status_code} {res.get_data(as_text=True)[:300]}"
    assert res.mimetype == "application/json", where
    body = res.get_json()
    assert set(body) == {"ok", "data", "error", "message"}, where
    assert isinstance(body["message"], str)
    if body["ok"]:
        assert body["error"] is None
    else:
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str), where
        assert body["data"] is None


def _post_rules(app):
    return sorted({r.rule for r in app.url_map.iter_rules() if r.rule.startswith("/api") and "POST" in r.methods})


def test_there_are_json_routes_to_fuzz(world):
    assert len(_post_rules(world.app)) >= 7


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_hostile_json_bodies_never_break_a_route(world, data):
    rule = data.draw(st.sampled_from(_post_rules(world.app)), label="rule")
    who, job_id = data.draw(st.sampled_from([("B", world.job_b), ("A", world.job_a), ("B", world.job_a)]))
    body = data.draw(_body(job_id), label="body")
    content_type = data.draw(st.sampled_from(["application/json", "text/plain", "application/json; charset=latin-1"]))
    url = rule.replace("<job_id>", job_id)
    client = world.app.test_client()
    res = client.post(url, data=body, content_type=content_type,
                      headers={"Authorization": f"Bearer {world.tokens[who]}"})
    _envelope(res, f"POST {url} {body[:120]!r}")


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(job_part=st.one_of(st.text(min_size=1, max_size=80), HOSTILE_STRINGS.filter(bool)),
       name=st.one_of(st.text(min_size=1, max_size=80), HOSTILE_STRINGS.filter(bool)),
       query=st.dictionaries(st.sampled_from(["download", "limit", "next", "x"]), st.text(max_size=20), max_size=3),
       real_job=st.booleans())
@example(job_part="/", name="0", query={}, real_job=False)
def test_hostile_paths_and_queries_never_break_a_get_route(world, job_part, name, query, real_job):
    job_id = world.job_a if real_job else quote(job_part, safe="")
    client = world.app.test_client()
    for rule in sorted({r.rule for r in world.app.url_map.iter_rules()
                        if r.rule.startswith("/api") and "GET" in r.methods}):
        url = rule.replace("<job_id>", job_id).replace("<name>", quote(name, safe=""))
        res = client.get(url, query_string=query, headers={"Authorization": f"Bearer {world.tokens['A']}"})
        if res.status_code in (200, 206) and ("/frames/" in rule or "/artefacts/" in rule):
            continue  # a real frame or artefact of the owner's job: the file itself
        if res.status_code == 308 and "//" in res.request.path and res.location.startswith(("/", "http://localhost/")):
            continue  # "%2F" made "//": werkzeug redirects to the path with single slashes, on footy itself
        _envelope(res, f"GET {url}")


FRAME_KEYS = st.one_of(HOSTILE_STRINGS, st.just("jobs/%s/frames/frame_0001.jpg"))
# a box that passes the bbox checks, so the values next to it (frame_time_sec, frame_key) are reached
VALID_BBOX = st.fixed_dictionaries({"x": st.floats(0, 0.5), "y": st.floats(0, 0.5), "w": st.floats(0.01, 0.5),
                                    "h": st.floats(0.01, 0.5)})
SELECTION = st.tuples(st.one_of(VALID_BBOX, BBOX), st.fixed_dictionaries(
    {}, optional={"frame_time_sec": st.one_of(SCALARS, st.floats(0, 30)), "frame_key": FRAME_KEYS})
).map(lambda parts: {**parts[0], **parts[1]})
TARGETED = st.fixed_dictionaries(
    {"frame_key": FRAME_KEYS, "bbox": st.one_of(VALID_BBOX, BBOX, JSON)},
    optional={"time_sec": NUMBERS, "track_id": NUMBERS, "force": SCALARS, "role": SCALARS,
              "selections": st.lists(st.one_of(SELECTION, JSON), max_size=3)})


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_well_shaped_payloads_with_hostile_values_never_break_a_route(world, data):
    """Past the shape checks, into the value checks: numbers too big for a float, NaN, traversal keys."""
    rule = data.draw(st.sampled_from(_post_rules(world.app)), label="rule")
    payload = data.draw(TARGETED, label="payload")
    body = json.dumps(payload, allow_nan=True).replace("%s", world.job_b).encode("utf-8", "surrogatepass")
    res = world.app.test_client().post(rule.replace("<job_id>", world.job_b), data=body,
                                       content_type="application/json",
                                       headers={"Authorization": f"Bearer {world.tokens['B']}"})
    _envelope(res, f"POST {rule} {body[:200]!r}")


def test_a_number_too_big_for_a_float_is_a_400_not_a_500(world):
    body = ('{"frame_key": "jobs/%s/frames/frame_0001.jpg", "time_sec": 1%s, '
            '"bbox": {"x": 0, "y": 0, "w": 0.1, "h": 0.1}}')
    res = world.app.test_client().post(f"/api/jobs/{world.job_b}/target", data=body % (world.job_b, "0" * 400),
                                       content_type="application/json",
                                       headers={"Authorization": f"Bearer {world.tokens['B']}"})
    assert res.status_code == 400 and res.json["error"]["code"] == "INVALID_PAYLOAD", res.json


def test_deeply_nested_or_oversized_json_is_refused_with_the_envelope(world):
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['B']}"}
    url = f"/api/jobs/{world.job_b}/target"
    deep = client.post(url, data="[" * 100_000 + "]" * 100_000, content_type="application/json", headers=headers)
    _envelope(deep, "deeply nested JSON")
    assert deep.status_code == 400 and deep.json["error"]["code"] == "INVALID_PAYLOAD"
    big = client.post(url, data=b'{"bbox": "' + b"x" * (2 * 1024 * 1024) + b'"}', content_type="application/json",
                      headers=headers)
    _envelope(big, "a 2 MB JSON body")
    assert big.status_code == 413 and big.json["error"]["code"] == "PAYLOAD_TOO_LARGE"

    # chunked, no Content-Length (gunicorn marks such a body wsgi.input_terminated): the limit holds too
    streamed = client.post(url, input_stream=io.BytesIO(b'{"bbox": "' + b"x" * (2 * 1024 * 1024) + b'"}'),
                           content_type="application/json", headers=headers,
                           environ_overrides={"wsgi.input_terminated": True})
    _envelope(streamed, "a streamed 2 MB JSON body")
    assert streamed.status_code == 413 and streamed.json["error"]["code"] == "PAYLOAD_TOO_LARGE"
