"""A stage is one thread with one job, a ``stop()`` and a visible state."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Generic, TypeVar

from perform.pipeline.frame import Stamped
from perform.pipeline.slot import Reader, Slot
from perform.pipeline.stats import StageStats, Stats

log = logging.getLogger(__name__)

In = TypeVar("In", bound=Stamped)
Out = TypeVar("Out", bound=Stamped)

#: How long a stage blocks at most before it looks at its stop flag again.
POLL_S = 0.05


class StageState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    STALLED = "stalled"
    ENDED = "ended"
    STOPPED = "stopped"


class Stage(ABC):
    """Runs :meth:`step` on its own daemon thread until :meth:`stop` or the end of input."""

    def __init__(self, name: str, stats: Stats) -> None:
        self.name = name
        self.stats: StageStats = stats.stage(name)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self._last_error_t = 0.0
        self.state = StageState.IDLE

    @property
    def state(self) -> StageState:
        return self._state

    @state.setter
    def state(self, value: StageState) -> None:
        self._state = value
        self.stats.state = value.value

    def start(self) -> None:
        self._stop.clear()
        self.state = StageState.RUNNING
        self._thread = threading.Thread(target=self._run, name=f"perform-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the stage to finish; returns at once (see :meth:`join`)."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it did."""
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._stop.is_set() and self.state is not StageState.ENDED:
                try:
                    self.step()
                except Exception as exc:  # a stage that fails must not stop the show: count, pause, go on
                    self.report_error(f"{type(exc).__name__}: {exc}")
                    self._stop.wait(POLL_S)
        finally:
            self.on_stop()
            if self.state is not StageState.ENDED:
                self.state = StageState.STOPPED

    @abstractmethod
    def step(self) -> None:
        """Do one unit of work; must return within about :data:`POLL_S` when there is none."""

    def on_stop(self) -> None:  # noqa: B027 (an optional hook)
        """Release what the stage holds; runs on the stage's thread as it ends."""

    def report_error(self, message: str, every_s: float = 5.0) -> None:
        """Count a failure and log it, at most once per ``every_s`` for the same message."""
        self.stats.errors += 1
        now = time.monotonic()
        if message != self._last_error or now - self._last_error_t >= every_s:
            log.warning("%s: %s", self.name, message)
            self._last_error, self._last_error_t = message, now


class ProcessStage(Stage, Generic[In, Out]):
    """Takes the newest item from an input slot, processes it, publishes the result.

    An exception in :meth:`process` costs that one item: it is counted and logged, and the
    stage goes on with the next one.
    """

    def __init__(self, name: str, stats: Stats, source: Slot[In], output: Slot[Out] | None = None) -> None:
        super().__init__(name, stats)
        self.input: Reader[In] = source.reader(name)
        self.output = output
        self.stats.dropped_fn = lambda: self.input.dropped

    def step(self) -> None:
        item = self.input.get(timeout=POLL_S)
        if item is None:
            if self.input.slot.closed:
                self.state = StageState.ENDED
            return
        try:
            result = self.process(item)
        except Exception as exc:  # a bad frame must not stop the show
            self.report_error(f"{type(exc).__name__}: {exc}")
            return
        if result is None:
            return
        self.stats.record(result.t_capture)
        if self.output is not None:
            self.output.publish(result)

    def on_stop(self) -> None:
        if self.output is not None:
            self.output.close()

    @abstractmethod
    def process(self, item: In) -> Out | None:
        """Turn one input into one output (``None``: nothing to hand on)."""
