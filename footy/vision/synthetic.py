"""Generated match clips with ground truth, for tests and benchmarks (nothing is downloaded).

A green pitch (optionally striped, with white lines), players drawn as kit-coloured bodies that
move smoothly, an optional camera pan. Every player's true box on every frame is returned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .video import H264Writer

KITS = {
    "red": ((40, 40, 210), (240, 240, 240)),      # BGR shirt, shorts
    "blue": ((200, 90, 30), (30, 30, 30)),
    "yellow": ((40, 220, 240), (40, 40, 40)),
    "white": ((235, 235, 235), (60, 60, 200)),
    "black": ((30, 30, 30), (200, 200, 200)),
}


@dataclass
class PlayerSpec:
    player_id: int
    kit: str
    start: tuple[float, float]  # pitch coordinates in pixels of the world (feet position)
    velocity: tuple[float, float]  # world pixels per frame
    height: float = 60.0


@dataclass
class SceneSpec:
    width: int = 640
    height: int = 360
    fps: float = 25.0
    seconds: float = 4.0
    players: list[PlayerSpec] = field(default_factory=list)
    pan_px_per_frame: float = 0.0  # camera moves right over a world wider than the frame
    stripes: bool = True
    noise: float = 0.0
    seed: int = 0


@dataclass
class Scene:
    path: Path
    spec: SceneSpec
    # ground truth: frame index -> {player_id: (x1, y1, x2, y2)} for players inside the frame
    truth: list[dict[int, tuple[float, float, float, float]]]


def default_scene(n_players: int = 6, seconds: float = 4.0, seed: int = 0, **kwargs) -> SceneSpec:
    """Two teams spread over the pitch, each player jogging in its own direction."""
    rng = np.random.default_rng(seed)
    spec = SceneSpec(seconds=seconds, seed=seed, **kwargs)
    players = []
    for i in range(n_players):
        kit = "red" if i % 2 == 0 else "blue"
        x = spec.width * (0.12 + 0.76 * (i + 0.5) / n_players)
        y = spec.height * rng.uniform(0.35, 0.85)
        vx, vy = rng.uniform(-1.5, 1.5), rng.uniform(-0.6, 0.6)
        players.append(PlayerSpec(player_id=i + 1, kit=kit, start=(x, y), velocity=(vx, vy),
                                  height=spec.height * rng.uniform(0.14, 0.18)))
    spec.players = players
    return spec


def _pitch(spec: SceneSpec, world_width: int) -> np.ndarray:
    world = np.zeros((spec.height, world_width, 3), np.uint8)
    world[:] = (50, 140, 60)
    if spec.stripes:
        stripe = max(20, world_width // 24)
        for x0 in range(0, world_width, 2 * stripe):
            world[:, x0:x0 + stripe] = (60, 155, 72)
    line = (235, 235, 235)
    cv2.line(world, (world_width // 2, 0), (world_width // 2, spec.height), line, 2)
    cv2.circle(world, (world_width // 2, spec.height // 2), spec.height // 5, line, 2)
    cv2.rectangle(world, (8, 8), (world_width - 8, spec.height - 8), line, 2)
    return world


def player_box(p: PlayerSpec, frame_index: int, spec: SceneSpec) -> tuple[float, float, float, float]:
    """World-coordinate box of a player on a frame; players bounce off the pitch edges."""
    x, y = p.start[0] + p.velocity[0] * frame_index, p.start[1] + p.velocity[1] * frame_index
    world_w = spec.width + spec.pan_px_per_frame * spec.seconds * spec.fps
    x = _bounce(x, 20, world_w - 20)
    y = _bounce(y, p.height + 10, spec.height - 10)
    w = p.height * 0.42
    return (x - w / 2, y - p.height, x + w / 2, y)


def _bounce(v: float, lo: float, hi: float) -> float:
    span = hi - lo
    m = (v - lo) % (2 * span)
    return lo + (m if m <= span else 2 * span - m)


def _draw_player(img: np.ndarray, box, kit: str) -> None:
    shirt, shorts = KITS[kit]
    x1, y1, x2, y2 = box
    h = y2 - y1
    cx = (x1 + x2) / 2
    head_r = max(2, int(h * 0.08))
    cv2.circle(img, (int(cx), int(y1 + head_r)), head_r, (120, 160, 200), -1)  # head
    cv2.rectangle(img, (int(x1), int(y1 + 2 * head_r)), (int(x2), int(y1 + h * 0.55)), shirt, -1)
    cv2.rectangle(img, (int(x1 + 1), int(y1 + h * 0.55)), (int(x2 - 1), int(y1 + h * 0.72)), shorts, -1)
    leg_w = max(1, int((x2 - x1) * 0.3))
    cv2.rectangle(img, (int(x1 + 1), int(y1 + h * 0.72)), (int(x1 + 1 + leg_w), int(y2)), (40, 40, 40), -1)
    cv2.rectangle(img, (int(x2 - 1 - leg_w), int(y1 + h * 0.72)), (int(x2 - 1), int(y2)), (40, 40, 40), -1)


def render_scene(spec: SceneSpec, path: str | Path) -> Scene:
    """Draw the scene frame by frame into an H.264 MP4 and return it with its ground truth."""
    path = Path(path)
    n_frames = int(round(spec.seconds * spec.fps))
    world_w = int(spec.width + spec.pan_px_per_frame * n_frames) + 1
    world = _pitch(spec, world_w)
    rng = np.random.default_rng(spec.seed + 1)
    truth: list[dict[int, tuple[float, float, float, float]]] = []
    with H264Writer(path, spec.fps, spec.width, spec.height, crf=18) as writer:
        for f in range(n_frames):
            canvas = world.copy()
            boxes = {p.player_id: player_box(p, f, spec) for p in spec.players}
            # paint far players first so nearer (lower) ones occlude them
            for pid in sorted(boxes, key=lambda k: boxes[k][3]):
                kit = next(p.kit for p in spec.players if p.player_id == pid)
                _draw_player(canvas, boxes[pid], kit)
            cam_x = int(spec.pan_px_per_frame * f)
            img = canvas[:, cam_x:cam_x + spec.width]
            if spec.noise:
                img = np.clip(img + rng.normal(0, spec.noise, img.shape), 0, 255).astype(np.uint8)
            writer.write(np.ascontiguousarray(img))
            visible = {}
            for pid, (x1, y1, x2, y2) in boxes.items():
                x1, x2 = x1 - cam_x, x2 - cam_x
                if x2 > 0 and x1 < spec.width:
                    visible[pid] = (max(0.0, x1), y1, min(float(spec.width), x2), y2)
            truth.append(visible)
    return Scene(path=path, spec=spec, truth=truth)
