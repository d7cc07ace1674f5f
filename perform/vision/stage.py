"""The pose stage: camera frames in, poses out."""

from __future__ import annotations

import logging
import math
import time

from perform.pipeline import EventLog, Frame, ProcessStage, Slot, Stats
from perform.vision.base import PoseBackend, make_backend
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.types import PersonEvent, Poses

log = logging.getLogger(__name__)


class PoseStage(ProcessStage[Frame, Poses]):
    """Camera frames in, :class:`Poses` out. The model loads on the stage's own thread."""

    stall_budget_scale = 1.0

    def __init__(
        self,
        stats: Stats,
        frames: Slot[Frame],
        poses: Slot[Poses],
        config: PoseConfig,
        events: EventLog[PersonEvent] | None = None,
    ) -> None:
        super().__init__("pose", stats, frames, poses)
        self.config = config
        self.perception = Perception(config, events)
        self.backend: PoseBackend | None = None

    def process(self, item: Frame) -> Poses:
        if self.backend is None:
            self.beat = math.inf  # loading a model is not a stall
            self.backend = make_backend(self.config)
            self.beat = time.monotonic()
            log.info("pose: %s", self.backend.name)
        detections = self.backend(item.image, item.t_capture)
        if self.superseded:  # this step stalled and was given up on: the tracker is the new thread's
            return None  # type: ignore[return-value]
        return self.perception(detections, item.seq, item.t_capture, item.width, item.height, item)

    def reset(self) -> None:
        # the stuck thread keeps the old model; the next frame loads a fresh one (new timestamps)
        self.backend = None

    def on_stop(self) -> None:
        super().on_stop()
        if self.backend is not None:
            self.backend.close()
