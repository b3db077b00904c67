"""Memory: peak memory of analyze_video on a 10-minute 720p file against a 1-minute one.

    python bench/memory.py              # 1 min and 10 min (~4 min on 2 cores once the files are cached)
    python bench/memory.py --long-min 3 # a shorter long run
    python bench/memory.py --click start  # only the click 5 s in (forward walk all the way)

Each analysis runs in a fresh subprocess. The analysis forks its backward walk into a process of
its own (see footy.vision.track._BackwardProcess), and, clicked near the start, a drawer for the
forward walk's spotlight (footy.vision.render.SpotlightDrawer) and an observer for its frames
(footy.vision.observing.ObserverProcess), all from the analysis process; they share the pages
loaded before the forks. Three figures each: the analysis process's peak RSS (its
own ru_maxrss: what os.wait4 reports is the larger of it and its children's), the largest child's
(ru_maxrss of the children it reaped), and the peak of them all together, sampled every 50 ms (see
MemorySampler: a page they share counts once, the memory the analysis takes). The target is read
off that; the sum of the two peak RSS is printed too (with the backward walk on a thread, before
the twelfth session, the figure was the one process's peak RSS). Streaming means
the ratio long/short should stay <= 1.2 and all under 500 MB. The long files are a 30 s broadcast-like 720p segment (see
throughput.py) repeated by remuxing the H.264 packets (no re-encoding), cached in bench/out/.
Each length is analysed twice: clicked 5 s in (the forward walk goes through the whole file) and
at the same moment of the last 30 s (the backward walk does, in its process, chunk by chunk); the
ratio compares the long file with the short one at the same click. Prints figures; not a test.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import av

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from throughput import OUT, make_clip  # noqa: E402

SEGMENT_SEC = 30.0


def looped(segment: Path, repeats: int) -> Path:
    """The segment ``repeats`` times in a row, packets copied with shifted timestamps."""
    path = OUT / f"memory_720p_{int(SEGMENT_SEC * repeats)}s.mp4"
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp.mp4")
    with av.open(str(segment)) as src, av.open(str(tmp), "w", options={"movflags": "+faststart"}) as dst:
        in_stream = src.streams.video[0]
        out_stream = dst.add_stream_from_template(in_stream)
        span = None
        for k in range(repeats):
            src.seek(0)
            last_end = 0
            for packet in src.demux(in_stream):
                if packet.dts is None:
                    continue
                if span is not None:
                    packet.pts += k * span
                    packet.dts += k * span
                last_end = max(last_end, packet.pts + (packet.duration or 0))
                packet.stream = out_stream
                dst.mux(packet)
            if span is None:
                span = last_end  # one segment's length in stream time-base units
    tmp.rename(path)
    return path


CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from footy.vision.analysis import analyze_video
from footy.vision.types import NormBox
start = time.perf_counter()
out = analyze_video({path!r}, {time_sec!r}, NormBox(*{bbox!r}), {out_dir!r})
print(json.dumps({{"seconds": time.perf_counter() - start, "status": out.status,
                  "frames": out.result["frames_analysed"], "coverage": out.result["coverage"],
                  "analysis_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "backward_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}}))
"""


def run_child(path: Path, time_sec: float, bbox: tuple, label: str) -> dict:
    code = CHILD.format(root=str(HERE.parent), path=str(path), time_sec=time_sec, bbox=bbox,
                        out_dir=str(OUT / f"memory_job_{label}"))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    sampler = MemorySampler(proc.pid)
    stdout = proc.stdout.read()
    sampler.stop()
    _, status, _ = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{label} analysis failed with exit code {proc.returncode}")
    report = json.loads(stdout.strip().splitlines()[-1])
    report["peak_rss_mb"] = report["analysis_rss_mb"] + report["backward_rss_mb"]
    report["peak_mb"] = sampler.peak_mb
    if not sampler.children_seen:  # (a kernel without /proc/PID/task/TID/children)
        raise SystemExit(f"{label}: the backward walk's process was never seen: its memory is not counted")
    return report


class MemorySampler:
    """The peak, over time, of the memory a process and its forked children take together (Linux
    /proc): the process's file-backed pages (the libraries), plus each process's proportional share
    (PSS) of its anonymous and shared memory. The process was started afresh (exec), so its anonymous
    pages are shared with its children only, and their shares add up to each page once, wherever it
    is mapped: in the analysis process, in the children it forked (a page two children still share
    after the analysis process wrote its own copy too), or in the slots a drawer shares with its
    walk. The libraries' PSS would be split with every other process that maps them (this
    benchmark's own, a CI run's): their pages count whole, as the analysis process maps them (the
    thirteenth session and before counted that process's RSS plus its children's private pages,
    which missed the pages only two children share)."""

    def __init__(self, pid: int, every_sec: float = 0.05):
        with open("/proc/self/smaps_rollup") as rollup:
            fields = {line.split()[0] for line in rollup}
        if not {"Pss_Anon:", "Pss_Shmem:"} <= fields:  # (older kernels do not list them)
            raise SystemExit("this kernel's /proc/PID/smaps_rollup has no Pss_Anon or Pss_Shmem: "
                             "the memory of the analysis's processes cannot be counted")
        self.pid, self.every_sec, self.peak_mb, self.children_seen = pid, every_sec, 0.0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_sec):
            children = _children(self.pid)
            self.children_seen = max(self.children_seen, len(children))
            total = _status_kb(self.pid, "RssFile:") + sum(
                _rollup_kb(pid, ("Pss_Anon:", "Pss_Shmem:")) for pid in (self.pid, *children))
            self.peak_mb = max(self.peak_mb, total / 1024)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return []
    out = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as listed:
                out.extend(int(child) for child in listed.read().split())
        except FileNotFoundError:
            continue
    return out


def _status_kb(pid: int, field: str) -> int:
    """A field of /proc/PID/status, in kB (0 once the process has ended)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return next((int(line.split()[1]) for line in status if line.startswith(field)), 0)
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _rollup_kb(pid: int, fields: tuple[str, ...]) -> int:
    """The sum of ``fields`` of a process's /proc/PID/smaps_rollup, in kB (0 once it has ended)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return sum(int(line.split()[1]) for line in rollup if line.startswith(fields))
    except (FileNotFoundError, ProcessLookupError):
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short-min", type=float, default=1.0)
    parser.add_argument("--long-min", type=float, default=10.0)
    parser.add_argument("--click", choices=("start", "end", "both"), default="both",
                        help="where the player is clicked: 5 s in, 25 s before the end, or each in turn")
    args = parser.parse_args()

    segment, truth = make_clip(SEGMENT_SEC, clean_only=False)
    info_w, info_h = 1280, 720
    start_index = 125  # 5 s in: a moment every looped file has
    player_id = sorted(truth[start_index])[len(truth[start_index]) // 2]
    x1, y1, x2, y2 = truth[start_index][player_id]
    bbox = (x1 / info_w, y1 / info_h, (x2 - x1) / info_w, (y2 - y1) / info_h)

    clicks = ("start", "end") if args.click == "both" else (args.click,)
    results = {}
    for click in clicks:
        for label, minutes in (("short", args.short_min), ("long", args.long_min)):
            repeats = max(1, round(minutes * 60 / SEGMENT_SEC))
            path = looped(segment, repeats)
            # the same moment of the first segment, or of the last one
            at = start_index / 25.0 + (0 if click == "start" else (repeats - 1) * SEGMENT_SEC)
            began = time.perf_counter()
            r = results[click, label] = run_child(path, at, bbox, f"{label}_{click}")
            print(f"{label}, clicked at {at:g} s: {path.name}  peak RSS {r['analysis_rss_mb']:.1f} MB + backward "
                  f"walk or drawer {r['backward_rss_mb']:.1f} MB = {r['peak_rss_mb']:.1f} MB; peak of all together "
                  f"{r['peak_mb']:.1f} MB  analysis {r['seconds']:.1f} s "
                  f"({r['frames']} frames analysed, {r['status']}, coverage {r['coverage']})  "
                  f"wall {time.perf_counter() - began:.1f} s")
    for click in clicks:
        long, short = results[click, "long"], results[click, "short"]
        rss = long["peak_rss_mb"], short["peak_rss_mb"]
        print(f"clicked at the {click}: peak RSS of the analysis and its largest child summed (shared pages "
              f"twice): long/short "
              f"{rss[0] / rss[1]:.3f}, max {max(rss):.1f} MB")
        ratio = long["peak_mb"] / short["peak_mb"]
        worst = max(long["peak_mb"], short["peak_mb"])
        met = ratio <= 1.2 and worst < 500
        print(f"RATIO long/short peak memory, clicked at the {click} = {ratio:.3f}, max {worst:.1f} MB  "
              f"(target <= 1.2 and < 500 MB: {'met' if met else 'NOT met'})")


if __name__ == "__main__":
    main()
