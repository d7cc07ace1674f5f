"""A set of stages started, watched and stopped together."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from perform.pipeline.stage import Stage, StageState
from perform.pipeline.stats import Stats

log = logging.getLogger(__name__)


WATCHED = (StageState.RUNNING, StageState.STALLED)


class Pipeline:
    """Owns the stages of a show and their shared :class:`Stats`."""

    #: How often the supervisor looks at the stages.
    SUPERVISE_S = 0.05

    def __init__(self, stats: Stats | None = None) -> None:
        self.stats = stats if stats is not None else Stats()
        self.stages: list[Stage] = []
        self._supervisor_stop = threading.Event()
        self._supervisor: threading.Thread | None = None

    def add(self, stage: Stage) -> Stage:
        self.stages.append(stage)
        return stage

    def extend(self, stages: Iterable[Stage]) -> None:
        for stage in stages:
            self.add(stage)

    def start(self) -> None:
        self.stats.t_start = time.monotonic()
        for stage in self.stages:
            stage.start()
        self._supervisor_stop.clear()
        self._supervisor = threading.Thread(target=self._supervise, name="perform-supervisor", daemon=True)
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self._supervisor_stop.wait(self.SUPERVISE_S):
            self.supervise(time.monotonic())

    def supervise(self, now: float) -> None:
        """Restart every watched stage whose current step has run past its budget."""
        for stage in self.stages:
            budget = stage.stall_budget_s
            if budget is None or stage.state not in WATCHED or stage.stats.frames == 0:
                continue  # not watched, not running, or still loading its model
            if now - stage.beat > budget and not stage.stopping:
                stage.state = StageState.STALLED
                stage.restart(f"one step has run {now - stage.beat:.1f} s (budget {budget:g} s)")

    @property
    def ended(self) -> bool:
        """True once every stage has run out of input (a video that does not loop)."""
        return bool(self.stages) and all(s.state is StageState.ENDED for s in self.stages)

    def stop(self, timeout: float = 0.8) -> list[str]:
        """Stop every stage, waiting at most ``timeout`` seconds in all.

        Returns the names of stages whose threads had not ended by then; they are daemon
        threads and cannot keep the process alive.
        """
        self._supervisor_stop.set()
        for stage in self.stages:
            stage.stop()
        deadline = time.monotonic() + timeout
        stuck = [s.name for s in self.stages if not s.join(max(0.0, deadline - time.monotonic()))]
        self.stats.t_end = time.monotonic()
        if stuck:
            log.warning("stages still busy at exit: %s", ", ".join(stuck))
        return stuck
