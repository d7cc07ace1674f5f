"""What a frame draws from: the newest of every input, and uniforms bound to them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from perform.audio.analysis import AudioFeatures
from perform.control import Value
from perform.mapping import Smoother, ValueMap, map_value
from perform.pipeline import Frame
from perform.pipeline.features import REGISTRY
from perform.render.config import Binding
from perform.style.types import Styled
from perform.vision.face import FACE_ROWS
from perform.vision.gestures import FACE_FEATURES, HAND_FEATURES
from perform.vision.hands import NUM_HAND_LANDMARKS, SIDES
from perform.vision.types import Poses

#: Performers (slots 1..) whose hands and face the standard uniforms carry (the prelude's MAX_PEOPLE).
DETAIL_PEOPLE = 4


@dataclass
class Inputs:
    """The newest of each input when a frame is drawn; nothing here is waited for."""

    now: float
    show_time: float = 0.0
    frame: Frame | None = None
    poses: Poses | None = None
    styled: Styled | None = None
    audio: AudioFeatures | None = None
    features: dict[str, float] = field(default_factory=dict)
    params: dict[str, Value] = field(default_factory=dict)
    #: Event names that started since the last frame, bare (``jump``) and per performer (``p1/jump``).
    fired: set[str] = field(default_factory=set)


class Bound:
    """One binding's running value, mapped and smoothed as a :class:`ValueMap`; event pulses decay."""

    def __init__(self, binding: Binding) -> None:
        self.b = binding
        (i0, i1), (o0, o1) = binding.range, binding.to
        self.map = ValueMap(
            in_lo=i0, in_hi=i1, out_lo=o0, out_hi=o1, clamp=binding.clamp, smoothing_s=binding.smooth_s
        )
        self.value: float | None = None
        self._smoother = Smoother()
        self._t = 0.0  # the sum of the frames' dt: the smoothing's clock
        self._pulse_t = -math.inf

    def update(self, inputs: Inputs, dt: float) -> float:
        b = self.b
        src = b.source
        if src == "time":
            x = inputs.show_time
        elif src.startswith("param:"):
            v = inputs.params.get(src[6:])
            x = float(v) if isinstance(v, int | float) and math.isfinite(float(v)) else b.default
        elif src.startswith("event:"):
            if src[6:] in inputs.fired:
                self._pulse_t = inputs.now
            x = max(0.0, 1.0 - (inputs.now - self._pulse_t) / b.decay_s)
        else:
            x = inputs.features.get(src, b.default)
        self._t += dt
        self.value = map_value(self.map, x, smoother=self._smoother, t=self._t)
        return self.value


def constant_or_bound(value: float | list[float] | Binding) -> float | tuple[float, ...] | Bound:
    if isinstance(value, Binding):
        return Bound(value)
    if isinstance(value, list):
        return tuple(value)
    return value


def resolve(value: float | tuple[float, ...] | Bound, inputs: Inputs, dt: float) -> float | tuple[float, ...]:
    return value.update(inputs, dt) if isinstance(value, Bound) else value


def detail_uniforms(inputs: Inputs) -> dict[str, np.ndarray]:
    """The prelude's hand and face uniforms for slots 1..:data:`DETAIL_PEOPLE`.

    ``u_hands``: per slot, left then right hand, 21 joints of x, y (as ``v_uv``: y up), z and 1
    (0 where the hand is not found); ``u_face``: the named face points likewise;
    ``u_hand_features`` and ``u_face_features``: each feature on 0..1 as OSC sends it, in
    :data:`~perform.vision.gestures.HAND_FEATURES` and ``FACE_FEATURES`` order, packed four to
    a vec4 (two vec4 per hand and per face).
    """
    n, hj, fp = DETAIL_PEOPLE, NUM_HAND_LANDMARKS, len(FACE_ROWS)
    hands = np.zeros((n * 2 * hj, 4), "f4")
    face = np.zeros((n * fp, 4), "f4")
    hand_features = np.zeros((n * 2, 8), "f4")
    face_features = np.zeros((n, 8), "f4")
    poses = inputs.poses
    for slot, detail in (poses.details if poses is not None else {}).items():
        if not 1 <= slot <= n:
            continue
        i = slot - 1
        for k, side in enumerate(SIDES):
            hand = detail.hand(side)
            if hand is not None:
                block = hands[(i * 2 + k) * hj : (i * 2 + k + 1) * hj]
                block[:, :3] = hand.landmarks
                block[:, 1] = 1.0 - block[:, 1]
                block[:, 3] = 1.0
        if detail.face is not None:
            block = face[i * fp : (i + 1) * fp]
            block[:, :3] = detail.face.landmarks[FACE_ROWS]
            block[:, 1] = 1.0 - block[:, 1]
            block[:, 3] = 1.0
        f = inputs.features
        for k, side in enumerate(SIDES):
            for j, name in enumerate(HAND_FEATURES):
                key = f"p{slot}.{side}_hand_{name}"
                if key in f:
                    hand_features[i * 2 + k, j] = REGISTRY.normalise(key, f[key])
        for j, name in enumerate(FACE_FEATURES):
            key = f"p{slot}.{name}"
            if key in f:
                face_features[i, j] = REGISTRY.normalise(key, f[key])
    return {
        "u_hands": hands,
        "u_face": face,
        "u_hand_features": hand_features.reshape(-1, 4),
        "u_face_features": face_features.reshape(-1, 4),
    }
