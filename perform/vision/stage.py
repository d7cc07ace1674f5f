"""The pose stage, and the sources that deliver poses without a camera (virtual performers, takes)."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

import numpy as np

from perform.capture.base import Pacer
from perform.control import Controls, Cue, take_name
from perform.errors import PerformError
from perform.pipeline import POLL_S, EventLog, Frame, ProcessStage, Slot, Stage, StageState, Stats
from perform.show.models import Pose as PoseConfig
from perform.show.models import TakeSource, VirtualSource
from perform.vision.base import PoseBackend, make_backend
from perform.vision.draw import draw_bodies, slot_color
from perform.vision.perception import Perception
from perform.vision.take import TakeError, TakeRecord, TakeWriter, open_new_take, read_take
from perform.vision.types import PersonEvent, Poses
from perform.vision.virtual import VirtualTroupe

log = logging.getLogger(__name__)

TAKE_START, TAKE_STOP = "take.start", "take.stop"
#: Least time between two takes started by cues.
TAKE_CUE_INTERVAL_S = 1.0
#: Cues a stage acts on per step at most; the rest wait in their queue for the next step.
MAX_CUES_PER_STEP = 4


class PoseStage(ProcessStage[Frame, Poses]):
    """Camera frames in, :class:`Poses` out. The model loads on the stage's own thread."""

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


class _PoseSourceStage(Stage):
    """Publishes poses and a drawing of them as the camera image, at the source's rate."""

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


class VirtualSourceStage(_PoseSourceStage):
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


class TakeSourceStage(_PoseSourceStage):
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
        self._offset = 0.0

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


class TakeRecorder(ProcessStage[Poses, Poses]):
    """Writes every pose result it gets to a take file; cues start and stop takes mid-show.

    ``path`` given (the operator's ``--take``): recording starts with the show. Cue
    ``take.start [NAME]`` starts a new take in ``folder``: ``NAME`` is a plain file name (``.take``
    added), default ``take-YYYYmmdd-HHMMSS.take``; a name that is taken gets a number, nothing is
    ever overwritten. ``take.stop`` ends the current take. A take cue within
    :data:`TAKE_CUE_INTERVAL_S` of the last started one is refused (a flood must not fill a disk
    with files).
    """

    def __init__(
        self,
        stats: Stats,
        poses: Slot[Poses],
        path: Path | None = None,
        masks: bool = False,
        show: str = "",
        controls: Controls | None = None,
        folder: Path = Path("takes"),
    ) -> None:
        super().__init__("take", stats, poses)
        self.masks = masks
        self.show = show
        self.folder = folder
        # a queue each: a flood of take.start never keeps the operator's take.stop out
        self.cues = (
            (controls.listen(TAKE_START), controls.listen(TAKE_STOP)) if controls is not None else None
        )
        self.writer: TakeWriter | None = None
        self._file: BinaryIO | None = None  # opened by a cue, handed to the writer on the next frame
        self.path: Path | None = _writable(path) if path is not None else None
        self.recording = path is not None
        self.refused = 0  # take cues refused: bad name, too soon, cannot write
        self._last_start = -math.inf

    def step(self) -> None:
        if self.cues is not None:
            starts, stops = (q.drain(MAX_CUES_PER_STEP) for q in self.cues)
            for cue in sorted(starts + stops, key=lambda c: c.t):
                try:
                    self._on_cue(cue)
                except Exception as exc:  # a cue costs itself, never the stage
                    self.refused += 1
                    self.report_error(f"{cue.name}: {type(exc).__name__}: {exc}", kind="cue")
        super().step()
        if self.state is StageState.RUNNING:  # what the operator wants to read in the status
            self.stats.state = "recording" if self.recording else "idle"

    def _on_cue(self, cue: Cue) -> None:
        if cue.name == TAKE_STOP:
            self._close()
            self.recording = False
        elif cue.name == TAKE_START:
            now = time.monotonic()
            if now - self._last_start < TAKE_CUE_INTERVAL_S:
                self.refused += 1
                self.report_error(
                    f"take.start from {cue.source or '?'} refused: another take started "
                    f"{now - self._last_start:.2f} s ago (at most one every {TAKE_CUE_INTERVAL_S:g} s)",
                    kind="take.start",
                )
                return
            try:
                name = take_name(str(cue.args[0])) if cue.args else time.strftime("take-%Y%m%d-%H%M%S.take")
                path, file = open_new_take(self.folder, name)
            except PerformError as exc:
                self.refused += 1
                self.report_error(f"take.start from {cue.source or '?'} refused: {exc}", kind="take.start")
                return
            self._last_start = now
            self._close()
            self.path, self._file = path, file
            self.recording = True
            log.info("take: recording to %s", path)

    def process(self, item: Poses) -> Poses | None:
        if not self.recording or self.path is None:
            return None
        if self.writer is None:
            file, self._file = self._file, None
            self.writer = TakeWriter(self.path, item.width, item.height, self.masks, self.show, file=file)
        self.writer.write(item)
        return item

    def _close(self) -> None:
        if self._file is not None:  # started, no frame written yet: an empty file stays, closed
            self._file.close()
            self._file = None
        if self.writer is not None:
            self.writer.close()
            log.info("take: %d frames written to %s", self.writer.records, self.writer.path)
            self.writer = None

    def on_stop(self) -> None:
        super().on_stop()
        self._close()


def _writable(path: Path) -> Path:
    """Fail at once, not on the first frame, when a take cannot be written there."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.open("ab").close()
    except OSError as exc:
        raise TakeError(f"{path}: cannot write the take: {exc.strerror}") from None
    return path
