"""The pose backend contract."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from perform.vision.types import Detection


class PoseBackend(ABC):
    """Finds people in RGB images. Used by one thread at a time (the pose stage).

    ``detect`` takes an H x W x 3 uint8 RGB image and its capture time in seconds
    (``time.monotonic()``); backends that track across frames need capture times that strictly
    increase, and must make them so themselves if a caller repeats one.
    """

    name: str = "pose"

    @abstractmethod
    def detect(self, image: np.ndarray, t_capture: float) -> list[Detection]:
        """The people in ``image``, best first."""

    def close(self) -> None:  # noqa: B027 (optional hook)
        """Release models and threads."""


class MonotonicMs:
    """Millisecond timestamps for MediaPipe's video mode, which must strictly increase."""

    def __init__(self) -> None:
        self._last = -1

    def __call__(self, t: float) -> int:
        ms = int(t * 1000.0)
        if ms <= self._last:
            ms = self._last + 1
        self._last = ms
        return ms
