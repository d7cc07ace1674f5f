"""The pose backend contract."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from perform.quiet import quiet_stderr
from perform.vision.config import PoseConfig
from perform.vision.types import Detection


class PoseBackend(ABC):
    """Finds people in RGB images. Used by one thread at a time (the pose stage).

    ``detect`` takes an H x W x 3 uint8 RGB image and its capture time in seconds
    (``time.monotonic()``); backends that track across frames need capture times that strictly
    increase, and must make them so themselves if a caller repeats one.
    """

    name: str = "pose"
    _calls = 0

    def __call__(self, image: np.ndarray, t_capture: float) -> list[Detection]:
        """:meth:`detect`, keeping the models' start-up chatter (TFLite, absl) off the console."""
        self._calls += 1
        if self._calls > 3:
            return self.detect(image, t_capture)
        with quiet_stderr():
            return self.detect(image, t_capture)

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


def make_backend(config: PoseConfig, static_images: bool = False) -> PoseBackend:
    """The pose model a config asks for (``auto``: legacy for one person, twopass for several)."""
    backend = config.backend
    if backend == "auto":
        backend = "legacy" if config.max_people == 1 else "twopass"
    if backend == "legacy":
        from perform.vision.legacy import LegacyPose

        with quiet_stderr():
            return LegacyPose(
                config.min_detection_confidence, config.min_tracking_confidence, config.masks, static_images
            )
    if backend == "twopass":
        from perform.vision.twopass import TwoPassPose

        with quiet_stderr():
            return TwoPassPose(
                num_poses=config.max_people,
                min_detection_confidence=config.min_detection_confidence,
                min_tracking_confidence=config.min_tracking_confidence,
                masks=config.masks,
                detect_every=1 if static_images else config.detect_every,
                proposals="grid" if static_images else config.proposals,
                landmark_budget=0 if static_images else config.landmark_budget,
                tile_sizes=(0.5, 0.3) if static_images else (0.6,),
                hog=static_images,
            )
    from perform.vision.tasks import TasksPose

    with quiet_stderr():
        return TasksPose(
            num_poses=config.max_people,
            min_detection_confidence=config.min_detection_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
            masks=config.masks,
            tiles=config.tiles,
        )
