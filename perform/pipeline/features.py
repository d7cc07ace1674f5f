"""The feature registry: every feature's meaning, unit, range and scope, by name.

Features are named as documented: per-person ones bare (``energy``, ``floor_x``), stage ones as
sent (``stage.energy``, ``people``, ``audio.level``). Each has a raw value, in its unit, and a
control value, its range ``lo..hi`` mapped onto 0..1 (:func:`normalise`): what OSC and MIDI send,
and what a rule reads when it names ``<feature>.ctl``. Each frame carries them as emitted:
``p{slot}.{name}`` per person, stage names as they are. :data:`REGISTRY` is the one table
that OSC, MIDI and rules read. The packages that make features add theirs when
their module is imported (:mod:`perform.vision.features`: body and floor,
:mod:`perform.audio.analysis`: audio), so a module that checks names imports those; a show adds
its own audio configuration (bands, tempo range) when it starts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

PERSON = "person"
STAGE = "stage"
#: A rule reads a feature's control value, its range mapped onto 0..1 as OSC sends it, when its
#: name ends with this (``hands_up.ctl``); the bare name reads the raw value.
CONTROL = ".ctl"

_PERSON_NAME = re.compile(r"p\d+\.(\w+)")


@dataclass(frozen=True, slots=True)
class FeatureInfo:
    """One feature: what it means, its unit, the range ``lo..hi`` mapped onto 0..1, its scope."""

    description: str
    unit: str
    lo: float
    hi: float
    scope: str  # PERSON | STAGE
    #: Value before the feature could first be measured (a neutral pose).
    default: float = 0.0


class FeatureRegistry:
    """Features by documented name, with lookups by the name a frame emits."""

    def __init__(self) -> None:
        self._features: dict[str, FeatureInfo] = {}

    def register(self, features: Mapping[str, FeatureInfo]) -> None:
        """Add features, or replace them (a show's audio bands and tempo range)."""
        self._features.update(features)

    def get(self, name: str) -> FeatureInfo | None:
        """The entry for a documented name (``energy``, ``stage.energy``); None when unknown."""
        return self._features.get(name)

    def names(self, scope: str) -> list[str]:
        """Documented names of one scope, in the order they were added."""
        return [n for n, f in self._features.items() if f.scope == scope]

    def info(self, name: str) -> FeatureInfo:
        """The entry for an emitted name (``p3.energy``, ``stage.spread``, ``people``, ``audio.level``)."""
        info = self._features.get(name)
        if info is None or info.scope != STAGE:
            m = _PERSON_NAME.fullmatch(name)
            info = self._features.get(m.group(1)) if m else None
            if info is None or info.scope != PERSON:
                raise KeyError(
                    f"unknown feature {name!r}: expected p<slot>.<name>, stage.<name>, audio.<name> or people"
                )
        return info

    def normalise(self, name: str, value: float) -> float:
        """``value`` of emitted feature ``name`` mapped from its range onto 0..1, clamped (NaN -> 0)."""
        info = self.info(name)
        u = (value - info.lo) / (info.hi - info.lo)
        if not math.isfinite(u):
            return 0.0 if math.isnan(u) else float(u > 0)
        return min(1.0, max(0.0, u))


def control_name(name: str) -> tuple[str, bool]:
    """``("hands_up", True)`` for ``hands_up.ctl`` (the 0..1 control value), ``(name, False)`` else."""
    return (name.removesuffix(CONTROL), True) if name.endswith(CONTROL) else (name, False)


def control_formula(info: FeatureInfo) -> str:
    """How the control value follows from the raw value ``v``, for the docs: ``(v + 0.5) / 2``."""
    if info.lo == 0 and info.hi == 1:
        return "v"
    shifted = "v" if info.lo == 0 else f"(v {'+' if info.lo < 0 else '-'} {abs(info.lo):g})"
    return f"{shifted} / {info.hi - info.lo:g}"


#: Every feature of this process.
REGISTRY = FeatureRegistry()

# the registry's lookups as functions
feature_info = REGISTRY.info
normalise = REGISTRY.normalise
register_features = REGISTRY.register
