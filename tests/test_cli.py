"""`flask footy ...` admin commands, run through Flask's CLI runner against the real app."""
from __future__ import annotations

import json
from datetime import timedelta

from footy.extensions import db
from footy.jobs import service
from footy.models import Job, utcnow

from .conftest import run_worker, upload
from .test_api import confirmed


def cli(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=["footy", *args], input=input)
    db.session.rollback()  # the command wrote through its own session: end this one's snapshot
    return result


def test_jobs_and_show(app, api, prepared_job):
    out = cli(app, "jobs")
    assert out.exit_code == 0 and prepared_job["job_id"] in out.output and "WAITING_FOR_SELECTION" in out.output
    shown = cli(app, "show", prepared_job["job_id"])
    assert shown.exit_code == 0
    assert json.loads(shown.stdout)["job_id"] == prepared_job["job_id"]
    assert cli(app, "show", "nope").exit_code != 0


def test_requeue_after_failure_runs_the_analysis_again(app, api, prepared_job):
    job = confirmed(api, prepared_job)
    service.fail(job["job_id"], "WORKER_LOST", "lost", only_if_status={"READY_TO_ENQUEUE"})
    out = cli(app, "requeue", job["job_id"])
    assert out.exit_code == 0, out.output
    assert db.session.get(Job, job["job_id"]).status.value == "QUEUED"
    run_worker(app, ["analysis"])
    db.session.expire_all()
    assert db.session.get(Job, job["job_id"]).status.value in ("COMPLETED", "PARTIAL")


def test_requeue_refuses_a_job_without_selections(app, prepared_job):
    out = cli(app, "requeue", prepared_job["job_id"])
    assert out.exit_code != 0 and "NOT_READY" in out.output


def test_fail_stuck_marks_old_running_jobs_worker_lost(app, api, prepared_job):
    job = confirmed(api, prepared_job)
    api.post(f"/api/jobs/{job['job_id']}/enqueue")
    service.start_running(job["job_id"], None)
    row = db.session.get(Job, job["job_id"])
    db.session.execute(db.update(Job).where(Job.id == row.id).values(updated_at=utcnow() - timedelta(minutes=90)))
    db.session.commit()
    assert "marked 0" in cli(app, "fail-stuck", "--older-than", "120").output
    assert "marked 1" in cli(app, "fail-stuck", "--older-than", "60").output
    db.session.expire_all()
    row = db.session.get(Job, job["job_id"])
    assert row.status.value == "FAILED" and row.error["code"] == "WORKER_LOST"


def test_cleanup_removes_finished_jobs_and_their_media(app, api, clip, tmp_path):
    keep = upload(api, clip).json["data"]["job_id"]
    gone = upload(api, clip).json["data"]["job_id"]
    service.fail(gone, "X", "x", only_if_status={"WAITING_FOR_SELECTION"})
    db.session.execute(db.update(Job).where(Job.id == gone).values(updated_at=utcnow() - timedelta(days=40)))
    db.session.commit()
    out = cli(app, "cleanup", "--older-than", "30")
    assert out.exit_code == 0 and "removed 1" in out.output
    assert db.session.get(Job, gone) is None and db.session.get(Job, keep) is not None
    assert not (tmp_path / "media" / "jobs" / gone).exists()
    assert (tmp_path / "media" / "jobs" / keep / "video.mp4").exists()


def test_analyze_runs_the_pipeline_without_the_web(app, clip, tmp_path):
    from footy.vision.synthetic import default_scene, player_box

    spec = default_scene(n_players=6, seconds=4.0, seed=3)
    x1, y1, x2, y2 = player_box(spec.players[0], 25, spec)
    bbox = f"{x1 / 640:.4f},{y1 / 360:.4f},{(x2 - x1) / 640:.4f},{(y2 - y1) / 360:.4f}"
    out_dir = tmp_path / "out"
    res = cli(app, "analyze", str(clip), "--at", "1.0", "--bbox", bbox, "--out", str(out_dir), "--role", "forward")
    assert res.exit_code == 0, res.output
    body = json.loads(res.stdout)
    assert body["status"] in ("COMPLETED", "PARTIAL")
    assert set(body["result"]["radar"]) == {"tracking_quality", "activity_proxy", "visibility", "consistency",
                                            "stability"}
    assert "roleScore" in body["result"]
    for name in ("spotlight.mp4", "heatmap.png", "track.csv", "track.json"):
        assert (out_dir / name).stat().st_size > 0, name
    header = (out_dir / "track.csv").read_text().splitlines()[0]
    assert header == "frame_index,time_sec,x,y,w,h,confidence,visible"


def test_analyze_rejects_a_bad_bbox_and_a_bad_video(app, clip, tmp_path):
    assert "--bbox" in cli(app, "analyze", str(clip), "--at", "1", "--bbox", "1,2,3").output
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"junk" * 100)
    res = cli(app, "analyze", str(bad), "--at", "1", "--bbox", "0.1,0.1,0.1,0.2")
    assert res.exit_code != 0 and "INVALID_VIDEO" in res.output


def test_user_and_token_commands(app):
    res = cli(app, "create-user", "Boss@Example.com", "--admin", "--password-stdin", input="long enough pw\n")
    assert res.exit_code == 0, res.output
    assert cli(app, "create-user", "boss@example.com", "--password-stdin", input="long enough pw\n").exit_code != 0
    token = cli(app, "create-token", "boss@example.com", "--name", "script").stdout.strip()
    assert token.startswith("footy_")
    client = app.test_client()
    assert client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert "admin" in cli(app, "users").output
    assert "revoked 1" in cli(app, "revoke-token", "boss@example.com").output
    res = client.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
    assert res.status_code == 401 and res.json["error"]["code"] == "INVALID_TOKEN"
