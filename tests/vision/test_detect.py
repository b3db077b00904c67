"""detect.py on generated clips: the weight-free pitch detector, the ONNX plug-in, make_detector."""
from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from footy.vision.detect import (
    GUESS_CONFIDENCE, GUESSED, SMALL_PLAYER, SMALL_PLAYER_KERNELS, TINY_PLAYER, MaskKernels, OnnxDetector,
    PitchDetector, _player_mask, learn_grass, make_detector, row_medians)
from footy.vision.synthetic import PlayerSpec, SceneSpec, players_scaled, render_scene, scene_preset
from footy.vision.video import iter_frames

from .boxes import iou_matrix


def detection_scores(scene, detector, kits: set[str] | None = None) -> tuple[float, float]:
    """Recall and precision at IoU >= 0.5 over every frame (greedy one-to-one matching)."""
    found = truths = matched = 0
    for frame in iter_frames(scene.path):
        truth = {pid: box for pid, box in scene.truth[frame.index].items()
                 if kits is None or scene.kit_of(pid) in kits}
        boxes = detector.detect(frame.image).xyxy
        iou = iou_matrix(list(truth.values()), boxes)
        used = set()
        for g in range(iou.shape[0]):
            order = np.argsort(-iou[g]) if iou.shape[1] else []
            for j in order:
                if iou[g, j] >= 0.5 and j not in used:
                    used.add(int(j))
                    matched += 1
                    break
        truths += len(truth)
        found += len(boxes)
    return matched / max(1, truths), matched / max(1, found)


@pytest.fixture(scope="module")
def easy_scene(tmp_path_factory):
    spec = scene_preset("easy", seconds=2.0, width=640, height=360)
    return render_scene(spec, tmp_path_factory.mktemp("detect") / "easy.mp4")


def test_pitch_detector_finds_the_players_it_drew(easy_scene):
    recall, precision = detection_scores(easy_scene, PitchDetector())
    assert recall >= 0.9
    assert precision >= 0.9


def test_pitch_detector_boxes_are_in_source_pixels(easy_scene):
    frame = next(iter_frames(easy_scene.path))
    big = np.repeat(np.repeat(frame.image, 2, axis=0), 2, axis=1)  # 1280x720: downscaled inside
    detections = PitchDetector().detect(big)
    truth = np.array(list(easy_scene.truth[0].values())) * 2
    iou = iou_matrix(truth, detections.xyxy)
    assert (iou.max(axis=1) >= 0.5).mean() >= 0.8


def test_lines_boards_and_crowd_are_not_players(tmp_path):
    # an empty pitch with lines, stripes, stands and advertising boards: nothing to find
    spec = SceneSpec(width=640, height=360, seconds=1.0, stands=0.2, noise=2.0, players=[])
    scene = render_scene(spec, tmp_path / "empty.mp4")
    detector = PitchDetector()
    counts = [len(detector.detect(frame.image)) for frame in iter_frames(scene.path)]
    assert sum(counts) <= len(counts) * 0.1


def test_players_on_a_match_pitch_with_stands(tmp_path):
    spec = scene_preset("match", seconds=1.0, width=640, height=360)
    scene = render_scene(spec, tmp_path / "match.mp4")
    recall, precision = detection_scores(scene, PitchDetector())
    assert recall >= 0.75  # 23 people in two similar kits: merged blobs remain the hard part
    assert precision >= 0.85  # the crowd and the boards are not reported


def test_green_kit_on_grass_is_handled(tmp_path):
    spec = scene_preset("green_kit", seconds=1.0, width=640, height=360)
    scene = render_scene(spec, tmp_path / "green.mp4")
    detector = PitchDetector()
    recall_white, _ = detection_scores(scene, detector, kits={"white"})
    assert recall_white >= 0.9  # the grass model is not thrown off by a kit of its colour
    recall_green, precision = detection_scores(scene, PitchDetector(), kits={"green"})
    assert recall_green >= 0.5
    assert detector.grass is not None and abs(detector.grass.hue - 64) <= 8


# --------------------------------------------------------------------------------------------
# OnnxDetector with a tiny model built here


def tiny_yolo(path, boxes_scores: np.ndarray) -> None:
    """A YOLOv8-shaped model: output [1, 4 + classes, N] = fixed table + 0 * mean(input).

    The mean keeps the output a function of the input, so onnxruntime really runs the graph.
    """
    table = helper.make_tensor("table", TensorProto.FLOAT, boxes_scores.shape, boxes_scores.ravel().tolist())
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
        helper.make_node("Add", ["table", "nothing"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_yolo",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(boxes_scores.shape))],
        initializer=[table, zero])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


@pytest.fixture
def tiny_model(tmp_path):
    # columns: cx, cy, w, h, score(person), score(ball) in the 640x640 letterboxed input
    anchors = np.array([
        [320, 320, 100, 200, 0.9, 0.0],   # a person
        [324, 322, 100, 200, 0.8, 0.0],   # the same person again: NMS drops it
        [100, 200, 40, 80, 0.6, 0.1],     # another person
        [500, 400, 20, 20, 0.05, 0.95],   # a ball (class 1)
        [200, 300, 50, 90, 0.1, 0.0],     # too unsure
    ], dtype=np.float32)
    path = tmp_path / "tiny.onnx"
    tiny_yolo(path, anchors.T[None].copy())
    return path


def test_onnx_detector_decodes_letterbox_nms_and_classes(tiny_model):
    image = np.zeros((720, 1280, 3), np.uint8)  # letterbox: scale 0.5, 140 px of padding top and bottom
    detections = OnnxDetector(str(tiny_model), class_ids=(0,), confidence=0.3).detect(image)
    order = np.argsort(-detections.confidence)
    boxes = detections.xyxy[order]
    assert len(boxes) == 2
    np.testing.assert_allclose(boxes[0], [540, 160, 740, 560], atol=1.0)
    np.testing.assert_allclose(boxes[1], [160, 40, 240, 200], atol=1.0)
    np.testing.assert_allclose(detections.confidence[order], [0.9, 0.6], atol=1e-5)
    assert set(detections.class_id.tolist()) == {0}


def test_onnx_detector_keeps_the_configured_classes(tiny_model):
    image = np.zeros((720, 1280, 3), np.uint8)
    detections = make_detector(f"onnx:{tiny_model}?classes=0,1").detect(image)
    assert sorted(detections.class_id.tolist()) == [0, 0, 1]
    ball = detections.xyxy[detections.class_id == 1][0]
    np.testing.assert_allclose(ball, [980, 500, 1020, 540], atol=1.0)


def test_make_detector_specs(tiny_model):
    assert isinstance(make_detector(None), PitchDetector)
    assert isinstance(make_detector("pitch"), PitchDetector)
    onnx_detector = make_detector(f"onnx:{tiny_model}?classes=0,2")
    assert isinstance(onnx_detector, OnnxDetector)
    assert onnx_detector.class_ids == (0, 2)
    with pytest.raises(ValueError):
        make_detector("yolo-magic")
    with pytest.raises(ValueError):
        make_detector("onnx:/no/such/model.onnx")


def test_a_player_behind_and_beside_another_is_split_in_two():
    """The far player's head is the blob's top, the near player's feet its bottom: two boxes."""
    det = PitchDetector()
    # size model: a player 40 px tall wherever the feet are, 0.42 as wide
    ys = np.linspace(0.3, 0.9, 20)
    det.sizes.update(ys, np.full(20, 40 / 360), np.full(20, 17 / 360))
    det.sizes.update(ys, np.full(20, 40 / 360), np.full(20, 17 / 360))
    assert det.sizes.ready
    blob = np.zeros((64, 34), bool)
    blob[0:40, 16:33] = True   # far player, top right (feet hidden at row 40)
    blob[24:64, 0:17] = True   # near player, bottom left
    parts = det._split(blob, 100, 100, 360)
    assert len(parts) == 2
    boxes = np.array([p[:4] for p in parts], float)
    truth = np.array([[116, 100, 133, 140], [100, 124, 117, 164]], float)
    iou = iou_matrix(truth, boxes)
    assert iou.max(axis=1).min() >= 0.6


@pytest.mark.parametrize("behind, aside", [(30, 0), (16, 6), (12, 10), (8, 8)])
def test_a_player_partly_hidden_behind_another_gets_its_own_box(tmp_path, behind, aside):
    """Generated frames: a far player ``behind`` px up the pitch and ``aside`` px to the right of
    a near one in the same kit, so their pixels make one blob, plus five players alone (the size
    model). Straight behind (30, 0) the blob is cut at a row and the far player's box hangs from
    its head as tall as a player (its legs are hidden); beside as well, the blob is split as one
    behind and beside the other, down to a step behind ((8, 8): a fifth of a height, once taken
    for one player). Each of the two gets a box of its own."""
    h = 40.0
    players = [PlayerSpec(1, "red", (320 + aside, 230 - behind), (0, 0), h),
               PlayerSpec(2, "red", (320, 230), (0, 0), h)]
    for i, (x, y) in enumerate([(80, 150), (160, 300), (480, 170), (560, 280), (420, 320)]):
        players.append(PlayerSpec(3 + i, "blue", (x, y), (0, 0), h))
    spec = SceneSpec(width=640, height=360, seconds=0.4, noise=2.0, players=players)
    scene = render_scene(spec, tmp_path / "behind.mp4")
    detector = PitchDetector()
    for frame in iter_frames(scene.path):
        boxes = detector.detect(frame.image).xyxy
    truth = scene.truth[frame.index]
    iou = iou_matrix([truth[1], truth[2]], boxes)
    assert iou.max(axis=1).min() >= 0.6


def test_analysis_with_an_onnx_model_walks_in_turn_and_draws_every_frame(tiny_model, easy_scene, tmp_path):
    # an ONNX session is not copied to a second thread: the backward walk runs after the forward
    # one, and the spotlight's parts still join into one clip with every frame, in order
    from footy.vision.analysis import analyze_video
    from footy.vision.types import NormBox
    from footy.vision.video import H264Writer, probe

    short_gop = tmp_path / "gop.mp4"
    with H264Writer(short_gop, 25, 640, 360, crf=20, keyint=25) as writer:
        for frame in iter_frames(easy_scene.path):
            writer.write(frame.image)
    detector = make_detector(f"onnx:{tiny_model}?classes=0")
    out = analyze_video(short_gop, 1.2, NormBox(0.4, 0.3, 0.1, 0.3), tmp_path / "job", detector=detector, stride=2)
    n = probe(short_gop).frame_count
    assert out.result["frames_analysed"] == (n + 1) // 2
    assert [f.index for f in iter_frames(out.artefacts["spotlight"])] == list(range(n))


def test_a_line_along_the_frame_edge_is_stripped_from_the_players_on_it():
    """The near touchline as a thin band along the bottom of the frame joins the players whose
    feet touch it into one flat blob: stripping lines leaves the players apart from it."""
    blob = np.zeros((50, 640), bool)
    blob[-3:, :] = True            # the line, on the frame's bottom edge
    blob[2:47, 100:120] = True     # two players standing on it
    blob[5:47, 300:318] = True
    pieces = PitchDetector._strip_lines(blob, 0, 300, 45.0)
    boxes = sorted((x, y, b.shape) for b, x, y in pieces)
    assert boxes == [(100, 302, (48, 20)), (300, 305, (45, 18))]  # the line under their feet stays


def sized_detector(height_px: float, frame_h: int = 360) -> PitchDetector:
    """A detector whose size model says a player is ``height_px`` tall anywhere, 0.42 as wide."""
    det = PitchDetector()
    ys = np.linspace(0.3, 0.95, 20)
    for _ in range(2):
        det.sizes.update(ys, np.full(20, height_px / frame_h), np.full(20, 0.42 * height_px / frame_h))
    assert det.sizes.ready
    return det


def test_legs_and_shorts_under_a_grass_coloured_shirt_are_one_player():
    """A short piece as wide as a player (its shirt the colour of the grass) is not cut in two
    at the gap between its legs: a short piece is judged against a whole player's width."""
    piece = np.zeros((18, 18), bool)
    piece[:7] = True                          # shorts
    piece[7:, :6] = piece[7:, 12:] = True     # legs
    parts = sized_detector(40.0)._split_piece(piece, 200, 300, 360)
    assert [p[:4] for p in parts] == [(200, 300, 218, 318)]


def test_a_short_part_is_a_player_s_legs_when_it_is_as_wide_as_them_and_no_player_when_thin():
    """A split's part shorter than 0.7 players: legs and shorts as wide as a player's stand for the
    whole player (made up to its height); a thin one is an arm or a leg the split cut off a
    running body, and a box made up over it would be no one's (lifelike seed 0: 74 such boxes)."""
    det = sized_detector(40.0)  # 0.42 x 40 = 16.8 px wide
    assert det._standing(100, 300, 115, 320, 360) == (280, 320, True)    # legs and shorts: 40 tall now
    assert det._standing(100, 300, 105, 320, 360) is None           # 5 px wide: a limb
    assert det._standing(100, 310, 115, 320, 360) is None           # 10 px tall: a fragment
    assert det._standing(100, 280, 117, 320, 360) == (280, 320, False)   # a whole player as it is
    assert det._standing(100, 339, 105, 360, 360) is None           # on the bottom edge too
    assert det._standing(100, 339, 115, 360, 360) == (339, 360, False)   # wider there: kept as it is


def test_a_short_part_with_more_of_the_player_below_it_is_a_small_player_s_top():
    """A short part's player is made up above it (legs and shorts under a shirt the colour of
    the grass) unless there is over twice as much kit below it as above: then the part is
    the shirt and shorts of a player whose legs were too thin for the mask, and the player hangs
    from it."""
    det = sized_detector(40.0)
    coloured = np.zeros((360, 640), np.uint8)
    legs = coloured.copy()
    legs[320:340, 104:106] = legs[320:340, 110:112] = 255  # thin legs under the part
    head = coloured.copy()
    head[290:298, 104:110] = 255  # a head over it
    assert det._standing(100, 300, 115, 320, 360, legs) == (300, 340, True)
    assert det._standing(100, 300, 115, 320, 360, head) == (280, 320, True)
    assert det._standing(100, 300, 115, 320, 360, coloured) == (280, 320, True)  # nothing either way
    legs[290:298, 105:110] = 255  # a head over it, 40 pixels against the legs' 80: not over twice
    assert det._standing(100, 300, 115, 320, 360, legs) == (280, 320, True)


def test_generated_truth_says_how_much_of_each_player_is_in_sight(tmp_path):
    """The accuracy benchmark's recall65 rests on this: a player alone is wholly in sight, one
    straight behind a nearer player of its size only by what shows above it."""
    h = 40.0
    players = [PlayerSpec(1, "red", (200, 230), (0, 0), h), PlayerSpec(2, "red", (200, 210), (0, 0), h),
               PlayerSpec(3, "blue", (450, 250), (0, 0), h)]
    scene = render_scene(SceneSpec(width=640, height=360, seconds=0.08, players=players), tmp_path / "s.mp4")
    shares = scene.visible_share[0]
    assert shares[1] == pytest.approx(1.0) and shares[3] == pytest.approx(1.0)
    assert 0.3 < shares[2] < 0.7  # its upper half, 20 of 40 px, shows above the one in front


def test_shorts_and_legs_standing_on_a_head_are_cut_from_the_player_below():
    """A grass-green shirt leaves a player's shorts and legs, which can rest on the head of the
    player in front: a blob 1.45 players tall with no head on top, narrowest at that head. It is
    cut there; the upper piece keeps its own height (its feet are in sight, nothing hangs)."""
    blob = np.zeros((58, 17), bool)
    blob[0:7, :] = True                          # shorts of the far player
    blob[7:19, 1:6] = blob[7:19, 11:16] = True   # its legs
    blob[19:25, 6:12] = True                     # the near player's head
    blob[25:58, :] = True                        # its shirt, shorts and legs
    parts = sized_detector(40.0)._split(blob, 100, 200, 360)
    boxes = sorted(p[:4] for p in parts)
    assert len(boxes) == 2
    upper, lower = sorted(boxes, key=lambda b: b[1])
    assert upper[1] == 200 and upper[3] <= 200 + 25
    assert iou_matrix([(100, 219, 117, 258)], [lower])[0, 0] >= 0.8


def test_a_blob_a_little_taller_than_a_player_without_a_waist_is_one():
    """A 1.45-player blob with no head on top is cut only at a waist (where shorts and legs
    would stand on a head): without one it is a tall player."""
    blob = np.zeros((58, 17), bool)
    blob[0:7, :] = True
    blob[7:25, 3:14] = True   # no narrower than most rows: no waist
    blob[25:58, :] = True
    parts = sized_detector(40.0)._split(blob, 100, 200, 360)
    assert [tuple(int(round(v)) for v in p[:4]) for p in parts] == [(100, 200, 117, 258)]


def test_the_third_player_of_a_blob_of_three_is_guessed(tmp_path):
    """Three players in a column up the pitch make one blob (the match scene, seed 0, frame
    108): the split finds the highest head and the lowest feet, and the player between them is
    what is left of the blob outside those two boxes. That box is a guess: flagged in
    ``Detections.data``, never scored over GUESS_CONFIDENCE (ByteTrack's second round only)."""
    players = [PlayerSpec(i, "blue" if i % 2 else "red", (60 + 70 * i, 120 + 25 * (i % 3)), (0, 0), 40.0)
               for i in range(1, 8)]  # alone: the detector learns a player's size from them
    column = {11: (202, 274), 12: (195, 298), 13: (187, 342)}
    players += [PlayerSpec(k, "white", feet, (0, 0), 40.0) for k, feet in column.items()]
    scene = render_scene(SceneSpec(width=640, height=360, seconds=0.4, players=players), tmp_path / "s.mp4")
    detector = PitchDetector()
    for frame in iter_frames(scene.path):
        detections = detector.detect(frame.image)
    truth = scene.truth[frame.index]
    guessed = detections.data[GUESSED]
    for pid in column:
        overlap = iou_matrix([truth[pid]], detections.xyxy)[0]
        j = int(overlap.argmax())
        assert overlap[j] >= 0.5
        assert bool(guessed[j]) == (pid == 12)
    assert guessed.sum() == 1 and detections.confidence[guessed].max() <= GUESS_CONFIDENCE
    assert (detections.confidence[~guessed] > GUESS_CONFIDENCE).all()


def test_what_is_left_of_a_blob_must_be_player_sized_to_be_a_guess():
    """An arm or a shoulder a box left out is no player: under half a player's height or width."""
    detector = sized_detector(40.0)
    blob = np.zeros((80, 30), bool)
    blob[0:40, 0:17] = True     # the far player
    blob[40:80, 10:27] = True   # the near one
    blob[30:42, 20:30] = True   # an arm reaching out between them
    parts = [(100, 200, 117, 240, 1.0), (110, 240, 127, 280, 1.0)]
    assert detector._leftover_players(blob, 100, 200, 360, parts) == []
    blob[20:40, 17:30] = True   # a whole player's upper body there instead
    assert len(detector._leftover_players(blob, 100, 200, 360, parts)) == 1


def test_the_player_between_two_is_found_though_a_sliver_of_one_hangs_on_to_it():
    """Three players one behind the other, diagonally (held-out seed 14 match, frame 70): the
    split finds the far and the near one with boxes a little narrower than they are, and the
    sliver of the near one left over hangs on to the player between them, so what is left is too
    tall for one player. Without its end rows of a few pixels it is the player between."""
    detector = sized_detector(40.0)
    blob = np.zeros((80, 40), bool)
    blob[0:38, 22:39] = True    # the far player, up and to the right
    blob[18:58, 10:27] = True   # the player between
    blob[40:80, 0:17] = True    # the near one, down and to the left
    parts = [(122, 200, 136, 238, 1.0), (100, 240, 114, 280, 1.0)]  # 3 px narrower than each
    left = detector._leftover_players(blob, 100, 200, 360, parts)
    assert len(left) == 1
    assert iou_matrix([(110, 218, 127, 258)], [left[0][:4]])[0, 0] >= 0.8


def test_the_middle_two_of_a_diagonal_chain_of_four_are_both_found():
    """Four players crossing in a diagonal chain (crossing seed 6, frame 108) make one blob; the
    split finds the highest head and the lowest feet, and the two between them are left over
    together, 1.45 players tall: split in turn, they are two players."""
    detector = sized_detector(40.0)
    blob = np.zeros((94, 62), bool)
    players = [(0, 45), (18, 30), (36, 15), (54, 0)]  # (top row, left column), each 40 x 17
    for top, left in players:
        blob[top:top + 40, left:left + 17] = True
    parts = [(145, 200, 162, 240, 1.0), (100, 254, 117, 294, 1.0)]
    left = detector._leftover_players(blob, 100, 200, 360, parts)
    between = [(100 + x, 200 + y, 117 + x, 240 + y) for y, x in players[1:3]]
    assert len(left) == 2
    assert (iou_matrix(between, [p[:4] for p in left]).max(axis=1) >= 0.8).all()
    # a leftover that tall which a split does not take apart is no player
    blob[:] = False
    blob[0:40, 45:62] = blob[54:94, 0:17] = True
    blob[18:76, 22:39] = True   # one 58 px tall column between them
    assert detector._leftover_players(blob, 100, 200, 360, parts) == []


def test_a_guessed_player_is_no_candidate_for_the_coach(tmp_path):
    """Candidate tracks are the players the detector saw: the guess of the player between two
    others (see above) keeps no box of its own on the preview frame."""
    from footy.vision.track import candidate_tracks

    players = [PlayerSpec(i, "blue" if i % 2 else "red", (60 + 70 * i, 120 + 25 * (i % 3)), (0, 0), 40.0)
               for i in range(1, 8)]
    column = {11: (202, 274), 12: (195, 298), 13: (187, 342)}
    players += [PlayerSpec(k, "white", feet, (0, 0), 40.0) for k, feet in column.items()]
    scene = render_scene(SceneSpec(width=640, height=360, seconds=1.2, players=players), tmp_path / "s.mp4")
    candidates = candidate_tracks(scene.path, 1.0, PitchDetector(), window_sec=1.0)
    boxes = np.array([c.xyxy for c in candidates])
    truth = scene.truth[25]
    assert iou_matrix([truth[11]], boxes).max() >= 0.5 and iou_matrix([truth[13]], boxes).max() >= 0.5
    assert iou_matrix([truth[12]], boxes).max() < 0.5


def test_a_running_figure_s_true_box_is_where_its_limbs_are(tmp_path):
    """The lifelike scenes' ground truth: a running body's box is the extent of what was drawn
    of it (arms and swung legs included, its shadow not), so it changes as it strides."""
    player = PlayerSpec(1, "red", (120, 300), (3.0, 0.0), 120.0)  # clear of the pitch's lines
    spec = SceneSpec(width=640, height=360, seconds=0.6, players=[player], stripes=False, figures=True,
                     shadows=0.45, crf=12)
    scene = render_scene(spec, tmp_path / "runner.mp4")
    grass = np.array(spec.grass, np.int16)
    widths = []
    for frame in iter_frames(scene.path):
        ink = np.abs(frame.image.astype(np.int16) - grass).max(axis=2) > 90  # body, not its shadow
        ink[:, 240:] = ink[340:] = ink[:, :20] = ink[:20] = False  # the centre circle, the outline
        ys, xs = np.nonzero(ink)
        drawn = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        truth = scene.truth[frame.index][1]
        assert iou_matrix([truth], [drawn])[0, 0] > 0.85, (frame.index, truth, drawn)
        widths.append(truth[2] - truth[0])
    assert max(widths) - min(widths) > 0.1 * 120  # legs apart, legs together


def test_players_are_found_on_lifelike_footage(tmp_path):
    """Running bodies with thin limbs, sun shadows at their feet, the stand's shadow over the
    far pitch, a soft lens, the score graphic and broadcast compression: the grass model keeps
    the shadows as grass, and the players are still found."""
    scene = render_scene(scene_preset("lifelike", seconds=2.0, width=640, height=360), tmp_path / "l.mp4")
    recall, precision = detection_scores(scene, PitchDetector())
    assert recall >= 0.85 and precision >= 0.8, (recall, precision)


def test_a_running_figure_in_front_is_wholly_in_sight(tmp_path):
    """recall65 on the lifelike scene rests on the figures' shares as on the blocks': the one in
    front is wholly in sight, the one behind only partly (the label image has no blended edges)."""
    players = [PlayerSpec(1, "red", (200, 250), (2.0, 0.0), 80.0), PlayerSpec(2, "red", (215, 230), (2.0, 0.0), 80.0)]
    scene = render_scene(SceneSpec(width=640, height=360, seconds=0.2, players=players, figures=True),
                         tmp_path / "pair.mp4")
    for shares in scene.visible_share:
        assert shares[1] == pytest.approx(1.0)
        assert 0.5 < shares[2] < 0.9


@pytest.mark.parametrize("grass_hue", [60, 2, 177])  # green; a band that wraps around red either way
def test_learn_grass_takes_the_band_around_the_dominant_hue_and_its_tones(grass_hue):
    """The band's saturation and value percentiles are those of the pixels within the tolerance of
    the peak hue, circularly (computed here pixel by pixel, as the model describes them)."""
    rng = np.random.default_rng(grass_hue)
    offset = rng.integers(-4, 5, (180, 320))  # hues on either side of the peak have their own tones
    hsv = np.dstack([(grass_hue + offset) % 180, 110 + 12 * offset + rng.integers(0, 20, offset.shape),
                     130 + 15 * offset + rng.integers(0, 20, offset.shape)]).astype(np.uint8)
    hsv[100:130, 40:60] = (120, 200, 200)  # a kit of another hue: not in the band
    model, hist = learn_grass(hsv)
    assert model is not None and model.hue in {(grass_hue + d) % 180 for d in (-1, 0, 1)}
    region = hsv[60:, 40:280].reshape(-1, 3).astype(int)
    apart = np.abs(region[:, 0] - int(model.hue))
    band = region[(np.minimum(apart, 180 - apart) <= model.hue_tolerance) & (region[:, 1] >= 35) & (region[:, 2] >= 35)]
    s_lo, s_hi = np.percentile(band[:, 1], [2, 99])
    v_lo, v_hi = np.percentile(band[:, 2], [2, 99])
    assert (model.s_low, model.s_high) == pytest.approx((max(25, s_lo * 0.6), min(255, s_hi * 1.25 + 10)))
    assert (model.v_low, model.v_high) == pytest.approx((max(25, v_lo * 0.55), min(255, v_hi * 1.2 + 15)))
    assert hist.sum() == pytest.approx(1.0) and hist[120] > 0  # every saturated hue counted, the kit's too


@pytest.mark.parametrize("preset,least", [("match", 0.93), ("broadcast", 0.93), ("lifelike", 0.88)])
def test_small_players_of_a_wide_shot_are_found(tmp_path, preset, least):
    """Players half as tall as the presets draw them (10-27 px at the work scale, as on the far
    side of a broadcast's wide shot): their white shorts and thin legs are kit, not pitch lines
    or specks, so each is found whole, not as a shirt with a box made up above it (match: 0.69
    before, 0.96 now; lifelike's figures were found before too, and still are)."""
    spec = players_scaled(scene_preset(preset, seconds=1.0, width=640, height=360), 0.5)
    assert max(p.height for p in spec.players) < SMALL_PLAYER
    scene = render_scene(spec, tmp_path / "wide.mp4")
    detector = PitchDetector()
    recall, precision = detection_scores(scene, detector)
    assert recall >= least and precision >= 0.75, (recall, precision)
    assert detector._rows_under(SMALL_PLAYER, 360) > 0  # the detector took them for small players


def test_the_players_of_a_very_wide_shot_are_found_from_the_first_frames(tmp_path):
    """Players 11-15 px tall at the work scale (a 720p wide shot's far side; drawn at 720p as
    such a video is): the ordinary kernels find too few of them to start the size model, so the
    thinner kernels' players start it; their 3 px legs are no speck; and a player whose legs the
    mask lost hangs from its shirt (recall 0.04 before; 0.87 without the tiny players' kernels,
    0.87 without the start)."""
    spec = players_scaled(scene_preset("match", seconds=1.0, width=1280, height=720), 0.35)
    assert max(p.height for p in spec.players) < 2 * TINY_PLAYER  # 720p: twice the work scale
    scene = render_scene(spec, tmp_path / "wider.mp4")
    detector = PitchDetector()
    detector.detect(next(iter_frames(scene.path)).image)
    assert detector.sizes.ready and detector._rows_under(TINY_PLAYER, 360) > 0
    recall, precision = detection_scores(scene, PitchDetector())
    assert recall >= 0.93 and precision >= 0.9, (recall, precision)


def tiny_player(image: np.ndarray, x: int, y: int) -> tuple[int, int, int, int]:
    """Draws a player 12 px tall, 4 wide, with its top left at (x, y): its box."""
    image[y:y + 2, x + 1:x + 3] = (120, 160, 210)  # head
    image[y + 2:y + 6, x:x + 4] = (40, 40, 200)  # red shirt
    image[y + 6:y + 8, x:x + 4] = 255  # white shorts
    image[y + 8:y + 12, x] = image[y + 8:y + 12, x + 3] = (30, 30, 30)  # legs
    return x, y, x + 4, y + 12


def test_a_tiny_player_whose_running_legs_the_mask_loses_hangs_from_its_shirt():
    """A 12 px player's running legs (2 rows straight, 2 a column out) are no 3-row column: the
    mask keeps its head, shirt and shorts, 8 px, under the ordinary 9 px minimum. Half the expected
    height is the minimum where players are that small, and with its legs' pixels below it, the
    player's box hangs from its head."""
    image = np.zeros((360, 640, 3), np.uint8)
    image[:] = (40, 140, 50)
    box = x, y, _, _ = tiny_player(image, 300, 200)
    image[y + 8:y + 12, x:x + 4] = (40, 140, 50)  # its legs, redrawn running
    for dx, out in ((0, -1), (3, 1)):
        image[y + 8:y + 10, x + dx] = image[y + 10:y + 12, x + dx + out] = (30, 30, 30)
    boxes, _, _ = sized_detector(12.0).detect_small(image)
    assert [tuple(int(v) for v in b) for b in boxes] == [box]


def test_a_tiny_player_on_a_line_as_thick_as_its_kit_is_found():
    """A 3 px line is no thin stroke to a small player's kernels; where its white runs longer
    than players are tall, it is a line all the same (without that, the player and the line are
    one blob, and the player's box takes in the line)."""
    image = np.zeros((360, 640, 3), np.uint8)
    image[:] = (40, 140, 50)
    image[:, 300:303] = 235  # the halfway line
    box = tiny_player(image, 303, 200)
    boxes, _, _ = sized_detector(12.0).detect_small(image)
    assert [tuple(int(v) for v in b) for b in boxes] == [box]  # (300, 200, 307, 212) with the line


def test_a_piece_of_line_as_thick_as_white_kit_is_no_player():
    """Where a line curves, it is as thick as a small player's white shirt; a player in white has
    a head of another colour, the piece of line has nothing but white."""
    grass = np.zeros((360, 640, 3), np.uint8)
    grass[:] = (40, 140, 50)
    for image_has_player in (False, True):
        image = grass.copy()
        for row in range(200, 216):  # the centre circle's side: a stair of 4 px steps
            image[row, 300 + (row - 200) // 4: 304 + (row - 200) // 4] = 255
        if image_has_player:
            image[100:102, 401:403] = (120, 160, 210)  # head
            image[102:108, 400:404] = 255  # white shirt and shorts
            image[108:112, 400] = image[108:112, 403] = (30, 30, 30)  # legs
        detector = sized_detector(12.0)
        boxes, _, _ = detector.detect_small(image)
        assert [tuple(int(v) for v in b) for b in boxes] == ([(400, 100, 404, 112)] if image_has_player else [])


def test_white_running_into_the_frame_s_top_is_as_long_as_it_is_seen():
    """A white run 4 px wide and 14 rows long, from the top edge down (a far player's white kit
    cut by the frame), is shorter than a small player's line (28 rows): it stays."""
    white = np.zeros((60, 20), np.uint8)
    white[:14, 8:12] = 255
    mask = _player_mask(white, white, SMALL_PLAYER_KERNELS)
    assert mask[:14, 8:12].all()


@pytest.mark.parametrize("height", [12, 24, 40])
def test_a_player_all_in_white_is_no_piece_of_line(height):
    """White shirt, shorts and socks, dark boots: nearly all the player's pixels are white, as a
    piece of line's are, but its head is not."""
    image = np.zeros((360, 640, 3), np.uint8)
    image[:] = (40, 140, 50)
    width, head, x, y = max(4, int(0.4 * height)), max(2, height // 6), 300, 150
    image[y:y + head, x + width // 4:x + width - width // 4] = (120, 160, 210)
    image[y + head:y + height - 1, x:x + width] = 255
    image[y + height - 1, x:x + width] = (20, 20, 20)
    boxes, _, _ = sized_detector(float(height)).detect_small(image)
    assert [tuple(int(v) for v in b) for b in boxes] == [(x, y, x + width, y + height)]


def test_the_small_players_speck_opening_keeps_an_upright_leg_where_it_is():
    # a 4 px column opening: a leg 4 rows tall and 1 px wide stays in its rows (OpenCV's
    # morphologyEx gives erosion and dilation one anchor and moves an even kernel's result a row
    # down: a small player's feet one row low); a piece 3 rows tall is a speck
    leg, speck = np.zeros((20, 9), np.uint8), np.zeros((20, 9), np.uint8)
    leg[4:8, 4] = speck[4:7, 4] = 255
    column = MaskKernels(line=1, speck_height=SMALL_PLAYER_KERNELS.speck_height, speck_width=1, close_height=1)
    nothing_white = np.zeros_like(leg)
    assert np.array_equal(_player_mask(leg, nothing_white, column), leg)
    assert not _player_mask(speck, nothing_white, column).any()


def test_players_merged_on_the_first_frame_a_detector_sees_are_told_apart(tmp_path):
    """A walk starts a fresh detector on the frame the coach clicked. Its size model is learned
    from that frame's single players, after its blobs were looked at: a pair merged side by side
    stayed one box (held-out seed 20 match player 1, a team-mate beside it on the clicked frame).
    The blobs are looked at again once the first frame has taught the model a player's size."""
    h = 40.0
    players = [PlayerSpec(1, "red", (320, 230), (0, 0), h), PlayerSpec(2, "red", (336, 234), (0, 0), h)]
    for i, (x, y) in enumerate([(80, 150), (160, 300), (480, 170), (560, 280), (420, 320)]):
        players.append(PlayerSpec(3 + i, "blue", (x, y), (0, 0), h))
    scene = render_scene(SceneSpec(width=640, height=360, seconds=0.2, noise=2.0, players=players),
                         tmp_path / "pair.mp4")
    frame = next(iter_frames(scene.path))
    boxes = PitchDetector().detect(frame.image).xyxy
    truth = scene.truth[frame.index]
    assert (iou_matrix([truth[1], truth[2]], boxes).max(axis=1) >= 0.6).all()


def test_two_players_side_by_side_in_front_of_a_third_get_a_box_each():
    """One player behind and two side by side in front of it, their feet level (match seed 43,
    frame 156): the split of one behind and one beside another found the far player's head and the
    near feet, and put one box on the middle of those feet, half of each near player (the follower
    lost one of them there). Feet spread over two players' width are two players."""
    detector = sized_detector(40.0)
    blob = np.zeros((56, 53), bool)
    blob[0:40, 4:21] = True     # the far player, up and to the left
    blob[16:56, 18:35] = True   # the near pair, side by side
    blob[16:56, 36:53] = True
    parts = detector._split(blob, 100, 200, 360)
    truth = [(104, 200, 121, 240), (118, 216, 135, 256), (136, 216, 153, 256)]
    assert len(parts) == 3
    assert (iou_matrix(truth, [p[:4] for p in parts]).max(axis=1) >= 0.8).all()


def test_row_medians_are_numpy_s_nanmedian_bit_for_bit():
    """The detector's splits and the follower's others' motion take medians of rows with gaps
    (NaN) by one sort each, where np.nanmedian's masked arrays cost ~10x on such small rows: the
    numbers must be np.nanmedian's exactly (the tracks must not move by a rounding), odd counts and
    even, any spread of values."""
    rng = np.random.default_rng(5)
    for _ in range(2000):
        rows = rng.normal(0, 1, (int(rng.integers(1, 12)), int(rng.integers(1, 8)))) * 10.0 ** rng.integers(-3, 4)
        rows[rng.random(rows.shape) < 0.4] = np.nan
        rows[np.isnan(rows).all(axis=1), 0] = 1.5  # each row has a value
        assert np.array_equal(row_medians(rows), np.nanmedian(rows, axis=1))


def test_a_small_player_a_pixel_wider_than_the_split_allows_stays_one_player():
    """Match seed 48 player 6 at frame 106 (26 px tall at the work width, 11 px a player's width
    there): its blob, arms and legs out, was 14 px wide, 0.35 px over 1.25 players' width, and the
    split at the step of its edges cut it 5 + 9 px; the follower, seeing two slivers, lost it. A
    pixel is a tenth of such a player: the width a piece may have and still be one player has a
    pixel of slack."""
    piece = np.zeros((25, 14), bool)
    piece[4:23, 0:2] = True   # an arm and a leg out to the left, shorter
    piece[8:23, 2:5] = True
    piece[0:25, 5:14] = True  # the body
    parts = sized_detector(26.0)._split_piece(piece, 200, 300, 360)
    assert len(parts) == 1
    assert tuple(parts[0][:4]) == (200, 300, 214, 325)
