"""The stage picture, small and a few times a second, for someone watching from elsewhere."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np


class Thumbnail:
    """Latest-wins holder of the stage picture for a viewer (the operator's panel).

    The projector reads its picture back only when :meth:`wanted` says so: someone watches and
    the last one is at least ``1 / fps`` old, so a show nobody watches pays nothing. Pictures are
    kept as the projector gives them (RGBA, bottom row first); :meth:`jpeg` shrinks and encodes
    on the caller's thread.
    """

    def __init__(self, fps: float, width: int = 320) -> None:
        self.period = 1.0 / fps if fps > 0 else float("inf")
        self.width = width
        self.watchers = 0  # set by the viewer: pages that want pictures
        self.seq = 0
        self._lock = threading.Lock()
        self._pixels: np.ndarray | None = None
        self._bottom_up = True
        self._t = -float("inf")

    def wanted(self, now: float) -> bool:
        return self.watchers > 0 and now - self._t >= self.period

    def submit(self, pixels: np.ndarray, bottom_up: bool = True, now: float | None = None) -> None:
        """Keep ``pixels`` (H, W, 3 RGB or 4 RGBA uint8) as the newest picture."""
        with self._lock:
            self._pixels, self._bottom_up = pixels, bottom_up
            self._t = time.monotonic() if now is None else now
            self.seq += 1

    def jpeg(self, quality: int = 70) -> bytes | None:
        """The newest picture as a JPEG ``width`` wide, top row first; None before the first."""
        with self._lock:
            pixels, bottom_up = self._pixels, self._bottom_up
        if pixels is None:
            return None
        h, w = pixels.shape[:2]
        width = min(self.width, w)
        small = cv2.resize(pixels, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
        if bottom_up:
            small = small[::-1]
        code = cv2.COLOR_RGBA2BGR if small.shape[2] == 4 else cv2.COLOR_RGB2BGR
        ok, data = cv2.imencode(".jpg", cv2.cvtColor(small, code), [cv2.IMWRITE_JPEG_QUALITY, quality])
        return data.tobytes() if ok else None
