"""The chosen player, frame by frame, in either direction.

Each analysed frame becomes a small ``Observation`` (``observe``: the detector's boxes, their
kit-colour descriptors, the camera's motion since the previous frame, the shot cues), and one
``TargetFollower`` walks observations forward or backward: a constant-velocity prediction moved
with the camera, detections assigned jointly with everyone else's tracks (``_Others``), so a
team-mate crossing the player claims its own detection; the player's kit, size and motion to find
it again after an occlusion, a crossing or a cut. ``track.follow_target`` runs the walks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from .camera import CameraMotion, register_shots, shot_distance, shot_signature, warp_box
from .detect import Detector, guessed, row_medians
from .kits import kit_descriptor, kit_distances
from .types import TrackPoint


@dataclass
class Observation:
    """What the follower needs from one analysed frame; small, so chunks can be buffered."""

    frame_index: int
    time_sec: float
    boxes: np.ndarray  # N x 4 xyxy, analysis pixels
    confidences: np.ndarray  # N
    kits: list  # N kit descriptors (or None)
    motion: np.ndarray  # 2x3, previous analysed frame -> this frame
    width: int
    height: int
    grass: float = 1.0  # share of grass-green pixels on the frame (shot-change cue)
    hist: np.ndarray | None = None  # coarse HSV histogram of the whole frame (shot-change cue)
    grey: np.ndarray | None = None  # the small grey frame of the camera motion (re-registering after a cut)
    grey_scale: float = 1.0  # its size / the analysis size
    # boxes the detector guessed (a player inferred from what was left of a crowd's blob): kept
    # apart from ``boxes``; only tracks left without a detection use them (TargetFollower._guess,
    # _update_others)
    guesses: np.ndarray = field(default_factory=lambda: np.empty((0, 4)))
    guess_kits: list = field(default_factory=list)
    guess_confidences: np.ndarray = field(default_factory=lambda: np.empty(0))


def observe(image: np.ndarray, frame_index: int, time_sec: float, detector: Detector,
            camera: CameraMotion) -> Observation:
    """One analysed frame as a walk sees it (``camera`` follows the frames walked before it, in
    decoding order). Nothing in it depends on the follower: a process of its own can make it
    (``observing.ObserverProcess``)."""
    detections = detector.detect(image)
    boxes = np.asarray(detections.xyxy, dtype=np.float64).reshape(-1, 4)
    conf = (np.asarray(detections.confidence, dtype=np.float64) if detections.confidence is not None
            else np.ones(len(boxes)))
    guess = guessed(detections)
    kits = [kit_descriptor(image, b) for b in boxes]
    motion = camera.update(image)
    grass, hist = shot_signature(image)
    grey, grey_scale = camera.last_grey
    seen = ~guess
    return Observation(frame_index, time_sec, boxes[seen], conf[seen], [k for k, g in zip(kits, guess) if not g],
                       motion, image.shape[1], image.shape[0], grass, hist, grey, grey_scale,
                       boxes[guess], [k for k, g in zip(kits, guess) if g], conf[guess])


def _intersection_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Area of one box's intersection with each of ``boxes`` (float64)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    others = boxes.astype(np.float64, copy=False)
    inter_w = np.clip(np.minimum(x2, others[:, 2]) - np.maximum(x1, others[:, 0]), 0.0, None)
    inter_h = np.clip(np.minimum(y2, others[:, 3]) - np.maximum(y1, others[:, 1]), 0.0, None)
    return inter_w * inter_h


def _covered_share(box: np.ndarray, boxes: np.ndarray) -> float:
    """The largest share of ``box``'s area that lies inside one of ``boxes`` (0 with none)."""
    if not len(boxes):
        return 0.0
    area = max(1.0, float((box[2] - box[0]) * (box[3] - box[1])))
    return float(_intersection_one(box, boxes).max()) / area


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of one box with each of ``boxes``: ``sv.box_iou_batch``'s arithmetic (float64, float32
    out, 0 against an empty box) without its set-up, which was a quarter of the follower's time."""
    if not len(boxes):
        return np.empty(0)
    x1, y1, x2, y2 = (float(v) for v in box)
    others = boxes.astype(np.float64, copy=False)
    inter = _intersection_one(box, others)
    union = (x2 - x1) * (y2 - y1) + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter
    out = np.zeros(len(others), np.float32)
    np.divide(inter, union, out=out, where=union > 0)
    return out


def _centre(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def _box(centre, size) -> np.ndarray:
    cx, cy = centre
    w, h = size
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


def _size(box) -> tuple[float, float]:
    return box[2] - box[0], box[3] - box[1]


OWN_TALLEST = 1.18  # a box taller than this x the player's height is a merged blob (_own_shape)


def _own_shape(w, h, size, tallest: float = OWN_TALLEST):
    """Width and height (scalars or arrays) a player of ``size`` (w, h) can have: wider or taller
    (than ``tallest`` x its height) is a merged blob, narrower or shorter a piece of one."""
    return (w >= 0.75 * size[0]) & (w <= 1.35 * size[0]) & (h >= 0.8 * size[1]) & (h <= tallest * size[1])


def _borders_cut(box, width: float, height: float, margin: float = 2.0) -> tuple[bool, bool, bool, bool]:
    """Whether the box runs into the frame's left, right, top and bottom border."""
    return (bool(box[0] <= margin), bool(box[2] >= width - margin),
            bool(box[1] <= margin), bool(box[3] >= height - margin))


def _cut_sides(box, width: float, height: float, margin: float = 2.0) -> tuple[bool, bool]:
    """Whether the box runs into the frame's left or right border (its width is cut off), and
    into its top or bottom border (its height is)."""
    left, right, top, bottom = _borders_cut(box, width, height, margin)
    return left or right, top or bottom


def _blend(old, new, rate: float):
    """A running average learning at ``rate`` (the first value is taken as it is)."""
    return new if old is None else (1 - rate) * old + rate * new


def _detection_of(box: np.ndarray, boxes: np.ndarray) -> int | None:
    """The detection of this frame a track's box sits on (IoU >= 0.9), if any."""
    ious = _iou_one(box, boxes)
    j = int(np.argmax(ious)) if len(ious) else 0
    return j if len(ious) and ious[j] >= 0.9 else None


@dataclass
class FollowerSettings:
    max_coast_sec: float = 1.2  # follow the predicted box this long without a trusted match
    report_coast_sec: float = 0.8  # ...and report it as visible this long
    gate: float = 0.6  # match radius (box heights) around the prediction while tracking
    gate_growth_sec: float = 1.0  # extra radius per second without a match
    kit_gate: float = 0.62  # max kit distance to accept a match while tracking
    # kit distance the player's own detections show anyway (pose, blur, a neighbour's edge: 0.2-0.45)
    # and that does not count against a detection in the target's cost, while the target is seen,
    # followed inside a crowd's blob (not counted as missed there), or missed at most kit_noise_sec
    kit_noise: float = 0.2
    kit_noise_sec: float = 0.2
    reacquire_kit: float = 0.5  # max kit distance for a lost player to be re-acquired
    reacquire_frames: int = 3  # frames a new track must live before it can be the player
    reacquire_size: tuple = (0.7, 1.3)  # ...and its height vs the target's when last seen for sure
    reacquire_depth: float = 1.5  # weight of feet height in the re-acquisition radius from the last sighting
    # a re-acquired identity is on probation this long (renewed while it is missed): its coasting
    # box is not reported where it sits on a detection it did not take (most likely a team-mate)
    tentative_sec: float = 0.4
    tentative_overlap: float = 0.3  # IoU of the coasting box with such a detection
    # share of the motion so far in each update of it from a sighting for sure (the first few count
    # more: 1/2, 2/3...): 0.8 over 0.7 (twenty-fourth session, eight seed sets, 816 follows): the
    # share +0.001, 197 fewer frames on another player (4,172 -> 3,975)
    velocity_smoothing: float = 0.8
    # the player's motion at the click is not known from the click: each walk starts with the
    # motion a follower of its own saw over this long on the other side of it (walking forward
    # into a crossing just after the click, the player's motion before it tells who is who)
    start_motion_sec: float = 0.8
    start_motion_sightings: float = 0.3  # ...learned from this share of its frames at least
    # seen on its own last frame, its prediction now spread over two detections (this much of it
    # inside another one, while the one it took overlaps it at IoU < 0.5): the detector cut it in
    # two, or cut it and a neighbour at the wrong column, and neither box is its own, so it coasts
    # (0 turns this off)
    straddle_cover: float = 0.25
    # missed (no detection of its own), the target is shown on a box the detector only guessed
    # (``detect.GUESSED``) that overlaps its prediction this much, still counted as missed; the
    # others' tracks left without a detection take such a guess as theirs
    guess_iou: float = 0.5
    # missed, the target adopts a track born on or since the frame it was last seen, where it could have run to
    adopt_speed: float = 2.5  # body heights/s (~4.5 m/s) on top of ``gate``
    adopt_hits: int = 3  # frames the track must have lived
    adopt_clear: float = 1.0  # body heights further from the sighting than the newcomer: no rival
    others_max_missed_sec: float = 0.6
    # a young track on the target's detection is the target all along only if its feet are at most
    # this much of a height lower than the target's predicted feet (a tolerance, not a switch): one
    # clearly nearer the camera is a team-mate passing in front (crossing, 24 follows: 0.634 -> 0.660)
    absorb_nearer: float = 0.08
    # a confirmed box narrower than this x the players in full view are for its height is a piece
    # of the player (a split cut it; held-out seed 6 match player 6: a box 0.67 of it wide, 0.10
    # -> 0.61): the follower takes the player to be as wide as they are
    narrow_start: float = 0.75
    # another player (a team-mate or not) whose feet are this much of the target's detection's
    # height or more above the target's (behind it, its legs over the target's head) or below them
    # (in front of it, its head over the target's legs), on a detection of its own that fits its
    # track, does not make the target's detection touched or shared: the target, on a detection
    # that fits its prediction, is seen for sure and learns its motion (seed 1 match player 6 from
    # frame 86: never seen for sure beside a team-mate behind it, it kept the motion it started
    # with and lost the player, 0.21 -> 0.56; crossing seed 7 from the quarter 0.28 -> 0.73;
    # held-out seed 12 match player 6, behind a player in front while it turned, 0.80 -> 1.00 from
    # two starts). math.inf turns this off
    apart_depth: float = 0.3
    # before its first sure sighting, the player's size is the box clicked, which a neighbour's
    # feet may have cut at the head (or which the neighbour's feet make its detections taller
    # than): a detection up to this x its height is its shape then, not 1.18 x (match seed 42
    # player 1 from frame 50, never seen for sure, was lost as it turned into a team-mate)
    first_tallest: float = 1.25
    # on the frame clicked, a box the detector only guessed at is someone else (a track of its own)
    # if it overlaps the box clicked at IoU under this; more, it is a guess the player's own blob
    # left over (a detection is someone else under IoU 0.5)
    start_guess_iou: float = 0.25
    exit_edge: float = 1.5  # left the frame: re-acquired from a track born this near (body heights) that edge
    kit_learning: float = 0.1  # share of each trusted sighting in the target's kit model
    # the box clicked overlaps someone else's (another detection, or its own detection is a blob
    # it is only part of: under IoU 0.7 with it) at IoU this or more: clicked in a crowd, the kit
    # in it is partly theirs, and the first sighting for sure gives the kit as seen instead
    crowded_start_iou: float = 0.15
    # leaving the target without a detection costs this much more than leaving anyone else's track
    # without one. In a crowd the detector gives fewer boxes than players, and someone goes without:
    # with the same price for all, that was the target, its row dearest (its kit counted, the others'
    # rows position alone), its detection handed to a neighbour's track fitting it worse (match seed
    # 59 player 12 from frame 50: the track of a team-mate clicked beside it took the player's box at
    # IoU 0.39 against the target's 0.59). A neighbour's track coasts a frame at no cost; the target
    # missed loses its motion and, soon, the player. Eight seed sets (816 follows): the share 0.9025
    # -> 0.913, at the price of more frames on another player (3,975 -> 4,153); 0.5 gained half as
    # much, 2.0 no more
    target_unmatched: float = 1.0
    # shot changes (the director cuts to a close-up, a crowd, a replay, then back to the wide camera)
    cut_distance: float = 0.35  # histogram distance between consecutive analysed frames that is a cut
    off_wide_grass: float = 0.5  # grass share under this x the wide shot's: not the wide shot
    back_wide_grass: float = 0.75  # after a cut, grass share needed to be the wide shot again...
    back_wide_hist: float = 0.45  # ...and histogram distance to the wide shot's (0.05-0.2 on it)
    back_wide_sec: float = 4.0  # ...or this long of frames with over fallback_grass x the wide
    fallback_grass: float = 0.6  # shot's grass share, whatever the colours (the wide shot changed)
    cut_size: tuple = (0.6, 1.6)  # re-acquired after a cut: height vs the height before it
    # ...or among team-mates within base + per second, at most cap (body heights from where it was last seen)
    cut_radius: tuple = (1.5, 1.0, 4.0)


# another player's motion is the median of its last this many steps' displacements: a single
# detection that cut or merged it (a team-mate's legs in its box) moves its box's centre by a
# fifth of a body or more, and averaged in, that sent its track off the other way in crossings
OTHERS_MOTION_STEPS = 5
# ...and it goes on with its own motion over a detection not the shape of its box this many frames
# in a row at most: the size it coasts on may be the wrong one (a track born on a sliver of a
# player walking in at the frame's edge, wider by over 1.35x a frame, stayed that sliver for good)
OTHERS_ODD_FRAMES = 3

# a track born last frame and not met again is dropped unless this share of its box lies inside
# one of this frame's detections (its player merged into a neighbour's blob)...
UNCONFIRMED_INSIDE = 0.8
UNCONFIRMED_ASPECT = 0.3  # ...and its box is at least this wide for its height (no sliver)


class _Others:
    """Everyone else, tracked just well enough to claim their own detections in crossings."""

    def __init__(self):
        self.boxes = np.empty((0, 4))
        self.velocity = np.empty((0, 2))
        self.missed = np.empty(0, int)
        self.hits = np.empty(0, int)
        self.odd = np.empty(0, int)  # frames in a row it coasted over a detection not its shape
        self.born = np.empty(0, int)
        self.predicted = np.empty((0, 4))
        self.origin = np.empty((0, 4))  # box on the frame each track was born (moved with the camera)
        self.entry = np.empty((0, 2))  # its centre in the image of that frame (where it came into view)
        self.steps = np.empty((0, OTHERS_MOTION_STEPS, 2))  # its last displacements (NaN: none yet)

    def predict(self, motion: np.ndarray) -> np.ndarray:
        if len(self.boxes):
            zoom = math.hypot(motion[0, 0], motion[1, 0])
            moved = np.array([warp_box(b, motion) for b in self.boxes])
            self.origin = np.array([warp_box(b, motion) for b in self.origin])
            self.velocity = self.velocity * zoom
            self.steps = self.steps * zoom
            self.predicted = moved + np.hstack([self.velocity, self.velocity])
        else:
            self.predicted = np.empty((0, 4))
        return self.predicted

    def update(self, matches: dict[int, int], boxes: np.ndarray, new: list[int], step: int,
               max_missed: int, coast: set[int] | None = None) -> None:
        n = len(self.boxes)
        keep = np.ones(n, bool)
        moving: list[int] = []  # the tracks with a new displacement
        for t in range(n):
            if coast and t in coast and t in matches and self._seen_moving(t):
                # its detection is shared with someone else: keep its own motion (a track not yet
                # seen to move has none to keep: standing still where it was born, it is left
                # behind by its player and takes the next player coming by; crossing seed 7
                # player 1 from frame 50, a team-mate's track born on the frame clicked)
                self.boxes[t] = self.predicted[t]
                self.missed[t] = 0
                self.hits[t] += 1
            elif t in matches:
                box = boxes[matches[t]]
                measured = _centre(box) - (_centre(self.predicted[t]) - self.velocity[t])
                if not _own_shape(*_size(box), _size(self.predicted[t])):
                    # its box changed shape (a sliver it was born on became the whole player, a
                    # blob took someone's legs): its centre moved by the change, not the player
                    # (crossing seed 7 player 1 from frame 150: a team-mate's track born on a
                    # sliver of it flew off at the pace the sliver widened, 0.27 -> 0.79)
                    measured = np.full(2, np.nan)
                self.steps[t, :-1] = self.steps[t, 1:]
                self.steps[t, -1] = measured
                moving.append(t)
                self.boxes[t] = box
                self.missed[t] = 0
                self.hits[t] += 1
            else:
                self.boxes[t] = self.predicted[t]
                self.missed[t] += 1
                self.hits[t] = 0 if self.missed[t] > 2 else self.hits[t]
                keep[t] = self.missed[t] <= max_missed and not self._unconfirmed(t, boxes, step)
        moving = [t for t in moving if self._seen_moving(t)]
        if moving:
            # (the measured steps' median, each axis: np.nanmedian's numbers at an eighth of its cost)
            per_axis = self.steps[moving].transpose(0, 2, 1).reshape(-1, OTHERS_MOTION_STEPS)
            self.velocity[moving] = row_medians(per_axis).reshape(-1, 2)
        self._keep(keep)
        if new:
            self.steps = np.concatenate([self.steps, np.full((len(new), OTHERS_MOTION_STEPS, 2), np.nan)])
            self.origin = np.vstack([self.origin, boxes[new]])
            self.entry = np.vstack([self.entry, _centre(boxes[new])])
            self.boxes = np.vstack([self.boxes, boxes[new]])
            self.velocity = np.vstack([self.velocity, np.zeros((len(new), 2))])
            self.missed = np.concatenate([self.missed, np.zeros(len(new), int)])
            self.hits = np.concatenate([self.hits, np.ones(len(new), int)])
            self.odd = np.concatenate([self.odd, np.zeros(len(new), int)])
            self.born = np.concatenate([self.born, np.full(len(new), step, int)])

    def _seen_moving(self, t: int) -> bool:
        """Whether track ``t`` has a step measured (none while each of its boxes changed shape)."""
        return not np.isnan(self.steps[t]).all()

    def _unconfirmed(self, t: int, boxes: np.ndarray, step: int) -> bool:
        """Whether track ``t``, not met this frame, was born last frame on a box that is no player:
        a piece of a pair, or the legs between two players, seen for one frame (ByteTrack drops its
        unconfirmed tracks so). Kept, such a track sat where it was born and took the chosen
        player's detection passing through (held-out seed 16 match player 12). A track of a whole
        player's shape whose box lies in one of this frame's detections is kept: its player may
        have merged into it (a sliver born beside the chosen player is dropped all the same:
        held-out seed 15 match player 12)."""
        if self.hits[t] != 1 or step - self.born[t] != 1:
            return False
        w, h = _size(self.predicted[t])
        return w < UNCONFIRMED_ASPECT * h or _covered_share(self.predicted[t], boxes) < UNCONFIRMED_INSIDE

    def off_shape(self, t: int, box: np.ndarray) -> bool:
        """Whether track ``t`` goes on with its own motion over its detection ``box`` this frame,
        as in a crowd: the box is not the shape of its prediction (a piece of its player, or a
        blob with someone else's legs in it), at most OTHERS_ODD_FRAMES frames in a row."""
        odd = self.hits[t] >= 2 and self.odd[t] < OTHERS_ODD_FRAMES and \
            not _own_shape(*_size(box), _size(self.predicted[t]))
        self.odd[t] = self.odd[t] + 1 if odd else 0
        return bool(odd)

    def remove(self, t: int) -> None:
        self._keep(np.arange(len(self.boxes)) != t)

    def _keep(self, keep: np.ndarray) -> None:
        self.boxes, self.velocity, self.steps = self.boxes[keep], self.velocity[keep], self.steps[keep]
        self.missed, self.hits, self.born = self.missed[keep], self.hits[keep], self.born[keep]
        self.odd = self.odd[keep]
        self.origin, self.entry = self.origin[keep], self.entry[keep]


class TargetFollower:
    """Follows one player over observations given in either time direction.

    Everyone on the pitch is tracked with constant velocity in camera-compensated coordinates
    and detections are assigned jointly (Hungarian), so a team-mate crossing the target claims
    its own detection. The target's match must also fit its kit colours; when its detection is
    shared with another player's prediction (a crossing) or is a merged blob, the target coasts
    on its own velocity instead of being dragged along. Lost for long, it is re-acquired from a
    track that appeared since, by kit colour and distance, after a few consistent frames.
    """

    def __init__(self, box, kit: np.ndarray | None, fps_analysed: float,
                 settings: FollowerSettings | None = None):
        self.s = settings or FollowerSettings()
        self.box = np.asarray(box, dtype=np.float64)
        self.kit = kit  # as clicked: the cost against everyone
        self.seen_kit = kit  # as seen since (slowly learned): a second chance at the gate
        self.kit_unsure = False  # clicked in a crowd: seen_kit starts over at the first sighting for sure
        self.velocity = np.zeros(2)
        self.size = np.array([self.box[2] - self.box[0], self.box[3] - self.box[1]])
        self.anchor = self.box.copy()  # where it was last seen (camera-compensated)
        self.anchor_age = 0  # analysed frames since
        self.trusted_box = self.box.copy()  # where it was last seen for sure (camera-compensated)
        self.trusted_age = 0  # analysed frames since
        self.trusted_cut = (False, False)  # that box ran into the frame's left, right border
        self.missed = 0
        self.fps = fps_analysed
        self.others = _Others()
        self.step_count = 0
        self.lost_at = 0
        self.occluded = 0  # consecutive frames the target's detection was shared or merged
        self.last_trusted_step = 0
        self.trusted_count = 0
        # shot changes: what the wide shot looks like, and whether we are on it
        self.wide_grass: float | None = None  # grass share of the wide shot (slowly learned)
        self.wide_hist: np.ndarray | None = None  # shot histogram of the wide shot (slowly learned)
        self.wide_height: float | None = None  # median detection height on the wide shot
        self.wide_count: float | None = None  # detections per wide frame
        self.prev_hist: np.ndarray | None = None  # shot histogram of the frame stepped before
        self.off_wide = False
        self.wide_like = 0  # consecutive wide-looking frames while off the wide shot
        self.after_cut = False  # lost by a cut: re-acquire anywhere in the frame, by kit and size
        self.cut_registered = False  # the view after the cut was registered to the one before it
        self.wide_grey: tuple[np.ndarray, float] | None = None  # last wide frame stepped (small grey)
        self.cuts = 0  # times the wide shot was left (for tests and diagnostics)
        self.tentative = 0  # analysed frames of probation left after a re-acquisition
        self._width = self._height = 0  # of the frame being stepped

    def _frames(self, seconds: float) -> int:
        return max(2, int(round(seconds * self.fps)))

    # -- shot changes ----------------------------------------------------------------------------
    def note_wide(self, obs: Observation, rate: float = 1.0) -> None:
        """Learn what the wide shot looks like from a frame known to be on it."""
        self.prev_hist = obs.hist if obs.hist is not None else self.prev_hist
        if obs.grey is not None:
            self.wide_grey = (obs.grey, obs.grey_scale)
        if obs.hist is not None:
            self.wide_hist = _blend(self.wide_hist, obs.hist, rate)
        self.wide_grass = _blend(self.wide_grass, obs.grass, rate)
        n = len(obs.boxes)
        self.wide_count = _blend(self.wide_count, n, rate)
        if n >= 3:
            self.wide_height = _blend(self.wide_height, float(np.median(obs.boxes[:, 3] - obs.boxes[:, 1])), rate)

    def _looks_wide(self, obs: Observation, grass_share: float, hist_distance: float = math.inf) -> bool:
        """Grass over ``grass_share`` x the wide shot's, colours within ``hist_distance`` of its,
        and players as many and as big as there."""
        if self.wide_grass is not None and self.wide_grass >= 0.2 and obs.grass < grass_share * self.wide_grass:
            return False
        if shot_distance(self.wide_hist, obs.hist) > hist_distance:
            return False
        n = len(obs.boxes)
        if self.wide_count is not None and n < max(2.0, 0.3 * self.wide_count):
            return False
        if self.wide_height is not None and n:
            h = float(np.median(obs.boxes[:, 3] - obs.boxes[:, 1]))
            if not 0.5 * self.wide_height <= h <= 2.0 * self.wide_height:
                return False
        return True

    def _off_wide(self, obs: Observation) -> tuple[bool, np.ndarray | None]:
        """(off the wide shot on this frame, the camera motion across the cut when back on it on
        this frame: registered before/after, or the identity when that fails).

        A cut is a jump of the frame's colour histogram from the frame stepped before (in the
        walking direction, so backward walks see the same cuts); a slow change (a dissolve) is
        caught by the grass share falling under half the wide shot's. Once off, the wide shot is
        back when the frame has its grass share, its colours and players of its number and size
        again (or, should the wide shot itself have changed, after a few seconds of frames with
        much grass and such players)."""
        jump = shot_distance(self.prev_hist, obs.hist) > self.s.cut_distance
        if obs.hist is not None:
            self.prev_hist = obs.hist
        if not self.off_wide:
            if not jump and (self.wide_grass is None or self.wide_grass < 0.2 or
                             obs.grass >= self.s.off_wide_grass * self.wide_grass):
                self.note_wide(obs, 0.05)
                return False, None
            self.off_wide, self.wide_like, self.cuts = True, 0, self.cuts + 1
            if not self.after_cut:
                self.lost_at = self.step_count
            self.after_cut = True
        elif jump:
            self.wide_like = 0
        self.wide_like = self.wide_like + 1 if self._looks_wide(obs, self.s.fallback_grass) else 0
        if self._looks_wide(obs, self.s.back_wide_grass, self.s.back_wide_hist) or \
                self.wide_like >= self._frames(self.s.back_wide_sec):
            # back on the wide camera, maybe pointing elsewhere: nothing known carries over but
            # the player's kit and size
            self.off_wide = False
            self.others = _Others()
            self.velocity[:] = 0
            self.occluded = 0
            self.missed = self._frames(self.s.max_coast_sec) + 1
            motion = None
            if self.wide_grey is not None and obs.grey is not None:
                motion = register_shots(self.wide_grey[0], obs.grey, self.wide_grey[1])
            self.cut_registered = motion is not None
            if obs.grey is not None:
                self.wide_grey = (obs.grey, obs.grey_scale)
            return False, np.eye(2, 3) if motion is None else motion
        return True, None

    def step(self, obs: Observation, motion: np.ndarray) -> TrackPoint:
        self.step_count += 1
        self._width, self._height = obs.width, obs.height
        off, across = self._off_wide(obs)
        if off:
            return self._point(obs, None, 0.0)
        if across is not None:
            motion = across  # the motion measured frame to frame across the cut is meaningless
            self.tentative = 0
        probation = self.tentative
        self.tentative = max(0, self.tentative - 1)
        zoom = math.hypot(motion[0, 0], motion[1, 0])
        moved = warp_box(self.box, motion)
        self.anchor = warp_box(self.anchor, motion)
        self.anchor_age += 1
        self.trusted_box = warp_box(self.trusted_box, motion)
        self.trusted_age += 1
        self.size = self.size * zoom
        self.velocity = self.velocity * zoom
        predicted = _box(_centre(moved) + self.velocity, self.size)
        others_pred = self.others.predict(motion)
        boxes = obs.boxes
        n_det, n_oth = len(boxes), len(others_pred)
        lost = self.missed > self._frames(self.s.max_coast_sec)
        held = False  # on a box that fits its prediction but that it cannot take (_on_prediction)

        # cost matrix: row 0 the target, then everyone else
        big = 1e6
        cost = np.full((1 + n_oth, n_det), big)
        kit_dist = kit_distances(self.kit, obs.kits, boxes)
        gate_kits = kit_dist
        fits = _iou_one(predicted, boxes)  # each detection's IoU with the prediction
        if n_det and not lost:
            seen_dist = kit_distances(self.seen_kit, obs.kits, boxes) if self.seen_kit is not self.kit else kit_dist
            gate_kits = np.minimum(kit_dist, seen_dist)
            cost[0] = self._target_cost(predicted, boxes, fits, kit_dist, gate_kits)
            held = self._on_prediction(predicted, boxes, fits, gate_kits, obs.guesses)
            if held:
                cost[0][fits < 0.5] = big
        if n_det and n_oth:
            iou = sv.box_iou_batch(others_pred, boxes)
            h = np.maximum(4.0, others_pred[:, 3] - others_pred[:, 1])
            dist = np.linalg.norm(_centre(others_pred)[:, None] - _centre(boxes)[None], axis=2) / h[:, None]
            ok = (iou >= 0.2) | (dist <= 0.5)
            cost[1:] = np.where(ok, (1 - iou) + 0.5 * dist, big)
            if not lost and (self.missed or self.occluded):
                # tracks born while the target was hidden may be the target re-appearing: the
                # target gets first claim on detections inside its own gate
                young = self.others.born > self.last_trusted_step
                cost[1:][young] += 1.0
        matches: dict[int, int] = {}
        if n_det:
            from scipy.optimize import linear_sum_assignment

            # a dummy column per row lets a row stay unmatched rather than forcing a poor pair
            # on someone else (rectangular Hungarian assigns every row otherwise)
            n_rows = cost.shape[0]
            dummy = np.full((n_rows, n_rows), big)
            np.fill_diagonal(dummy, 10.0)
            dummy[0, 0] += self.s.target_unmatched
            if self.missed:
                # ...but no dearer than for a player walking in across a border the target did not
                # leave by: it is someone else (``_came_into_view``), whose detection it keeps
                for t in range(n_oth):
                    if self._came_into_view(t):
                        dummy[1 + t, 1 + t] += self.s.target_unmatched
            padded = np.hstack([cost, dummy])
            rows, cols = linear_sum_assignment(padded)
            matches = {int(r): int(c) for r, c in zip(rows, cols) if c < n_det and cost[r, c] < big}
        target_det = matches.pop(0, None)
        # back from hiding, the target takes only the detection it fits best itself: a detection
        # it got because a neighbour took the better one is most likely that neighbour
        own_choice = target_det is None or not (self.missed or self.occluded) or \
            int(np.argmin(cost[0])) == target_det
        other_matches = {r - 1: c for r, c in matches.items()}
        claimed = set(other_matches.values()) | ({target_det} if target_det is not None else set())
        new_tracks = [j for j in range(n_det) if j not in claimed]

        if lost:
            self.box = moved
            self.velocity[:] = 0
            self._update_others(other_matches, new_tracks, others_pred, obs, set())
            t = self._reacquire_after_cut(moved, kit_dist, boxes) if self.after_cut else \
                self._reacquire(moved, kit_dist, other_matches)
            if t is not None:
                box = self._take_over(t)
                if not self.after_cut and self.s.tentative_sec > 0:
                    self.tentative = self._frames(self.s.tentative_sec)
                if self.after_cut:
                    # everyone else was met after the cut too: none of them is the target hiding,
                    # but a second track started on the target itself (its box changed while
                    # it was met again) would claim its detection from now on
                    self.after_cut = False
                    self.last_trusted_step = self.step_count
                    if len(self.others.boxes):
                        for k in np.where(_iou_one(box, self.others.boxes) >= 0.3)[0][::-1]:
                            self.others.remove(int(k))
                return self._point(obs, box, 0.6)
            self.missed += 1
            return self._point(obs, None, 0.0)

        trusted = placed = straddled = False
        absorbed_tracks: set[int] = set()  # pruned below: they take no guess either
        if target_det is not None:
            det = boxes[target_det]
            overlap = _iou_one(det, others_pred) if n_oth else np.empty(0)
            if n_oth:
                # young tracks sitting on the target's detection were the target all along
                young = self.others.born > self.last_trusted_step
                # ...if they also move like the target (a team-mate walking away does not)
                same_motion = np.linalg.norm(self.others.velocity - self.velocity, axis=1) <= 0.08 * self.size[1]
                where_expected = _iou_one(predicted, others_pred) >= 0.4
                # ...and do not stand nearer the camera than the target: a second track on the
                # target itself cannot, a team-mate passing in front of it does
                not_nearer = others_pred[:, 3] - predicted[3] <= self.s.absorb_nearer * self.size[1]
                absorbed = young & not_nearer & (overlap >= 0.3) & \
                    np.where(self.others.hits >= 3, same_motion, where_expected)
                for t in np.where(absorbed)[0]:
                    other_matches.pop(int(t), None)
                    absorbed_tracks.add(int(t))
                    self.others.missed[t] = 10 ** 6  # pruned by the update below
                overlap = np.where(absorbed, 0.0, overlap)
            fit = float(fits[target_det])
            if fit >= 0.5:
                overlap = np.where(self._apart_on_own(det, others_pred, other_matches, boxes), 0.0, overlap)
            # the detection also fits someone else's prediction: a crossing, do not be dragged
            touching = n_oth > 0 and float(overlap.max()) >= 0.05
            shared = n_oth > 0 and float(overlap.max()) >= 0.15
            # a merged blob, or a piece of one: not the player's own shape (never seen for sure yet,
            # its size is the box clicked, which a neighbour may have cut: ``first_tallest``)
            tallest = self.s.first_tallest if not self.trusted_count else OWN_TALLEST
            consistent = bool(_own_shape(*_size(det), self.size, tallest)) or \
                self._walking_in_at_the_bottom(det, obs, tallest)
            straddled = fit < 0.5 and not (self.missed or self.occluded) and \
                self._straddles(predicted, np.delete(boxes, target_det, axis=0))
            trusted = not touching and consistent and own_choice and not straddled
            # brushing past someone: believe where it is, not how it moves
            placed = not trusted and not shared and consistent and own_choice and fit >= 0.5
        everyone = np.vstack([predicted[None], others_pred]) if n_oth else predicted[None]
        crowded = set()
        for t, j in other_matches.items():
            overlaps = _iou_one(boxes[j], everyone)
            overlaps[1 + t] = 0.0
            if overlaps.max() >= 0.15 or self.others.off_shape(t, boxes[j]):
                crowded.add(t)
        claimed_guesses = self._update_others(other_matches, new_tracks, others_pred, obs, absorbed_tracks,
                                              coast=crowded)
        if trusted:
            det = boxes[target_det]
            # learn the speed fast at first, then smoothly
            self.trusted_count += 1
            a = min(self.s.velocity_smoothing, 1 - 1 / (self.trusted_count + 1))
            self.velocity = a * self.velocity + (1 - a) * self._motion_since_sure(det)
            self.size = 0.6 * self.size + 0.4 * np.array(_size(det))
            seen = obs.kits[target_det]
            if self.kit_unsure and seen is not None:
                # clicked in a crowd, the kit clicked is partly a neighbour's: the player's own is
                # the one seen here, alone (the clicked one stays the cost: a team-mate crossing
                # is still told by it). Broadcast seed 24 player 1 clicked at frame 150: 0.38 -> 0.87,
                # match seed 37 player 1 at frame 50: 0.10 -> 0.71
                self.seen_kit, self.kit_unsure = seen, False
            elif self.seen_kit is not None and seen is not None:
                # the kit as seen over time, not on the one frame it was clicked on
                self.seen_kit = (1 - self.s.kit_learning) * self.seen_kit + self.s.kit_learning * seen
            self.box = det.copy()
            self.anchor, self.anchor_age = det.copy(), 0
            self.trusted_box, self.trusted_age = det.copy(), 0
            self.trusted_cut = _borders_cut(det, self._width, self._height)[:2]
            self.missed = 0
            self.occluded = 0
            self.last_trusted_step = self.step_count
            return self._point(obs, det, 0.4 + 0.6 * float(obs.confidences[target_det]))
        if self.s.adopt_speed > 0 and self.missed and target_det is None and not held and \
                self.trusted_count >= self.s.adopt_hits:  # its own shape and motion known
            t = self._adopt(boxes, gate_kits, on_probation=probation > 0)
            if t is not None:
                box = self._take_over(t)
                self.occluded = 0
                self.last_trusted_step = self.step_count
                return self._point(obs, box, 0.6)
        if placed:
            det = boxes[target_det]
            # brushing past someone, one box may be pulled aside, but its motion since the last
            # sure sighting is steadier the longer ago that was (a player that turns while it
            # brushes past someone would otherwise drift off on its old motion)
            self._keep_learning_motion(det)
            self.box = det.copy()
            self.anchor, self.anchor_age = det.copy(), 0
            self.missed = 0
            return self._point(obs, det, 0.3 + 0.5 * float(obs.confidences[target_det]))
        if target_det is not None:
            # occluded or crossing: follow the prediction, kept inside the blob the target is in
            det = boxes[target_det]
            # across two detections, it is in neither, and a detection it got because a neighbour
            # took the one it fits best is most likely that neighbour's: it stays where predicted
            inside = predicted.copy() if straddled or not own_choice else self._inside_blob(predicted, det)
            if own_choice and not straddled and self._in_sight_beside(det, boxes):
                # the part a player in front leaves in sight stands head to feet like the player:
                # the box goes up and down with it (the player may be turning up or down the pitch)
                _shift_inside(inside, det, 1, 3)
            self.box = inside
            self.missed = 0 if self.missed == 0 else self.missed + 1
            self.occluded += 1
            if self.occluded > self._frames(2.0):  # too long in a crowd: treat as missed
                self.missed += 1
            if self.missed > self._frames(self.s.max_coast_sec):
                self.lost_at = self.step_count  # lost from here (a newcomer is born after this)
            shown = inside.copy()
            if own_choice and consistent and not straddled:
                # a detection of one player's shape, not one the target got because a neighbour
                # took the better one: the player fills it head to feet, so the box shown moves up
                # or down into it where the prediction drifted (its height kept). The prediction
                # goes on as it was (the detection may still be the other player's), and a blob of
                # two keeps it (the target may be either part)
                _shift_inside(shown, det, 1, 3)
            return self._point(obs, shown, 0.5)
        guess = self._guess(predicted, obs, claimed_guesses) if self.trusted_count else None
        if guess is not None and self.missed < self._frames(self.s.max_coast_sec):
            # a player the detector could only guess at, where the target was predicted, that no
            # other track took: shown there, less sure, and followed from there; but not seen (it
            # is still missed, and no sighting to re-acquire it from), so guesses bridge a gap of
            # at most max_coast_sec (then it is lost, below, like any coasting target)
            det = obs.guesses[guess]
            # as when it is placed: a player that slows down while only guessed at would
            # otherwise be predicted off the guesses at its old speed
            self._keep_learning_motion(det)
            self.box = det.copy()
            self.missed += 1
            self.occluded = 0
            return self._point(obs, det, 0.3 + 0.5 * float(obs.guess_confidences[guess]))
        self.occluded = 0
        self.missed += 1
        self.box = predicted
        self.velocity *= 0.97
        if self.missed > self._frames(self.s.max_coast_sec):
            self.lost_at = self.step_count
        if probation and n_det and float(fits.max()) >= self.s.tentative_overlap:
            # just re-acquired and already missed, coasting onto a detection it did not take: the
            # borrowed track was probably a team-mate's, and a box on someone else is worse than
            # "not visible" (seed 2 match player 1: 15 -> 10 wrong frames, no share lost)
            self.tentative = self._frames(self.s.tentative_sec)
            return self._point(obs, None, 0.0)
        if self.missed <= self._frames(self.s.report_coast_sec) and self._inside(predicted, obs):
            return self._point(obs, predicted, 0.45 * (1 - self.missed / (self._frames(self.s.report_coast_sec) + 1)))
        return self._point(obs, None, 0.0)

    def _update_others(self, matches: dict[int, int], new_tracks: list[int], predicted: np.ndarray,
                       obs: Observation, skip: set[int], coast: set[int] | None = None) -> set[int]:
        """The others' tracks after this frame's assignment (``matches``: track -> detection),
        with their second round (ByteTrack's, on its low-score boxes): a track left without a
        detection takes a guess on its prediction, so a team-mate hidden in a crowd keeps its track
        and claims its detection when it comes out, not taken for a newcomer. Tracks in ``skip``
        take none (absorbed into the target: pruned). Returns the guesses taken."""
        boxes, n_det = obs.boxes, len(obs.boxes)
        taken: dict[int, int] = {}
        if len(predicted) and len(obs.guesses):
            taken = _claim_guesses(predicted, obs.guesses, set(matches) | skip, self.s.guess_iou)
            matches = {**matches, **{t: n_det + g for t, g in taken.items()}}
            boxes = np.vstack([boxes, obs.guesses])
        self.others.update(matches, boxes, new_tracks, self.step_count, self._frames(self.s.others_max_missed_sec),
                           coast=coast)
        return set(taken.values())

    def _guess(self, predicted: np.ndarray, obs: Observation, claimed: set[int]) -> int | None:
        """The guessed box the target stands in, if any: the one overlapping its prediction most,
        at ``guess_iou`` or more, of its kit, and not ``claimed`` by another track."""
        if not len(obs.guesses):
            return None
        iou = _iou_one(predicted, obs.guesses)
        j = int(np.argmax(iou))
        if iou[j] < self.s.guess_iou or j in claimed:
            return None
        guess = obs.guesses[j:j + 1]
        kits = [kit_distances(self.kit, obs.guess_kits[j:j + 1], guess)[0],
                kit_distances(self.seen_kit, obs.guess_kits[j:j + 1], guess)[0]]
        if min(kits) > self.s.kit_gate:
            return None
        return j

    def _apart_on_own(self, det: np.ndarray, others_pred: np.ndarray, other_matches: dict[int, int],
                      boxes: np.ndarray) -> np.ndarray:
        """Which of the others stand a step behind or in front of the target on a detection of their
        own (a mask over ``others_pred``): a track matched in three frames or more (no newcomer)
        that took a detection on its prediction (IoU >= 0.5) whose feet are ``apart_depth`` of the
        height of the target's detection ``det`` or more above or below its feet. Its legs overlap
        the target's head, or its head the target's legs, but the detector told the two apart, so
        the target's detection is still its own."""
        apart = np.zeros(len(others_pred), bool)
        tall = max(1.0, float(det[3] - det[1]))
        for t, j in other_matches.items():
            if self.others.hits[t] >= 3 and abs(det[3] - boxes[j, 3]) >= self.s.apart_depth * tall and \
                    _iou_one(others_pred[t], boxes[j:j + 1])[0] >= 0.5:
                apart[t] = True
        return apart

    def _straddles(self, predicted: np.ndarray, rest: np.ndarray) -> bool:
        """Whether one of the detections ``rest`` (all but the one the target took, which overlaps
        the prediction at IoU < 0.5) holds ``straddle_cover`` of the prediction's area or more: the
        prediction lies across the two."""
        return self.s.straddle_cover > 0 and _covered_share(predicted, rest) >= self.s.straddle_cover

    def _in_sight_beside(self, det: np.ndarray, boxes: np.ndarray) -> bool:
        """Whether ``det`` is the part of the player that a neighbour a step in front of it leaves in
        sight: narrower than the player and of its full height, with a detection beside it whose feet
        are lower (nearer the camera) by a tenth of its height or more reaching over or up to one of
        its sides. (A piece with no such neighbour may be anyone's: up and down it was followed into
        pieces of players crossing, seed 39 `match` player 6 0.87 -> 0.58.)"""
        w, h = _size(det)
        # (of the player's own height: _own_shape with the player's own width)
        if not (w < 0.75 * self.size[0] and _own_shape(self.size[0], h, self.size)):
            return False
        for other in boxes:
            if np.array_equal(other, det):
                continue
            in_front = other[3] - det[3] >= 0.1 * h
            beside = min(other[3], det[3]) - max(other[1], det[1]) >= 0.5 * h
            over_left = other[0] < det[0] <= other[2] + 2.0 <= det[2] + 2.0
            over_right = other[0] - 2.0 <= det[2] < other[2] and other[0] >= det[0] - 2.0
            if in_front and beside and (over_left or over_right):
                return True
        return False

    def _walking_in_at_the_bottom(self, det: np.ndarray, obs: Observation, tallest: float) -> bool:
        """A detection cut off by the frame's bottom edge is as much of the player as is in view,
        which grows as the player walks up into the frame: of its own shape when as wide as it, no
        shorter than its part seen so far and no taller than a whole player that wide (the aspect of
        the players in full view). Its height alone had it a merged blob, never seen for sure, and
        the box stayed the size it came in at (broadcast seed 39 player 12: 0.62-0.71 -> 0.88-0.89)."""
        if not _borders_cut(det, self._width, self._height)[3]:
            return False
        aspect = _player_aspect(obs)
        w, h = _size(det)
        # (as wide as the player: its width checked as ``_own_shape`` checks it, the height aside)
        return aspect is not None and bool(_own_shape(w, self.size[1], self.size)) and \
            0.8 * self.size[1] <= h <= tallest * w / aspect

    def _inside_blob(self, predicted: np.ndarray, det: np.ndarray) -> np.ndarray:
        """The part of a merged blob the target is in: the predicted box moved sideways the least
        to lie inside the blob's box (when the blob is about as wide as the target or wider); up
        and down it stays where it was predicted, as the blob may be two players stacked."""
        box = predicted.copy()
        if det[2] - det[0] >= 0.9 * (box[2] - box[0]):
            _shift_inside(box, det, 0, 2)
        return box

    def _target_cost(self, predicted: np.ndarray, boxes: np.ndarray, iou: np.ndarray, kit_dist: np.ndarray,
                     gate_kit_dist: np.ndarray | None = None) -> np.ndarray:
        """The target's row of the cost matrix (``iou``: each box's IoU with ``predicted``)."""
        ph, pw = max(4.0, self.size[1]), max(2.0, self.size[0])
        # feet height counts double: in the image it is depth, it changes slowly, and a merged
        # blob's centre is pulled around while its feet stay put
        dx = (_centre(boxes)[:, 0] - _centre(predicted)[0]) / ph
        dy = (boxes[:, 3] - predicted[3]) / ph
        d = np.hypot(dx, 2.0 * dy)
        widths, heights = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        size_cost = np.abs(np.log(np.maximum(heights, 1) / ph)) + 0.5 * np.abs(np.log(np.maximum(widths, 1) / pw))
        gate = self.s.gate + self.s.gate_growth_sec * self.missed / self.fps
        gate_kit_dist = kit_dist if gate_kit_dist is None else gate_kit_dist
        ok = ((iou >= 0.25) | (d <= gate)) & (gate_kit_dist <= self.s.kit_gate) & (size_cost <= 0.9)
        # the others' rows cost position alone: counted in full, the kit distance the target's own
        # detections always show hands its detection to a neighbour's track sitting on it (seed 3
        # match player 12: a track born on a sliver of it). Missed for longer, it is being found
        # again, and there its kit is the evidence in full
        noise = self.s.kit_noise if self.missed <= self._frames(self.s.kit_noise_sec) else 0.0
        kit_cost = 1.5 * np.maximum(0.0, kit_dist - noise)
        return np.where(ok, (1 - iou) + 0.5 * d + kit_cost + 0.5 * size_cost, 1e6)

    def _on_prediction(self, predicted: np.ndarray, boxes: np.ndarray, fits: np.ndarray, gate_kits: np.ndarray,
                       guesses: np.ndarray) -> bool:
        """Whether, seen for sure a moment ago, the target is most likely on a box that fits its
        prediction (IoU >= 0.7) and is of its shape, but that it cannot take: a detection only its
        kit keeps out of the gate (a team-mate in front of it spoiling its colours), or a box the
        detector only guessed at (``fits``: each of ``boxes``' IoU with ``predicted``). Then it
        takes no detection that fits its prediction worse (IoU < 0.5), nor adopts a track: such a
        one is the player stepping in front of it, or the one behind (match seed 34 player 12 from
        frame 150, 0.31 -> 0.97; seed 35 player 6 on a guess, 0.71 -> 0.80). Longer unseen, the
        prediction may have drifted off the player (a crossing coasted through: broadcast seed 24
        player 1 lost 0.05 without this limit)."""
        if self.trusted_age > self._frames(0.4):
            return False

        def of_its_shape(candidates: np.ndarray) -> np.ndarray:
            return _own_shape(candidates[:, 2] - candidates[:, 0], candidates[:, 3] - candidates[:, 1], self.size)

        if len(boxes) and ((fits >= 0.7) & (gate_kits > self.s.kit_gate) & of_its_shape(boxes)).any():
            return True
        return bool(len(guesses)) and bool(((_iou_one(predicted, guesses) >= 0.7) & of_its_shape(guesses)).any())

    def _keep_learning_motion(self, det: np.ndarray) -> None:
        """Its motion since it was last seen for sure, two frames ago or more, learned from a box
        it was not seen on for sure (``det``: placed, or guessed at) as smoothly as from sure
        sightings."""
        if self.trusted_age >= 2:
            a = self.s.velocity_smoothing
            self.velocity = a * self.velocity + (1 - a) * self._motion_since_sure(det)

    def _motion_since_sure(self, det: np.ndarray) -> np.ndarray:
        """Its motion per frame from where it was last seen for sure to ``det``: boxes placed or
        coasted on in between (a blob a team-mate's legs pulled aside) say where it was, not how
        it moves."""
        moved = _centre(det) - _centre(self.trusted_box)
        left, right = (a or b for a, b in zip(self.trusted_cut, _borders_cut(det, self._width, self._height)))
        if left != right:
            # at the frame's border the box is cut off and its centre moves half as fast as the
            # player: its inner edge moves with the player
            moved[0] = det[2] - self.trusted_box[2] if left else det[0] - self.trusted_box[0]
        # up and down, by the edge that moved least: a box that grew at its feet (a shadow, a
        # team-mate's head below) or at its head did not move the player, where its centre says
        # it walked half the growth; walking, both edges move (tried: the centre when they move
        # the same way, which follows the feet's jitter too, lost 0.009 on held-out seeds 18-23)
        top, bottom = det[1] - self.trusted_box[1], det[3] - self.trusted_box[3]
        moved[1] = min(top, bottom, key=abs) if top * bottom > 0 else 0.0
        return moved / self.trusted_age

    def _take_over(self, t: int) -> np.ndarray:
        """Track ``t`` of the others is the target: it takes the track's box and motion."""
        box = self.others.boxes[t].copy()
        self.velocity = self.others.velocity[t].copy()
        self.others.remove(t)
        self.box, self.size, self.missed = box, np.array(_size(box)), 0
        self.anchor, self.anchor_age = box.copy(), 0
        self.trusted_box, self.trusted_age = box.copy(), 0
        self.trusted_cut = _borders_cut(box, self._width, self._height)[:2]
        return box

    def _from_anchor(self, boxes: np.ndarray, depth: float = 1.0) -> np.ndarray:
        """Distance of boxes' feet from where the target was last seen, in its body heights then;
        ``depth`` weights the feet height (image y: distance from the camera)."""
        ah = max(4.0, self.anchor[3] - self.anchor[1])
        ax, ay = _centre(self.anchor)[0], self.anchor[3]
        return np.hypot((_centre(boxes)[..., 0] - ax) / ah, depth * (boxes[..., 3] - ay) / ah)

    def _adopt(self, boxes: np.ndarray, gate_kits: np.ndarray, on_probation: bool = False) -> int | None:
        """While the target is missed (its prediction went on straight, it turned): a track born
        on or since the frame it was last seen, near where it was then, on a detection of the target's shape and
        kit that nobody else is on, within running reach of where it was last seen and the only
        such detection around, is the target itself (the index in ``others``, or None). Unless on
        probation, a detection held by a track older than the last sighting does not count as such
        a detection when it is ``adopt_clear`` further from that sighting than the newcomer, nor at
        all once the coasting box is no longer shown."""
        others = self.others
        if not len(others.boxes) or not len(boxes):
            return None
        own_size = (max(2.0, self.size[0]), max(4.0, self.size[1]))
        reach = self.s.gate + self.s.adopt_speed * self.anchor_age / self.fps
        # detections like the target's (kit and shape), and how far each is from its last sighting
        like = (gate_kits <= self.s.kit_gate) & _own_shape(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1],
                                                           own_size)
        from_anchor = self._from_anchor(boxes)
        near = like & (from_anchor <= reach + 1.0)
        # detections held by tracks born before the last sighting: team-mates who were someone
        # else already when the target was last seen
        old_held = np.zeros(len(boxes), bool)
        sighted = self.step_count - self.anchor_age
        for t in np.where(others.born < sighted)[0]:
            j = _detection_of(others.boxes[t], boxes)
            if j is not None:
                old_held[j] = True
        if self.missed >= self._frames(self.s.report_coast_sec) and not on_probation:
            # its coasting box is no longer shown (from this frame: ``missed`` does not count it
            # yet, step does when it hides the box), and once lost it is re-acquired from the
            # best newcomer whoever else is near (_reacquire): a team-mate whose track is older
            # than the last sighting no longer makes the newcomer ambiguous, only another newcomer.
            # Not on probation: then the last sighting itself may have been that team-mate
            near &= ~old_held
        best, best_cost = None, math.inf
        for t in range(len(others.boxes)):
            # born since the last sighting, or on that very frame: a second box the detector gave
            # on the target there starts a track that may take over its path the next frame
            if others.missed[t] or others.born[t] < sighted or others.hits[t] < self.s.adopt_hits:
                continue
            b = others.boxes[t]
            # born where the target could have been by then
            age_at_birth = others.born[t] - sighted
            if self._from_anchor(others.origin[t]) > self.s.gate + self.s.adopt_speed * max(1, age_at_birth) / self.fps:
                continue
            if self._came_into_view(t):
                continue
            j = _detection_of(b, boxes)
            if j is None:
                continue
            if not _own_shape(*_size(b), own_size):
                continue
            if gate_kits[j] > self.s.kit_gate:
                continue
            if len(others.boxes) > 1:
                rest = np.delete(others.boxes, t, axis=0)
                if _iou_one(b, rest).max() >= 0.15:
                    continue
            da = float(self._from_anchor(b))
            if da > reach:
                continue
            # ...and the only detection like the target's within (a little more than) that reach;
            # a team-mate of an older track clearly further from the last sighting does not count:
            # the newcomer, clearly nearer, is the one the target turned into (not on probation:
            # the last sighting may have been that team-mate)
            rivals = near if on_probation else near & ~(old_held & (from_anchor > da + self.s.adopt_clear))
            if np.delete(rivals, j).any():
                continue
            cost = 3 * gate_kits[j] + 0.5 * da
            if cost < best_cost:
                best, best_cost = t, cost
        return best

    def _came_into_view(self, t: int) -> bool:
        """Whether track ``t`` of the others was born on a box cut off by a border of the frame (a
        player coming into view there) that the target's last sighting was clear of: a missed
        target that did not leave the frame does not walk in across its border."""
        born = _box(self.others.entry[t], _size(self.others.origin[t]))  # in the image it was born in
        seen = _borders_cut(self.anchor, self._width, self._height)
        return any(b and not a for b, a in zip(_borders_cut(born, self._width, self._height), seen))

    def _edge_left(self, box: np.ndarray) -> int | None:
        """The edge (0 left, 1 right, 2 top, 3 bottom) the box's centre is beyond, if any."""
        if self.s.exit_edge <= 0 or not self._width:
            return None
        cx, cy = _centre(box)
        for edge, beyond in enumerate((cx < 0, cx >= self._width, cy < 0, cy >= self._height)):
            if beyond:
                return edge
        return None

    def _reacquire(self, last_seen: np.ndarray, kit_dist: np.ndarray, other_matches: dict[int, int]) -> int | None:
        """An established track that appeared since the target was lost and wears its kit (when
        the target left the frame, one that came into view by the edge it left by)."""
        others = self.others
        if len(others.boxes) == 0:
            return None
        ph = max(4.0, last_seen[3] - last_seen[1])
        best, best_cost = None, math.inf
        det_of = {t: j for t, j in other_matches.items()}
        gone = self._edge_left(last_seen)
        ah = max(4.0, self.anchor[3] - self.anchor[1])  # as tall as when last seen for sure
        for t in range(len(others.boxes)):
            j = det_of.get(t)
            if j is None or others.hits[t] < self.s.reacquire_frames:
                continue
            kd = kit_dist[j] if j < len(kit_dist) else 1.0
            if kd > self.s.reacquire_kit:
                continue
            # about as tall as the target was (a taller box is often it merged with someone)
            lo, hi = self.s.reacquire_size
            if not lo * ah <= others.boxes[t][3] - others.boxes[t][1] <= hi * ah:
                continue
            dist = float(np.linalg.norm(_centre(others.boxes[t]) - _centre(last_seen))) / ph
            newcomer = others.born[t] >= self.lost_at - self._frames(self.s.max_coast_sec)
            if not newcomer and dist > 1.0:
                continue
            # where a lost player can be grows with the time it has been lost (~ a sprint); measured
            # from the last trusted sighting, feet height counting 1.5x (it is depth): the coasted
            # box drifts, and a team-mate far up the pitch passed from it (seed 1 match player 6:
            # 3.2 body heights from the coasted box, 4.0 this way; 16 wrong frames)
            lost_sec = (self.step_count - self.lost_at) / self.fps
            if float(self._from_anchor(others.boxes[t], self.s.reacquire_depth)) > 2.0 + 4.0 * lost_sec:
                continue
            if gone is not None:
                # it left the frame: it comes back in across the edge it left by, so its track
                # starts at that edge (a team-mate turning up mid-frame is someone else)
                ox, oy = others.entry[t]
                from_edge = (ox, self._width - ox, oy, self._height - oy)[gone] / ph
                if from_edge > self.s.exit_edge:
                    continue
            cost = 3 * kd + 0.05 * dist
            if cost < best_cost:
                best, best_cost = t, cost
        return best

    def _reacquire_after_cut(self, last_seen: np.ndarray, kit_dist: np.ndarray, boxes: np.ndarray) -> int | None:
        """After a cut the camera may point anywhere. An established track (a few frames old)
        about as tall as the target was and wearing its kit is the target when nobody else on
        the frame wears anything like it (anywhere in the frame), or, among team-mates, when
        it is clearly the nearest to where the target was last seen, when the view after the cut
        could be registered to the one before it (the radius grows with the time since the cut)."""
        others = self.others
        ph = max(4.0, self.size[1])
        lo, hi = self.s.cut_size
        lost_sec = (self.step_count - self.lost_at) / self.fps
        base, per_sec, cap = self.s.cut_radius
        radius = min(cap, base + per_sec * lost_sec)
        found = []  # (cost, distance, track, kit distance, detection)
        for t in range(len(others.boxes)):
            # a little longer than a track lost in play: everyone in view is met again at once,
            # so wait until they all are before choosing
            if others.hits[t] < self.s.reacquire_frames + 2 or others.missed[t] or not len(boxes):
                continue
            j = _detection_of(others.boxes[t], boxes)
            if j is None:  # not on a detection of this frame
                continue
            kd = float(kit_dist[j])
            h = others.boxes[t][3] - others.boxes[t][1]
            if kd > self.s.reacquire_kit or not lo * ph <= h <= hi * ph:
                continue
            dist = float(np.linalg.norm(_centre(others.boxes[t]) - _centre(last_seen))) / ph
            found.append((dist + 3 * kd + 2 * abs(math.log(h / ph)), dist, t, kd, j))
        if not found:
            return None
        found.sort()
        cost, dist, t, kd, j = found[0]
        # the kit alone: every other detection on the frame is far from it
        rest = np.delete(kit_dist, j)
        if len(found) == 1 and (len(rest) == 0 or float(rest.min()) >= kd + 0.25):
            return t
        # ...and clearly nearer than the frame's edge, else it may as well have left the frame
        cx, cy = _centre(last_seen)
        edge = min(cx, self._width - cx, cy, self._height - cy) / ph
        if self.cut_registered and dist <= radius and dist + 1.0 <= edge and \
                (len(found) == 1 or found[1][0] - cost >= 1.0):
            return t
        return None

    @staticmethod
    def _inside(box: np.ndarray, obs: Observation) -> bool:
        cx, cy = _centre(box)
        return 0 <= cx < obs.width and 0 <= cy < obs.height

    @staticmethod
    def _point(obs: Observation, box, conf: float) -> TrackPoint:
        if box is not None:
            x1, y1, x2, y2 = (float(v) for v in box)
            x1, x2 = max(0.0, x1), min(float(obs.width), x2)
            y1, y2 = max(0.0, y1), min(float(obs.height), y2)
            if x2 - x1 >= 1 and y2 - y1 >= 1:
                return TrackPoint(obs.frame_index, obs.time_sec, (x1, y1, x2, y2), float(np.clip(conf, 0, 1)))
        return TrackPoint(obs.frame_index, obs.time_sec, None, 0.0)


def _shift_inside(box: np.ndarray, det: np.ndarray, lo: int, hi: int) -> None:
    """Moves ``box`` the least along one axis (its coordinates ``lo`` and ``hi``: 0, 2 across,
    1, 3 up and down) to lie inside ``det`` there, in place."""
    box[[lo, hi]] += max(0.0, det[lo] - box[lo]) - max(0.0, box[hi] - det[hi])


def _claim_guesses(predicted: np.ndarray, guesses: np.ndarray, matched: set[int], min_iou: float) -> dict[int, int]:
    """Tracks (rows of ``predicted``) not in ``matched`` paired with the guess overlapping their
    prediction most, at ``min_iou`` or more, the best-fitting tracks first; a guess goes to one
    track only, and a track whose best guess went to another gets none (no second choice)."""
    iou = sv.box_iou_batch(predicted, guesses)
    out: dict[int, int] = {}
    for t in np.argsort(-iou.max(axis=1), kind="stable"):
        g = int(np.argmax(iou[t]))
        if int(t) not in matched and iou[t, g] >= min_iou and g not in out.values():
            out[int(t)] = g
    return out


def _player_aspect(obs: Observation) -> float | None:
    """Width over height of the players in full view on the frame (the median; None under three)."""
    whole = [b for b in obs.boxes if not any(_cut_sides(b, obs.width, obs.height))]
    if len(whole) < 3:
        return None
    return float(np.median([(b[2] - b[0]) / max(1.0, b[3] - b[1]) for b in whole]))


def snap(obs: Observation, xyxy: np.ndarray) -> tuple[np.ndarray, float, int | None]:
    """The confirmed box snapped to the detection it clearly is on the start frame (if any), unless
    that detection is the player and a neighbour: over 1.15 x the box's width and 1.15 x as wide for
    its height as the players in full view (side by side), or over 1.15 x its height and as much
    narrower for it (one behind the other). A box drawn tighter than the player has a detection of
    a player's shape round it, and snaps to it: the follower has to know the player's full size."""
    if len(obs.boxes):
        ious = _iou_one(xyxy, obs.boxes)
        j = int(np.argmax(ious))
        det = obs.boxes[j]
        aspect = _player_aspect(obs)
        dw, dh = det[2] - det[0], max(1.0, det[3] - det[1])
        pair = aspect is not None and (dw > 1.15 * (xyxy[2] - xyxy[0]) and dw / dh > 1.15 * aspect or
                                       dh > 1.15 * (xyxy[3] - xyxy[1]) and dw / dh < aspect / 1.15)
        if ious[j] >= 0.7 and not pair:
            return obs.boxes[j].copy(), max(0.8, float(obs.confidences[j])), j
        if ious[j] >= 0.3:  # the user's box overlaps a blob that is not quite it: trust the user
            return xyxy, 1.0, j
    return xyxy, 1.0, None


@dataclass(frozen=True)
class StartMotion:
    """A player's motion over the first frames of a walk from the confirmed frame, as a follower
    of its own saw it: camera-compensated analysis pixels per analysed frame, in the direction it
    walked, learned from ``sightings`` trusted sightings."""

    velocity: np.ndarray
    sightings: int

    def reversed(self) -> StartMotion:
        return StartMotion(-self.velocity, self.sightings)


def clearer_motion(own: StartMotion | None, other: StartMotion | None, min_sightings: int) -> StartMotion | None:
    """The motion a walk starts with: its own first frames' (walked once already) or the other
    walk's, reversed, whichever was learned from more sightings (a crossing on one side of the
    click hides the player there), and from ``min_sightings`` at least."""
    best = max([m for m in (own, other and other.reversed()) if m is not None],
               key=lambda m: m.sightings, default=None)
    return best if best is not None and best.sightings >= min_sightings else None


def new_follower(obs: Observation, box: np.ndarray, kit, target_det: int | None, fps: float,
                 motion: StartMotion | None = None, settings: FollowerSettings | None = None) -> TargetFollower:
    """The follower on the confirmed frame, moving with ``motion``'s velocity from the start if
    given (its first sighting of its own counts half, as for any follower: ``velocity_smoothing``)."""
    follower = TargetFollower(box, kit, fps, settings)
    if motion is not None:
        follower.velocity = motion.velocity.copy()
    cut_w, cut_h = _cut_sides(box, obs.width, obs.height)
    aspect = _player_aspect(obs)
    if cut_w != cut_h and aspect is not None:
        # clicked at the frame's border, the box is narrower (or shorter) than the player: its
        # shape is not the player's, and the whole player walking in would not fit it. The cut-off
        # side is made up from the other by the aspect of the players in full view
        w, h = follower.size
        follower.size = np.array([max(w, aspect * h), h] if cut_w else [w, max(h, w / max(0.05, aspect))])
    elif aspect is not None and follower.size[0] < follower.s.narrow_start * aspect * follower.size[1]:
        # under ``narrow_start`` x as wide for its height as the players in full view (the median), a split
        # cut the player, or the coach drew a sliver of it: the player is as wide as they are, or
        # no detection of all of it would look like its own shape and it would never be seen for sure
        follower.size = np.array([aspect * follower.size[1], follower.size[1]])
    follower.note_wide(obs)  # the player was clicked on the wide shot
    follower.trusted_cut = _borders_cut(box, obs.width, obs.height)[:2]
    # everyone else on the start frame is known from the start, so they claim their detections;
    # the players the detector could only guess at too (a team-mate split off the target's blob
    # the frame it was clicked on would otherwise be a detection no track claims the next frame)
    everyone = np.vstack([obs.boxes.reshape(-1, 4), obs.guesses.reshape(-1, 4)])
    overlap = _iou_one(box, everyone)
    at_most = np.where(np.arange(len(everyone)) < len(obs.boxes), 0.5, follower.s.start_guess_iou)
    others = [j for j in range(len(everyone)) if j != target_det and overlap[j] < at_most[j]]
    follower.others.update({}, everyone, others, 0, 1)
    own = [target_det] if target_det is not None and overlap[target_det] >= 0.7 else []
    crowd = np.delete(overlap, own)
    follower.kit_unsure = bool(len(crowd)) and float(crowd.max()) >= follower.s.crowded_start_iou
    return follower
