import argparse
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from rich.console import Console

from perform.errors import ConfigError
from perform.events.cli import add_teach_parser, cmd_teach
from perform.events.teach import (
    JOINTS,
    PoseClassifier,
    PoseEvents,
    PoseLibrary,
    TaughtPose,
    normalise_bodies,
    record_examples,
    teach,
)
from perform.vision.types import LM, Body, Poses
from perform.vision.virtual import skeleton
from tests.test_events_builtin import Puppet, facing_camera, standing, t_pose

W, H = 1280, 720


def arm_up(j: np.ndarray, side: str) -> np.ndarray:
    s = 1.0 if side == "left" else -1.0
    sh = j[LM[f"{side}_shoulder"]].copy()
    j[LM[f"{side}_elbow"]] = sh + (s * 0.08, 0.29, 0)
    j[LM[f"{side}_wrist"]] = sh + (s * 0.15, 0.55, 0)
    for f in ("index", "pinky", "thumb"):
        j[LM[f"{side}_{f}"]] = sh + (s * 0.16, 0.62, 0)
    return j


def star() -> np.ndarray:
    j = arm_up(arm_up(standing(), "left"), "right")
    for side, s in (("left", 1.0), ("right", -1.0)):
        hip = j[LM[f"{side}_hip"]]
        for name, drop in (("knee", 0.45), ("ankle", 0.88), ("heel", 0.93), ("foot_index", 0.95)):
            j[LM[f"{side}_{name}"]] = hip + (s * 0.35 * drop, -drop, 0.05 if name == "foot_index" else 0)
    return j


def salute() -> np.ndarray:
    """The right arm up, the left down: not its own mirror image."""
    return arm_up(standing(), "right")


def crouch() -> np.ndarray:
    return skeleton(1.75, "crouch", 1.0, 0.0)[0]


def bodies_of(
    joints: np.ndarray, n: int = 1, noise: float = 0.01, seed: int = 0, slot: int = 1, **place
) -> list[Body]:
    """``n`` bodies in pose ``joints`` (body coordinates), each with ``noise`` metres of jitter."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        jittered = joints + rng.normal(0, noise, joints.shape)
        ((_, det),) = Puppet(lambda t, j=jittered: facing_camera(j, **place)).detections(0.0, W, H)
        out.append(Body(slot, det.landmarks, det.world))
    return out


def scaled(joints: np.ndarray, k: float) -> np.ndarray:
    return joints * k


def pose_of(name: str, joints: np.ndarray, n: int = 20, seed: int = 0) -> TaughtPose:
    return TaughtPose(name, normalise_bodies(bodies_of(joints, n, seed=seed), W / H))


@pytest.fixture(scope="module")
def library() -> PoseLibrary:
    lib = PoseLibrary()
    lib.add(pose_of("star", star()))
    lib.add(pose_of("t", t_pose(), seed=1))
    lib.add(pose_of("salute", salute(), seed=2))
    return lib


def classify(library: PoseLibrary, body: Body):
    return PoseClassifier(library).classify(body, W / H)


def test_taught_poses_are_recognised_with_high_confidence(library):
    for name, joints in (("star", star()), ("t", t_pose()), ("salute", salute())):
        for b in bodies_of(joints, 5, seed=9):
            got = classify(library, b)
            assert got is not None and got[0] == name and got[1] > 0.8, (name, got)


def test_untaught_poses_fire_nothing(library):
    for joints in (standing(), crouch(), hands_forward()):
        for b in bodies_of(joints, 3, seed=4):
            assert classify(library, b) is None


def hands_forward() -> np.ndarray:
    j = standing()
    for side in ("left", "right"):
        sh = j[LM[f"{side}_shoulder"]].copy()
        j[LM[f"{side}_elbow"]] = sh + (0, 0, 0.3)
        j[LM[f"{side}_wrist"]] = sh + (0, 0.05, 0.57)
    return j


def test_mirrored_scaled_translated_and_turned_copies_are_recognised(library):
    assert classify(library, bodies_of(arm_up(standing(), "left"))[0])[0] == "salute"  # the mirror image
    sides_swapped = salute() * np.array([-1.0, 1.0, 1.0])  # the right arm up, labelled left
    assert classify(library, bodies_of(sides_swapped)[0])[0] == "salute"
    for k, place in ((0.88, {"x": 1.5, "depth": 2.5}), (1.12, {"x": -1.8, "depth": 0.3})):
        got = classify(library, bodies_of(scaled(star(), k), **place)[0])
        assert got is not None and got[0] == "star" and got[1] > 0.7
    seen_from_behind = bodies_of(t_pose(), yaw=math.pi)[0]
    assert classify(library, seen_from_behind)[0] == "t"


def test_image_landmarks_alone_are_enough(library):
    b = bodies_of(star(), x=0.5)[0]
    image_only = replace(b, world=np.zeros_like(b.world))
    got = classify(library, image_only)
    assert got is not None and got[0] == "star" and got[1] > 0.6


def test_hidden_joints_leave_the_body_unclassified(library):
    b = bodies_of(star())[0]
    lm = b.landmarks.copy()
    lm[[LM[n] for n in JOINTS[:6]], 3] = 0.1
    assert classify(library, replace(b, landmarks=lm)) is None


def test_pose_events_hold_and_do_not_flicker_for_two_performers(library):
    events = PoseEvents(library, min_confidence=0.5, release=0.3, hold_s=0.2)
    script = [(0.0, star(), t_pose()), (1.0, t_pose(), t_pose()), (2.0, standing(), t_pose())]
    out = []
    for i in range(90):
        t = i / 30
        _, p1, p2 = next(s for s in reversed(script) if s[0] <= t + 1e-9)
        b1 = bodies_of(p1, seed=i, noise=0.015)[0]
        b2 = bodies_of(p2, seed=1000 + i, noise=0.015, slot=2, x=1.5)[0]
        out += events.update(Poses(i, t, W, H, (b1, b2)))
    got = [(e.name, e.slot, e.active, round(e.t, 3)) for e in out]
    assert got == [
        ("pose.star", 1, True, 0.2),
        ("pose.t", 2, True, 0.2),
        ("pose.star", 1, False, 1.0),  # star's confidence falls at once: below release
        ("pose.t", 1, True, 1.2),
        ("pose.t", 1, False, 2.0),
    ]
    assert all(e.value > 0.5 for e in out if e.active)
    assert events.active() == {("pose.t", 2)}


def test_record_write_and_read_back(tmp_path):
    stream = [Poses(i, i / 30, W, H, tuple(bodies_of(star(), seed=i))) for i in range(150)]
    pose = record_examples(iter(stream), "star", seconds=3.0, source="test")
    assert 20 <= len(pose.examples) <= 30 and pose.source == "test"
    path = tmp_path / "poses.json"
    teach(path, pose)
    teach(path, pose_of("t", t_pose()))
    lib = teach(path, pose, replace=False)
    again = PoseLibrary.load(path)
    assert sorted(again.poses) == ["star", "t"]
    assert len(again.poses["star"].examples) == 2 * len(pose.examples) == len(lib.poses["star"].examples)
    assert np.allclose(again.poses["star"].examples, lib.poses["star"].examples, atol=1e-4)
    assert not list(tmp_path.glob(".*.tmp"))
    assert classify(again, bodies_of(star(), seed=77)[0])[0] == "star"


def test_record_needs_a_performer():
    from perform.errors import PerformError

    with pytest.raises(PerformError, match="no performer seen"):
        record_examples(iter([Poses(0, 0.0, W, H)]), "star", 1.0)
    with pytest.raises(ValueError, match="pose name 'Star!'"):
        record_examples(iter([]), "Star!", 1.0)


def _good() -> dict:
    lib = PoseLibrary()
    lib.add(pose_of("star", star(), n=2))
    return lib.to_json()


def _edit(fn) -> dict:
    data = _good()
    fn(data)
    return data


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "expected a JSON object"),
        (_edit(lambda d: d.update(format="other")), "format: expected 'perform-poses'"),
        (_edit(lambda d: d.update(version=7)), "version: expected 1, got 7"),
        (_edit(lambda d: d.update(joints=["nose"])), "joints: expected the 13 joint names"),
        (_edit(lambda d: d.update(extra=1)), "unknown key 'extra'"),
        (_edit(lambda d: d["poses"].update({"Bad Name": d["poses"]["star"]})), "pose names are lower case"),
        (
            _edit(lambda d: d["poses"]["star"].update(examples=[])),
            "poses.star.examples: expected a non-empty",
        ),
        (_edit(lambda d: d["poses"]["star"]["examples"][1].pop()), "examples[1]: expected 13 joints, got 12"),
        (_edit(lambda d: d["poses"]["star"]["examples"][0].__setitem__(5, [1, "x"])), "[5] (left_wrist)"),
        (
            _edit(lambda d: d["poses"]["star"]["examples"][0].__setitem__(5, [1, float("nan")])),
            "got [1, nan]",
        ),
        (_edit(lambda d: d["poses"]["star"].update(threshold=-1)), "threshold: expected null or"),
        (_edit(lambda d: d["poses"]["star"]["examples"].__setitem__(0, [None] * 13)), "at least 9 visible"),
    ],
)
def test_bad_library_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "poses.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(ConfigError) as info:
        PoseLibrary.load(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_missing_library_says_how_to_make_one(tmp_path):
    with pytest.raises(ConfigError, match="perform teach"):
        PoseLibrary.load(tmp_path / "none.json")


def test_teach_command_records_from_a_virtual_source(tmp_path):
    parser = argparse.ArgumentParser()
    add_teach_parser(parser.add_subparsers())
    library = tmp_path / "lib" / "poses.json"
    args = parser.parse_args(
        ["teach", "walking", "--source", "virtual:1", "--seconds", "0.4", "--library", str(library)]
    )
    console = Console(file=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    assert cmd_teach(args, console) == 0
    lib = PoseLibrary.load(library)
    assert list(lib.poses) == ["walking"] and len(lib.poses["walking"].examples) >= 3
    assert lib.poses["walking"].source == "virtual:1"
    with pytest.raises(ConfigError, match="--seconds"):
        cmd_teach(parser.parse_args(["teach", "x", "--source", "virtual", "--seconds", "0"]), console)
    with pytest.raises(ConfigError, match="pose name"):
        cmd_teach(
            parser.parse_args(["teach", "X!", "--source", "virtual", "--library", str(library)]), console
        )
