"""Pose sources: stages that deliver poses with no camera and no pose model.

Virtual performers and takes are here; the remote source (:class:`perform.osc.remote.RemoteSourceStage`)
is one too. Each stands in for both the capture and the pose stage: it publishes poses, and a
drawing of them as the camera image, so everything downstream runs as it does for a camera.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from perform.capture.base import Pacer
from perform.pipeline import POLL_S, EventLog, Frame, Slot, Stage, StageState, Stats
from perform.vision.config import PoseConfig, TakeSource, VirtualSource
from perform.vision.draw import draw_bodies, slot_color
from perform.vision.perception import Perception
from perform.vision.take import TakeRecord, read_take
from perform.vision.types import PersonEvent, Poses
from perform.vision.virtual import VirtualTroupe

log = logging.getLogger(__name__)


class PoseSource(Stage):
    """Publishes poses and a drawing of them as the camera image, at the source's rate.

    Runs as the ``capture`` stage and keeps the ``pose`` stage's stats as well.
    """

    def __init__(self, stats: Stats, frames: Slot[Frame], poses: Slot[Poses], fps: float | None) -> None:
        super().__init__("capture", stats)
        self.frames = frames
        self.poses = poses
        self.pose_stats = stats.stage("pose")
        self.pose_stats.state = "running"
        self.pacer = Pacer(fps)
        self.seq = 0
        self.source_name = ""
        self._background: np.ndarray | None = None

    def emit(self, poses: Poses, width: int, height: int) -> None:
        self.stats.record(poses.t_capture)
        if self.frames.readers:  # draw the skeletons only when something shows the camera image
            poses = replace(poses, frame=self._draw(poses, width, height))
            self.frames.publish(poses.frame)
        self.poses.publish(poses)
        self.pose_stats.record(poses.t_capture)

    def _draw(self, poses: Poses, width: int, height: int) -> Frame:
        if self._background is None or self._background.shape[:2] != (height, width):
            self._background = np.empty((height, width, 3), np.uint8)
            self._background[:] = (18, 18, 26)
        image = self._background.copy()
        colors = [slot_color(b.slot) for b in poses.bodies]
        draw_bodies(image, [b.landmarks for b in poses.bodies], colors)
        image.setflags(write=False)
        return Frame(image, poses.seq, poses.t_capture, self.source_name)

    def on_stop(self) -> None:
        self.frames.close()
        self.poses.close()
        self.pose_stats.state = "stopped"


class VirtualSourceStage(PoseSource):
    """Virtual performers through the same tracking, smoothing and features as a camera's people."""

    def __init__(
        self,
        stats: Stats,
        frames: Slot[Frame],
        poses: Slot[Poses],
        source: VirtualSource,
        config: PoseConfig,
        events: EventLog[PersonEvent] | None = None,
    ) -> None:
        super().__init__(stats, frames, poses, None if source.fast else source.fps)
        self.source = source
        self.troupe = VirtualTroupe(people=source.people, seed=source.seed)
        config = config.model_copy(update={"max_people": max(config.max_people, source.people)})
        self.perception = Perception(config, events)
        self.source_name = f"virtual {source.people} people, seed {source.seed}"
        self._t0: float | None = None
        self.period = 1.0 / source.fps

    def step(self) -> None:
        t = self.pacer.wait()
        if self._t0 is None:
            self._t0 = t
        # the script's clock: real time, or frame count when running fast
        script_t = (t - self._t0) if not self.source.fast else self.seq * self.period
        s = self.source
        detections = [d for _, d in self.troupe.detections(script_t, s.width, s.height)]
        poses = self.perception(detections, self.seq, t, s.width, s.height)
        self.seq += 1
        self.emit(poses, s.width, s.height)


class TakeSourceStage(PoseSource):
    """Replays a take at real speed (or ``speed`` times it); features are computed afresh."""

    def __init__(
        self,
        stats: Stats,
        frames: Slot[Frame],
        poses: Slot[Poses],
        source: TakeSource,
        config: PoseConfig,
        events: EventLog[PersonEvent] | None = None,
    ) -> None:
        super().__init__(stats, frames, poses, None)
        self.source = source
        self.perception = Perception(config, events)
        self.header, self._records = read_take(source.path)
        self.width, self.height = int(self.header["width"]), int(self.header["height"])
        self.source_name = f"take {source.path.name}"
        self._start: float | None = None

    def step(self) -> None:
        record = next(self._records, None)
        if record is None:
            if not self.source.loop:
                log.info("capture: %s ended", self.source_name)
                self.state = StageState.ENDED
                return
            if self._start is None:  # nothing was read since the last start: an empty take
                log.warning("capture: %s holds no frames", self.source_name)
                self.state = StageState.ENDED
                return
            _, self._records = read_take(self.source.path)
            self.perception.reset()
            self._start = None
            return
        if self._start is None:
            self._start = time.monotonic() - record.t / self.source.speed
        if not self.source.fast:
            due = self._start + record.t / self.source.speed
            while not self.stopping and time.monotonic() < due:
                time.sleep(min(POLL_S, max(0.0, due - time.monotonic())))
        self.emit(self._replay(record), self.width, self.height)

    def _replay(self, record: TakeRecord) -> Poses:
        now = time.monotonic()
        events = tuple(PersonEvent(e.kind, e.slot, now - record.t + e.t) for e in record.events)
        poses = self.perception.finish(
            list(record.bodies), self.seq, now, self.width, self.height, events, t_features=record.t
        )
        self.seq += 1
        return replace(poses, mask=record.mask) if record.mask is not None else poses
