"""The take recorder: writes the pose stream to take files, started and stopped by the show or cues."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import BinaryIO

from perform.control import Controls, Cue, take_name
from perform.errors import PerformError
from perform.pipeline import ProcessStage, Slot, StageState, Stats
from perform.vision.take import TakeError, TakeWriter, open_new_take
from perform.vision.types import Poses

log = logging.getLogger(__name__)

TAKE_START, TAKE_STOP = "take.start", "take.stop"
#: Least time between two takes started by cues.
TAKE_CUE_INTERVAL_S = 1.0
#: Cues the recorder acts on per step at most; the rest wait in their queue for the next step.
MAX_CUES_PER_STEP = 4


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
