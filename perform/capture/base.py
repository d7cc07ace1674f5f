"""The source backend contract, and the clock that paces file and synthetic sources."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod

import numpy as np


class Source(ABC):
    """A backend that yields images. Used by one thread at a time (the capture stage's grabber).

    ``read`` blocks until the next image is due and returns it with its capture time
    (``time.monotonic()``), or ``None`` when the source has ended for good. Failures raise
    :class:`perform.errors.SourceError` (or anything else; the stage treats both alike).
    """

    #: Human-readable description for the console ("camera 0 1280x720@30").
    name: str = "source"
    #: A live sensor (a camera): its images never repeat exactly, so one that does is frozen.
    live: bool = False

    @abstractmethod
    def open(self) -> None:
        """Acquire the device or file; raise SourceError when that is not possible."""

    @abstractmethod
    def read(self) -> tuple[np.ndarray, float] | None:
        """The next image (H x W x 3 uint8 RGB) and its capture time, or None at the end."""

    @abstractmethod
    def close(self) -> None:
        """Release the device or file; safe to call twice."""


class Pacer:
    """Releases frames on an absolute schedule of ``fps``, so playback never drifts.

    A reader that falls more than two frames behind is resynchronised rather than rushed,
    which keeps a live show in real time at the cost of the frames it was too late for.
    """

    def __init__(self, fps: float | None) -> None:
        self.period = 1.0 / fps if fps else 0.0
        self._next: float | None = None

    def wait(self) -> float:
        """Sleep until the next frame is due; return the time it was released."""
        now = time.monotonic()
        if self.period == 0.0:
            return now
        if self._next is None or now - self._next > 2 * self.period:
            self._next = now
        delay = self._next - now
        if delay > 0:
            time.sleep(delay)
        released = max(time.monotonic(), self._next)
        self._next += self.period
        return released

    def reset(self) -> None:
        self._next = None
