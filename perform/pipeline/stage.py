"""A stage is one thread with one job, a ``stop()`` and a visible state."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from enum import StrEnum
from typing import Generic, TypeVar

from perform.pipeline.frame import Stamped
from perform.pipeline.ratelog import RateLimitedLog
from perform.pipeline.slot import Reader, Slot
from perform.pipeline.stats import StageStats, Stats

log = logging.getLogger(__name__)

In = TypeVar("In", bound=Stamped)
Out = TypeVar("Out", bound=Stamped)

#: How long a stage blocks at most before it looks at its stop flag again.
POLL_S = 0.05
#: Longest wait between restarts of a stage that keeps raising.
MAX_BACKOFF_S = 5.0


class StageState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    STALLED = "stalled"
    ENDED = "ended"
    STOPPED = "stopped"


class Stage(ABC):
    """Runs :meth:`step` on its own daemon thread until :meth:`stop` or the end of input.

    A step that raises is logged and counted; the stage waits (doubling from ``POLL_S`` up to
    ``MAX_BACKOFF_S`` while the failures go on), calls :meth:`reset` and goes on: a restart. A
    step that runs longer than ``stall_budget_s`` is given up by the pipeline's supervisor
    (:meth:`restart`): its thread is left behind (at most one per stage) and a fresh one starts.
    """

    #: Longest one step may take once the stage has produced output (None: not watched).
    stall_budget_s: float | None = None
    #: ``stall_budget_s`` as a multiple of the pipeline's budget (a show's ``stages.stall_budget_s``).
    stall_budget_scale: float | None = None

    def __init__(self, name: str, stats: Stats) -> None:
        self.name = name
        self.stats: StageStats = stats.stage(name)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self._last_error_t = 0.0
        self._kinds = RateLimitedLog(log, f"{name}: ")
        self._generation = 0
        self._left_behind: threading.Thread | None = None
        self._failures = 0
        #: ``time.monotonic()`` when the current step began (the supervisor's heartbeat).
        self.beat = time.monotonic()
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
        self._spawn()

    def _spawn(self) -> None:
        self.beat = time.monotonic()
        self._thread = threading.Thread(
            target=self._run, args=(self._generation,), name=f"perform-{self.name}", daemon=True
        )
        self._thread.start()

    def restart(self, reason: str) -> bool:
        """Give up on a stuck step: leave its thread behind, :meth:`reset`, start a fresh thread.

        False when an earlier left-behind thread is still stuck (never more than one per stage).
        """
        if self._left_behind is not None and self._left_behind.is_alive():
            return False
        self._generation += 1
        self._left_behind = self._thread
        self.stats.restarts += 1
        log.warning("%s: %s; restarted (restart %d)", self.name, reason, self.stats.restarts)
        self.reset()
        self.state = StageState.RUNNING
        self._spawn()
        return True

    def reset(self) -> None:  # noqa: B027 (an optional hook)
        """Drop what a failed or stuck step may have left broken (a model, a device handle)."""

    @property
    def superseded(self) -> bool:
        """True on a thread this stage has given up on: its results are stale, drop them."""
        return threading.current_thread() is not self._thread and self._thread is not None

    @property
    def left_behind(self) -> int:
        """Threads given up on that are still stuck (0 or 1)."""
        return int(self._left_behind is not None and self._left_behind.is_alive())

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

    def _run(self, generation: int) -> None:
        try:
            while not self._stop.is_set() and self.state is not StageState.ENDED:
                if generation != self._generation:
                    return  # replaced by a restart while stuck; the new thread carries on
                self.beat = time.monotonic()
                try:
                    self.step()
                    self._failures = 0
                except Exception as exc:  # a stage that fails must not stop the show: back off, restart
                    if generation != self._generation:
                        return
                    self._failures += 1
                    delay = min(MAX_BACKOFF_S, POLL_S * 2 ** (self._failures - 1))
                    self.report_error(f"{type(exc).__name__}: {exc}; restarting in {delay:g} s")
                    self._stop.wait(delay)
                    if not self._stop.is_set():
                        self.stats.restarts += 1
                        self.reset()
        finally:
            if generation == self._generation:
                self.on_stop()
                if self.state is not StageState.ENDED:
                    self.state = StageState.STOPPED

    @abstractmethod
    def step(self) -> None:
        """Do one unit of work; must return within about :data:`POLL_S` when there is none."""

    def on_stop(self) -> None:  # noqa: B027 (an optional hook)
        """Release what the stage holds; runs on the stage's thread as it ends."""

    def report_error(self, message: str, every_s: float = 5.0, kind: str | None = None) -> None:
        """Count a failure and log it, at most once per ``every_s`` for the same message, or once
        per 5 s for the same ``kind`` when given (messages that name what came from outside differ
        each time)."""
        self.stats.errors += 1
        if kind is not None:
            self._kinds.warn(kind, message)
            return
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
        if result is None or self.superseded:
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
