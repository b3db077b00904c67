"""The spotlight clip joined from several parts plays through every seam in Chromium's <video>."""
from __future__ import annotations

import functools
import http.server
import threading

import av
import pytest

from footy.vision.analysis import analyze_video
from footy.vision.synthetic import default_scene, render_scene
from footy.vision.types import NormBox
from footy.vision.video import H264Writer, iter_frames

pytestmark = pytest.mark.browser


@pytest.fixture
def served(tmp_path):
    """A clip analysed from its middle with a keyframe every second: three backward chunks and
    the forward walk, so the spotlight is four parts joined; served as static files."""
    scene = render_scene(default_scene(n_players=4, seconds=5.0, seed=5), tmp_path / "scene.mp4")
    video = tmp_path / "gop.mp4"
    with H264Writer(video, 25, 640, 360, crf=20, keyint=25) as writer:
        for frame in iter_frames(scene.path):
            writer.write(frame.image)
    box = NormBox.from_xyxy(scene.truth[75][1], 640, 360)
    out = analyze_video(video, 3.0, box, tmp_path / "job", stride=2)
    with av.open(str(out.artefacts["spotlight"])) as container:
        assert sum(p.is_keyframe for p in container.demux(container.streams.video[0])) >= 4
    (tmp_path / "job" / "index.html").write_text('<video id="clip" src="spotlight.mp4" muted playsinline></video>')
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "job"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/index.html"
    server.shutdown()
    thread.join(timeout=10)


def test_a_clip_joined_from_parts_plays_to_its_end(page, served):
    page.goto(served)
    page.wait_for_function("document.getElementById('clip').readyState >= 1")
    assert page.evaluate("document.getElementById('clip').duration") == pytest.approx(5.0, abs=0.1)
    page.evaluate("document.getElementById('clip').play()")
    page.wait_for_function("document.getElementById('clip').ended", timeout=20_000)
    assert page.evaluate("document.getElementById('clip').error") is None
    frames = page.evaluate("document.getElementById('clip').getVideoPlaybackQuality().totalVideoFrames")
    assert frames >= 100  # of 125: decoded through the three seams, not stopped at one
    assert page.console_errors == []
