"""Movement features on hand-built skeletons whose answers are known."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from perform.events.config import feature_scope
from perform.pipeline.features import feature_info, normalise
from perform.vision.features import (
    FEATURES,
    GRID_COLUMNS,
    GRID_ROWS,
    OCCUPANCY,
    PERSON,
    PERSON_FEATURES,
    STAGE,
    FeatureExtractor,
    features_markdown,
)
from perform.vision.types import LM, NUM_LANDMARKS, Body

ASPECT = 16 / 9
SCALE = 0.6  # a performer's standing height, in image heights
STATURE_M = 1.7
FPS = 30.0

# Points in stature units: x to the performer's left (the image's right, as they face the camera),
# h up from the floor, z away from the camera. Heights follow Winter's segment table, so the
# extractor's height estimate is exactly 1 stature.
_HEAD = {
    "nose": (0.0, 0.91, -0.06),
    "left_eye_inner": (0.015, 0.935, -0.05),
    "left_eye": (0.03, 0.935, -0.05),
    "left_eye_outer": (0.045, 0.935, -0.045),
    "right_eye_inner": (-0.015, 0.935, -0.05),
    "right_eye": (-0.03, 0.935, -0.05),
    "right_eye_outer": (-0.045, 0.935, -0.045),
    "left_ear": (0.07, 0.92, 0.0),
    "right_ear": (-0.07, 0.92, 0.0),
    "mouth_left": (0.025, 0.885, -0.05),
    "mouth_right": (-0.025, 0.885, -0.05),
}
ARM = {"down": (0.0, -1.0), "out": (1.0, 0.0), "up": (0.0, 1.0)}


def skeleton(
    left: str | tuple[float, float] = "down",
    right: str | tuple[float, float] = "down",
    left_forearm: tuple[float, float] | None = None,
    crouch: float = 0.0,
) -> np.ndarray:
    """(33, 3) points in stature units. Arms are named poses or (outward, up) directions of the
    whole arm; ``left_forearm`` bends the left elbow; ``crouch`` 0..1 bends the knees forward."""
    p = np.zeros((NUM_LANDMARKS, 3))
    for name, xyz in _HEAD.items():
        p[LM[name]] = xyz
    # Knees bend forward (towards the camera) by angle theta; the hips drop so the feet stay down.
    theta = crouch * math.radians(60)
    drop = 0.491 - (0.245 + 0.246) * math.cos(theta)
    for side, s in (("left", 1.0), ("right", -1.0)):
        ankle = np.array([0.095 * s, 0.039, 0.0])
        knee = ankle + [0.0, 0.246 * math.cos(theta), -0.246 * math.sin(theta)]
        hip = knee + [0.0, 0.245 * math.cos(theta), 0.245 * math.sin(theta)]
        p[LM[f"{side}_ankle"]] = ankle
        p[LM[f"{side}_knee"]] = knee
        p[LM[f"{side}_hip"]] = hip
        p[LM[f"{side}_heel"]] = [0.095 * s, 0.0, 0.03]
        p[LM[f"{side}_foot_index"]] = [0.11 * s, 0.0, -0.1]
        shoulder = np.array([0.129 * s, 0.818 - drop, 0.0])
        p[LM[f"{side}_shoulder"]] = shoulder
        arm = left if side == "left" else right
        out, up = ARM[arm] if isinstance(arm, str) else arm
        d1 = np.array([out * s, up, 0.0]) / math.hypot(out, up)
        d2 = d1
        if side == "left" and left_forearm is not None:
            d2 = np.array([left_forearm[0] * s, left_forearm[1], 0.0]) / math.hypot(*left_forearm)
        elbow = shoulder + 0.186 * d1
        wrist = elbow + 0.146 * d2
        p[LM[f"{side}_elbow"]] = elbow
        p[LM[f"{side}_wrist"]] = wrist
        p[LM[f"{side}_index"]] = wrist + 0.08 * d2
        p[LM[f"{side}_pinky"]] = wrist + 0.07 * d2 + [0.0, 0.0, 0.01]
        p[LM[f"{side}_thumb"]] = wrist + 0.05 * d2 + [0.0, 0.0, -0.02]
    for name in _HEAD:
        p[LM[name], 1] -= drop
    return p


def body(
    points: np.ndarray,
    slot: int = 1,
    x: float = 0.5,
    floor: float = 0.9,
    scale: float = SCALE,
    visibility: float | np.ndarray = 1.0,
    world: bool = True,
) -> Body:
    """The skeleton standing at image x ``x`` on the floor line ``floor``, ``scale`` image heights tall."""
    lm = np.zeros((NUM_LANDMARKS, 4), np.float32)
    lm[:, 0] = x + points[:, 0] * scale / ASPECT
    lm[:, 1] = floor - points[:, 1] * scale
    lm[:, 2] = points[:, 2] * scale
    lm[:, 3] = visibility
    w = np.zeros((NUM_LANDMARKS, 3), np.float32)
    if world:
        hips = (points[LM["left_hip"]] + points[LM["right_hip"]]) / 2
        w[:, 0] = (points[:, 0] - hips[0]) * STATURE_M
        w[:, 1] = -(points[:, 1] - hips[1]) * STATURE_M
        w[:, 2] = (points[:, 2] - hips[2]) * STATURE_M
    return Body(slot, lm, w)


def still(fx: FeatureExtractor, bodies: list[Body], frames: int = 10, t0: float = 0.0) -> dict[str, float]:
    out: dict[str, float] = {}
    for i in range(frames):
        out = fx.update(bodies, t0 + i / FPS)
    return out


def check_all(out: dict[str, float]) -> None:
    """Every name is documented, every value finite, and normalise maps it into 0..1."""
    for name, value in out.items():
        feature_info(name)
        assert math.isfinite(value), (name, value)
        assert 0.0 <= normalise(name, value) <= 1.0


# --- the registry ----------------------------------------------------------------------------


def test_registry_entries_are_well_formed():
    for name, info in FEATURES.items():
        assert info.lo < info.hi, name
        assert info.scope in ("person", "stage"), name
        assert info.description and info.unit, name
        assert (info.scope == PERSON) == (name in PERSON_FEATURES)
    assert feature_info("p12.energy") is FEATURES["energy"]
    assert feature_info("stage.spread") is FEATURES["stage.spread"]
    for bad in ("energy", "p1.nonsense", "p1.stage.energy", "stage.nope", "px.energy"):
        with pytest.raises(KeyError):
            feature_info(bad)


def test_normalise_maps_the_range_and_clamps():
    assert normalise("p1.left_elbow_angle", 90.0) == pytest.approx(0.5)
    assert normalise("p1.com_vx", 0.0) == pytest.approx(0.5)
    assert normalise("p1.hands_up", 99.0) == 1.0
    assert normalise("stage.energy_total", -1.0) == 0.0
    assert normalise("people", 3.0) == pytest.approx(0.5)
    assert normalise("p1.energy", math.nan) == 0.0
    assert normalise("p1.energy", math.inf) == 1.0
    assert normalise("p1.energy", -math.inf) == 0.0


def test_committed_markdown_table_is_the_generated_one():
    committed = (Path(__file__).parent.parent / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == features_markdown()
    for name in PERSON_FEATURES:
        assert f"`p<slot>.{name}`" in committed


def test_constructor_rejects_nonsense():
    for kwargs in ({"window_s": 0}, {"smoothing": -1}, {"aspect": 0}, {"window_s": math.nan}):
        with pytest.raises(ValueError, match="expected"):
            FeatureExtractor(**kwargs)


# --- one performer ----------------------------------------------------------------------------


def test_names_and_people_count():
    fx = FeatureExtractor()
    out = fx.update([body(skeleton(), 1, x=0.3), body(skeleton(), 3, x=0.7)], 0.0)
    assert out["people"] == 2
    assert {k for k in out if k.startswith("p1.")} == {f"p1.{n}" for n in PERSON_FEATURES}
    assert {k for k in out if k.startswith("p3.")} == {f"p3.{n}" for n in PERSON_FEATURES}
    stage = {k for k, f in FEATURES.items() if f.scope == "stage"}
    assert stage <= set(out)
    assert len(out) == 2 * len(PERSON_FEATURES) + len(stage)
    check_all(out)
    empty = fx.update([], 0.1)
    assert empty["people"] == 0 and not any(k.startswith("p") and "." in k for k in empty)
    check_all(empty)


def test_first_frame_has_no_motion():
    out = FeatureExtractor().update([body(skeleton())], 5.0)
    for name in ("energy", "hips_speed", "hands_speed", "jerk", "com_vx", "com_vy", "energy_level"):
        assert out[f"p1.{name}"] == 0.0
    assert out["p1.height"] == pytest.approx(SCALE)


@pytest.mark.parametrize("world", [True, False])
def test_translation_at_known_speed(world):
    fx = FeatureExtractor()
    speed = 0.5  # body heights/s, to the right
    out = {}
    for i in range(20):
        t = i / FPS
        out = fx.update([body(skeleton(), x=0.3 + speed * SCALE * t / ASPECT, world=world)], t)
    for name in ("hips_speed", "head_speed", "left_hand_speed", "hands_speed", "feet_speed", "energy"):
        assert out[f"p1.{name}"] == pytest.approx(speed, rel=1e-3), name
    assert out["p1.com_vx"] == pytest.approx(speed, rel=1e-3)
    assert out["p1.com_vy"] == pytest.approx(0.0, abs=1e-6)
    assert out["p1.jerk"] == pytest.approx(0.0, abs=1e-3)
    assert 0.0 < out["p1.energy_level"] <= 0.5
    check_all(out)


def test_speed_does_not_depend_on_distance_to_camera():
    results = []
    for scale in (0.3, 0.8):
        fx = FeatureExtractor()
        for i in range(10):
            t = i / FPS
            out = fx.update([body(skeleton(), x=0.3 + 0.4 * scale * t / ASPECT, scale=scale)], t)
        results.append(out["p1.hips_speed"])
    assert results[0] == pytest.approx(0.4, rel=1e-3)
    assert results[1] == pytest.approx(0.4, rel=1e-3)


def test_standing_still_reads_zero_motion():
    out = still(FeatureExtractor(), [body(skeleton())], frames=30)
    for name in ("energy", "energy_level", "hips_speed", "hands_speed", "jerk", "jerkiness"):
        assert out[f"p1.{name}"] == pytest.approx(0.0, abs=1e-9), name


def test_waving_hand_moves_hand_not_hips_and_is_jerkier_when_abrupt():
    def wave(square: bool) -> dict[str, float]:
        fx = FeatureExtractor()
        out = {}
        for i in range(60):
            t = i / FPS
            phase = math.sin(2 * math.pi * 1.5 * t)
            if square:
                phase = 1.0 if phase >= 0 else -1.0
            out = fx.update([body(skeleton(left=(1.0, 0.6 * phase)))], t)
            check_all(out)
        return out

    smooth, abrupt = wave(False), wave(True)
    assert smooth["p1.left_hand_speed"] > 0.3
    assert smooth["p1.right_hand_speed"] == pytest.approx(0.0, abs=1e-9)
    assert smooth["p1.hips_speed"] == pytest.approx(0.0, abs=1e-9)
    assert smooth["p1.energy"] > 0.0
    assert abrupt["p1.jerkiness"] > smooth["p1.jerkiness"]


# --- shape --------------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [True, False])
def test_t_pose_is_straight_armed_and_expanded(world):
    fx = FeatureExtractor()
    t_pose = fx.update([body(skeleton("out", "out"), world=world)], 0.0)
    fx.reset()
    down = fx.update([body(skeleton(), world=world)], 0.0)
    for side in ("left", "right"):
        assert t_pose[f"p1.{side}_elbow_angle"] == pytest.approx(180.0, abs=0.5)
        assert t_pose[f"p1.{side}_shoulder_angle"] == pytest.approx(90.0, abs=0.5)
        assert down[f"p1.{side}_shoulder_angle"] == pytest.approx(0.0, abs=0.5)
        assert down[f"p1.{side}_knee_angle"] == pytest.approx(180.0, abs=0.5)
    assert 0.15 < down["p1.expansion"] < 0.35
    assert t_pose["p1.expansion"] > 2 * down["p1.expansion"]
    assert t_pose["p1.symmetry"] > 0.99 and down["p1.symmetry"] > 0.99


def test_bent_elbow_and_crouch_angles():
    out = FeatureExtractor().update([body(skeleton(left="out", left_forearm=(0.0, 1.0), crouch=1.0))], 0.0)
    assert out["p1.left_elbow_angle"] == pytest.approx(90.0, abs=0.5)
    assert out["p1.right_elbow_angle"] == pytest.approx(180.0, abs=0.5)
    assert out["p1.left_knee_angle"] == pytest.approx(180 - 120.0, abs=0.5)
    assert out["p1.left_hip_angle"] < 150


@pytest.mark.parametrize("world", [True, False])
def test_hand_heights(world):
    fx = FeatureExtractor()
    up = fx.update([body(skeleton("up", "down"), world=world)], 0.0)
    assert up["p1.left_hand_height"] > 1.0
    assert up["p1.right_hand_height"] < 0.0
    assert up["p1.hands_up"] == up["p1.left_hand_height"]
    assert up["stage.hands_up_max"] == up["p1.hands_up"]
    level = fx.update([body(skeleton("out", "out"), world=world)], 1.0)
    # Shoulder height: (0.818 - 0.53) / (0.91 + 0.09 - 0.53) of the way from hips to head top.
    assert level["p1.left_hand_height"] == pytest.approx(0.288 / 0.47, abs=0.01)


def test_crouch_keeps_hands_relative_to_the_body():
    stand = FeatureExtractor().update([body(skeleton("out", "out"))], 0.0)
    crouch = FeatureExtractor().update([body(skeleton("out", "out", crouch=1.0))], 0.0)
    assert crouch["p1.hands_up"] == pytest.approx(stand["p1.hands_up"], abs=0.02)
    assert crouch["p1.com_y"] > stand["p1.com_y"] + 0.05


@pytest.mark.parametrize("world", [True, False])
def test_symmetry(world):
    fx = FeatureExtractor()
    mirrored = fx.update([body(skeleton("up", "up"), world=world)], 0.0)
    one_up = fx.update([body(skeleton("up", "down"), world=world)], 1.0)
    diagonal = fx.update([body(skeleton((1.0, 1.0), (1.0, -1.0)), world=world)], 2.0)
    assert mirrored["p1.symmetry"] > 0.9
    assert one_up["p1.symmetry"] < 0.7
    assert diagonal["p1.symmetry"] < 0.8


def test_centre_of_mass_of_a_standing_body():
    out = FeatureExtractor().update([body(skeleton(), x=0.4)], 0.0)
    assert out["p1.com_x"] == pytest.approx(0.4, abs=1e-6)
    # Standing, the centre of mass is a little above the hips (0.53 of height).
    h = (0.9 - out["p1.com_y"]) / SCALE
    assert 0.53 < h < 0.62
    one_side = FeatureExtractor().update([body(skeleton("out", "down"), x=0.4)], 0.0)
    assert one_side["p1.com_x"] > 0.4


# --- gaps, bad time -------------------------------------------------------------------------------


def test_low_visibility_landmarks_are_ignored_and_values_held():
    fx = FeatureExtractor()
    before = still(fx, [body(skeleton("out", "out"))], frames=3)
    vis = np.ones(NUM_LANDMARKS)
    for name in ("left_wrist", "left_elbow", "left_index", "left_pinky", "left_thumb"):
        vis[LM[name]] = 0.1
    pts = skeleton("up", "out")  # the left arm moves while unseen
    out = fx.update([body(pts, visibility=vis)], 3 / FPS)
    check_all(out)
    assert out["p1.left_elbow_angle"] == before["p1.left_elbow_angle"]
    assert out["p1.left_hand_height"] == before["p1.left_hand_height"]
    assert out["p1.left_hand_speed"] == 0.0
    assert out["p1.energy"] == pytest.approx(0.0, abs=1e-9)
    nothing = fx.update([body(pts, visibility=0.0)], 4 / FPS)
    check_all(nothing)
    assert nothing["p1.energy"] == 0.0


def test_nan_landmarks_and_missing_world_give_finite_features():
    pts = skeleton()
    b = body(pts)
    lm = b.landmarks.copy()
    lm[LM["left_wrist"], :3] = np.nan
    lm[LM["right_knee"], 0] = np.inf
    world = np.full((NUM_LANDMARKS, 3), np.nan, np.float32)
    fx = FeatureExtractor()
    for i in range(5):
        out = fx.update([Body(1, lm, world)], i / FPS)
        check_all(out)
    zeros = Body(2, np.zeros((NUM_LANDMARKS, 4), np.float32), np.zeros((NUM_LANDMARKS, 3), np.float32))
    for i in range(5):
        check_all(fx.update([zeros], 1 + i / FPS))


@pytest.mark.parametrize("dt", [0.0, -0.5, 1e-9, math.nan, math.inf])
def test_repeated_or_backward_time_never_divides_by_zero(dt):
    fx = FeatureExtractor()
    out = {}
    for i in range(5):
        out = fx.update([body(skeleton(), x=0.3 + 0.01 * i)], i / FPS)
    moving = out["p1.hips_speed"]
    assert moving > 0
    with np.errstate(all="raise"):
        again = fx.update([body(skeleton(), x=0.5)], 4 / FPS + dt)
    check_all(again)
    assert again["p1.hips_speed"] == moving  # no derivative this frame: the last value stands
    # Time moves on from there (a looped replay starts again): measuring resumes.
    base = 4 / FPS + dt if math.isfinite(dt) else 10.0
    for i in range(1, 4):
        out = fx.update([body(skeleton(), x=0.5 + 0.01 * i)], base + i / FPS)
        check_all(out)
    assert out["p1.hips_speed"] > 0


def test_first_frame_with_zero_dt_reads_zero():
    fx = FeatureExtractor()
    fx.update([body(skeleton())], 1.0)
    out = fx.update([body(skeleton(), x=0.6)], 1.0)
    assert out["p1.hips_speed"] == 0.0
    check_all(out)


def test_state_is_dropped_with_the_slot_and_bounded():
    fx = FeatureExtractor()
    for i in range(400):
        fx.update([body(skeleton(), slot=1 + (i // 100), x=0.3 + 0.001 * i)], i / FPS)
    assert set(fx._tracks) == {4}
    assert fx._tracks[4].ring.shape[0] <= 128
    out = fx.update([body(skeleton(), slot=4, x=0.5)], 400 / FPS)
    assert "p1.energy" not in out
    back = fx.update([body(skeleton(), slot=1, x=0.9)], 401 / FPS)
    assert back["p1.hips_speed"] == 0.0  # a returning slot starts afresh
    fx.reset()
    assert not fx._tracks


# --- several performers -------------------------------------------------------------------------


def dance(phase_shift: float, seconds: float = 1.5, still_second: bool = False) -> dict[str, float]:
    fx = FeatureExtractor(window_s=0.5)
    out = {}
    for i in range(int(seconds * FPS)):
        t = i / FPS
        a = math.sin(2 * math.pi * 1.2 * t)
        b = 0.0 if still_second else math.sin(2 * math.pi * 1.2 * t + phase_shift)
        first = skeleton((1.0, a), (1.0, -a), left_forearm=(1.0, a + 0.5))
        second = skeleton((1.0, b), (1.0, -b), left_forearm=(1.0, b + 0.5))
        out = fx.update([body(first, 1, x=0.3), body(second, 2, x=0.7)], t)
        check_all(out)
    return out


def test_synchrony_of_dancers():
    in_sync = dance(0.0)
    opposite = dance(math.pi)
    quarter = dance(math.pi / 2)
    alone_moving = dance(0.0, still_second=True)
    assert in_sync["stage.synchrony"] > 0.8
    assert in_sync["p1.synchrony"] == in_sync["p2.synchrony"] == in_sync["stage.synchrony"]
    assert opposite["stage.synchrony"] < 0.5
    assert quarter["stage.synchrony"] < 0.5
    assert alone_moving["stage.synchrony"] < 0.5


def test_still_dancers_are_not_in_sync():
    fx = FeatureExtractor()
    out = still(fx, [body(skeleton(), 1, x=0.3), body(skeleton(), 2, x=0.7)], frames=30)
    assert out["stage.synchrony"] == 0.0


def test_stage_distances_centroid_and_totals():
    fx = FeatureExtractor()
    xs = (0.2, 0.5, 0.9)
    bodies = [body(skeleton("up" if i == 2 else "down"), i + 1, x=x) for i, x in enumerate(xs)]
    out = {}
    for i in range(10):
        t = i / FPS
        moved = [body(skeleton(), 1, x=0.2 + 0.1 * t)] + bodies[1:]
        out = fx.update(moved, t)
    check_all(out)
    assert out["people"] == 3
    x1 = 0.2 + 0.1 * 9 / FPS
    assert out["stage.distance_min"] == pytest.approx(0.5 - x1, abs=1e-4)
    assert out["stage.distance_mean"] == pytest.approx(((0.5 - x1) + (0.9 - x1) + 0.4) / 3, abs=1e-4)
    assert out["stage.centroid_x"] == pytest.approx(np.mean([out[f"p{i}.com_x"] for i in (1, 2, 3)]))
    assert out["stage.spread"] > 0.2
    assert out["stage.energy_total"] == pytest.approx(out["p1.energy"], abs=1e-9)
    assert out["stage.energy_total"] > 0
    assert out["stage.energy_mean"] == pytest.approx(out["p1.energy"] / 3)
    assert out["stage.hands_up_max"] == out["p3.hands_up"] > 1.0
    one = fx.update([bodies[0]], 1.0)
    assert one["stage.distance_min"] == one["stage.distance_mean"] == one["stage.synchrony"] == 0.0
    assert one["stage.spread"] == 0.0
    none = fx.update([], 1.1)
    assert none["stage.centroid_x"] == 0.5 and none["stage.energy_total"] == 0.0


def test_six_people_for_a_while_stay_finite():
    fx = FeatureExtractor()
    rng = np.random.default_rng(1)
    base = [skeleton("out", "down"), skeleton("up", "up"), skeleton(crouch=0.5)] * 2
    for i in range(120):
        bodies = []
        for k, pts in enumerate(base):
            noisy = pts + rng.normal(0, 0.003, pts.shape)
            vis = rng.uniform(0.2, 1.0, NUM_LANDMARKS)
            bodies.append(body(noisy, k + 1, x=0.1 + 0.15 * k, visibility=vis, world=k % 2 == 0))
        out = fx.update(bodies, i / 60.0)
        check_all(out)
    assert out["people"] == 6


def test_a_dancer_who_joins_later_syncs_over_the_frames_both_have():
    fx = FeatureExtractor(window_s=0.5)
    out = {}
    for i in range(int(1.5 * FPS)):
        t = i / FPS
        a = math.sin(2 * math.pi * 1.2 * t)
        pts = skeleton((1.0, a), (1.0, -a))
        bodies = [body(pts, 1, x=0.3)] + ([body(pts, 2, x=0.7)] if t >= 1.0 else [])
        out = fx.update(bodies, t)
        if t < 1.0 + 3 / FPS:
            assert out["stage.synchrony"] == 0.0  # too few shared frames yet
    assert out["stage.synchrony"] > 0.8


# --- audience -----------------------------------------------------------------------------------

FEET = ("left_ankle", "right_ankle", "left_heel", "right_heel", "left_foot_index", "right_foot_index")


def person(slot: int, x: float, floor: float, age: float = 0.0, scale: float = 0.15, **kw) -> Body:
    """A small standing figure (audience seen from afar) with its feet at (x, floor), ``age`` s in."""
    return replace(body(skeleton(), slot, x=x, floor=floor, scale=scale, **kw), age_s=age)


def cells(out: dict[str, float]) -> dict[str, float]:
    return {name.removeprefix("stage.occupancy_"): out[name] for name in OCCUPANCY if out[name]}


def test_audience_features_are_registered():
    assert len(OCCUPANCY) == GRID_COLUMNS * GRID_ROWS == 12
    assert OCCUPANCY[0] == "stage.occupancy_c1_r1" and OCCUPANCY[-1] == "stage.occupancy_c4_r3"
    flow = ("stage.flow_x", "stage.flow_y", "stage.flow_speed", "stage.flow_direction")
    for name in (*OCCUPANCY, *flow, "stage.dwell_mean", "stage.dwell_max"):
        assert FEATURES[name].scope == STAGE, name
        assert feature_scope(name) == STAGE  # usable in rules
    assert "dwell" in PERSON_FEATURES and feature_scope("dwell") == PERSON
    assert feature_info("p3.dwell") is FEATURES["dwell"]
    assert normalise("stage.occupancy_c2_r3", 3.0) == pytest.approx(0.5)  # counts share people's range
    assert FEATURES["stage.occupancy_c2_r3"].hi == FEATURES["people"].hi
    assert normalise("stage.flow_x", 0.0) == pytest.approx(0.5)
    assert normalise("stage.flow_direction", 180.0) == pytest.approx(0.5)
    assert normalise("stage.dwell_max", 30.0) == pytest.approx(0.5)
    assert "## Audience" in features_markdown()


def test_people_in_known_places_fill_the_right_cells():
    fx = FeatureExtractor()
    crowd = [
        person(1, 0.10, 0.90),  # left, nearest the camera
        person(2, 0.60, 0.50),  # middle row, third column
        person(3, 0.70, 0.60),  # the same cell
        person(4, 0.90, 0.20),  # far right
        person(5, 1.20, 1.10),  # beyond the image's corner: the nearest cell
    ]
    out = fx.update(crowd, 0.0)
    check_all(out)
    assert cells(out) == {"c1_r3": 1, "c3_r2": 2, "c4_r1": 1, "c4_r3": 1}
    assert sum(out[n] for n in OCCUPANCY) == out["people"] == 5
    empty = fx.update([], 0.1)
    assert not cells(empty) and empty["people"] == 0


def test_the_floor_point_is_the_feet_else_the_hips():
    vis = np.ones(NUM_LANDMARKS)
    vis[[LM[n] for n in FEET]] = 0.1
    # Standing at y 0.9, 0.6 image heights tall: the hips are at about y 0.58, in the middle row.
    seen = FeatureExtractor().update([body(skeleton(), x=0.4)], 0.0)
    hidden = FeatureExtractor().update([body(skeleton(), x=0.4, visibility=vis)], 0.0)
    assert cells(seen) == {"c2_r3": 1}
    assert cells(hidden) == {"c2_r2": 1}


@pytest.mark.parametrize(
    ("vx", "vy", "direction"), [(0.2, 0.0, 0.0), (-0.2, 0.0, 180.0), (0.0, 0.1, 90.0), (0.0, -0.1, 270.0)]
)
def test_people_walking_give_the_flow(vx, vy, direction):
    fx = FeatureExtractor(window_s=0.5)
    starts = [(0.2, 0.4), (0.4, 0.6), (0.6, 0.8)]
    out = {}
    for i in range(int(3.0 * FPS)):  # six windows: the smoothing has settled
        t = i / FPS
        out = fx.update([person(k + 1, x + vx * t, y + vy * t, t) for k, (x, y) in enumerate(starts)], t)
        check_all(out)
    assert out["stage.flow_x"] == pytest.approx(vx, abs=0.005)
    assert out["stage.flow_y"] == pytest.approx(vy, abs=0.005)
    assert out["stage.flow_speed"] == pytest.approx(math.hypot(vx, vy / ASPECT), rel=0.02)
    assert out["stage.flow_direction"] == pytest.approx(direction, abs=0.5)
    # They stop: the flow fades, its direction stays the last one measured.
    t_stop = 3.0
    ends = [(x + vx * t_stop, y + vy * t_stop) for x, y in starts]
    for i in range(int(3.0 * FPS)):
        t = t_stop + i / FPS
        out = fx.update([person(k + 1, x, y, t) for k, (x, y) in enumerate(ends)], t)
    assert out["stage.flow_speed"] < 0.005
    assert out["stage.flow_direction"] == pytest.approx(direction, abs=0.5)


def test_flow_is_the_mean_velocity_and_opposite_walkers_cancel():
    fx = FeatureExtractor()
    out = {}
    for i in range(int(3.0 * FPS)):
        t = i / FPS
        out = fx.update([person(1, 0.2 + 0.2 * t, 0.8, t), person(2, 0.8 - 0.2 * t, 0.6, t)], t)
    assert out["stage.flow_x"] == pytest.approx(0.0, abs=1e-6)  # float32 landmarks
    assert out["stage.flow_speed"] == pytest.approx(0.0, abs=1e-6)
    fx.reset()
    for i in range(int(3.0 * FPS)):
        t = i / FPS
        out = fx.update([person(1, 0.2 + 0.3 * t, 0.8, t), person(2, 0.5, 0.6, t)], t)
    assert out["stage.flow_x"] == pytest.approx(0.15, abs=0.005)


def test_jittery_landmarks_do_not_make_flow():
    fx = FeatureExtractor()
    rng = np.random.default_rng(2)
    speeds = []
    for i in range(int(5.0 * FPS)):
        t = i / FPS
        crowd = []
        for k, x in enumerate((0.2, 0.5, 0.8)):
            b = person(k + 1, x, 0.8, t, scale=0.3)
            lm = b.landmarks.copy()
            lm[:, :2] += rng.normal(0.0, 0.003, (NUM_LANDMARKS, 2))  # about 6 pixels at 1080p
            crowd.append(replace(b, landmarks=lm))
        speeds.append(fx.update(crowd, t)["stage.flow_speed"])
    # Below the speed that gives the flow a direction; a slow walk across a wide view is 0.1..0.2.
    assert max(speeds) < 0.02


def test_someone_entering_or_leaving_makes_no_flow_spike():
    fx = FeatureExtractor()
    speeds, xs, centroid = [], [], []
    for i in range(int(4.0 * FPS)):
        t = i / FPS
        crowd = [person(1, 0.2 + 0.1 * t, 0.8, t)]  # walks right at 0.1 image widths/s
        if 1.0 <= t < 3.0:
            crowd.append(person(2, 0.9, 0.5, t - 1.0))  # stands still at the far right, then leaves
        out = fx.update(crowd, t)
        check_all(out)
        speeds.append(out["stage.flow_speed"])
        xs.append(out["stage.flow_x"])
        centroid.append(out["stage.centroid_x"])
    assert max(np.abs(np.diff(centroid))) > 0.2  # the crowd's centre jumps as they come and go...
    assert max(speeds) <= 0.1 + 1e-9  # ...its flow never exceeds the one walker's speed
    steps = np.abs(np.diff(xs))
    assert max(steps) < 0.06  # halved when they come, doubled back when they go: no jump beyond that
    assert xs[-1] == pytest.approx(0.1, abs=0.01)


@pytest.mark.parametrize("ages", [(20.0, 3.0), (0.0, 0.0)], ids=["age-changes", "no-ages-but-a-jump"])
def test_a_slot_handed_to_another_person_makes_no_flow(ages):
    fx = FeatureExtractor()
    # With ages the handover is seen from them even over a small step; without, from the jump.
    x_after = 0.25 if ages[0] else 0.75
    out = {}
    for i in range(int(2.0 * FPS)):
        t = i / FPS
        age = ages[0] + t if t < 1.0 else ages[1] + t - 1.0
        if not ages[0]:
            age = 0.0
        out = fx.update([person(1, 0.2 if t < 1.0 else x_after, 0.8, age)], t)
        assert out["stage.flow_speed"] == 0.0, t
    check_all(out)


def test_feet_going_out_of_sight_make_no_flow():
    fx = FeatureExtractor()
    vis = np.ones(NUM_LANDMARKS)
    vis[[LM[n] for n in FEET]] = 0.1
    for i in range(int(2.0 * FPS)):
        t = i / FPS
        # Standing still while the feet flicker in and out of view (the floor point is the hips then).
        out = fx.update([body(skeleton(), x=0.4, visibility=vis if i % 3 == 0 else 1.0)], t)
        assert out["stage.flow_y"] == 0.0 and out["stage.flow_speed"] == 0.0


def test_dwell_grows_with_time():
    fx = FeatureExtractor()
    last = {}
    for i in range(int(5.0 * FPS) + 1):
        t = i / FPS
        crowd = [person(1, 0.2, 0.8, t)] + ([person(2, 0.7, 0.8, t - 2.0)] if t >= 2.0 else [])
        out = fx.update(crowd, t)
        if last:
            assert out["p1.dwell"] > last["p1.dwell"]
            assert out["stage.dwell_max"] > last["stage.dwell_max"]
        last = out
    assert last["p1.dwell"] == pytest.approx(5.0)
    assert last["p2.dwell"] == pytest.approx(3.0)
    assert last["stage.dwell_max"] == pytest.approx(5.0)
    assert last["stage.dwell_mean"] == pytest.approx(4.0)
    empty = fx.update([], 5.1)
    assert empty["stage.dwell_mean"] == empty["stage.dwell_max"] == 0.0


def test_bad_ages_hold_the_last_dwell_and_keep_the_flow():
    fx = FeatureExtractor()
    out = {}
    for i, age in enumerate([0.0, 1 / FPS, 2 / FPS, math.nan, math.inf, -1.0, 6 / FPS]):
        t = i / FPS
        out = fx.update([person(1, 0.2 + 0.1 * t, 0.8, age)], t)
        check_all(out)
        if i >= 3 and i < 6:
            assert out["p1.dwell"] == pytest.approx(2 / FPS, abs=1e-4)  # to 0.1 ms
    assert out["p1.dwell"] == pytest.approx(6 / FPS, abs=1e-4)
    assert out["stage.flow_x"] > 0.0
