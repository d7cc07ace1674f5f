"""What a frame draws from: the newest of every input, and uniforms bound to them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from perform.audio.analysis import AudioFeatures
from perform.control import Value
from perform.mapping import Smoother, ValueMap, map_value
from perform.pipeline import Frame
from perform.render.config import Binding
from perform.style.types import Styled
from perform.vision.types import Poses


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
