"""Where something moves, for a fixed camera: foreground blobs that tell the detector where to look.

OpenCV's MOG2 background subtractor runs on a small copy of each frame (about 2 ms at 384 px
wide); its foreground, opened and closed, falls into connected blobs, each a place where one
person or a group may be. :func:`perform.vision.twopass.views_around` turns blobs into the
detector's square views. The same foreground stands in as a silhouette for people the landmark model gives no
mask for (:meth:`MotionMap.silhouette`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Frames before the background model is trusted (the first frames are all foreground).
WARMUP_FRAMES = 15
_WIDTH = 384  # the subtractor's working width


@dataclass(frozen=True, slots=True)
class Box:
    """An axis-aligned box in frame pixels."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def w(self) -> float:
        return self.x1 - self.x0

    @property
    def h(self) -> float:
        return self.y1 - self.y0

    def overlap(self, other: Box) -> float:
        """The share of this box that ``other`` covers, 0..1."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(w, 0.0) * max(h, 0.0) / max(self.w * self.h, 1e-9)


class MotionMap:
    """MOG2 foreground of a fixed camera's frames and its blobs, in frame pixels.

    ``min_height``: the smallest blob kept, as a fraction of the frame height (a person 50 px tall
    in a 576 px frame is 0.087; blobs are cut from the legs' gaps, so the floor is lower).
    """

    def __init__(self, min_height: float = 0.04, history: int = 300, var_threshold: float = 25.0) -> None:
        self.min_height = min_height
        self._mog = cv2.createBackgroundSubtractorMOG2(
            history=history, varThreshold=var_threshold, detectShadows=True
        )
        self._open = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self._close = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 9))
        self.frames = 0
        self.scale = 1.0
        self.foreground: np.ndarray | None = None  # (h, w) uint8 0/255 at the working size
        self.blobs: list[Box] = []
        self._silhouette: tuple[tuple[int, int, int] | None, np.ndarray | None] = (None, None)

    @property
    def warm(self) -> bool:
        return self.frames >= WARMUP_FRAMES

    def update(self, image: np.ndarray) -> list[Box]:
        """Learn from ``image`` (H, W, 3 uint8) and return its foreground blobs, largest first."""
        h, w = image.shape[:2]
        self.scale = min(1.0, _WIDTH / w)
        small = cv2.resize(
            image, (round(w * self.scale), round(h * self.scale)), interpolation=cv2.INTER_AREA
        )
        # a fast start: the first frames teach the background quickly, then it follows slowly
        rate = -1.0 if self.frames >= WARMUP_FRAMES else 1.0 / (self.frames + 1)
        raw = self._mog.apply(small, learningRate=rate)
        self.frames += 1
        fg = np.where(raw == 255, 255, 0).astype(np.uint8)  # 127 is shadow
        fg = cv2.morphologyEx(fg, cv2.MORPH_OPEN, self._open)
        fg = cv2.morphologyEx(fg, cv2.MORPH_CLOSE, self._close)
        self.foreground = fg
        n, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
        floor = self.min_height * fg.shape[0]
        blobs = [
            Box(x / self.scale, y / self.scale, (x + bw) / self.scale, (y + bh) / self.scale)
            for x, y, bw, bh, area in stats[1:n]
            if bh >= floor and area >= 0.15 * bh * max(bh * 0.25, 2)
        ]
        blobs.sort(key=lambda b: b.w * b.h, reverse=True)
        self.blobs = blobs if self.warm else []
        return self.blobs

    def silhouette(self, width: int, height: int) -> np.ndarray | None:
        """The foreground as an (H, W) float32 0..1 mask at the frame's size, softened at the edge."""
        if self.foreground is None or not self.warm:
            return None
        key = (self.frames, width, height)
        if self._silhouette[0] != key:  # once a frame, however many people need it
            soft = cv2.GaussianBlur(self.foreground, (5, 5), 0)
            big = cv2.resize(soft, (width, height), interpolation=cv2.INTER_LINEAR)
            self._silhouette = (key, big.astype(np.float32) / 255.0)
        return self._silhouette[1]
