"""Generated match clips with ground truth, for tests and benchmarks (nothing is downloaded).

A green pitch (optionally striped, with white lines), players drawn as kit-coloured bodies that
move smoothly, an optional camera pan and zoom, optional stands and advertising boards above the
pitch, perspective (far players smaller), referees, optional shot cuts (a few seconds of a
close-up or a crowd shot, then back to the wide camera, possibly panned elsewhere: no player has a
true box while the wide camera is off air). Every player's true box on every frame is
returned. ``scene_preset`` builds the named scenes the accuracy benchmark and tests use.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
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
    "claret": ((60, 30, 150), (235, 235, 235)),   # close to "red": the hard pairing
    "green": ((50, 150, 40), (240, 240, 240)),    # close to the grass
    "lime": ((40, 230, 170), (30, 30, 30)),
    "referee": ((40, 200, 235), (20, 20, 20)),    # lemon shirt, black shorts
    "keeper": ((200, 60, 200), (40, 40, 40)),
}


@dataclass
class PlayerSpec:
    player_id: int
    kit: str
    start: tuple[float, float]  # pitch coordinates in pixels of the world (feet position)
    velocity: tuple[float, float]  # world pixels per frame
    height: float = 60.0
    wobble: float = 0.0  # amplitude (world pixels) of a sideways weave, so motion is not linear
    wobble_period: float = 50.0  # frames
    phase: float = 0.0


@dataclass
class ShotCut:
    """The director cuts away from the wide camera for a while, then back to it.

    ``kind``: ``"closeup"`` (a strongly zoomed shot around player ``around``: bodies ``zoom``
    times taller than on the wide shot, seen from low, blurred crowd behind the upper bodies, a
    little grass) or ``"crowd"`` (stands only, no pitch). The players go on moving meanwhile and
    the ground truth has no box for anyone. ``pan_after``: world pixels the wide camera has moved
    (to the right) when it comes back, on top of its own pan.
    """

    start_sec: float
    duration_sec: float
    kind: str = "closeup"
    around: int | None = None  # player id the close-up frames (None: the first player)
    zoom: float = 4.0
    pan_after: float = 0.0

    def covers(self, t: float) -> bool:
        return self.start_sec <= t < self.start_sec + self.duration_sec


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
    zoom: float = 0.0  # camera zooms in and out by up to this fraction (0.3 = 1.3x) over the clip
    zoom_period_sec: float = 4.0
    stands: float = 0.0  # share of the frame height above the pitch: crowd and advertising boards
    perspective: float = 0.0  # players at the top of the pitch are this much smaller
    grass: tuple[int, int, int] = (50, 140, 60)  # BGR
    focus_players: tuple[int, ...] = ()  # players a benchmark should follow (ids)
    cuts: list[ShotCut] = field(default_factory=list)  # shot cuts away from the wide camera
    # what real footage has and block bodies do not (all off by default):
    figures: bool = False  # running bodies: swinging legs and arms, skin, socks, boots
    shadows: float = 0.0  # sun: each player casts a shadow this much darker than the grass (0.45)
    stand_shadow: float = 0.0  # the stand's shadow darkens the far part of the pitch this much
    blur: float = 0.0  # Gaussian sigma (pixels) of a soft lens / compression smear
    score_bug: bool = False  # the broadcaster's score graphic in the top-left corner
    crf: int = 18  # x264 quality of the generated file (broadcast is ~23-28)


@dataclass
class Scene:
    path: Path
    spec: SceneSpec
    # ground truth: frame index -> {player_id: (x1, y1, x2, y2)} for players inside the frame
    truth: list[dict[int, tuple[float, float, float, float]]]
    # frame index -> {player_id: share of the player's drawn pixels no nearer player covers}
    visible_share: list[dict[int, float]]

    def kit_of(self, player_id: int) -> str:
        return next(p.kit for p in self.spec.players if p.player_id == player_id)


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


def at_frame_rate(spec: SceneSpec, fps: float) -> SceneSpec:
    """The same scene filmed at ``fps`` (a 50 fps broadcast, say): every motion keeps its speed in
    seconds, so the velocities, weaves and pan, which are per frame, are rescaled; cuts, zoom and
    the clip's length are in seconds already."""
    k = spec.fps / fps  # per-frame distances shrink by this, periods in frames grow by its inverse
    players = [replace(p, velocity=(p.velocity[0] * k, p.velocity[1] * k), wobble_period=p.wobble_period / k)
               for p in spec.players]
    return replace(spec, fps=fps, pan_px_per_frame=spec.pan_px_per_frame * k, players=players,
                   cuts=list(spec.cuts))


def players_scaled(spec: SceneSpec, factor: float) -> SceneSpec:
    """The same players drawn ``factor`` times as tall, starting where they did and moving
    ``factor`` times as far a frame (they stay nearer their start, and turn at the pitch's edges
    on their own size): like a wider shot, as a broadcast's wide camera shows the far side of the
    pitch (its players 15-25 px tall at footy's 640 px work width). Cuts stay as they are."""
    players = [replace(p, height=p.height * factor, wobble=p.wobble * factor,
                       velocity=(p.velocity[0] * factor, p.velocity[1] * factor)) for p in spec.players]
    return replace(spec, players=players, cuts=list(spec.cuts))


def _cut_offset(spec: SceneSpec, frame_index: int) -> float:
    """How far the wide camera has moved during the cuts that ended before this frame."""
    t = frame_index / spec.fps
    return float(sum(c.pan_after for c in spec.cuts if c.start_sec + c.duration_sec <= t))


def _cut_at(spec: SceneSpec, frame_index: int) -> ShotCut | None:
    t = frame_index / spec.fps
    return next((c for c in spec.cuts if c.covers(t)), None)


def _world_width(spec: SceneSpec) -> float:
    return spec.width + spec.pan_px_per_frame * spec.seconds * spec.fps + sum(max(0.0, c.pan_after) for c in spec.cuts)


def _pitch_top(spec: SceneSpec) -> int:
    return int(round(spec.height * spec.stands))


def _pitch(spec: SceneSpec, world_width: int) -> np.ndarray:
    world = np.zeros((spec.height, world_width, 3), np.uint8)
    grass = np.array(spec.grass, dtype=np.int16)
    world[:] = spec.grass
    top = _pitch_top(spec)
    if spec.stripes:
        stripe = max(20, world_width // 24)
        lighter = tuple(int(v) for v in np.clip(grass * 1.12 + 4, 0, 255))
        for x0 in range(0, world_width, 2 * stripe):
            world[:, x0:x0 + stripe] = lighter
    line = (235, 235, 235)
    lw = max(2, spec.height // 240)
    cv2.line(world, (world_width // 2, top), (world_width // 2, spec.height), line, lw)
    cv2.circle(world, (world_width // 2, (top + spec.height) // 2), (spec.height - top) // 5, line, lw)
    cv2.rectangle(world, (8, top + 8), (world_width - 8, spec.height - 8), line, lw)
    if spec.stand_shadow:
        # the main stand's shadow: the far part of the pitch, its edge slanting across it
        ys, xs = np.mgrid[0:spec.height, 0:world_width]
        edge = top + (spec.height - top) * (0.25 + 0.2 * xs / max(1, world_width))
        shade = (ys < edge) & (ys >= top)
        world[shade] = (world[shade] * (1 - spec.stand_shadow)).astype(np.uint8)
    if top > 0:
        rng = np.random.default_rng(spec.seed + 7)
        boards = max(6, top // 4)
        crowd_h = top - boards
        # crowd: small blobs of every colour, some of them green
        cells = rng.integers(0, 255, (max(1, crowd_h // 6), max(1, world_width // 6), 3), dtype=np.uint8)
        world[:crowd_h] = cv2.resize(cells, (world_width, crowd_h), interpolation=cv2.INTER_NEAREST)
        # advertising boards: bright panels with text-like marks
        x = 0
        while x < world_width:
            w = int(rng.integers(80, 200))
            colour = tuple(int(v) for v in rng.integers(0, 255, 3))
            world[crowd_h:top, x:x + w] = colour
            for k in range(3):
                tx = x + 8 + k * w // 3
                cv2.rectangle(world, (tx, crowd_h + boards // 4), (tx + w // 5, top - boards // 4),
                              (255, 255, 255) if sum(colour) < 380 else (20, 20, 20), -1)
            x += w
    return world


def player_box(p: PlayerSpec, frame_index: int, spec: SceneSpec) -> tuple[float, float, float, float]:
    """World-coordinate box of a player on a frame; players bounce off the pitch edges."""
    x, y = p.start[0] + p.velocity[0] * frame_index, p.start[1] + p.velocity[1] * frame_index
    if p.wobble:
        weave = p.wobble * np.sin(2 * np.pi * frame_index / p.wobble_period + p.phase)
        # weave across the direction of travel
        speed = float(np.hypot(*p.velocity)) or 1.0
        x += -p.velocity[1] / speed * weave
        y += p.velocity[0] / speed * weave
    world_w = _world_width(spec)
    top = _pitch_top(spec)
    x = _bounce(x, 20, world_w - 20)
    height = p.height
    if spec.perspective:
        depth = (y - top) / max(1.0, spec.height - top)  # 0 far touchline .. 1 near
        height = p.height * (1 - spec.perspective * (1 - float(np.clip(depth, 0, 1))))
    y = _bounce(y, top + height + 10, spec.height - 10)
    w = height * 0.42
    return (x - w / 2, y - height, x + w / 2, y)


def camera_at(spec: SceneSpec, frame_index: int) -> np.ndarray:
    """2x3 affine from world to frame pixels: pan to the right, zoom about the frame centre."""
    cam_x = spec.pan_px_per_frame * frame_index + _cut_offset(spec, frame_index)
    z = 1.0
    if spec.zoom:
        z = 1.0 + spec.zoom * 0.5 * (1 - np.cos(2 * np.pi * frame_index / (spec.zoom_period_sec * spec.fps)))
    cx, cy = spec.width / 2, spec.height / 2
    # world point (cam_x + u, v) -> frame ((u - cx) * z + cx, (v - cy) * z + cy)
    return np.array([[z, 0.0, -cam_x * z + cx - cx * z], [0.0, z, cy - cy * z]])


def _bounce(v: float, lo: float, hi: float) -> float:
    span = hi - lo
    m = (v - lo) % (2 * span)
    return lo + (m if m <= span else 2 * span - m)


def _draw_player(img: np.ndarray, box, kit: str, colour: tuple[int, int, int] | None = None) -> None:
    shirt, shorts = KITS[kit]
    skin, legs = (120, 160, 200), (40, 40, 40)
    if colour is not None:  # the body's shape in one colour (a label)
        shirt = shorts = skin = legs = colour
    x1, y1, x2, y2 = box
    h = y2 - y1
    cx = (x1 + x2) / 2
    head_r = max(2, int(h * 0.08))
    cv2.circle(img, (int(cx), int(y1 + head_r)), head_r, skin, -1)  # head
    cv2.rectangle(img, (int(x1), int(y1 + 2 * head_r)), (int(x2), int(y1 + h * 0.55)), shirt, -1)
    cv2.rectangle(img, (int(x1 + 1), int(y1 + h * 0.55)), (int(x2 - 1), int(y1 + h * 0.72)), shorts, -1)
    leg_w = max(1, int((x2 - x1) * 0.3))
    cv2.rectangle(img, (int(x1 + 1), int(y1 + h * 0.72)), (int(x1 + 1 + leg_w), int(y2)), legs, -1)
    cv2.rectangle(img, (int(x2 - 1 - leg_w), int(y1 + h * 0.72)), (int(x2 - 1), int(y2)), legs, -1)


SKINS = ((120, 160, 200), (80, 110, 160), (60, 80, 120), (150, 185, 225))  # BGR


@dataclass(frozen=True)
class Pose:
    """A running body's pose: ``phase`` of the stride (radians), ``swing`` its amplitude
    (radians; ~0.5 at a run, ~0.1 standing), ``skin`` index into SKINS."""

    phase: float
    swing: float
    skin: int = 0


def _figure(box, pose: Pose) -> tuple[list[tuple], tuple[float, float, float, float]]:
    """The shapes of a running body standing in ``box`` (feet at its bottom centre, as tall as
    it) and their extent, which is the body's true box: legs apart make it wider, a raised foot
    shorter. Shapes: ``("circle", centre, radius, part)`` and ``("line", p, q, thickness, part)``
    with part one of skin/shirt/shorts/sock/boot."""
    x1, y1, x2, y2 = box
    h = y2 - y1
    cx = (x1 + x2) / 2
    shapes: list[tuple] = []
    head_r = 0.07 * h
    shapes.append(("circle", (cx, y1 + head_r), head_r, "skin"))
    shoulder_y, hip_y = y1 + 0.17 * h, y1 + 0.5 * h
    shapes.append(("line", (cx, shoulder_y + 0.04 * h), (cx, hip_y), 0.24 * h, "shirt"))
    shapes.append(("line", (cx, hip_y - 0.02 * h), (cx, hip_y + 0.08 * h), 0.24 * h, "shorts"))
    leg_len = y2 - (hip_y + 0.05 * h)
    s = math.sin(pose.phase)
    for side, sign in ((-1, 1.0), (1, -1.0)):
        hip = (cx + side * 0.06 * h, hip_y + 0.05 * h)
        angle = sign * pose.swing * s
        # the trailing leg bends back at the knee: its foot lifts
        knee = (hip[0] + math.sin(angle) * leg_len * 0.5, hip[1] + math.cos(angle) * leg_len * 0.5)
        bend = max(0.0, -angle) * 1.2 if sign > 0 else max(0.0, angle) * 1.2
        shin = angle - bend if angle >= 0 else angle + bend
        foot = (knee[0] + math.sin(shin) * leg_len * 0.5, knee[1] + math.cos(shin) * leg_len * 0.5)
        sock = (knee[0] + (foot[0] - knee[0]) * 0.2, knee[1] + (foot[1] - knee[1]) * 0.2)
        boot = (knee[0] + (foot[0] - knee[0]) * 0.85, knee[1] + (foot[1] - knee[1]) * 0.85)
        shapes.append(("line", hip, knee, 0.085 * h, "skin"))
        shapes.append(("line", knee, sock, 0.075 * h, "skin"))
        shapes.append(("line", sock, boot, 0.07 * h, "sock"))
        shapes.append(("line", boot, foot, 0.07 * h, "boot"))
        # arms swing against the leg of their side
        shoulder = (cx + side * 0.13 * h, shoulder_y + 0.02 * h)
        arm = -angle * 1.1 + side * 0.15
        elbow = (shoulder[0] + math.sin(arm) * 0.15 * h, shoulder[1] + math.cos(arm) * 0.15 * h)
        hand = (elbow[0] + math.sin(arm * 1.6) * 0.15 * h, elbow[1] + math.cos(arm * 1.6) * 0.15 * h)
        sleeve = (shoulder[0] + (elbow[0] - shoulder[0]) * 0.6, shoulder[1] + (elbow[1] - shoulder[1]) * 0.6)
        shapes.append(("line", shoulder, sleeve, 0.07 * h, "shirt"))
        shapes.append(("line", sleeve, elbow, 0.055 * h, "skin"))
        shapes.append(("line", elbow, hand, 0.05 * h, "skin"))
    xs, ys = [], []
    for shape in shapes:
        if shape[0] == "circle":
            (px, py), r = shape[1], shape[2]
            xs += [px - r, px + r]
            ys += [py - r, py + r]
        else:
            half = shape[3] / 2
            for px, py in (shape[1], shape[2]):
                xs += [px - half, px + half]
                ys += [py - half, py + half]
    return shapes, (min(xs), min(ys), max(xs), max(ys))


def _draw_figure(img: np.ndarray, box, kit: str, pose: Pose, colour: tuple[int, int, int] | None = None) -> None:
    shirt, shorts = KITS[kit]
    colours = {"skin": SKINS[pose.skin % len(SKINS)], "shirt": shirt, "shorts": shorts,
               "sock": shirt, "boot": (25, 25, 25)}
    # smooth edges on the picture; none on a label image, where a blend of two ids is a third id
    line_type = cv2.LINE_AA if colour is None else cv2.LINE_8
    shapes, _ = _figure(box, pose)
    for shape in shapes:
        c = colour if colour is not None else colours[shape[-1]]
        if shape[0] == "circle":
            (px, py), r = shape[1], shape[2]
            cv2.circle(img, (int(round(px)), int(round(py))), max(1, int(round(r))), c, -1, line_type)
        else:
            (px, py), (qx, qy), t = shape[1], shape[2], shape[3]
            cv2.line(img, (int(round(px)), int(round(py))), (int(round(qx)), int(round(qy))), c,
                     max(1, int(round(t))), line_type)


def _pose(p: PlayerSpec, frame_index: int, spec: SceneSpec) -> Pose:
    """Stride phase from the distance run (a stride every 1.1 body heights)."""
    speed = float(np.hypot(*p.velocity))
    phase = 2 * math.pi * frame_index * speed / (1.1 * p.height) + p.phase
    heights_per_sec = speed * spec.fps / p.height
    return Pose(phase=phase, swing=0.1 + 0.45 * min(1.0, heights_per_sec / 1.5), skin=p.player_id)


def _cast_shadow(img: np.ndarray, box, darkness: float) -> None:
    """The sun's shadow of a player on the grass: a dark streak from the feet, to the lower right."""
    x1, y1, x2, y2 = box
    h = y2 - y1
    cx = (x1 + x2) / 2
    centre = (int(round(cx + 0.28 * h)), int(round(y2 - 0.02 * h)))
    axes = (max(1, int(round(0.32 * h))), max(1, int(round(0.06 * h))))
    ox, oy = max(0, centre[0] - axes[0] - 2), max(0, centre[1] - axes[0] - 2)
    ex, ey = min(img.shape[1], centre[0] + axes[0] + 2), min(img.shape[0], centre[1] + axes[0] + 2)
    if ex <= ox or ey <= oy:
        return
    patch = img[oy:ey, ox:ex]
    mask = np.zeros(patch.shape[:2], np.uint8)
    cv2.ellipse(mask, (centre[0] - ox, centre[1] - oy), axes, 12, 0, 360, 255, -1, cv2.LINE_AA)
    factor = 1 - darkness * mask.astype(np.float32)[..., None] / 255
    patch[:] = (patch * factor).astype(np.uint8)


def _paint(img: np.ndarray, box, kit: str, pose: Pose | None, colour: tuple[int, int, int] | None = None) -> None:
    """A player's body: a running figure when it has a pose, else the block body."""
    if pose is None:
        _draw_player(img, box, kit, colour)
    else:
        _draw_figure(img, box, kit, pose, colour)


def _visible_shares(boxes: dict, shape: tuple[int, int], poses: dict | None = None) -> dict[int, float]:
    """Share of each player's body that no nearer player covers (painted far to near, as the
    frame is): each player's body is drawn with its id, alone and over the others."""
    poses = poses or {}
    labels = np.zeros(shape, np.uint8)  # 0: no one, k: the k-th player painted
    alone: dict[int, int] = {}
    order = sorted(boxes, key=lambda k: boxes[k][3])
    for label, pid in enumerate(order, start=1):
        x1, y1, x2, y2 = boxes[pid]
        pad = int(0.5 * (y2 - y1)) + 4 if poses.get(pid) else 4  # a figure's limbs reach past its box
        body = np.zeros((int(y2 - y1) + 2 * pad, int(x2 - x1) + 2 * pad, 3), np.uint8)
        ox, oy = int(x1) - pad, int(y1) - pad
        _paint(body, (x1 - ox, y1 - oy, x2 - ox, y2 - oy), "white", poses.get(pid), (255, 255, 255))
        alone[pid] = int(body.any(axis=2).sum())
        _paint(labels, boxes[pid], "white", poses.get(pid), colour=(label, label, label))
    counts = np.bincount(labels.ravel(), minlength=len(order) + 1)
    return {pid: float(counts[label]) / max(1, alone[pid]) for label, pid in enumerate(order, start=1)}


def _crowd(width: int, height: int, cell: int, seed: int) -> np.ndarray:
    """Stands: a grid of random colours, one cell a spectator."""
    rng = np.random.default_rng(seed)
    cells = rng.integers(0, 255, (max(1, height // cell), max(1, width // cell), 3), dtype=np.uint8)
    return cv2.resize(cells, (width, height), interpolation=cv2.INTER_NEAREST)


def _cut_image(spec: SceneSpec, cut: ShotCut, frame_index: int, boxes: dict, kits: dict,
               backgrounds: dict[str, np.ndarray]) -> np.ndarray:
    """The frame of a close-up or a crowd shot."""
    w, h = spec.width, spec.height
    if cut.kind == "crowd":
        if "crowd" not in backgrounds:
            backgrounds["crowd"] = cv2.GaussianBlur(_crowd(w, h, max(4, h // 30), spec.seed + 11), (0, 0), 1.5)
        # the camera drifts slowly along the stands
        shift = int(frame_index * 0.002 * w) % w
        return np.ascontiguousarray(np.roll(backgrounds["crowd"], -shift, axis=1))
    if cut.kind != "closeup":
        raise ValueError(f"unknown shot cut kind {cut.kind!r} (closeup or crowd)")
    if "closeup" not in backgrounds:
        # seen from low and close: out-of-focus stands behind the upper bodies, a band of grass
        horizon = int(h * 0.62)
        bg = np.empty((h, w, 3), np.uint8)
        bg[:horizon] = _crowd(w, horizon, max(6, h // 12), spec.seed + 13)
        bg[horizon:] = spec.grass
        bg = cv2.GaussianBlur(bg, (0, 0), max(2.0, h / 120))
        backgrounds["closeup"] = bg
    img = backgrounds["closeup"].copy()
    around = cut.around if cut.around is not None else spec.players[0].player_id
    ax1, ay1, ax2, ay2 = boxes[around]
    anchor_x, anchor_y = (ax1 + ax2) / 2, ay1 + 0.5 * (ay2 - ay1)  # the chest, at the frame centre
    z = cut.zoom
    for pid in sorted(boxes, key=lambda k: boxes[k][3]):
        x1, y1, x2, y2 = boxes[pid]
        box = ((x1 - anchor_x) * z + w / 2, (y1 - anchor_y) * z + h * 0.55,
               (x2 - anchor_x) * z + w / 2, (y2 - anchor_y) * z + h * 0.55)
        if box[2] < 0 or box[0] > w or box[3] < 0 or box[1] > h:
            continue
        _draw_player(img, tuple(float(np.clip(v, -4 * h, 5 * h)) for v in box), kits[pid])
    return img


def _draw_score_bug(img: np.ndarray) -> None:
    """The broadcaster's score graphic: a dark panel with team names, score and clock."""
    h, w = img.shape[:2]
    x1, y1, x2, y2 = int(0.03 * w), int(0.04 * h), int(0.27 * w), int(0.09 * h)
    img[y1:y2, x1:x2] = (img[y1:y2, x1:x2] * 0.25 + np.array([60, 20, 10]) * 0.75).astype(np.uint8)
    scale = (y2 - y1) / 40
    cv2.putText(img, "RED 1-0 CLA  63:21", (x1 + int(0.01 * w), y2 - int(0.3 * (y2 - y1))),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)


def render_scene(spec: SceneSpec, path: str | Path) -> Scene:
    """Draw the scene frame by frame into an H.264 MP4 and return it with its ground truth."""
    path = Path(path)
    n_frames = int(round(spec.seconds * spec.fps))
    world_w = int(_world_width(spec)) + 1
    world = _pitch(spec, world_w)
    cv2.setRNGSeed(spec.seed + 1)  # deterministic sensor noise
    kits = {p.player_id: p.kit for p in spec.players}
    cut_backgrounds: dict[str, np.ndarray] = {}
    truth: list[dict[int, tuple[float, float, float, float]]] = []
    shares: list[dict[int, float]] = []
    with H264Writer(path, spec.fps, spec.width, spec.height, crf=spec.crf) as writer:
        for f in range(n_frames):
            canvas = world.copy()
            boxes = {p.player_id: player_box(p, f, spec) for p in spec.players}
            poses = {p.player_id: _pose(p, f, spec) for p in spec.players} if spec.figures else {}
            # a figure's true box is where its limbs are, not the box it stands in
            extents = {pid: _figure(boxes[pid], poses[pid])[1] for pid in poses} or boxes
            if spec.shadows:
                for pid in boxes:
                    _cast_shadow(canvas, boxes[pid], spec.shadows)
            # paint far players first so nearer (lower) ones occlude them
            for pid in sorted(boxes, key=lambda k: boxes[k][3]):
                _paint(canvas, boxes[pid], kits[pid], poses.get(pid))
            cut = _cut_at(spec, f)
            if cut is not None:
                # off the wide camera: nobody has a true box
                img = _cut_image(spec, cut, f, boxes, kits, cut_backgrounds)
                z, shift_x, shift_y = 1.0, 0.0, 0.0
            elif spec.zoom:
                camera = camera_at(spec, f)
                img = cv2.warpAffine(canvas, camera, (spec.width, spec.height), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REPLICATE)
                z, shift_x, shift_y = camera[0, 0], camera[0, 2], camera[1, 2]
            else:
                cam_x = int(spec.pan_px_per_frame * f + _cut_offset(spec, f))
                img = canvas[:, cam_x:cam_x + spec.width]
                z, shift_x, shift_y = 1.0, -float(cam_x), 0.0
            if spec.blur:
                img = cv2.GaussianBlur(img, (0, 0), spec.blur)
            if spec.score_bug:
                img = np.ascontiguousarray(img)
                _draw_score_bug(img)
            if spec.noise:
                noise = np.empty(img.shape, np.int16)
                cv2.randn(noise, 0, spec.noise)
                img = cv2.add(img.astype(np.int16), noise).clip(0, 255).astype(np.uint8)
            writer.write(np.ascontiguousarray(img))
            visible = {}
            for pid, (x1, y1, x2, y2) in (extents.items() if cut is None else ()):
                x1, x2 = x1 * z + shift_x, x2 * z + shift_x
                y1, y2 = y1 * z + shift_y, y2 * z + shift_y
                # a player counts as in the frame while a third of the body is
                if min(x2, spec.width) - max(x1, 0.0) >= 0.33 * (x2 - x1) and \
                        min(y2, spec.height) - max(y1, 0.0) >= 0.33 * (y2 - y1):
                    visible[pid] = (max(0.0, x1), max(0.0, y1), min(float(spec.width), x2),
                                    min(float(spec.height), y2))
            truth.append(visible)
            unhidden = _visible_shares(boxes, canvas.shape[:2], poses) if visible else {}
            shares.append({pid: unhidden[pid] for pid in visible})
    return Scene(path=path, spec=spec, truth=truth, visible_share=shares)


PRESETS = ("easy", "crossing", "match", "broadcast", "green_kit", "broadcast_cuts", "lifelike")


def scene_preset(name: str, seconds: float = 8.0, seed: int = 0, width: int = 1280, height: int = 720) -> SceneSpec:
    """Named scenes, from easy to hard; ``focus_players`` says whom to follow.

    - ``easy``: 10 players, two clearly different kits, tripod.
    - ``crossing``: the focus player crosses two team-mates in the same kit, one passing in
      front of it, plus a few others.
    - ``match``: 22 players in two similar kits (red/claret) plus a referee, weaving runs,
      stands and advertising boards, perspective, noise; tripod.
    - ``broadcast``: ``match`` with a camera that pans and zooms; players leave and re-enter.
    - ``green_kit``: a green kit on grass against white.
    - ``broadcast_cuts``: ``broadcast`` with two shot cuts: a 4x close-up around player 12 from
      20% to 40% of the clip (the wide camera comes back panned by 5% of the frame width), and a
      crowd shot from 65% to 80% (back panned by 12%).
    - ``lifelike``: ``broadcast`` drawn the way real footage looks: running bodies with thin
      swinging limbs (the true box is where the limbs are), sun shadows at the players' feet,
      the stand's shadow over the far part of the pitch, a soft lens, the score graphic, and
      broadcast-grade compression.
    """
    rng = np.random.default_rng(seed)
    fps = 25.0
    n_frames = seconds * fps
    if name == "easy":
        return default_scene(n_players=10, seconds=seconds, seed=seed, width=width, height=height, noise=2.0,
                             focus_players=(1, 4))
    if name == "crossing":
        spec = SceneSpec(width=width, height=height, fps=fps, seconds=seconds, seed=seed, noise=3.0,
                         focus_players=(1,))
        h = height * 0.16
        speed = width * 0.4 / (n_frames * 1.4)  # closing at twice this, player 2 meets the focus player at 70%
        y = height * 0.6
        meet_behind = n_frames * 0.3  # player 3 passes behind the focus player at 30%
        x_meet = width * 0.3 + speed * meet_behind
        spec.players = [
            PlayerSpec(1, "red", (width * 0.3, y), (speed, 0.0), h),
            PlayerSpec(2, "red", (width * 0.7, y + h * 0.12), (-speed, 0.0), h),  # passes in front
            PlayerSpec(3, "red", (x_meet + 1.2 * speed * meet_behind, y - h * 0.12), (-1.2 * speed, 0.0), h),
        ]
        for i in range(4, 9):
            spec.players.append(PlayerSpec(i, "blue" if i % 2 else "red",
                                           (width * rng.uniform(0.1, 0.9), height * rng.uniform(0.35, 0.9)),
                                           (rng.uniform(-1.2, 1.2), rng.uniform(-0.4, 0.4)), h * rng.uniform(0.9, 1.1)))
        return spec
    if name == "lifelike":
        spec = scene_preset("broadcast", seconds=seconds, seed=seed, width=width, height=height)
        spec.figures, spec.shadows, spec.stand_shadow = True, 0.45, 0.35
        spec.blur, spec.score_bug, spec.crf = 0.8, True, 25
        return spec
    if name == "broadcast_cuts":
        spec = scene_preset("broadcast", seconds=seconds, seed=seed, width=width, height=height)
        spec.cuts = [ShotCut(0.2 * seconds, 0.2 * seconds, "closeup", around=12, zoom=4.0, pan_after=0.05 * width),
                     ShotCut(0.65 * seconds, 0.15 * seconds, "crowd", pan_after=0.12 * width)]
        return spec
    if name in ("match", "broadcast"):
        broadcast = name == "broadcast"
        spec = SceneSpec(width=width, height=height, fps=fps, seconds=seconds, seed=seed, noise=3.0,
                         stands=0.18, perspective=0.35,
                         pan_px_per_frame=width * 0.004 if broadcast else 0.0,
                         zoom=0.3 if broadcast else 0.0, zoom_period_sec=seconds * 0.75)
        world_w = width + spec.pan_px_per_frame * n_frames
        top = height * spec.stands
        kits = ["red"] * 11 + ["claret"] * 11 + ["referee"]
        players = []
        for i, kit in enumerate(kits):
            x = world_w * rng.uniform(0.05, 0.95)
            y = top + (height - top) * rng.uniform(0.25, 0.95)
            # a wide view: players 9-12% of the frame tall (13-16% zoomed in for broadcast)
            size = rng.uniform(0.12, 0.15) if broadcast else rng.uniform(0.09, 0.12)
            players.append(PlayerSpec(i + 1, kit, (x, y), (rng.uniform(-2.0, 2.0), rng.uniform(-0.5, 0.5)),
                                      height * size, wobble=height * rng.uniform(0.0, 0.04),
                                      wobble_period=rng.uniform(40, 90), phase=rng.uniform(0, 6.28)))
        spec.players = players
        spec.focus_players = (1, 12, 6)
        return spec
    if name == "green_kit":
        spec = default_scene(n_players=12, seconds=seconds, seed=seed, width=width, height=height, noise=2.0,
                             grass=(45, 125, 55))
        for p in spec.players:
            p.kit = "green" if p.player_id % 2 else "white"
        spec.focus_players = (1, 2)
        return spec
    raise ValueError(f"unknown scene preset {name!r} (one of {', '.join(PRESETS)})")
