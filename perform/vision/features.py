"""Movement features per performer and for the whole stage, computed each frame from tracked bodies.

:data:`FEATURES` documents every body feature: what it measures, its unit, the range that
:func:`~perform.pipeline.features.normalise` maps onto 0..1 (for OSC to Ableton and shader
uniforms), and whether it is per person or for the stage; both it and :data:`FLOOR_FEATURES` are
in :data:`~perform.pipeline.features.REGISTRY` once this module is imported. Names in
:meth:`FeatureExtractor.update`'s result are ``p{slot}.{name}`` per person, ``stage.{name}`` for
the stage, and ``people``.

Lengths are in *body heights*: the person's standing height, estimated from their torso and leg
segment lengths, so a value does not depend on how far from the camera they stand. Image
positions are normalised 0..1 with y down (as the landmarks). Shape features (angles, symmetry,
expansion, hand heights) use the world landmarks when the backend gives them, else the image
landmarks with x corrected for the image's aspect ratio.

Audience features (for installations) describe everyone at once: where people stand on a coarse
grid over the image (``stage.occupancy_c{col}_r{row}``), the mean velocity of their floor
positions (``stage.flow_*``) and how long they have stayed (``stage.dwell_*``, ``p{slot}.dwell``).

Landmarks with visibility below 0.5 are left out. A feature that cannot be computed in a frame
(its landmarks are not visible) repeats its last value, or its neutral default; motion features
of an unseen body part read 0. The first frame of a performer, and a frame whose time does not
move forward, have no derivative: motion features read 0 on the first frame and repeat their last
value otherwise. No feature is ever NaN or infinite.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from perform.pipeline.features import PERSON, REGISTRY, STAGE, FeatureInfo, control_formula
from perform.vision.gestures import FACE_FEATURES, HAND_FEATURES  # registers them too
from perform.vision.types import LM, NUM_LANDMARKS, Body


def _p(description: str, unit: str, lo: float, hi: float, default: float = 0.0) -> FeatureInfo:
    return FeatureInfo(description, unit, lo, hi, PERSON, default)


def _s(description: str, unit: str, lo: float, hi: float, default: float = 0.0) -> FeatureInfo:
    return FeatureInfo(description, unit, lo, hi, STAGE, default)


_BH_S = "body heights/s"
_DEG = "degrees"
_MAX_PEOPLE = 6.0  # the top of the people count's range

#: The occupancy grid over the image: columns left to right, rows top to bottom, numbered from 1.
GRID_COLUMNS = 4
GRID_ROWS = 3
_CELLS = [(c, r) for r in range(1, GRID_ROWS + 1) for c in range(1, GRID_COLUMNS + 1)]
#: Occupancy feature names, row by row (``stage.occupancy_c1_r1``, ``stage.occupancy_c2_r1``...).
OCCUPANCY: tuple[str, ...] = tuple(f"stage.occupancy_c{c}_r{r}" for c, r in _CELLS)


def _cell(c: int, r: int) -> str:
    x0, x1, y0, y1 = (c - 1) / GRID_COLUMNS, c / GRID_COLUMNS, (r - 1) / GRID_ROWS, r / GRID_ROWS
    return (
        f"People whose floor point is in column {c} of {GRID_COLUMNS}, row {r} of {GRID_ROWS} "
        f"(x {x0:.2g}..{x1:.2g}, y {y0:.2g}..{y1:.2g})"
    )


#: Every feature. Per-person keys are bare (``energy``, sent as ``p1.energy``); stage keys are
#: as sent (``stage.energy``, ``people``). The order of the per-person keys is fixed.
FEATURES: dict[str, FeatureInfo] = {
    "height": _p("Standing height in the image (nearness to the camera)", "image heights", 0.0, 1.0, 0.5),
    "hips_speed": _p("Speed of the hip centre (travelling)", _BH_S, 0.0, 1.5),
    "head_speed": _p("Speed of the head (nose, eyes, ears)", _BH_S, 0.0, 1.5),
    "left_hand_speed": _p("Speed of the left hand (wrist and fingers)", _BH_S, 0.0, 3.0),
    "right_hand_speed": _p("Speed of the right hand (wrist and fingers)", _BH_S, 0.0, 3.0),
    "hands_speed": _p("Speed of the faster hand", _BH_S, 0.0, 3.0),
    "feet_speed": _p("Speed of the faster foot (ankle, heel, toes)", _BH_S, 0.0, 2.0),
    "energy": _p("Quantity of motion: visibility-weighted mean speed of the 13 main joints", _BH_S, 0.0, 1.5),
    "energy_level": _p("Energy smoothed over the window, 1 at 1 body height/s or more", "unitless", 0.0, 1.0),
    "jerk": _p(
        "Mean jerk (rate of change of acceleration) of the 13 main joints", "body heights/s³", 0.0, 100.0
    ),
    "jerkiness": _p("Jerk smoothed over the window, saturating: 0 smooth, 1 abrupt", "unitless", 0.0, 1.0),
    "com_x": _p("Centre of mass x (segment-mass model)", "image width", 0.0, 1.0, 0.5),
    "com_y": _p("Centre of mass y, down", "image height", 0.0, 1.0, 0.5),
    "com_vx": _p("Centre of mass velocity, x (right positive)", _BH_S, -1.5, 1.5),
    "com_vy": _p("Centre of mass velocity, y (down positive)", _BH_S, -1.5, 1.5),
    "expansion": _p("Bounding box area / height²: ~0.25 standing, ~1 T-pose", "height²", 0.0, 1.2, 0.25),
    "symmetry": _p("Left/right mirror symmetry about the spine, 1 = mirror image", "unitless", 0.0, 1.0, 1.0),
    "left_hand_height": _p("Left wrist height: 0 at hips, 1 at head top", "hip to head top", -0.5, 1.5),
    "right_hand_height": _p("Right wrist height: 0 at hips, 1 at head top", "hip to head top", -0.5, 1.5),
    "hands_up": _p("Height of the higher hand: 0 at hips, 1 at head top", "hip to head top", -0.5, 1.5),
    "left_elbow_angle": _p("Left elbow, 180 = straight arm", _DEG, 0.0, 180.0, 180.0),
    "right_elbow_angle": _p("Right elbow, 180 = straight arm", _DEG, 0.0, 180.0, 180.0),
    "left_knee_angle": _p("Left knee, 180 = straight leg", _DEG, 0.0, 180.0, 180.0),
    "right_knee_angle": _p("Right knee, 180 = straight leg", _DEG, 0.0, 180.0, 180.0),
    "left_shoulder_angle": _p("Left arm from the torso: 0 down, 90 out, 180 up", _DEG, 0.0, 180.0),
    "right_shoulder_angle": _p("Right arm from the torso: 0 down, 90 out, 180 up", _DEG, 0.0, 180.0),
    "left_hip_angle": _p("Left hip (torso to thigh), 180 = standing straight", _DEG, 0.0, 180.0, 180.0),
    "right_hip_angle": _p("Right hip (torso to thigh), 180 = standing straight", _DEG, 0.0, 180.0, 180.0),
    "synchrony": _p("Mean synchrony with the other performers (0 when alone)", "unitless", 0.0, 1.0),
    "dwell": _p("Time since this person entered (the tracker's age of the track)", "s", 0.0, 60.0),
    "people": _s("Number of performers on stage", "count", 0.0, _MAX_PEOPLE),
    "stage.energy": _s("Mean energy level of everyone on stage", "unitless", 0.0, 1.0),
    "stage.energy_total": _s("Sum of everyone's energy", _BH_S, 0.0, 6.0),
    "stage.energy_mean": _s("Mean of everyone's energy", _BH_S, 0.0, 1.5),
    "stage.hands_up_max": _s("Highest hand on stage: 0 at hips, 1 at head top", "hip to head top", -0.5, 1.5),
    "stage.centroid_x": _s(
        "Mean centre of mass x of everyone (0.5 when empty)", "image width", 0.0, 1.0, 0.5
    ),
    "stage.centroid_y": _s(
        "Mean centre of mass y of everyone (0.5 when empty)", "image height", 0.0, 1.0, 0.5
    ),
    "stage.spread": _s("RMS distance of the centres of mass from their centroid", "image width", 0.0, 0.5),
    "stage.distance_min": _s(
        "Closest pair's hip-centre distance (0 below two people)", "image width", 0.0, 1.0
    ),
    "stage.distance_mean": _s(
        "Mean pairwise hip-centre distance (0 below two people)", "image width", 0.0, 1.0
    ),
    "stage.synchrony": _s(
        "Mean pairwise synchrony: correlation of joint angles over the window (0 below two people)",
        "unitless",
        0.0,
        1.0,
    ),
    "stage.flow_x": _s(
        "Mean velocity of everyone's floor point, x (right positive), smoothed over the window",
        "image widths/s",
        -0.5,
        0.5,
    ),
    "stage.flow_y": _s(
        "Mean velocity of everyone's floor point, y (down positive), smoothed over the window",
        "image heights/s",
        -0.5,
        0.5,
    ),
    "stage.flow_speed": _s(
        "Length of the flow vector (flow_y converted to widths)", "image widths/s", 0.0, 0.5
    ),
    "stage.flow_direction": _s(
        "Direction of the flow in the image, clockwise from right: 0 right, 90 down, 180 left, 270 up; "
        "held while the flow is slower than 0.02 image widths/s",
        _DEG,
        0.0,
        360.0,
    ),
    "stage.dwell_mean": _s("Mean time since each person entered (0 when empty)", "s", 0.0, 60.0),
    "stage.dwell_max": _s("Longest time anyone present has stayed (0 when empty)", "s", 0.0, 60.0),
    **{
        name: _s(_cell(c, r), "count", 0.0, _MAX_PEOPLE)
        for name, (c, r) in zip(OCCUPANCY, _CELLS, strict=True)
    },
}

#: Per-person feature names, in the order of the extractor's per-person vectors.
PERSON_FEATURES: tuple[str, ...] = tuple(n for n, f in FEATURES.items() if f.scope == PERSON)

#: Added by the events stage when the show has a floor calibration (``events.floor``).
FLOOR_FEATURES: dict[str, FeatureInfo] = {
    "floor_x": _p("Position on the stage floor, metres across (the calibration's x)", "m", -10.0, 10.0),
    "floor_y": _p("Position on the stage floor, metres deep (the calibration's y)", "m", 0.0, 20.0),
}
_COL = {name: i for i, name in enumerate(PERSON_FEATURES)}
_DEFAULTS = np.array([FEATURES[n].default for n in PERSON_FEATURES])

REGISTRY.register(FEATURES)
REGISTRY.register(FLOOR_FEATURES)


def features_markdown() -> str:
    """The table in ``docs/features.md``."""
    lines = [
        "# Movement features",
        "",
        "Generated from `perform.vision.features.FEATURES` by `features_markdown()`; regenerate with",
        "`python -m perform.vision.features > docs/features.md`.",
        "",
        "Per-person features are sent as `p<slot>.<name>` (`p1.energy`), stage features as named.",
        "*Body heights* are the performer's standing height, so speeds do not depend on the distance",
        "to the camera. Image positions are 0..1 with y down. Each feature has two values, named",
        "apart. The *raw* value is in the feature's unit; its *range* is what `normalise` maps onto",
        "0..1 (values beyond it are clamped); raw values may leave it. That 0..1 number is the",
        "*control* value: what OSC and MIDI send (`/perform/p1/hands_up` with the `touchdesigner`",
        "preset) and what a rule reads when it adds `.ctl` to the name (`hands_up.ctl`); the bare",
        "name (`hands_up`) reads the raw value. `people` is a count, 0..6: its control value is",
        "the count / 6 (`/perform/ctl/people_count` sends the count itself). Landmarks with visibility",
        "below 0.5 are ignored; a shape feature that cannot be measured repeats its last value,",
        "a motion feature of an unseen body part reads 0.",
        "",
        "| name | scope | unit | raw range | control value, 0..1 (rules: `<name>.ctl`) | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, f in [*FEATURES.items(), *FLOOR_FEATURES.items()]:
        shown = f"p<slot>.{name}" if f.scope == PERSON else name
        if name in FLOOR_FEATURES:
            f = replace(f, description=f"{f.description}; only with a floor calibration (`events.floor`)")
        ctl = f"`{name}.ctl` = {control_formula(f)}"
        lines.append(f"| `{shown}` | {f.scope} | {f.unit} | {f.lo:g} .. {f.hi:g} | {ctl} | {f.description} |")
    lines += [
        "",
        "## Audience",
        "",
        "For installations, where the people in front of the camera are an audience rather than",
        "performers, a few stage features describe everyone at once.",
        "",
        "**Floor point.** A person stands where their feet are: x is the mean of their visible ankles",
        "and heels, y the lowest of them (the foot on the floor). With no foot visible it is their hip",
        "centre, with neither their centre of mass. Image coordinates, 0..1, y down.",
        "",
        f"**Occupancy grid.** The image is cut into {GRID_COLUMNS} columns and {GRID_ROWS} rows of equal "
        "size;",
        "`stage.occupancy_c<col>_r<row>` is the number of people whose floor point is in that cell (a",
        f"count, not a share). Columns are numbered 1..{GRID_COLUMNS} from the image's left, rows",
        f"1..{GRID_ROWS} from its top: with a camera looking across the floor, row 1 is the far side and",
        "the last row the side nearest the camera. A point outside the image counts in the nearest",
        f"edge cell, so the cells always add up to `people`; they share its range (0..{_MAX_PEOPLE:g}), so",
        "their normalised values add up to the normalised `people` too. For a share, divide by `people`.",
        "",
        "```",
        *(
            " ".join(f"c{c}_r{r}" for c in range(1, GRID_COLUMNS + 1)) + ("   (top)" if r == 1 else "")
            for r in range(1, GRID_ROWS + 1)
        ),
        "```",
        "",
        "**Flow.** Each person's floor velocity is measured from their own previous floor point and",
        "smoothed with the features window (`pose.features_window_s`, 0.5 s by default) as its time",
        "constant; `stage.flow_x` and `stage.flow_y` are the mean over everyone present, in image",
        "widths and image heights per second. A person counts from their first frame with velocity 0",
        "and their own velocity grows in over the window, so someone entering or leaving changes the",
        "mean by their share of it, never with a spike from where they appear or vanish. A frame whose",
        "floor point changes landmarks (feet hidden) or jumps faster than 2 image widths/s measures",
        "nothing; a slot taken over by another person starts again from 0. `stage.flow_speed` is the",
        "flow's length in image widths/s (flow_y converted with the aspect ratio), `stage.flow_direction`",
        "its direction in degrees clockwise from the image's right (0 right, 90 down, 180 left, 270 up),",
        "held while the flow is slower than 0.02 image widths/s. People walking in opposite directions",
        "cancel out: flow is the crowd's drift, not its activity (see `stage.energy` for that).",
        "",
        "**Dwell.** `p<slot>.dwell` is the seconds since that person entered, as the tracker counts",
        "it (it follows the person if their slot number changes); `stage.dwell_mean` and",
        "`stage.dwell_max` are the mean and longest over everyone present, 0 when nobody is. Their",
        "range is 0..60 s, so a minute's stay reads 1 over OSC; the values themselves keep counting",
        "(an OSC target's `maps` can scale them differently).",
        "",
        "## Hands and face",
        "",
        "With `pose.detail.hands` or `pose.detail.face` on (docs/hands-face.md), each chosen performer also",
        "has these, per hand as `p<slot>.left_hand_<name>` and `p<slot>.right_hand_<name>`, per face as",
        "`p<slot>.<name>`. A hand or face not found keeps its values for 0.2 s, then fades to the neutral",
        "value over 0.5 s.",
        "",
        "| name | unit | range | neutral | meaning |",
        "|---|---|---|---|---|",
        *(
            f"| `{shown}` | {f.unit} | {f.lo:g} .. {f.hi:g} | {f.default:g} | {f.description} |"
            for shown, f in [
                *((f"p<slot>.<side>_hand_{n}", f) for n, f in HAND_FEATURES.items()),
                *((f"p<slot>.{n}", f) for n, f in FACE_FEATURES.items()),
            ]
        ),
    ]
    return "\n".join(lines) + "\n"


# --- body model -------------------------------------------------------------------------------

_VISIBLE = 0.5
# Fractions of standing height (Winter, "Biomechanics and Motor Control of Human Movement", 4.1).
_TORSO_FRACTION = 0.288  # shoulder joints to hip joints
_LEG_FRACTION = 0.491  # hip to knee plus knee to ankle
_NOSE_TO_TOP = 0.09
_HIPS_TO_TOP = 0.47
#: Energy at which energy_level reaches 1, body heights/s.
ENERGY_FULL = 1.0
#: Jerk at which jerkiness reaches 1 - 1/e, body heights/s³.
JERK_REF = 25.0
_HEIGHT_TAU = 1.0  # s; the height estimate only changes as a person walks nearer or crouches
_SYMMETRY_SCALE = 0.25  # mean left/right mismatch (body heights) that reads as symmetry 0
_SYNC_STILL = math.radians(3.0)  # RMS joint-angle motion below which a performer counts as still
_SYNC_MIN_FRAMES = 4
_RING = 128  # frames of joint-angle history per performer (bounds memory at any frame rate)
_MIN_DT = 1e-4
_JERK_SMOOTHING = 2.0  # acceleration and jerk are smoothed this many times longer than velocity
_FLOW_STILL = 0.02  # image widths/s; below it the flow has no direction
# A floor point faster than this (image widths/s) jumped: a slot handed to another person, a
# misdetection. The step is not counted.
_FLOW_JUMP = 2.0
# How far a track's age may stray from the frame clock (s) before its slot counts as handed to
# someone else (the age follows the person; the slot can move between people).
_AGE_SLACK = 0.5

_L_SH, _R_SH, _L_HIP, _R_HIP = LM["left_shoulder"], LM["right_shoulder"], LM["left_hip"], LM["right_hip"]
_HIPS = np.array([_L_HIP, _R_HIP])
_KNEES = np.array([LM["left_knee"], LM["right_knee"]])
_ANKLES = np.array([LM["left_ankle"], LM["right_ankle"]])
_WRISTS = np.array([LM["left_wrist"], LM["right_wrist"]])
_TORSO = np.array([_L_SH, _R_SH, _L_HIP, _R_HIP])
_FEET = np.array([LM["left_ankle"], LM["right_ankle"], LM["left_heel"], LM["right_heel"]])
_FLOOR_BITS = 1 << np.arange(len(_FEET) + len(_HIPS))
_NOSE = LM["nose"]

#: The 13 main joints, for energy and jerk.
_MAIN = np.array(
    [LM[n] for n in ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist")]
    + [LM[n] for n in ("right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle")]
    + [LM["right_ankle"]]
)
_MAIN_MASK = np.zeros(NUM_LANDMARKS)
_MAIN_MASK[_MAIN] = 1.0


def _rows(groups: Sequence[Sequence[str]]) -> np.ndarray:
    m = np.zeros((len(groups), NUM_LANDMARKS))
    for i, names in enumerate(groups):
        m[i, [LM[n] for n in names]] = 1.0
    return m


# Landmark groups whose centroid speed is a feature: left hand, right hand, left foot, right foot,
# head, hips.
_GROUPS = _rows(
    [
        ("left_wrist", "left_pinky", "left_index", "left_thumb"),
        ("right_wrist", "right_pinky", "right_index", "right_thumb"),
        ("left_ankle", "left_heel", "left_foot_index"),
        ("right_ankle", "right_heel", "right_foot_index"),
        ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
        ("left_hip", "right_hip"),
    ]
)

# Joint angles as the angle between two vectors, each (to, from) landmark rows; rows 33 and 34
# are the shoulder and hip centres. In the order of the *_angle features; also the synchrony
# descriptor.
_SHOULDERS_MID, _HIPS_MID = NUM_LANDMARKS, NUM_LANDMARKS + 1
_ANGLE_NAMES = (
    "left_elbow_angle",
    "right_elbow_angle",
    "left_knee_angle",
    "right_knee_angle",
    "left_shoulder_angle",
    "right_shoulder_angle",
    "left_hip_angle",
    "right_hip_angle",
)


def _vectors(*pairs: tuple[str | int, str | int]) -> list[int]:
    return [LM[p] if isinstance(p, str) else p for pair in pairs for p in pair]


_ANGLE_VECTORS = np.array(
    [
        _vectors(("left_shoulder", "left_elbow"), ("left_wrist", "left_elbow")),
        _vectors(("right_shoulder", "right_elbow"), ("right_wrist", "right_elbow")),
        _vectors(("left_hip", "left_knee"), ("left_ankle", "left_knee")),
        _vectors(("right_hip", "right_knee"), ("right_ankle", "right_knee")),
        # Arm against the spine pointing down: 0 arm down, 180 arm up.
        _vectors((_HIPS_MID, _SHOULDERS_MID), ("left_elbow", "left_shoulder")),
        _vectors((_HIPS_MID, _SHOULDERS_MID), ("right_elbow", "right_shoulder")),
        # Thigh against the spine pointing up: 180 standing straight.
        _vectors((_SHOULDERS_MID, _HIPS_MID), ("left_knee", "left_hip")),
        _vectors((_SHOULDERS_MID, _HIPS_MID), ("right_knee", "right_hip")),
    ]
)
_ANGLE_COLS = np.array([_COL[n] for n in _ANGLE_NAMES])

_SYM_LEFT = np.array([LM[f"left_{n}"] for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")])
_SYM_RIGHT = np.array([LM[f"right_{n}"] for n in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")])


def _segment_model() -> tuple[np.ndarray, np.ndarray]:
    """Segment masses (fractions of body mass, de Leva 1996) and each segment's centre of mass as
    weights over the landmarks, so the centre of mass is a linear combination of landmarks."""
    segments: list[tuple[float, dict[str, float]]] = [
        (0.0694, {"left_ear": 0.5, "right_ear": 0.5}),
        (0.4346, {"left_shoulder": 0.25, "right_shoulder": 0.25, "left_hip": 0.25, "right_hip": 0.25}),
    ]
    for s in ("left", "right"):
        segments += [
            (0.0271, {f"{s}_shoulder": 1 - 0.5772, f"{s}_elbow": 0.5772}),
            (0.0162, {f"{s}_elbow": 1 - 0.4574, f"{s}_wrist": 0.4574}),
            (0.0061, {f"{s}_wrist": 0.5, f"{s}_index": 0.25, f"{s}_pinky": 0.25}),
            (0.1416, {f"{s}_hip": 1 - 0.4095, f"{s}_knee": 0.4095}),
            (0.0433, {f"{s}_knee": 1 - 0.4459, f"{s}_ankle": 0.4459}),
            (0.0137, {f"{s}_heel": 0.5, f"{s}_foot_index": 0.5}),
        ]
    masses = np.array([m for m, _ in segments])
    weights = np.zeros((len(segments), NUM_LANDMARKS))
    for i, (_, w) in enumerate(segments):
        for name, f in w.items():
            weights[i, LM[name]] = f
    return masses / masses.sum(), weights


_SEG_MASS, _SEG_WEIGHTS = _segment_model()
_SEG_USES = (_SEG_WEIGHTS > 0).astype(float)


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("...i,...i->...", v, v))


def _heights(p: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Standing height (N,) in the units of ``p`` (N, 33, D) from the torso and the longer leg;
    NaN where neither is visible."""
    torso = _norm((p[:, _L_SH] + p[:, _R_SH] - p[:, _L_HIP] - p[:, _R_HIP]) / 2) / _TORSO_FRACTION
    legs = (_norm(p[:, _HIPS] - p[:, _KNEES]) + _norm(p[:, _KNEES] - p[:, _ANKLES])) / _LEG_FRACTION
    est = np.concatenate([torso[:, None], legs], axis=1)
    est_ok = np.concatenate(
        [ok[:, _TORSO].all(axis=1)[:, None], ok[:, _HIPS] & ok[:, _KNEES] & ok[:, _ANKLES]], axis=1
    )
    return np.fmax.reduce(np.where(est_ok & (est > 1e-6), est, np.nan), axis=1)


def _angles(p: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Joint angles (N, 8) in degrees, NaN where a landmark is not visible."""
    mids = np.stack([(p[:, _L_SH] + p[:, _R_SH]) / 2, (p[:, _L_HIP] + p[:, _R_HIP]) / 2], axis=1)
    mids_ok = np.stack([ok[:, _L_SH] & ok[:, _R_SH], ok[:, _L_HIP] & ok[:, _R_HIP]], axis=1)
    p, ok = np.concatenate([p, mids], axis=1), np.concatenate([ok, mids_ok], axis=1)
    v1 = p[:, _ANGLE_VECTORS[:, 0]] - p[:, _ANGLE_VECTORS[:, 1]]
    v2 = p[:, _ANGLE_VECTORS[:, 2]] - p[:, _ANGLE_VECTORS[:, 3]]
    den = _norm(v1) * _norm(v2)
    valid = ok[:, _ANGLE_VECTORS].all(axis=2) & (den > 1e-12)
    cos = np.einsum("nkd,nkd->nk", v1, v2) / np.where(valid, den, 1.0)
    return np.where(valid, np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))), np.nan)


def _symmetry(p: np.ndarray, ok: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Mirror symmetry (N,) 0..1 about the plane through the spine (hip centre to shoulder centre)
    whose normal is the body's left-right direction; NaN where no limb pair is visible."""
    hip = (p[:, _L_HIP] + p[:, _R_HIP]) / 2
    spine = (p[:, _L_SH] + p[:, _R_SH]) / 2 - hip
    up = spine / np.maximum(_norm(spine), 1e-12)[:, None]
    lateral = p[:, _R_HIP] - p[:, _L_HIP] + p[:, _R_SH] - p[:, _L_SH]
    lateral -= np.einsum("nd,nd->n", lateral, up)[:, None] * up
    size = _norm(lateral)
    # Seen side-on in the image the left-right direction vanishes: mirror across the spine there.
    in_image = np.stack([-up[:, 1], up[:, 0], np.zeros(len(p))], axis=1)
    normal = np.where((size > 1e-6)[:, None], lateral / np.maximum(size, 1e-12)[:, None], in_image)
    left = p[:, _SYM_LEFT]
    mirrored = left - 2 * np.einsum("nkd,nd->nk", left - hip[:, None], normal)[..., None] * normal[:, None]
    err = _norm(mirrored - p[:, _SYM_RIGHT])
    w = (ok[:, _SYM_LEFT] & ok[:, _SYM_RIGHT]).astype(float)
    total = w.sum(axis=1)
    mean_err = (err * w).sum(axis=1) / np.maximum(total, 1e-12) / height
    return np.where(total > 0, np.clip(1.0 - mean_err / _SYMMETRY_SCALE, 0.0, 1.0), np.nan)


def _expansion(p: np.ndarray, ok: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Bounding box area of the visible landmarks / height² (N,); NaN with fewer than 3 visible."""
    x, y = p[..., 0], p[..., 1]
    w = np.where(ok, x, -np.inf).max(axis=1) - np.where(ok, x, np.inf).min(axis=1)
    h = np.where(ok, y, -np.inf).max(axis=1) - np.where(ok, y, np.inf).min(axis=1)
    return np.where(ok.sum(axis=1) >= 3, w * h / height**2, np.nan)


def _hand_heights(p: np.ndarray, ok: np.ndarray, height: np.ndarray) -> np.ndarray:
    """Wrist heights (N, 2): 0 at the hip centre, 1 at the top of the head (y is down)."""
    hip_y = (p[:, _L_HIP, 1] + p[:, _R_HIP, 1]) / 2
    top_y = np.where(ok[:, _NOSE], p[:, _NOSE, 1] - _NOSE_TO_TOP * height, hip_y - _HIPS_TO_TOP * height)
    span = np.maximum(hip_y - top_y, 0.2 * height)
    return np.where(ok[:, _WRISTS], (hip_y[:, None] - p[:, _WRISTS, 1]) / span[:, None], np.nan)


def _centre_of_mass(xy: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Centre of mass (N, 2) from the visible segments (all segments if none is visible)."""
    seg_ok = ((~ok).astype(float) @ _SEG_USES.T) == 0
    mass = _SEG_MASS * seg_ok
    total = mass.sum(axis=1, keepdims=True)
    mass = np.where(total > 0, mass / np.maximum(total, 1e-12), _SEG_MASS)
    return np.einsum("nk,nkd->nd", mass @ _SEG_WEIGHTS, xy)


def _floor_points(xy: np.ndarray, ok: np.ndarray, com: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each person (N) stands, normalised: x the mean of the visible ankles and heels, y the
    lowest of them; else the visible hips' centre; else the centre of mass ``com``. Also which of
    those landmarks it came from (N,), as bits (feet, then hips; 0 for the centre of mass)."""
    feet_ok, hips_ok = ok[:, _FEET], ok[:, _HIPS]
    n_feet, n_hips = feet_ok.sum(axis=1), hips_ok.sum(axis=1)
    feet_x = (xy[:, _FEET, 0] * feet_ok).sum(axis=1) / np.maximum(n_feet, 1)
    feet_y = np.where(feet_ok, xy[:, _FEET, 1], -np.inf).max(axis=1)
    hips = (xy[:, _HIPS] * hips_ok[..., None]).sum(axis=1) / np.maximum(n_hips, 1)[:, None]
    has_feet, has_hips = (n_feet > 0)[:, None], (n_hips > 0)[:, None]
    point = np.where(has_feet, np.stack([feet_x, feet_y], axis=1), np.where(has_hips, hips, com))
    used = np.concatenate([feet_ok, hips_ok & ~has_feet], axis=1)
    return point, used @ _FLOOR_BITS


def _ema(old: np.ndarray | float, new: np.ndarray | float, alpha: float) -> np.ndarray | float:
    return old + alpha * (new - old)


# --- per-performer state ------------------------------------------------------------------------


class _Track:
    """What one slot's derivatives and windows need from earlier frames; dropped with the slot."""

    def __init__(self, slot: int) -> None:
        self.keys = tuple(f"p{slot}.{name}" for name in PERSON_FEATURES)
        self.t = math.nan
        self.height = math.nan  # image heights, smoothed
        self.pos: np.ndarray | None = None  # (33, 2) image heights
        self.ok: np.ndarray | None = None
        self.com: np.ndarray | None = None  # (2,) image heights
        self.vel: np.ndarray | None = None  # (33, 2) body heights/s, smoothed
        self.acc: np.ndarray | None = None
        self.jerk: np.ndarray | None = None
        self.com_vel: np.ndarray | None = None
        self.energy_level = 0.0
        self.jerkiness = 0.0
        self.held = _DEFAULTS.copy()
        self.angles = np.radians(_DEFAULTS[_ANGLE_COLS])  # this frame's, gaps filled
        self.ring_t = np.zeros(_RING)
        self.ring = np.zeros((_RING, len(_ANGLE_NAMES)))
        self.ring_n = 0  # entries written (the newest is at (ring_n - 1) % _RING)
        self.floor: np.ndarray | None = None  # (2,) normalised
        self.floor_t = math.nan
        self.floor_from = 0  # _floor_points' landmark bits
        self.age = math.nan
        self.flow = np.zeros(2)  # floor velocity, image widths/s and heights/s, smoothed

    def push(self, t: float, angles: np.ndarray) -> None:
        i = self.ring_n % _RING
        self.ring_t[i] = t
        self.ring[i] = angles
        self.ring_n += 1

    def window(self, t_from: float) -> tuple[np.ndarray, np.ndarray]:
        """(times, angles) of the entries after ``t_from``, oldest first."""
        n = min(self.ring_n, _RING)
        idx = (self.ring_n - n + np.arange(n)) % _RING
        times = self.ring_t[idx]
        keep = times > t_from
        return times[keep], self.ring[idx[keep]]


def _synchrony(windows: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Pairwise synchrony (n, n): the correlation of two performers' joint angles over the frames
    both have in the window, clamped at 0; 0 where either is still or they share too few frames."""
    times = np.unique(np.concatenate([w[0] for w in windows]))
    n, k = len(windows), len(_ANGLE_NAMES)
    x = np.zeros((n, len(times), k))
    seen = np.zeros((n, len(times)))
    for i, (t, angles) in enumerate(windows):
        idx = np.searchsorted(times, t)
        x[i, idx] = angles
        seen[i, idx] = 1.0
    both = seen[:, None, :] * seen[None, :, :]  # (n, n, T): frames pair i, j share
    count = both.sum(axis=2)
    c = np.maximum(count, 1.0)
    sums = np.einsum("ijt,itk->ijk", both, x)  # sum of i's angles over the shared frames
    sq = np.einsum("ijt,itk->ij", both, x * x)
    cov = np.einsum("ijt,itk,jtk->ij", both, x, x) - np.einsum("ijk,jik->ij", sums, sums) / c
    var = sq - np.einsum("ijk,ijk->ij", sums, sums) / c  # i's variance over the frames shared with j
    moving = var > _SYNC_STILL**2 * count
    valid = moving & moving.T & (count >= _SYNC_MIN_FRAMES)
    np.fill_diagonal(valid, False)
    r = cov / np.sqrt(np.where(valid, var * var.T, 1.0))
    return np.where(valid, np.clip(r, 0.0, 1.0), 0.0)


class FeatureExtractor:
    """Computes :data:`FEATURES` from each frame's bodies. One instance per stream, one thread.

    ``window_s`` is the look-back of synchrony and the time constant of the 0..1 levels
    (``energy_level``, ``jerkiness``). ``smoothing`` is the time constant in seconds of the
    exponential smoothing of velocities and their derivatives (0: none). ``aspect`` is the image's
    width / height, needed to measure distances in normalised image coordinates.
    """

    def __init__(self, window_s: float = 0.5, smoothing: float = 0.05, aspect: float = 16 / 9) -> None:
        if not window_s > 0:
            raise ValueError(f"window_s: expected seconds > 0, got {window_s}")
        if not smoothing >= 0:
            raise ValueError(f"smoothing: expected seconds >= 0, got {smoothing}")
        if not aspect > 0:
            raise ValueError(f"aspect: expected width / height > 0, got {aspect}")
        self.window_s = float(window_s)
        self.smoothing = float(smoothing)
        self.aspect = float(aspect)
        self._tracks: dict[int, _Track] = {}
        self._flow_direction = 0.0

    def reset(self) -> None:
        """Forget every performer's history."""
        self._tracks.clear()
        self._flow_direction = 0.0

    def update(self, bodies: Sequence[Body], t: float, aspect: float | None = None) -> dict[str, float]:
        """Feature name -> value for this frame at capture time ``t`` (seconds).

        Per-person names are ``p{slot}.{feature}``, stage names ``stage.{feature}``, plus ``people``.
        ``aspect`` (width / height) replaces the constructor's from now on when given.
        """
        if aspect is not None and aspect > 0:
            self.aspect = float(aspect)
        present = {b.slot for b in bodies}
        for slot in [s for s in self._tracks if s not in present]:
            del self._tracks[slot]
        n = len(bodies)
        if n == 0:
            empty = np.empty((0, 2))
            return self._stage(np.empty((0, len(PERSON_FEATURES))), empty, empty, [], {"people": 0.0})

        lm = np.stack([b.landmarks for b in bodies]).astype(np.float64)
        world = np.stack([b.world for b in bodies]).astype(np.float64)
        finite = np.isfinite(lm[..., :3]).all(axis=2)
        lm = np.nan_to_num(lm, nan=0.0, posinf=0.0, neginf=0.0)
        ok = finite & (lm[..., 3] >= _VISIBLE)
        xy = lm[..., :2]
        img = xy * np.array([self.aspect, 1.0])  # image heights in both axes
        img3 = np.concatenate([img, np.zeros((n, NUM_LANDMARKS, 1))], axis=2)

        # Image height per performer, smoothed per slot; shape coordinates and their height.
        img_h = _heights(img, ok)
        extent = (img[..., 1].max(axis=1) - img[..., 1].min(axis=1)) / 0.9
        img_h = np.where(np.isfinite(img_h), img_h, np.maximum(extent, 1e-3))
        tracks = []
        for j, body in enumerate(bodies):
            tr = self._tracks.get(body.slot)
            if tr is None:
                tr = self._tracks[body.slot] = _Track(body.slot)
            dt = t - tr.t
            if math.isfinite(tr.height) and 0 < dt < math.inf:
                img_h[j] = _ema(tr.height, img_h[j], 1.0 - math.exp(-dt / _HEIGHT_TAU))
            elif math.isfinite(tr.height) and dt == 0:
                img_h[j] = tr.height
            tr.height = float(img_h[j])
            tracks.append(tr)
        world_fin = np.isfinite(world).all(axis=(1, 2))
        world = np.nan_to_num(world, nan=0.0, posinf=0.0, neginf=0.0)
        world_h = _heights(world, ok)
        use_world = world_fin & (np.abs(world).max(axis=(1, 2)) > 1e-6) & np.isfinite(world_h)
        shape = np.where(use_world[:, None, None], world, img3)
        shape_h = np.where(use_world, world_h, img_h)

        out = np.full((n, len(PERSON_FEATURES)), np.nan)
        out[:, _COL["height"]] = img_h
        angles = _angles(shape, ok)
        out[:, _ANGLE_COLS] = angles
        out[:, _COL["symmetry"]] = _symmetry(shape, ok, shape_h)
        out[:, _COL["expansion"]] = _expansion(shape, ok, shape_h)
        hands = _hand_heights(shape, ok, shape_h)
        out[:, _COL["left_hand_height"]] = hands[:, 0]
        out[:, _COL["right_hand_height"]] = hands[:, 1]
        out[:, _COL["hands_up"]] = np.fmax(hands[:, 0], hands[:, 1])
        com = _centre_of_mass(xy, ok)
        out[:, _COL["com_x"]] = com[:, 0]
        out[:, _COL["com_y"]] = com[:, 1]
        com_img = com * np.array([self.aspect, 1.0])
        ages = np.array([b.age_s for b in bodies], np.float64)
        # To 0.1 ms, as takes store it, so that a replayed take reproduces its dwell; unknown: held.
        ages = np.where(np.isfinite(ages) & (ages >= 0), np.round(ages, 4), np.nan)
        out[:, _COL["dwell"]] = ages
        floor, floor_from = _floor_points(xy, ok, com)

        for j, tr in enumerate(tracks):
            tr.angles = np.radians(np.where(np.isfinite(angles[j]), angles[j], tr.held[_ANGLE_COLS]))
            self._motion(tr, t, img[j], ok[j], lm[j, :, 3], com_img[j], out[j])
            self._flow(tr, t, floor[j], int(floor_from[j]), float(ages[j]))
            out[j] = tr.held = np.where(np.isfinite(out[j]), out[j], tr.held)
        hips = (xy[:, _L_HIP] + xy[:, _R_HIP]) / 2
        return self._stage(out, hips, floor, tracks, {"people": float(n)}, t)

    def _flow(self, tr: _Track, t: float, point: np.ndarray, used: int, age: float) -> None:
        """Advances one person's smoothed floor velocity from their own last floor point.

        A person's first frame, a change in the landmarks the point comes from and a jump measure
        nothing; a slot handed to another person (its age does not follow the clock) starts at 0.
        """
        dt = t - tr.floor_t
        if tr.floor is not None and 0 <= dt < _MIN_DT:
            return  # the same instant again
        if tr.floor is not None and 0 < dt < math.inf:
            if math.isfinite(age + tr.age) and not tr.age - _AGE_SLACK <= age <= tr.age + dt + _AGE_SLACK:
                tr.flow = np.zeros(2)
            elif used == tr.floor_from:
                v = (point - tr.floor) / dt
                if math.hypot(v[0], v[1] / self.aspect) <= _FLOW_JUMP:
                    tr.flow = _ema(tr.flow, v, 1.0 - math.exp(-dt / self.window_s))
        tr.floor, tr.floor_t, tr.floor_from, tr.age = point, t, used, age

    def _motion(
        self,
        tr: _Track,
        t: float,
        pos: np.ndarray,
        ok: np.ndarray,
        vis: np.ndarray,
        com: np.ndarray,
        row: np.ndarray,
    ) -> None:
        """Velocity-based features of one performer into ``row``; advances its track."""
        dt = t - tr.t
        first = tr.pos is None
        if not first and 0 <= dt < _MIN_DT:
            return  # the same instant again: nothing moved, keep the last values (NaN -> held)
        if first or not 0 < dt < math.inf:
            # First sight, or time went back (a replay looped): start measuring from here.
            if not first:
                tr.ring_n = 0
            tr.t, tr.pos, tr.ok, tr.com = t, pos, ok, com
            if math.isfinite(t):
                tr.push(t, tr.angles)
            return

        h = tr.height
        valid = ok & tr.ok
        raw_v = (pos - tr.pos) / (dt * h)
        if tr.vel is not None:
            raw_v = np.where(valid[:, None], raw_v, tr.vel)
        a = 1.0 - math.exp(-dt / self.smoothing) if self.smoothing > 0 else 1.0
        # Each derivative multiplies landmark jitter by the frame rate: smooth the higher ones more.
        a2 = 1.0 - math.exp(-dt / (_JERK_SMOOTHING * self.smoothing)) if self.smoothing > 0 else 1.0
        raw_cv = (com - tr.com) / (dt * h)
        if tr.vel is None:
            vel, com_vel = raw_v, raw_cv
        else:
            vel, com_vel = _ema(tr.vel, raw_v, a), _ema(tr.com_vel, raw_cv, a)
            raw_acc = (vel - tr.vel) / dt
            if tr.acc is None:
                tr.acc = raw_acc
            else:
                acc = _ema(tr.acc, raw_acc, a2)
                raw_jerk = (acc - tr.acc) / dt
                tr.jerk = raw_jerk if tr.jerk is None else _ema(tr.jerk, raw_jerk, a2)
                tr.acc = acc
        tr.vel, tr.com_vel = vel, com_vel
        tr.t, tr.pos, tr.ok, tr.com = t, pos, ok, com

        w = vis * valid
        gw = _GROUPS * w
        gden = gw.sum(axis=1)
        gspeed = _norm(gw @ vel / np.maximum(gden, 1e-12)[:, None])
        gspeed = np.where(gden > 0, gspeed, 0.0)
        wm = w * _MAIN_MASK
        wsum = wm.sum()
        speed = _norm(vel)
        energy = float(wm @ speed / wsum) if wsum > 0 else 0.0
        jerk = float(wm @ _norm(tr.jerk) / wsum) if wsum > 0 and tr.jerk is not None else 0.0
        b = 1.0 - math.exp(-dt / self.window_s)
        tr.energy_level = _ema(tr.energy_level, min(1.0, energy / ENERGY_FULL), b)
        tr.jerkiness = _ema(tr.jerkiness, 1.0 - math.exp(-jerk / JERK_REF), b)

        row[_COL["left_hand_speed"]] = gspeed[0]
        row[_COL["right_hand_speed"]] = gspeed[1]
        row[_COL["hands_speed"]] = max(gspeed[0], gspeed[1])
        row[_COL["feet_speed"]] = max(gspeed[2], gspeed[3])
        row[_COL["head_speed"]] = gspeed[4]
        row[_COL["hips_speed"]] = gspeed[5]
        row[_COL["energy"]] = energy
        row[_COL["energy_level"]] = tr.energy_level
        row[_COL["jerk"]] = jerk
        row[_COL["jerkiness"]] = tr.jerkiness
        row[_COL["com_vx"]] = com_vel[0]
        row[_COL["com_vy"]] = com_vel[1]
        tr.push(t, tr.angles)

    def _stage(
        self,
        out: np.ndarray,
        hips: np.ndarray,
        floor: np.ndarray,
        tracks: list[_Track],
        result: dict[str, float],
        t: float = 0.0,
    ) -> dict[str, float]:
        """Synchrony per person, the stage and audience features, and the whole result dictionary."""
        n = len(tracks)
        sync = np.zeros(n)
        stage_sync = 0.0
        if n >= 2:
            pairs = _synchrony([tr.window(t - self.window_s) for tr in tracks])
            sync = pairs.sum(axis=1) / (n - 1)
            stage_sync = float(pairs[np.triu_indices(n, 1)].mean())
        if n:
            out[:, _COL["synchrony"]] = sync
        for tr, row in zip(tracks, out.tolist(), strict=True):
            result.update(zip(tr.keys, row, strict=True))

        energy = out[:, _COL["energy"]]
        com = out[:, [_COL["com_x"], _COL["com_y"]]]
        centroid = com.mean(axis=0) if n else np.array([0.5, 0.5])
        width_units = np.array([1.0, 1.0 / self.aspect])
        dist_min = dist_mean = spread = 0.0
        if n:
            spread = float(np.sqrt(np.mean(np.sum(((com - centroid) * width_units) ** 2, axis=1))))
        if n >= 2:
            p = hips * width_units
            d = _norm(p[:, None] - p[None])[np.triu_indices(n, 1)]
            dist_min, dist_mean = float(d.min()), float(d.mean())
        result.update(
            {
                "stage.energy": float(out[:, _COL["energy_level"]].mean()) if n else 0.0,
                "stage.energy_total": float(energy.sum()),
                "stage.energy_mean": float(energy.mean()) if n else 0.0,
                "stage.hands_up_max": float(out[:, _COL["hands_up"]].max()) if n else 0.0,
                "stage.centroid_x": float(centroid[0]),
                "stage.centroid_y": float(centroid[1]),
                "stage.spread": spread,
                "stage.distance_min": dist_min,
                "stage.distance_mean": dist_mean,
                "stage.synchrony": stage_sync,
            }
        )
        self._audience(out, floor, tracks, result)
        return result

    def _audience(
        self, out: np.ndarray, floor: np.ndarray, tracks: list[_Track], result: dict[str, float]
    ) -> None:
        """Occupancy, flow and dwell into ``result``."""
        n = len(tracks)
        grid = np.array([GRID_COLUMNS, GRID_ROWS])
        # Points outside the image count in the nearest edge cell, so the cells add up to people.
        cell = np.clip(np.floor(floor * grid), 0, grid - 1).astype(np.intp)
        counts = np.bincount(cell[:, 1] * GRID_COLUMNS + cell[:, 0], minlength=len(OCCUPANCY))
        result.update(zip(OCCUPANCY, counts.astype(float).tolist(), strict=True))

        fx, fy = np.mean([tr.flow for tr in tracks], axis=0).tolist() if n else (0.0, 0.0)
        speed = math.hypot(fx, fy / self.aspect)
        if speed >= _FLOW_STILL:
            direction = math.degrees(math.atan2(fy / self.aspect, fx)) % 360.0
            self._flow_direction = direction if direction < 360.0 else 0.0  # -1e-18 % 360 is 360
        dwell = out[:, _COL["dwell"]]
        result.update(
            {
                "stage.flow_x": fx,
                "stage.flow_y": fy,
                "stage.flow_speed": speed,
                "stage.flow_direction": self._flow_direction,
                "stage.dwell_mean": float(dwell.mean()) if n else 0.0,
                "stage.dwell_max": float(dwell.max()) if n else 0.0,
            }
        )


if __name__ == "__main__":
    print(features_markdown(), end="")
