"""Value mapping: an input range onto 0..1, clamped, smoothed, shaped by a curve, onto an output range.

One path for every output that scales a value: OSC targets, MIDI CCs and scene bindings.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from perform.schema import Model

Curve = Literal["linear", "exponential", "logarithmic", "smoothstep", "smootherstep"]


class ValueMap(Model):
    """How a value becomes what is sent: ``in`` range -> 0..1 -> clamp -> smoothing -> curve -> ``out``."""

    in_lo: float | None = Field(
        None, description="Input value mapped to 0 (null: the feature's documented range, 0 for landmarks)."
    )
    in_hi: float | None = Field(
        None, description="Input value mapped to 1 (null: the feature's documented range, 1 for landmarks)."
    )
    out_lo: float = Field(0.0, description="What 0 becomes.")
    out_hi: float = Field(1.0, description="What 1 becomes.")
    clamp: bool = Field(
        True, description="Keep values inside out_lo..out_hi; off, a linear curve extrapolates."
    )
    curve: Curve = Field(
        "linear",
        description="Shape of the 0..1 value: linear; exponential u^power (slow start); logarithmic "
        "1-(1-u)^power (fast start); smoothstep and smootherstep (S-curves). Curves other than linear "
        "always work on the clamped value.",
    )
    power: float = Field(2.0, gt=0, le=20, description="Exponent of the exponential and logarithmic curves.")
    smoothing_s: float = Field(
        0.0, ge=0, le=60, description="Time constant (s) of exponential smoothing before the curve; 0: none."
    )
    integer: bool = Field(False, description="Round and send as an OSC int32 instead of a float32.")

    @model_validator(mode="after")
    def _ranges(self) -> ValueMap:
        if self.in_lo is not None and self.in_hi is not None and self.in_lo == self.in_hi:
            raise ValueError(f"in_lo and in_hi must differ, got both {self.in_lo}")
        return self


def apply_curve(u: np.ndarray, curve: str, power: float) -> np.ndarray:
    """A curve on 0..1 values (non-linear curves clamp first)."""
    if curve == "linear":
        return u
    u = np.clip(u, 0.0, 1.0)
    if curve == "exponential":
        return u**power
    if curve == "logarithmic":
        return 1.0 - (1.0 - u) ** power
    if curve == "smoothstep":
        return u * u * (3.0 - 2.0 * u)
    if curve == "smootherstep":
        return u * u * u * (u * (6.0 * u - 15.0) + 10.0)
    raise ValueError(f"unknown curve {curve!r}")


class Smoother:
    """Exponential smoothing of named value arrays, time constant ``tau`` seconds on capture time."""

    def __init__(self) -> None:
        self._state: dict[Any, tuple[float, Any]] = {}

    def __call__(self, key: Any, u: Any, t: float, tau: float) -> Any:
        """``u`` (an array, or one float) smoothed toward from the last value under ``key``."""
        old = self._state.get(key)
        if old is not None and np.shape(old[1]) == np.shape(u):
            dt = t - old[0]
            if dt > 0:
                u = old[1] + (1.0 - math.exp(-dt / tau)) * (u - old[1])
            elif dt == 0:
                u = old[1]
        self._state[key] = (t, u)
        return u

    def forget(self, keys: set[Any] | None = None) -> None:
        if keys is None:
            self._state.clear()
        else:
            for k in keys:
                self._state.pop(k, None)


def map_values(
    vm: ValueMap,
    values: np.ndarray,
    lo: np.ndarray | float,
    hi: np.ndarray | float,
    smoother: Smoother | None = None,
    key: Any = None,
    t: float = 0.0,
) -> np.ndarray:
    """``values`` through ``vm``; ``lo``/``hi`` are the input range where ``vm`` leaves it open."""
    in_lo = lo if vm.in_lo is None else vm.in_lo
    in_hi = hi if vm.in_hi is None else vm.in_hi
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (v - in_lo) / (np.asarray(in_hi) - in_lo)
    u = np.nan_to_num(u, nan=0.0, posinf=1.0, neginf=0.0)
    if vm.clamp:
        u = np.clip(u, 0.0, 1.0)
    if vm.smoothing_s > 0 and smoother is not None:
        u = smoother(key, u, t, vm.smoothing_s)
    u = apply_curve(u, vm.curve, vm.power)
    out = vm.out_lo + u * (vm.out_hi - vm.out_lo)
    if vm.integer:
        out = np.rint(out)
    return out


def map_value(
    vm: ValueMap,
    value: float,
    lo: float = 0.0,
    hi: float = 1.0,
    smoother: Smoother | None = None,
    key: Any = None,
    t: float = 0.0,
) -> float:
    """One value through ``vm``: :func:`map_values` for a float, without arrays (a binding's
    uniform, a MIDI CC: every frame)."""
    in_lo = lo if vm.in_lo is None else vm.in_lo
    in_hi = hi if vm.in_hi is None else vm.in_hi
    v = value if math.isfinite(value) else 0.0
    span = in_hi - in_lo
    u = (v - in_lo) / span if span else math.copysign(math.inf, v - in_lo) if v != in_lo else math.nan
    if not math.isfinite(u):  # as map_values: NaN -> 0, +inf -> 1, -inf -> 0
        u = 1.0 if u == math.inf else 0.0
    if vm.clamp:
        u = min(1.0, max(0.0, u))
    if vm.smoothing_s > 0 and smoother is not None:
        u = smoother(key, u, t, vm.smoothing_s)
    u = float(apply_curve(u, vm.curve, vm.power))  # type: ignore[arg-type]
    out = vm.out_lo + u * (vm.out_hi - vm.out_lo)
    return float(round(out)) if vm.integer else out
