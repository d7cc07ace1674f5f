"""A synthetic test pattern: a figure walking and waving over a grid, for shows with no camera."""

from __future__ import annotations

import math

import cv2
import numpy as np

from perform.capture.base import Pacer, Source
from perform.capture.config import PatternSource


def draw_pattern(
    width: int, height: int, n: int, fps: float, background: np.ndarray | None = None
) -> np.ndarray:
    """Frame ``n`` of the pattern (RGB). Deterministic: the same arguments give the same pixels."""
    image = background.copy() if background is not None else pattern_background(width, height)
    t = n / fps
    s = height / 720.0  # figure scale
    # walks back and forth across the middle 70 % of the stage, turning at the ends
    phase = (t / 8.0) % 2.0
    travel = phase if phase < 1.0 else 2.0 - phase
    cx = width * (0.15 + 0.7 * (0.5 - 0.5 * math.cos(math.pi * travel)))
    step = math.sin(2 * math.pi * t * 1.2)
    bob = abs(step) * 8 * s
    hip = np.array([cx, height * 0.62 - bob])
    neck = hip + (0, -190 * s)
    head = neck + (0, -55 * s)
    limbs = []
    for side in (-1, 1):
        swing = side * step * 0.45
        knee = hip + (70 * s * math.sin(swing), 120 * s * math.cos(swing))
        foot = knee + (75 * s * math.sin(swing * 0.5), 125 * s)
        limbs += [(hip + (side * 18 * s, 0), knee), (knee, foot)]
        # one arm waves overhead, the other swings with the walk
        angle = (0.5 + 0.5 * math.sin(2 * math.pi * t * 0.5)) * 2.6 if side == 1 else -swing
        shoulder = neck + (side * 40 * s, 15 * s)
        elbow = shoulder + (side * 80 * s * math.sin(angle + 0.2), 80 * s * math.cos(angle + 0.2))
        hand = elbow + (side * 75 * s * math.sin(angle + 0.4), 75 * s * math.cos(angle + 0.4))
        limbs += [(neck, shoulder), (shoulder, elbow), (elbow, hand)]
    body = (236, 200, 170)
    thick = max(2, round(26 * s))
    cv2.line(image, _pt(neck), _pt(hip), body, round(thick * 1.6), cv2.LINE_AA)
    for a, b in limbs:
        cv2.line(image, _pt(a), _pt(b), body, thick, cv2.LINE_AA)
    cv2.circle(image, _pt(head), round(38 * s), body, -1, cv2.LINE_AA)
    # a frame counter and a sweep bar make dropped or repeated frames visible on screen
    bar = int((n % round(fps)) / max(1, round(fps)) * width)
    cv2.rectangle(image, (0, height - max(4, round(8 * s))), (bar, height), (255, 80, 40), -1)
    cv2.putText(
        image,
        f"{n:06d}",
        (round(16 * s), round(40 * s)),
        cv2.FONT_HERSHEY_SIMPLEX,
        s,
        (255, 255, 255),
        max(1, round(2 * s)),
        cv2.LINE_AA,
    )
    return image


def pattern_background(width: int, height: int) -> np.ndarray:
    """Dark blue gradient with a grid, so motion and scaling are easy to judge."""
    ramp = np.linspace(20, 70, height, dtype=np.float32)[:, None]
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = 15
    image[..., 1] = (ramp * 0.6).astype(np.uint8)
    image[..., 2] = ramp.astype(np.uint8)
    spacing = max(8, height // 12)
    image[::spacing, :] = (60, 70, 100)
    image[:, ::spacing] = (60, 70, 100)
    return image


def _pt(p: np.ndarray) -> tuple[int, int]:
    return round(float(p[0])), round(float(p[1]))


class Pattern(Source):
    """The test pattern at a set size and rate."""

    def __init__(self, config: PatternSource) -> None:
        self.config = config
        self.name = f"pattern {config.width}x{config.height}@{config.fps:g}"
        self._n = 0
        self._background: np.ndarray | None = None
        self._pacer = Pacer(None if config.fast else config.fps)

    def open(self) -> None:
        self._background = pattern_background(self.config.width, self.config.height)
        self._pacer.reset()

    def read(self) -> tuple[np.ndarray, float] | None:
        c = self.config
        image = draw_pattern(c.width, c.height, self._n, c.fps, self._background)
        self._n += 1
        return image, self._pacer.wait()

    def close(self) -> None:
        self._background = None
