import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perform.events.builtin import BUILTIN_RULES, Builtins
from perform.events.types import Event
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.types import LM, Detection, PersonEvent, Poses
from perform.vision.virtual import VirtualTroupe, skeleton

W, H, FPS = 1280, 720, 30.0


class Puppet(VirtualTroupe):
    """One performer whose stage joints (metres: x right, y up, z away) a function gives at time t."""

    def __init__(self, joints_at) -> None:
        super().__init__(people=1, seed=0)
        self.joints_at = joints_at

    def world_joints(self, t: float) -> list[tuple[int, np.ndarray]]:
        joints = self.joints_at(t)
        return [] if joints is None else [(1, joints)]


def facing_camera(joints: np.ndarray, x: float = 0.0, depth: float = 1.0, yaw: float = 0.0) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    j = joints @ np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]).T
    j[:, 2] *= -1.0
    return j + (x, 0.0, depth)


def standing() -> np.ndarray:
    return skeleton(1.75, "idle", 0.0, 0.0)[0]


def t_pose() -> np.ndarray:
    j = standing()
    for name, s in (("left", 1.0), ("right", -1.0)):
        sh = j[LM[f"{name}_shoulder"]].copy()
        j[LM[f"{name}_elbow"]] = sh + (s * 0.3, 0, 0)
        j[LM[f"{name}_wrist"]] = sh + (s * 0.57, 0, 0)
        for f in ("index", "pinky", "thumb"):
            j[LM[f"{name}_{f}"]] = sh + (s * 0.64, 0, 0)
    return j


def hands_apart(d: float) -> np.ndarray:
    """Hands in front of the chest, ``d`` metres apart."""
    j = standing()
    for name, s in (("left", 1.0), ("right", -1.0)):
        sh = j[LM[f"{name}_shoulder"]]
        wrist = np.array([s * d / 2, sh[1] - 0.25, 0.3])
        j[LM[f"{name}_elbow"]] = (sh + wrist) / 2 + (s * 0.1, -0.1, 0)
        j[LM[f"{name}_wrist"]] = wrist
        for f in ("index", "pinky", "thumb"):
            j[LM[f"{name}_{f}"]] = wrist + (0, 0.02, 0.06)
    return j


def play(
    troupe: VirtualTroupe, seconds: float, builtins: Builtins | None = None
) -> tuple[list[Event], list[Poses]]:
    perception = Perception(PoseConfig(max_people=len(troupe.performers)))
    builtins = builtins or Builtins()
    events, frames = [], []
    for i in range(int(seconds * FPS)):
        t = i / FPS
        poses = perception([d for _, d in troupe.detections(t, W, H)], i, t, W, H)
        events += builtins.update(poses)
        frames.append(poses)
    return events, frames


def times(events, name, active=True):
    return [e.t for e in events if e.name == name and e.active == active]


@pytest.fixture(scope="module")
def scripted():
    """One virtual performer (seed 2) raises arms, jumps, spins and crouches; its script says when."""
    troupe = VirtualTroupe(1, seed=2)
    events, frames = play(troupe, troupe.period_s)
    return troupe.performers[0].segments, events, frames


def _during(t: float, segments, action: str, before: float = 0.0, after: float = 0.0) -> bool:
    return any(s.t0 - before <= t <= s.t1 + after for s in segments if s.action == action)


def test_virtual_jumps_fire_once_each_at_take_off(scripted):
    segments, events, _ = scripted
    jumps = [s for s in segments if s.action == "jump"]
    fired = times(events, "jump")
    assert len(fired) == len(jumps) == 2
    for seg, t in zip(jumps, fired, strict=True):
        assert seg.t0 + 0.4 <= t <= seg.t0 + 0.9  # the flight phase of the script


def test_virtual_spins_fire_one_full_turn_each(scripted):
    segments, events, _ = scripted
    spins = [s for s in segments if s.action == "spin"]
    fired = times(events, "spin")
    assert len(fired) == len(spins) == 3
    for seg, t in zip(spins, fired, strict=True):
        assert seg.t0 + 0.85 * (seg.t1 - seg.t0) <= t <= seg.t1 + 0.1


def test_virtual_raised_arms_and_crouches_start_and_end(scripted):
    segments, events, _ = scripted
    for name, action in (("hands_up", "raise_arms"), ("crouch", "crouch")):
        segs = [s for s in segments if s.action == action]
        starts, ends = times(events, name), times(events, name, active=False)
        assert len(starts) == len(ends) == len(segs), name
        for seg, a, b in zip(segs, starts, ends, strict=True):
            assert seg.t0 < a < b < seg.t1 + 0.3, (name, seg, a, b)
            assert b - a > 0.8 * (seg.t1 - seg.t0) - 1.2


def test_virtual_performance_has_no_false_alarms(scripted):
    _, events, _ = scripted
    assert times(events, "clap") == []
    assert times(events, "t_pose") == []  # arms out at 75 degrees while spinning is not a T-pose


def test_enter_leave_and_people_changed_follow_the_tracker(scripted):
    _, events, frames = scripted
    kinds = [e.kind for p in frames for e in p.events]
    assert [e.name for e in events if e.name in ("enter", "leave")] == kinds
    counts = [e.value for e in events if e.name == "people_changed"]
    assert counts and counts[0] == 1.0
    assert all(e.slot is None for e in events if e.name == "people_changed")
    changes = [len(p.bodies) for p in frames]
    expected = [float(n) for prev, n in zip([0, *changes], changes, strict=False) if n != prev]
    assert counts == expected


def test_people_changed_value_is_the_new_count():
    b = Builtins(["people_changed", "enter", "leave"])
    poses = Poses(0, 0.0, W, H, events=(PersonEvent("enter", 3, 0.0),))
    assert b.update(poses) == [Event("enter", 3, True, 0.0)]  # bodies empty: count unchanged at 0
    assert b.update(replace(poses, t_capture=1.0, events=())) == []


def test_t_pose_after_its_hold():
    events, frames = play(Puppet(lambda t: facing_camera(t_pose() if 1.0 <= t < 3.0 else standing())), 4.0)
    entered = next(p.t_capture for p in frames if p.bodies)
    starts, ends = times(events, "t_pose"), times(events, "t_pose", active=False)
    assert len(starts) == len(ends) == 1
    assert 1.0 + BUILTIN_RULES["t_pose"].hold_s - 0.05 <= starts[0] <= 1.8
    assert 3.0 <= ends[0] <= 3.3
    assert times(events, "hands_up") == [] and entered < 0.2


def _hands_moving(moves: list[tuple[float, float]], start: float = 0.05, move_s: float = 0.1):
    """Joints whose hands move to ``d`` metres apart at each ``(t, d)`` of ``moves``, in ``move_s``."""

    def joints(t: float) -> np.ndarray:
        d = start
        for t0, target in moves:
            if t >= t0:
                d += (target - d) * min(1.0, (t - t0) / move_s) if move_s > 0 else target - d
        return facing_camera(hands_apart(d))

    return joints


def test_clap_needs_hands_apart_first():
    # together from the start (no clap), apart at 1 s, together at 1.5 s (clap), 2.5 s apart,
    # together again at 4.0 s, after more than a second apart: still a clap (they were apart);
    # each move takes 0.1 s (hands that jump together between two frames are a flicker: see below)
    joints = _hands_moving([(1.0, 0.6), (1.5, 0.05), (2.5, 0.6), (4.0, 0.05)])

    events, _ = play(Puppet(joints), 5.0)
    claps = times(events, "clap")
    assert len(claps) == 2
    assert 1.5 <= claps[0] <= 1.7 and 4.0 <= claps[1] <= 4.2


def test_hands_drifting_together_slowly_is_no_clap():
    events, _ = play(Puppet(lambda t: facing_camera(hands_apart(max(0.04, 0.6 - 0.2 * t)))), 4.0)
    assert times(events, "clap") == []


def test_stillness_after_two_seconds_ends_on_moving():
    def joints(t: float) -> np.ndarray:
        x = 0.0 if t < 3.0 else 1.2 * (t - 3.0)
        return facing_camera(standing(), x=x)

    events, frames = play(Puppet(joints), 4.0)
    entered = next(p.t_capture for p in frames if p.bodies)
    starts, ends = times(events, "stillness"), times(events, "stillness", active=False)
    assert len(starts) == 1 and len(ends) == 1
    assert entered + 2.0 - 1e-6 <= starts[0] <= entered + 2.1
    assert 3.0 < ends[0] < 3.5


def test_a_jump_of_a_hand_built_skeleton_and_none_while_walking_away():
    def jump(t: float) -> np.ndarray:
        lift = 0.3 * max(0.0, math.sin(math.pi * (t - 1.0) / 0.5)) if 1.0 <= t < 1.5 else 0.0
        return facing_camera(standing()) + (0, lift, 0)

    events, _ = play(Puppet(jump), 2.0)
    assert len(times(events, "jump")) == 1 and 1.0 <= times(events, "jump")[0] <= 1.2

    # gliding away from the camera: the feet rise in the image, slowly
    away = Puppet(lambda t: facing_camera(standing(), depth=0.5 + 1.5 * t))
    events, _ = play(away, 3.0)
    assert times(events, "jump") == []


def test_spin_needs_world_landmarks_and_a_full_turn():
    half = Puppet(lambda t: facing_camera(standing(), yaw=math.pi * min(t, 1.0)))
    events, _ = play(half, 2.0)
    assert times(events, "spin") == []
    full = Puppet(lambda t: facing_camera(standing(), yaw=2 * math.pi * min(t / 2, 1.0)))
    events, frames = play(full, 2.5)
    assert len(times(events, "spin")) == 1
    b = Builtins(["spin"])
    no_world = [
        replace(p, bodies=tuple(replace(body, world=np.zeros_like(body.world)) for body in p.bodies))
        for p in frames
    ]
    assert [e for p in no_world for e in b.update(p)] == []


def test_disabled_builtins_fire_nothing(scripted):
    _, _, frames = scripted
    b = Builtins(["enter"])
    names = {e.name for p in frames for e in b.update(p)}
    assert names == {"enter"}
    with pytest.raises(ValueError, match="unknown built-in event 'wave'"):
        Builtins(["wave"])


def test_hands_that_flick_together_between_two_frames_are_no_clap():
    # a landmark flicker, not a movement: apart, then together on the very next frame
    events, _ = play(Puppet(_hands_moving([(1.0, 0.6), (1.5, 0.05)], move_s=0.0)), 2.5)
    assert times(events, "clap") == []


def test_the_body_floor_comes_from_the_events_config():
    from perform.events.config import EventsConfig
    from perform.events.stage import EventEngine

    floor = EventEngine(EventsConfig(min_body_height=0.3, min_confidence=0.8)).builtins.floor
    assert (floor.min_body_height, floor.min_confidence) == (0.3, 0.8)
    defaults = EventEngine().builtins.floor
    assert (defaults.min_body_height, defaults.min_confidence) == (0.1, 0.6)


def test_a_small_virtual_performer_fires_no_t_pose():
    # 0.53 image heights tall here: above the default floor, below a floor of 0.7
    troupe = Puppet(lambda t: facing_camera(t_pose() if 1.0 <= t < 3.0 else standing()))
    assert len(times(play(troupe, 3.5)[0], "t_pose")) == 1
    assert times(play(troupe, 3.5, Builtins(min_body_height=0.7))[0], "t_pose") == []


# -- real footage: pedestrians walking (tests/data/walking/README.md) --------------------------------

WALKING = Path(__file__).parent / "data" / "walking" / "vtest_poses.npz"
MOVES = ("jump", "clap", "spin", "t_pose", "hands_up", "crouch")


def replay_walking(builtins: Builtins, edit=None) -> list[Event]:
    """The recorded detections through Perception (as a show) and ``builtins``; ``edit(t, slot,
    landmarks)`` may change a detection's landmarks (``slot``: the one recorded for it)."""
    rec = np.load(WALKING)
    fps, w, h = float(rec["fps"]), int(rec["width"]), int(rec["height"])
    landmarks, world = rec["landmarks"].astype(np.float32), rec["world"].astype(np.float32)
    scores, slots = rec["score"].astype(np.float32), rec["slot"]
    starts = np.concatenate([[0], np.cumsum(rec["counts"].astype(int))])
    perception = Perception(PoseConfig(max_people=8))
    events = []
    for k in range(len(rec["counts"])):
        t = k / fps
        detections = []
        for i in range(starts[k], starts[k + 1]):
            lm = landmarks[i].copy()
            if edit is not None:
                edit(t, int(slots[i]), lm)
            detections.append(Detection(lm, world[i], float(scores[i])))
        events += builtins.update(perception(detections, k, t, w, h))
    return events


@pytest.mark.parametrize("floor", [{}, {"min_body_height": 0.0}], ids=["default floor", "no size floor"])
def test_real_pedestrians_walking_fire_no_movement_events(floor):
    # 28 s of 1 to 8 people, 30 to 130 pixels tall; before the body floor and the rules judged
    # against each body's size and landmarks' visibility this fired 31 (24 jumps, 6 claps)
    events = replay_walking(Builtins(**floor))
    assert [(e.name, e.slot, round(e.t, 1)) for e in events if e.name in MOVES] == []
    assert {e.name for e in events} >= {"enter", "leave", "people_changed"}


JUMPER, TAKE_OFF, FLIGHT_S = 4, 9.0, 0.6  # a man walking across, about 80 pixels tall then


def _jump_on(slot: int, t0: float, visibility: float | None = None):
    """Lifts ``slot``'s recorded landmarks by a jump: the whole body 0.3 body heights up at
    ``t0 + FLIGHT_S / 2`` and down again (a parabola), on top of their own jitter."""

    def edit(t: float, s: int, lm: np.ndarray) -> None:
        if s != slot:
            return
        if visibility is not None:
            lm[:, 3] = np.minimum(lm[:, 3], visibility)
        u = (t - t0) / FLIGHT_S
        if 0.0 <= u <= 1.0:
            height = np.linalg.norm(lm[[11, 12], :2].mean(0) - lm[[23, 24], :2].mean(0)) / 0.288
            lm[:, 1] -= 0.3 * height * 4 * u * (1 - u)

    return edit


def test_a_jump_on_top_of_a_real_walkers_jitter_fires_once_at_take_off():
    events = replay_walking(Builtins(), _jump_on(JUMPER, TAKE_OFF))
    jumps = times(events, "jump")
    assert len(jumps) == 1 and TAKE_OFF < jumps[0] <= TAKE_OFF + 0.3
    assert [e.name for e in events if e.name in MOVES] == ["jump"]


def test_the_body_floor_keeps_a_small_or_unclear_jumper_out():
    assert times(replay_walking(Builtins(min_body_height=0.3), _jump_on(JUMPER, TAKE_OFF)), "jump") == []
    # the same person with every landmark at visibility 0.5: below the default 0.6, above 0.4
    unclear = _jump_on(JUMPER, TAKE_OFF, visibility=0.5)
    assert times(replay_walking(Builtins(), unclear), "jump") == []
    assert len(times(replay_walking(Builtins(min_confidence=0.4), unclear), "jump")) == 1
