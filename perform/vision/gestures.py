"""Hand and face features, and hand gestures with hysteresis and hold.

Per hand (:data:`HAND_FEATURES`, sent per performer as ``left_hand_pinch``, ``right_hand_grip``...)
from the hand's world landmarks (metres, so a hand's shape reads the same near and far, and
from any side), except the pointing direction, which is where the index points in the image:

- each finger's *extension*, 0 curled .. 1 straight: the mean bend of its three joints (for the
  thumb, which bends little even tucked in: how far its tip is from the pinky's knuckle);
- the hand's *size*: wrist to middle knuckle, the unit of ``pinch``.

Per face (:data:`FACE_FEATURES`) from the face landmarks, in image pixels with depth: ratios of
distances between named points (:data:`~perform.vision.face.FACE_POINTS`) over the distance
between the outer eye corners, and the head's angles from the face's own axes.

Left and right are the performer's as the body says (see :mod:`perform.vision.hands`): yaw is
positive when the performer turns their face towards their left, roll when they tilt their head
towards their left shoulder, pitch when they look up.

:class:`DetailFeatures` turns each frame's :class:`~perform.vision.detail.Detail` into named
values: a hand or face not found keeps its last values for ``hold_s``, then fades to the
features' neutral defaults over ``fade_s`` (as poses do, ``InputLoss``'s 0.2 s and 0.5 s).
:class:`GestureTracker` turns gesture scores into start and end edges with hysteresis and hold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from perform.pipeline.features import PERSON, REGISTRY, FeatureInfo
from perform.schema import fade
from perform.vision.detail import Detail
from perform.vision.face import FACE_POINTS, Face
from perform.vision.hands import HL, SIDES, Hand, Side

FINGERS: tuple[str, ...] = ("thumb", "index", "middle", "ring", "pinky")
# Each finger's chain, knuckle to tip, preceded by the wrist.
_CHAINS = np.array(
    [[0, 1, 2, 3, 4], [0, 5, 6, 7, 8], [0, 9, 10, 11, 12], [0, 13, 14, 15, 16], [0, 17, 18, 19, 20]]
)
# A finger's mean joint bend (degrees) that reads as straight, and as curled.
_STRAIGHT, _CURLED = 25.0, 75.0
# The thumb's tip from the pinky's knuckle, over the hand's size: tucked in, and held out.
_THUMB_IN, _THUMB_OUT = 0.7, 0.95


def _p(description: str, unit: str, lo: float, hi: float, default: float = 0.0) -> FeatureInfo:
    return FeatureInfo(description, unit, lo, hi, PERSON, default)


#: Per-hand features; sent per performer as ``{side}_hand_{name}``.
HAND_FEATURES: dict[str, FeatureInfo] = {
    "pinch": _p(
        "Thumb tip to index tip over the hand's size (wrist to middle knuckle): about 0.15 touching, "
        "1 and more apart",
        "hand sizes",
        0.0,
        1.5,
        1.0,
    ),
    "grip": _p("How curled the four fingers are: 0 straight, 1 a fist", "unitless", 0.0, 1.0),
    "openness": _p("Mean extension of the five fingers: 0 a fist, 1 an open hand", "unitless", 0.0, 1.0, 0.5),
    "fingers": _p("Fingers held out (extension over 0.5), thumb included", "count", 0.0, 5.0),
    "point_x": _p(
        "Where the index finger points in the image, x of the unit vector (right positive), "
        "times the finger's extension",
        "unitless",
        -1.0,
        1.0,
    ),
    "point_y": _p("As point_x, y (down positive)", "unitless", -1.0, 1.0),
    "point_angle": _p(
        "Direction the index finger points in the image, clockwise from right: 0 right, 90 down, "
        "180 left, 270 up",
        "degrees",
        0.0,
        360.0,
    ),
}

#: Per-face features; sent per performer under these names.
FACE_FEATURES: dict[str, FeatureInfo] = {
    "mouth_open": _p(
        "Gap between the lips over the eye distance (outer corners): 0 closed", "eye distances", 0.0, 0.8
    ),
    "smile": _p(
        "Mouth width over the eye distance, less its neutral 0.6 (negative: pursed)",
        "eye distances",
        -0.2,
        0.3,
    ),
    "brows_raised": _p(
        "Brows above the eyes' upper lids over the eye distance, less its neutral 0.2",
        "eye distances",
        -0.1,
        0.2,
    ),
    "left_eye_closed": _p("Left eye: 0 open, 1 closed (lid gap over eye width)", "unitless", 0.0, 1.0),
    "right_eye_closed": _p("Right eye: 0 open, 1 closed (lid gap over eye width)", "unitless", 0.0, 1.0),
    "head_yaw": _p("Head turned, positive towards the performer's left", "degrees", -60.0, 60.0),
    "head_pitch": _p("Head tilted up (positive) or down", "degrees", -45.0, 45.0),
    "head_roll": _p("Head leaning, positive towards the performer's left shoulder", "degrees", -45.0, 45.0),
}

#: Every per-performer feature this module emits, by the name it is sent under; in
#: :data:`~perform.pipeline.features.REGISTRY` once this module is imported.
DETAIL_FEATURES: dict[str, FeatureInfo] = {
    **{f"{side}_hand_{name}": info for side in SIDES for name, info in HAND_FEATURES.items()},
    **FACE_FEATURES,
}

REGISTRY.register(DETAIL_FEATURES)

#: Hand gestures, each a score 0..1 (see :func:`gesture_scores`).
GESTURES: tuple[str, ...] = ("open_palm", "fist", "pinch", "point", "thumbs_up", "victory")


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, 1e-9)


def hand_size(world: np.ndarray) -> float:
    """Wrist to middle knuckle (metres of the world landmarks): the hand's size, which curling
    the fingers does not change."""
    return float(np.linalg.norm(world[HL["middle_mcp"]] - world[HL["wrist"]])) or 1e-9


def finger_extension(world: np.ndarray) -> np.ndarray:
    """Each finger's extension (5,), thumb first: 0 curled .. 1 straight."""
    bones = _unit(np.diff(world[_CHAINS], axis=1))  # (5, 4, 3)
    cos = np.clip((bones[:, :-1] * bones[:, 1:]).sum(axis=2), -1.0, 1.0)
    bend = np.degrees(np.arccos(cos))  # (5, 3): at the knuckle, middle and last joint
    out = np.clip((_CURLED - bend.mean(axis=1)) / (_CURLED - _STRAIGHT), 0.0, 1.0)
    # the thumb bends little even tucked in: what tells is how far its tip is from the palm's far side
    reach = np.linalg.norm(world[HL["thumb_tip"]] - world[HL["pinky_mcp"]]) / hand_size(world)
    out[0] = np.clip((reach - _THUMB_IN) / (_THUMB_OUT - _THUMB_IN), 0.0, 1.0)
    return out


def hand_features(hand: Hand, aspect: float) -> dict[str, float]:
    """:data:`HAND_FEATURES` of one hand; ``aspect`` is the image's width over its height."""
    world = hand.world.astype(np.float64)
    ext = finger_extension(world)
    pinch = float(np.linalg.norm(world[HL["thumb_tip"]] - world[HL["index_tip"]])) / hand_size(world)
    xy = hand.landmarks[:, :2].astype(np.float64) * np.array([aspect, 1.0])
    direction = _unit(xy[HL["index_tip"]] - xy[HL["index_mcp"]])
    angle = math.degrees(math.atan2(direction[1], direction[0])) % 360.0
    return {
        "pinch": pinch,
        "grip": float(1.0 - ext[1:].mean()),
        "openness": float(ext.mean()),
        "fingers": float((ext > 0.5).sum()),
        "point_x": float(direction[0] * ext[1]),
        "point_y": float(direction[1] * ext[1]),
        "point_angle": angle,
    }


def gesture_scores(hand: Hand, aspect: float) -> dict[str, float]:
    """How much the hand looks like each of :data:`GESTURES`, 0..1: the weakest of the gesture's
    conditions, each a finger's extension (held out) or its complement (curled)."""
    world = hand.world.astype(np.float64)
    thumb, index, middle, ring, pinky = finger_extension(world)
    size = hand_size(world)
    pinch = float(np.linalg.norm(world[HL["thumb_tip"]] - world[HL["index_tip"]])) / size
    touching = float(np.clip((0.45 - pinch) / (0.45 - 0.25), 0.0, 1.0))
    xy = hand.landmarks[:, :2].astype(np.float64) * np.array([aspect, 1.0])
    thumb_dir = _unit(xy[HL["thumb_tip"]] - xy[HL["thumb_mcp"]])
    thumb_up = float(np.clip((-thumb_dir[1] - 0.5) / 0.3, 0.0, 1.0))
    four = min(1 - index, 1 - middle, 1 - ring, 1 - pinky)
    return {
        "open_palm": min(thumb, index, middle, ring, pinky, 1 - touching),
        "fist": min(four, 1 - thumb),
        "pinch": min(touching, max(middle, ring, pinky, index)),
        "point": min(index, 1 - middle, 1 - ring, 1 - pinky),
        "thumbs_up": min(four, thumb, thumb_up),
        "victory": min(index, middle, 1 - ring, 1 - pinky),
    }


def _pixels(face: Face, aspect: float) -> np.ndarray:
    # x, y, z in image heights: x and z are normalised by the width
    return face.landmarks.astype(np.float64) * np.array([aspect, 1.0, aspect])


def face_features(face: Face, aspect: float) -> dict[str, float]:
    """:data:`FACE_FEATURES` of one face; ``aspect`` is the image's width over its height."""
    p = _pixels(face, aspect)
    at = {name: p[i] for name, i in FACE_POINTS.items()}

    def dist(a: str, b: str) -> float:
        return float(np.linalg.norm(at[a][:2] - at[b][:2]))

    eyes = dist("right_eye_outer", "left_eye_outer") or 1e-9
    brows = (dist("left_brow", "left_eye_top") + dist("right_brow", "right_eye_top")) / 2

    def closed(side: str) -> float:
        gap = dist(f"{side}_eye_top", f"{side}_eye_bottom") / (
            dist(f"{side}_eye_outer", f"{side}_eye_inner") or 1e-9
        )
        return float(np.clip((0.22 - gap) / (0.22 - 0.08), 0.0, 1.0))

    across = _unit(at["left_eye_outer"] - at["right_eye_outer"])  # towards the performer's left
    up = (at["left_eye_outer"] + at["right_eye_outer"] - at["mouth_left"] - at["mouth_right"]) / 2
    up = _unit(up - across * float(up @ across))
    forward = np.cross(across, up)  # out of the face, towards the camera when facing it
    return {
        "mouth_open": dist("upper_lip", "lower_lip") / eyes,
        "smile": dist("mouth_left", "mouth_right") / eyes - 0.6,
        "brows_raised": brows / eyes - 0.2,
        "left_eye_closed": closed("left"),
        "right_eye_closed": closed("right"),
        "head_yaw": math.degrees(math.atan2(forward[0], -forward[2])),
        "head_pitch": math.degrees(math.atan2(-forward[1], math.hypot(forward[0], forward[2]))),
        "head_roll": math.degrees(math.atan2(across[1], across[0])),
    }


def shape_vector(hand: Hand) -> np.ndarray:
    """The hand's shape for comparing by example: its world landmarks (21, 3) with the wrist at
    the origin, in the palm's own axes (x from the little finger's knuckle to the index's, y wrist
    to middle knuckle, z through the palm), in hand sizes: one shape gives one vector at any place
    and turn, made with either hand."""
    w = hand.world.astype(np.float64)
    w = w - w[HL["wrist"]]
    y = _unit(w[HL["middle_mcp"]])
    x = w[HL["index_mcp"]] - w[HL["pinky_mcp"]]
    x = _unit(x - y * float(x @ y))
    z = np.cross(x, y)
    if hand.side == "left":  # a left hand is a right hand's mirror image: its palm faces the other way
        z = -z
    return (w @ np.stack([x, y, z]).T) / hand_size(hand.world)


@dataclass(slots=True)
class _Held:
    values: dict[str, float]
    seen: float  # capture time the part was last found


class DetailFeatures:
    """Per-performer hand and face features from each frame's details, as ``p{slot}.{name}``.

    A part not found keeps its last values for ``hold_s``, then fades linearly to each feature's
    neutral default over ``fade_s``; a performer not among the details is forgotten.
    """

    def __init__(self, hold_s: float = 0.2, fade_s: float = 0.5) -> None:
        self.hold_s = hold_s
        self.fade_s = fade_s
        self._held: dict[tuple[int, str], _Held] = {}

    def reset(self) -> None:
        self._held.clear()

    def update(self, details: Mapping[int, Detail], t: float, aspect: float) -> dict[str, float]:
        for key in [k for k in self._held if k[0] not in details]:
            del self._held[key]
        out: dict[str, float] = {}
        for slot, detail in details.items():
            parts: list[tuple[str, dict[str, float] | None, dict[str, FeatureInfo]]] = []
            for side in SIDES:
                hand = detail.hand(side)
                values = None if hand is None else hand_features(hand, aspect)
                parts.append((f"{side}_hand_", values, HAND_FEATURES))
            face = detail.face
            parts.append(("", None if face is None else face_features(face, aspect), FACE_FEATURES))
            for prefix, values, infos in parts:
                for name, value in self._faded(slot, prefix or "face", values, infos, t).items():
                    out[f"p{slot}.{prefix}{name}"] = value
        return out

    def _faded(
        self,
        slot: int,
        part: str,
        values: dict[str, float] | None,
        infos: Mapping[str, FeatureInfo],
        t: float,
    ) -> dict[str, float]:
        key = (slot, part)
        if values is not None:
            self._held[key] = _Held(values, t)
            return values
        held = self._held.get(key)
        neutral = {name: info.default for name, info in infos.items()}
        if held is None:
            return neutral
        keep = fade(t - held.seen, self.hold_s, self.fade_s)
        if keep == 0.0:
            del self._held[key]
            return neutral
        return {name: neutral[name] + keep * (held.values[name] - neutral[name]) for name in infos}


@dataclass(frozen=True, slots=True)
class GestureEdge:
    """A hand gesture starting (``active``) or ending, for performer ``slot``'s ``side`` hand, at
    capture time ``t``; ``value`` is its score then."""

    gesture: str
    slot: int
    side: Side
    active: bool
    t: float
    value: float = 1.0

    @property
    def name(self) -> str:
        """The event's name: ``left_hand_fist``."""
        return f"{self.side}_hand_{self.gesture}"


@dataclass(slots=True)
class _Latch:
    since: float | None = None  # when the score first rose over ``on``
    active: bool = False


@dataclass(slots=True)
class _HandState:
    latches: dict[str, _Latch] = field(default_factory=lambda: {g: _Latch() for g in GESTURES})
    seen: float = -math.inf


class GestureTracker:
    """Start and end edges of :data:`GESTURES` per performer and hand. One thread.

    A gesture starts once its score has been above ``on`` for ``hold_s`` and ends when it falls
    under ``off`` (hysteresis). A hand not found holds its gestures for ``grace_s`` (a frame or
    two lost mid-gesture), then they end; a performer not among the details ends them at once.
    """

    def __init__(
        self, on: float = 0.6, off: float = 0.35, hold_s: float = 0.15, grace_s: float = 0.2
    ) -> None:
        if not 0.0 <= off <= on <= 1.0:
            raise ValueError(f"expected 0 <= off <= on <= 1, got on {on}, off {off}")
        self.on, self.off, self.hold_s, self.grace_s = on, off, hold_s, grace_s
        self._hands: dict[tuple[int, Side], _HandState] = {}

    def reset(self) -> None:
        self._hands.clear()

    def active(self) -> set[tuple[int, Side, str]]:
        """(slot, side, gesture) of every gesture now on."""
        return {
            (s, side, g) for (s, side), st in self._hands.items() for g, la in st.latches.items() if la.active
        }

    def update(self, details: Mapping[int, Detail], t: float, aspect: float) -> list[GestureEdge]:
        out: list[GestureEdge] = []
        for key in [k for k in self._hands if k[0] not in details]:
            self._end(key, self._hands.pop(key), t, out)
        for slot, detail in details.items():
            for side in SIDES:
                key = (slot, side)
                state = self._hands.setdefault(key, _HandState())
                hand = detail.hand(side)
                if hand is None:
                    if t - state.seen > self.grace_s:
                        self._end(key, state, t, out)
                    continue
                state.seen = t
                for gesture, score in gesture_scores(hand, aspect).items():
                    latch = state.latches[gesture]
                    if latch.active:
                        if score < self.off:
                            latch.active, latch.since = False, None
                            out.append(GestureEdge(gesture, slot, side, False, t, score))
                    elif score > self.on:
                        latch.since = t if latch.since is None else latch.since
                        if t - latch.since >= self.hold_s - 1e-9:
                            latch.active = True
                            out.append(GestureEdge(gesture, slot, side, True, t, score))
                    else:
                        latch.since = None
        return out

    @staticmethod
    def _end(key: tuple[int, Side], state: _HandState, t: float, out: list[GestureEdge]) -> None:
        for gesture, latch in state.latches.items():
            if latch.active:
                out.append(GestureEdge(gesture, key[0], key[1], False, t, 0.0))
            latch.active, latch.since = False, None
