"""Fakes at the device boundary, with fault knobs."""

from __future__ import annotations

import threading
import time

import numpy as np

from perform.capture import Pacer, Source
from perform.errors import SourceError


class FakeCamera(Source):
    """A camera at ``fps`` whose frames encode their index in the top-left pixel.

    Fault knobs (counted in frames read by this instance, so a reopened fake starts clean
    unless ``shared`` carries state across instances):

    - ``fail_open``: the first N ``open`` calls (over all instances sharing ``shared``) raise.
    - ``raise_after``: ``read`` raises after N frames.
    - ``stall_after``: ``read`` blocks after N frames, for ``stall_s`` seconds (None: forever,
      until ``release`` is set).
    - ``end_after``: ``read`` returns None (end of input) after N frames.
    """

    def __init__(
        self,
        fps: float = 60.0,
        size: tuple[int, int] = (64, 48),
        fail_open: int = 0,
        raise_after: int | None = None,
        stall_after: int | None = None,
        stall_s: float | None = None,
        end_after: int | None = None,
        shared: dict | None = None,
    ) -> None:
        self.name = "fake camera"
        self.fps = fps
        self.size = size
        self.fail_open = fail_open
        self.raise_after = raise_after
        self.stall_after = stall_after
        self.stall_s = stall_s
        self.end_after = end_after
        self.shared = shared if shared is not None else {}
        self.shared.setdefault("opens", 0)
        self.shared.setdefault("closes", 0)
        self.shared.setdefault("reads", 0)
        self.release = threading.Event()
        self._n = 0
        self._pacer = Pacer(fps)

    def open(self) -> None:
        self.shared["opens"] += 1
        if self.shared["opens"] <= self.fail_open:
            raise SourceError(f"fake camera: open #{self.shared['opens']} refused")

    def read(self) -> tuple[np.ndarray, float] | None:
        if self.end_after is not None and self._n >= self.end_after:
            return None
        if self.raise_after is not None and self._n >= self.raise_after:
            raise SourceError("fake camera: unplugged")
        if self.stall_after is not None and self._n >= self.stall_after:
            self.release.wait(self.stall_s)
        t = self._pacer.wait()
        w, h = self.size
        image = np.zeros((h, w, 3), np.uint8)
        image[0, 0] = (self.shared["reads"] % 256, (self.shared["reads"] // 256) % 256, 0)
        self._n += 1
        self.shared["reads"] += 1
        return image, t

    def close(self) -> None:
        self.shared["closes"] += 1


def wait_until(predicate, timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll ``predicate`` until it holds or ``timeout`` passes; returns whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
