"""One Euro smoothing of landmarks, and forward prediction by the measured latency.

Casiez, Roussel and Vogel, "1 euro filter" (CHI 2012): a low-pass filter whose cutoff rises with
speed, so a held pose is steady and a fast gesture is not delayed. MediaPipe smooths pose
landmarks with the same filter, on values divided by the body's size; its settings
(min_cutoff 0.05, beta 80, d_cutoff 1) are the defaults here.
"""

from __future__ import annotations

import math

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuro:
    """A One Euro filter over an array of values of fixed shape, all filtered independently.

    ``scale`` divides values before the speed-dependent cutoff is computed (MediaPipe passes the
    body's size, so the same gesture is filtered alike near and far from the camera).
    """

    def __init__(self, min_cutoff: float = 0.05, beta: float = 80.0, d_cutoff: float = 1.0) -> None:
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.value: np.ndarray | None = None
        self.velocity: np.ndarray | None = None  # filtered derivative, in value units per second
        self._t: float | None = None

    def reset(self) -> None:
        self.value = self.velocity = None
        self._t = None

    def __call__(self, x: np.ndarray, t: float, scale: float = 1.0) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self.value is None or self._t is None or self.value.shape != x.shape:
            self.value, self.velocity, self._t = x.copy(), np.zeros_like(x), t
            return self.value.copy()
        dt = t - self._t
        if dt <= 0.0:  # a repeated or out-of-order time: keep what we have
            return self.value.copy()
        self._t = t
        scale = scale if scale > 1e-9 else 1.0
        raw_velocity = (x - self.value) / dt
        self.velocity += _alpha(self.d_cutoff, dt) * (raw_velocity - self.velocity)
        cutoff = self.min_cutoff + self.beta * np.abs(self.velocity) / scale
        self.value += _alpha(cutoff, dt) * (x - self.value)
        return self.value.copy()

    def predict(self, ahead_s: float) -> np.ndarray | None:
        """The filtered value extrapolated ``ahead_s`` seconds along its filtered velocity."""
        if self.value is None or self.velocity is None:
            return None
        return self.value + self.velocity * max(0.0, ahead_s)
