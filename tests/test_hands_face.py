"""Hands, face and gestures per performer (perform.vision.hands, face, detail, gestures) on real
photographs annotated by eye (tests/data/hands/README.md)."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from perform.vision.config import DetailConfig
from perform.vision.detail import Detail, DetailEstimator
from perform.vision.face import FACE_POINTS
from perform.vision.gestures import (
    DETAIL_FEATURES,
    FACE_FEATURES,
    GESTURES,
    HAND_FEATURES,
    DetailFeatures,
    GestureTracker,
    face_features,
    gesture_scores,
    hand_features,
    shape_vector,
)
from perform.vision.hands import HL, Hand
from perform.vision.types import LM, Body

DATA = Path(__file__).parent / "data" / "hands"
OPENCV_DOC = Path("/usr/share/doc/opencv-doc/opencv4/html")
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _read(path: Path) -> np.ndarray:
    image = cv2.imread(str(path)) if path.is_file() else None
    if image is None:
        pytest.skip(f"{path} is missing (apt-get install opencv-doc)")
    return np.ascontiguousarray(image[:, :, ::-1])


@cache
def load(spec: str) -> np.ndarray:
    """An annotation's picture, RGB: ``opencv-doc:NAME``, ``opencv-data:NAME``, ``skimage:NAME``
    or ``matplotlib:NAME``."""
    kind, name = spec.split(":")
    if kind == "opencv-doc":
        return _read(OPENCV_DOC / name)
    if kind == "opencv-data":
        return _read(OPENCV_DATA / name)
    if kind == "skimage":
        data = pytest.importorskip("skimage.data")
        return np.ascontiguousarray(getattr(data, name)())
    assert kind == "matplotlib", spec
    from matplotlib import cbook

    return _read(Path(cbook.get_sample_data(name, asfileobj=False)))


def annotation(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


@cache
def pose(spec: str, flip: bool = False) -> Body:
    """The best-scoring person perform's pose estimation finds in the picture."""
    from perform.vision.base import make_backend
    from perform.vision.config import PoseConfig

    image = load(spec)
    image = np.ascontiguousarray(image[:, ::-1]) if flip else image
    backend = make_backend(PoseConfig(max_people=1, masks=False), static_images=True)
    try:
        people = backend(image, 0.0)
    finally:
        backend.close()
    assert people, f"no person found in {spec}"
    return Body(1, people[0].landmarks, people[0].world, people[0].score)


def stand_in(ann: dict, w: int, h: int) -> Body:
    """A body that is only the annotation's wrist, index and pinky (a picture of a hand alone)."""
    lm = np.full((33, 4), np.nan, np.float32)
    side = ann["body"]["side"]
    for name in ("wrist", "index", "pinky"):
        x, y = ann["body"][name]
        lm[LM[f"{side}_{name}"]] = (x / w, y / h, 0.0, 1.0)
    return Body(1, lm, np.zeros((33, 3), np.float32))


def body_for(ann: dict) -> Body:
    h, w = load(ann["image"]).shape[:2]
    return stand_in(ann, w, h) if "body" in ann else pose(ann["image"])


@pytest.fixture(scope="module")
def estimator() -> DetailEstimator:
    return DetailEstimator(DetailConfig(hands=True, face=True, every=1))


def detail(estimator: DetailEstimator, image: np.ndarray, body: Body, t: float = 0.0) -> Detail:
    estimator.reset()
    return estimator(image, [body], t)[body.slot]


def _px(xy: np.ndarray, image: np.ndarray) -> np.ndarray:
    return xy[:2] * np.array([image.shape[1], image.shape[0]])


# -- landmarks against annotations ------------------------------------------------------------


@pytest.mark.parametrize("name", ["handSrc", "gbocclusion", "messi5"])
def test_hand_landmarks_where_annotated(estimator: DetailEstimator, name: str) -> None:
    ann = annotation(name)
    image = load(ann["image"])
    found = detail(estimator, image, body_for(ann))
    for side, points in ann["hands"].items():
        hand = found.hand(side)
        assert hand is not None, f"{name}: no {side} hand"
        assert hand.side == side
        assert hand.score >= 0.5 and hand.landmarks.shape == (21, 3) and hand.world.shape == (21, 3)
        for point, (x, y, tolerance) in points.items():
            error = float(np.linalg.norm(_px(hand.landmarks[HL[point]], image) - (x, y)))
            assert error <= tolerance, f"{name} {side} {point}: {error:.1f} px off, tolerance {tolerance}"


@pytest.mark.parametrize("name", ["astronaut", "grace_hopper", "230501201_1"])
def test_face_landmarks_where_annotated(estimator: DetailEstimator, name: str) -> None:
    ann = annotation(name)
    image = load(ann["image"])
    face = detail(estimator, image, body_for(ann)).face
    assert face is not None and face.landmarks.shape == (468, 3) and face.score >= 0.5
    for point, (x, y, tolerance) in ann["face"].items():
        error = float(np.linalg.norm(_px(face.landmarks[FACE_POINTS[point]], image) - (x, y)))
        assert error <= tolerance, f"{name} {point}: {error:.1f} px off, tolerance {tolerance}"


def test_hand_wrist_is_the_body_wrist(estimator: DetailEstimator) -> None:
    # within half the hand's size (wrist to middle knuckle) of the body's wrist, both hands
    image = load("opencv-data:messi5.jpg")
    body = pose("opencv-data:messi5.jpg")
    found = detail(estimator, image, body)
    for side in ("left", "right"):
        hand = found.hand(side)
        assert hand is not None
        wrist = _px(hand.landmarks[HL["wrist"]], image)
        size = np.linalg.norm(_px(hand.landmarks[HL["middle_mcp"]], image) - wrist)
        gap = np.linalg.norm(_px(body.landmarks[LM[f"{side}_wrist"]], image) - wrist)
        assert gap < 0.5 * size, f"{side}: hand wrist {gap:.1f} px from the body's, hand size {size:.1f}"


def test_left_and_right_follow_the_body_on_a_mirrored_picture(estimator: DetailEstimator) -> None:
    spec = "opencv-data:messi5.jpg"
    image = load(spec)
    w = image.shape[1]
    flipped = np.ascontiguousarray(image[:, ::-1])
    before = detail(estimator, image, pose(spec))
    after = detail(estimator, flipped, pose(spec, flip=True))
    for side, other in (("left", "right"), ("right", "left")):
        hand, was = after.hand(side), before.hand(other)
        assert hand is not None and was is not None
        # the body model calls the mirrored right arm left: the hand on it is the left hand...
        mirrored = _px(was.landmarks[HL["wrist"]], image) * (-1, 1) + (w - 1, 0)
        assert np.linalg.norm(_px(hand.landmarks[HL["wrist"]], flipped) - mirrored) < 6
        # ... and sits on the body's wrist of that side
        wrist = _px(pose(spec, flip=True).landmarks[LM[f"{side}_wrist"]], flipped)
        assert np.linalg.norm(_px(hand.landmarks[HL["wrist"]], flipped) - wrist) < 6


def test_no_hand_in_the_picture_is_none_not_zeros(estimator: DetailEstimator) -> None:
    ann = annotation("astronaut")
    found = detail(estimator, load(ann["image"]), body_for(ann))
    assert found.left_hand is None and found.right_hand is None
    assert found.face is not None


def test_a_part_not_found_is_looked_for_on_every_third_turn() -> None:
    ann = annotation("astronaut")
    image, body = load(ann["image"]), body_for(ann)
    estimator = DetailEstimator(DetailConfig(hands=True, face=True, every=1))
    runs = []
    for k in range(4):
        found = estimator(image, [body], k / 30)[1]
        assert found.face is not None and found.left_hand is None and found.right_hand is None
        runs.append(estimator.last_runs)
    # frame 0: both hands looked for (re-crop and landmarks each) and the face; then only the
    # face (followed: one run) until the hands' third turn
    assert runs[0] >= 5 and runs[1] == runs[2] == 1 and runs[3] >= 5


def test_a_body_without_visible_wrists_or_face_runs_no_model(estimator: DetailEstimator) -> None:
    body = pose("opencv-data:messi5.jpg")
    hidden = body.landmarks.copy()
    hidden[:, 3] = 0.0
    estimator.reset()
    found = estimator(load("opencv-data:messi5.jpg"), [replace(body, landmarks=hidden)], 0.0)[1]
    assert found == Detail(1)
    assert estimator.last_runs == 0


# -- options: slots, every, between -----------------------------------------------------------


def _hand_picture() -> tuple[np.ndarray, Body]:
    ann = annotation("gbocclusion")
    image = load(ann["image"])
    return image, stand_in(ann, image.shape[1], image.shape[0])


def _moved(body: Body, dx: float) -> Body:
    lm = body.landmarks.copy()
    lm[:, 0] += dx
    return replace(body, landmarks=lm)


def test_only_the_chosen_slots_get_hands() -> None:
    image, body = _hand_picture()
    estimator = DetailEstimator(DetailConfig(hands=True, slots=[2], every=1))
    out = estimator(image, [body, replace(body, slot=2)], 0.0)
    assert set(out) == {2} and out[2].right_hand is not None and out[2].face is None


@pytest.mark.parametrize("between", ["carry", "hold"])
def test_between_measurements_hands_follow_the_body_or_hold(between: str) -> None:
    image, body = _hand_picture()
    w = image.shape[1]
    estimator = DetailEstimator(DetailConfig(hands=True, every=2, between=between))
    # the right hand is the second job: measured on odd frames
    assert estimator(image, [body], -1 / 30)[1].right_hand is None and estimator.last_runs == 0
    first = estimator(image, [body], 0.0)[1].right_hand
    assert first is not None and estimator.last_runs >= 2
    # the next frame is the hand's off frame: the body moved 6 px right
    second = estimator(image, [_moved(body, 6 / w)], 1 / 30)[1].right_hand
    assert estimator.last_runs == 0 and second is not None
    assert second.t == first.t == 0.0  # measured on the first frame
    shift = (second.landmarks[:, 0] - first.landmarks[:, 0]) * w
    np.testing.assert_allclose(shift, 6.0 if between == "carry" else 0.0, atol=1e-3)
    # and the frame after is measured again, from the last ROI moved with the body: one run
    third = estimator(image, [body], 2 / 30)[1].right_hand
    assert third is not None and third.t == 2 / 30 and estimator.last_runs == 1


def test_parts_take_turns_so_each_frame_costs_alike() -> None:
    image, body = _hand_picture()
    estimator = DetailEstimator(DetailConfig(hands=True, every=3))
    runs = []
    for k in range(6):
        estimator(image, [body, replace(body, slot=2)], k / 30)
        runs.append(estimator.last_runs)
    # jobs: p1 left, p1 right, p2 left, p2 right (no left wrists: nothing to run); each right
    # hand is measured every third frame, p2's on frames 0 and 3, p1's on 2 and 5
    assert runs[1] == runs[4] == 0 and min(runs[0], runs[2], runs[3], runs[5]) >= 1
    assert runs[3] == runs[5] == 1  # followed: one landmark run each


def test_smoothing_steadies_a_still_hand() -> None:
    # each frame's ROI comes from the last landmarks, so the raw landmarks of a still hand move a
    # few pixels as they settle; the One Euro filter moves them less
    image, body = _hand_picture()
    moves = {}
    for smooth in (True, False):
        estimator = DetailEstimator(DetailConfig(hands=True, every=1, smoothing={"enabled": smooth}))
        hands = [estimator(image, [body], k / 30)[1].right_hand for k in range(5)]
        assert all(h is not None for h in hands)
        steps = [np.abs(b.landmarks[:, :2] - a.landmarks[:, :2]).max() for a, b in itertools.pairwise(hands)]
        moves[smooth] = sum(steps) * image.shape[1]
    assert moves[True] < 0.8 * moves[False] and moves[True] < 15


# -- features ---------------------------------------------------------------------------------


def recorded(name: str) -> Hand:
    """A hand as perform found it in a real picture (tests/data/hands/recorded.json)."""
    r = json.loads((DATA / "recorded.json").read_text())["hands"][name]
    return Hand(
        r["side"], np.array(r["landmarks"], np.float32), np.array(r["world"], np.float32), 1.0, 1.0, 0.0
    )


def test_features_are_documented_with_ranges() -> None:
    for name, info in DETAIL_FEATURES.items():
        assert info.lo < info.hi and info.lo <= info.default <= info.hi, name
        assert info.description and info.unit, name
    assert set(DETAIL_FEATURES) >= {"left_hand_pinch", "right_hand_fingers", "mouth_open", "head_yaw"}


@pytest.mark.parametrize("name", ["handSrc_left", "gbocclusion_right", "messi5_left"])
def test_open_hands_in_real_pictures(name: str) -> None:
    hand = recorded(name)
    f = hand_features(hand, 4 / 3)
    assert f["fingers"] == 5 and f["openness"] > 0.9 and f["grip"] < 0.1 and f["pinch"] > 0.6
    assert set(f) == set(HAND_FEATURES)
    scores = gesture_scores(hand, 4 / 3)
    assert scores["open_palm"] > 0.75
    assert max(v for g, v in scores.items() if g != "open_palm") < 0.35


def test_pointing_direction_is_where_the_index_points_in_the_picture() -> None:
    # gbocclusion: the fingers point up and to the left
    f = hand_features(recorded("gbocclusion_right"), 640 / 480)
    assert f["point_x"] < -0.3 and f["point_y"] < -0.6 and 200 < f["point_angle"] < 260
    assert math.hypot(f["point_x"], f["point_y"]) == pytest.approx(1.0, abs=0.05)


def test_faces_in_real_pictures() -> None:
    features = {}
    for name in ("astronaut", "grace_hopper", "230501201_1"):
        ann = annotation(name)
        image = load(ann["image"])
        face = detail(DetailEstimator(DetailConfig(face=True, every=1)), image, body_for(ann)).face
        assert face is not None
        features[name] = face_features(face, image.shape[1] / image.shape[0])
        assert set(features[name]) == set(FACE_FEATURES)
    for f in features.values():  # eyes open, mouths nearly closed, heads upright
        assert f["left_eye_closed"] < 0.3 and f["right_eye_closed"] < 0.3
        assert f["mouth_open"] < 0.2 and abs(f["head_roll"]) < 8 and abs(f["head_pitch"]) < 15
    smiles = {n: f["smile"] for n, f in features.items()}
    assert smiles["astronaut"] > smiles["grace_hopper"] + 0.08
    assert smiles["astronaut"] > smiles["230501201_1"] + 0.08
    assert abs(features["grace_hopper"]["head_yaw"]) < 8  # she faces the camera
    assert features["230501201_1"]["head_yaw"] < -8  # he turns his head to his right


# -- gestures on hand shapes posed from real hands ---------------------------------------------

_FINGERS = {
    "index": [5, 6, 7, 8],
    "middle": [9, 10, 11, 12],
    "ring": [13, 14, 15, 16],
    "pinky": [17, 18, 19, 20],
}
_CURLED = (75.0, 100.0, 60.0)  # degrees at the knuckle, middle and last joint of a curled finger


def _turn(v: np.ndarray, axis: np.ndarray, degrees: float) -> np.ndarray:
    a = math.radians(degrees)
    return v * math.cos(a) + np.cross(axis, v) * math.sin(a) + np.outer(v @ axis, axis) * (1 - math.cos(a))


def _curl(world: np.ndarray, finger: str, angles: tuple[float, ...], palm: np.ndarray) -> np.ndarray:
    w = world.copy()
    chain = _FINGERS[finger]
    axis = np.cross(w[chain[1]] - w[chain[0]], palm)
    axis /= np.linalg.norm(axis)
    for k, angle in enumerate(angles):
        joint, rest = chain[k], chain[k + 1 :]
        w[rest] = w[joint] + _turn(w[rest] - w[joint], axis, angle)
    return w


def _aim_thumb(world: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The thumb turned about its base (cmc) to point at ``target``."""
    w = world.copy()
    d, t = w[4] - w[1], target - w[1]
    axis = np.cross(d, t)
    axis /= np.linalg.norm(axis)
    angle = math.degrees(math.atan2(np.linalg.norm(np.cross(d, t)), d @ t))
    w[2:5] = w[1] + _turn(w[2:5] - w[1], axis, angle)
    return w


def _tuck_thumb(world: np.ndarray, target: np.ndarray, palm: np.ndarray) -> np.ndarray:
    """The thumb bent at its two last joints and turned so its tip lands nearest ``target``."""

    def bent(degrees: float) -> np.ndarray:
        w = world.copy()
        axis = np.cross(w[3] - w[2], palm)
        axis /= np.linalg.norm(axis)
        w[3:5] = w[2] + _turn(w[3:5] - w[2], axis, degrees)
        w[4] = w[3] + _turn(w[4] - w[3], axis, degrees)
        return _aim_thumb(w, target)

    return min((bent(a) for a in range(0, 91, 5)), key=lambda w: float(np.linalg.norm(w[4] - target)))


def posed(name: str, gesture: str) -> Hand:
    """A real hand (recorded) with its fingers turned at their joints into ``gesture``; the image
    landmarks follow the world ones (seen from the front)."""
    hand = recorded(name)
    w = hand.world.astype(np.float64)
    palm = np.cross(w[5] - w[0], w[17] - w[0])  # out of the palm for a right hand (as the model
    palm /= np.linalg.norm(palm) * (1 if name.startswith("gbocclusion") else -1)  # gives them)
    curled = {"fist": _FINGERS, "thumbs_up": _FINGERS, "point": ("middle", "ring", "pinky")}
    curled["victory"] = ("ring", "pinky")
    for finger in curled.get(gesture, ()):
        w = _curl(w, finger, _CURLED, palm)
    if gesture in ("fist", "point", "victory"):  # the thumb tucked over the middle finger
        w = _tuck_thumb(w, w[10], palm)
    if gesture == "pinch":  # the index bends to meet the thumb
        w = min(
            (
                _aim_thumb(c, c[8])
                for s in np.linspace(0, 1, 41)
                for c in [_curl(w, "index", (50 * s, 70 * s, 40 * s), palm)]
            ),
            key=lambda c: float(np.linalg.norm(c[4] - c[8])),
        )
    if gesture == "thumbs_up":  # the hand turned in the picture so the thumb points up
        d = w[4] - w[2]
        a = math.atan2(d[0], -d[1])
        turn = np.array([[math.cos(a), math.sin(a), 0], [-math.sin(a), math.cos(a), 0], [0, 0, 1]])
        w = w @ turn.T
    image = (w - w[0]) * 3.0 + (0.5, 0.5, 0.0)
    return replace(hand, landmarks=image.astype(np.float32), world=w.astype(np.float32))


@pytest.mark.parametrize("name", ["handSrc_left", "gbocclusion_right"])
@pytest.mark.parametrize("gesture", ["open_palm", *[g for g in GESTURES if g != "open_palm"]])
def test_each_gesture_reads_as_itself_only(name: str, gesture: str) -> None:
    scores = gesture_scores(posed(name, gesture), 1.0)
    assert scores[gesture] > 0.8, scores
    assert max(v for g, v in scores.items() if g != gesture) < 0.35, scores


def test_shape_vector_is_the_same_for_a_shape_anywhere_and_mirrored() -> None:
    hand = posed("gbocclusion_right", "victory")
    a = np.radians(40)
    turn = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    moved = replace(hand, world=(hand.world @ turn.T + 0.3).astype(np.float32))
    np.testing.assert_allclose(shape_vector(moved), shape_vector(hand), atol=1e-5)
    mirrored = replace(hand, side="left", world=(hand.world * (-1, 1, 1)).astype(np.float32))
    np.testing.assert_allclose(shape_vector(mirrored), shape_vector(hand), atol=1e-5)
    assert np.linalg.norm(shape_vector(posed("gbocclusion_right", "fist")) - shape_vector(hand)) > 0.5


def _frames(
    tracker: GestureTracker, script: list[tuple[float, Hand | None]]
) -> list[tuple[float, str, bool]]:
    out = []
    for t, hand in script:
        edges = tracker.update({1: Detail(1, right_hand=hand)}, t, 1.0)
        out += [(round(t, 3), e.name, e.active) for e in edges]
    return out


def test_gestures_start_after_their_hold_and_end_with_hysteresis() -> None:
    opened, fist = posed("gbocclusion_right", "open_palm"), posed("gbocclusion_right", "fist")
    tracker = GestureTracker(hold_s=0.1, grace_s=0.2)
    dt = 1 / 30
    script = [(k * dt, opened) for k in range(6)] + [(k * dt, fist) for k in range(6, 12)]
    script += [(k * dt, None) for k in range(12, 22)]
    edges = _frames(tracker, script)
    assert edges == [
        (0.1, "right_hand_open_palm", True),  # held 0.1 s (frames 0..3)
        (0.2, "right_hand_open_palm", False),  # the fist ends it at once
        (0.3, "right_hand_fist", True),  # held 0.1 s (frames 6..9)
        (0.6, "right_hand_fist", False),  # hand lost on frame 12 (0.4 s): ends past the 0.2 s grace
    ]
    assert tracker.active() == set()


def test_a_gesture_flickering_between_thresholds_stays_on() -> None:
    hand = posed("gbocclusion_right", "fist")
    tracker = GestureTracker(on=0.6, off=0.35, hold_s=0.0)
    assert [
        e.active for e in tracker.update({1: Detail(1, right_hand=hand)}, 0.0, 1.0) if e.gesture == "fist"
    ] == [True]
    # a half-open hand (score between off and on) keeps the fist; a performer who leaves ends it
    opened = posed("gbocclusion_right", "open_palm").world
    blends = [
        replace(hand, world=(a * hand.world + (1 - a) * opened).astype(np.float32))
        for a in (0.9, 0.8, 0.7, 0.6)
    ]
    mixed = next(b for b in blends if 0.4 < gesture_scores(b, 1.0)["fist"] < 0.55)
    assert tracker.update({1: Detail(1, right_hand=mixed)}, 0.1, 1.0) == []
    ended = tracker.update({}, 0.2, 1.0)
    assert [(e.name, e.active) for e in ended] == [("right_hand_fist", False)]


# -- features fade to neutral -----------------------------------------------------------------


def test_features_hold_then_fade_to_neutral_when_the_hand_is_lost() -> None:
    features = DetailFeatures(hold_s=0.2, fade_s=0.5)
    fist = posed("gbocclusion_right", "fist")
    grip = hand_features(fist, 1.0)["grip"]
    assert grip > 0.9
    on = features.update({1: Detail(1, right_hand=fist)}, 0.0, 1.0)
    assert on["p1.right_hand_grip"] == pytest.approx(grip)
    neutral = HAND_FEATURES["grip"].default
    assert on["p1.left_hand_grip"] == neutral  # never seen: neutral, not missing
    assert features.update({1: Detail(1)}, 0.15, 1.0)["p1.right_hand_grip"] == pytest.approx(grip)
    half = features.update({1: Detail(1)}, 0.45, 1.0)["p1.right_hand_grip"]
    assert half == pytest.approx(neutral + 0.5 * (grip - neutral))
    assert features.update({1: Detail(1)}, 0.8, 1.0)["p1.right_hand_grip"] == neutral
    names = set(features.update({1: Detail(1)}, 0.9, 1.0))
    assert names == {f"p1.{n}" for n in DETAIL_FEATURES}
    assert all(math.isfinite(v) for v in features.update({1: Detail(1, right_hand=fist)}, 1.0, 1.0).values())
