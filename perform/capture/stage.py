"""The capture stage: reads a source on its own thread and keeps it alive.

Two threads: the *grabber* reads the source as fast as it delivers and publishes each frame
to a latest-wins slot; the stage's own thread watches the grabber. A source that raises, or
delivers nothing for ``stall_timeout_s``, is closed and opened again with a doubling wait,
while everything downstream keeps running on the last frame it had.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable

import numpy as np

from perform.capture.base import Source
from perform.capture.config import CaptureSettings
from perform.capture.transform import Transform
from perform.errors import PerformError
from perform.pipeline import POLL_S, Frame, Slot, Stage, StageState, Stats

log = logging.getLogger(__name__)

#: Images whose brightest sampled pixel is below this are dark, never "frozen".
DARK = 24


class _Grabber:
    """One opened source and the thread reading it."""

    def __init__(
        self, source: Source, publish: Callable[[np.ndarray, float], None], frozen: bytes = b""
    ) -> None:
        self.source = source
        self.frozen = frozen  # the image a frozen camera kept repeating: not worth handing on
        self._publish = publish
        self.stop = threading.Event()
        self.frames = 0
        self.ended = False
        self.error: BaseException | None = None
        self.last_activity = time.monotonic()
        self.last_change = self.last_activity  # when the image last differed (frozen cameras)
        self.signature = b""
        self.thread = threading.Thread(target=self._run, name="perform-grab", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                result = self.source.read()
                if self.stop.is_set():  # abandoned while blocked in read: its frame is stale
                    return
                if result is None:
                    self.ended = True
                    return
                if self.source.live:
                    sample = np.ascontiguousarray(result[0][::16, ::16])
                    signature = sample.tobytes()
                    if signature == self.frozen:
                        continue  # still frozen: counts as delivering nothing
                    # a dark stage repeats black exactly on many sensors: that is not a frozen camera
                    if signature != self.signature or sample.max() < DARK:
                        self.signature, self.last_change = signature, time.monotonic()
                self._publish(*result)
                self.frames += 1
                self.last_activity = time.monotonic()
        except Exception as exc:
            self.error = exc


class CaptureStage(Stage):
    """Publishes :class:`Frame` objects from a source, reopening it when it fails or stalls."""

    def __init__(
        self,
        stats: Stats,
        open_source: Callable[[], Source],
        output: Slot[Frame],
        transform: Transform | None = None,
        settings: CaptureSettings | None = None,
        name: str = "capture",
    ) -> None:
        super().__init__(name, stats)
        self.open_source = open_source
        self.output = output
        self.transform = transform if transform is not None and not transform.is_identity else None
        self.settings = settings if settings is not None else CaptureSettings()
        self.source_name = "(not open)"
        self.opens = 0
        self._seq = itertools.count()
        self._grabber: _Grabber | None = None
        self._abandoned: list[threading.Thread] = []
        self._delay = self.settings.reopen_delay_s
        self._retry_at = 0.0
        self._failing = False
        self._frozen = b""

    def _publish(self, image: np.ndarray, t_capture: float) -> None:
        if self.transform is not None:
            image = self.transform(image)
        if image.flags.writeable:
            image.setflags(write=False)
        frame = Frame(image, next(self._seq), t_capture, self.source_name)
        self.stats.record(t_capture)
        self.output.publish(frame)

    def step(self) -> None:
        grabber = self._grabber
        now = time.monotonic()
        frozen = self.settings.frozen_timeout_s
        if grabber is None:
            if now >= self._retry_at:
                self._open()
        elif grabber.ended:
            log.info("%s: %s ended", self.name, self.source_name)
            self._release(grabber)
            self.state = StageState.ENDED
            self.output.close()
            return
        elif grabber.error is not None:
            self._fail(f"{self.source_name}: {_describe(grabber.error)}")
        elif now - grabber.last_activity > self.settings.stall_timeout_s:
            self._fail(f"{self.source_name} delivered nothing for {now - grabber.last_activity:.1f} s")
        elif frozen is not None and grabber.source.live and now - grabber.last_change > frozen:
            self._frozen = grabber.signature
            self._fail(f"{self.source_name} repeated one image for {now - grabber.last_change:.1f} s")
        elif grabber.frames:
            if self._failing:
                log.info("%s: %s is delivering again", self.name, self.source_name)
                self._failing = False
            self.state = StageState.RUNNING
            self._delay = self.settings.reopen_delay_s
        self._stop.wait(POLL_S)

    def _open(self) -> None:
        self._abandoned = [t for t in self._abandoned if t.is_alive()]
        try:
            source = self.open_source()
            source.open()
        except Exception as exc:
            self._schedule_retry(_describe(exc))
            return
        self.opens += 1
        self.source_name = source.name
        if self.opens == 1:
            log.info("%s: %s", self.name, source.name)
        else:
            self.stats.restarts += 1
            log.info("%s: reopened %s", self.name, source.name)
        self._grabber = _Grabber(source, self._publish, self._frozen)

    def _fail(self, message: str) -> None:
        grabber = self._grabber
        if grabber is not None:
            self._release(grabber)
        self._schedule_retry(message)

    def _schedule_retry(self, message: str) -> None:
        self.state = StageState.STALLED
        if self._failing:  # said once; the retries are counted, and logged only at debug level
            self.stats.errors += 1
            log.debug("%s: %s; retrying in %.1f s", self.name, message, self._delay)
        else:
            self.report_error(f"{message}; retrying with a doubling wait")
        self._failing = True
        self._retry_at = time.monotonic() + self._delay
        self._delay = min(self.settings.reopen_max_delay_s, max(self._delay * 2, 0.1))

    def _release(self, grabber: _Grabber) -> None:
        """Stop a grabber and close its source without ever blocking this thread for long."""
        self._grabber = None
        grabber.stop.set()
        closer = threading.Thread(target=_close_quietly, args=(grabber.source,), daemon=True)
        closer.start()
        closer.join(POLL_S)
        if grabber.thread.is_alive():
            self._abandoned.append(grabber.thread)

    def on_stop(self) -> None:
        if self._grabber is not None:
            self._release(self._grabber)

    @property
    def abandoned_threads(self) -> int:
        """Grabber threads still blocked inside a source that was given up on."""
        return sum(t.is_alive() for t in self._abandoned)


def _close_quietly(source: Source) -> None:
    try:
        source.close()
    except Exception as exc:
        log.debug("closing %s failed: %s", source.name, exc)


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, PerformError) else f"{type(exc).__name__}: {exc}"
