"""Per-stage counters and latency percentiles, in bounded memory however long the show runs."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

_MIN_S = 1e-6
_MAX_S = 100.0
_RATIO = 1.01  # bin width: percentiles are exact to within 1 %
_LOG_RATIO = math.log(_RATIO)
_NBINS = int(math.log(_MAX_S / _MIN_S) / _LOG_RATIO) + 2


class LatencyHistogram:
    """Log-spaced histogram of durations in seconds, 1 us to 100 s, 1 % resolution.

    Whole-run percentiles in constant memory; ``add`` is O(1) and safe to call from one
    writer thread while another reads.
    """

    def __init__(self) -> None:
        self._counts = np.zeros(_NBINS, dtype=np.int64)
        self.count = 0
        self.total = 0.0
        self.max = 0.0

    def add(self, seconds: float) -> None:
        if seconds <= _MIN_S:
            index = 0
        else:
            index = min(int(math.log(seconds / _MIN_S) / _LOG_RATIO) + 1, _NBINS - 1)
        self._counts[index] += 1
        self.count += 1
        self.total += seconds
        if seconds > self.max:
            self.max = seconds

    def percentile(self, q: float) -> float:
        """The q-th percentile (0..100) in seconds; 0.0 when empty."""
        return bins_percentile(self._counts, q, self.max)

    def bins(self) -> np.ndarray:
        """A copy of the counts: the difference of two copies gives percentiles over that stretch
        of time (:func:`bins_percentile`), as a live graph wants."""
        return self._counts.copy()

    def summary_ms(self) -> dict[str, float]:
        """``{"p50", "p95", "p99"}`` in milliseconds, rounded to 0.001."""
        return {f"p{q}": round(self.percentile(q) * 1000.0, 3) for q in (50, 95, 99)}


def bins_percentile(counts: np.ndarray, q: float, most: float = _MAX_S) -> float:
    """The q-th percentile (0..100) in seconds of a histogram's ``counts``; 0.0 when empty."""
    cumulative = np.cumsum(counts)
    if cumulative[-1] <= 0:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * cumulative[-1]))
    index = int(np.searchsorted(cumulative, rank))
    if index == 0:
        return _MIN_S
    # geometric middle of the bin
    return min(_MIN_S * _RATIO ** (index - 0.5), most)


class RateMeter:
    """Events per second over the last ``window`` seconds."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._times: deque[float] = deque(maxlen=2048)

    def tick(self, now: float) -> None:
        self._times.append(now)

    def rate(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        times = list(self._times)
        recent = [t for t in times if now - t <= self.window]
        if len(recent) < 2:
            return 0.0
        span = max(now - recent[0], recent[-1] - recent[0])
        return (len(recent) - 1) / span if span > 0 else 0.0


@dataclass
class StageStats:
    """What one stage did: frames out, frames it never saw, failures, latency from capture."""

    name: str
    frames: int = 0
    errors: int = 0
    restarts: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    rate: RateMeter = field(default_factory=RateMeter)
    dropped_fn: Callable[[], int] | None = None
    state: str = "idle"
    #: ``time.monotonic()`` of the last frame handed on (None: none yet).
    last_output: float | None = None

    def record(self, t_capture: float, now: float | None = None) -> None:
        """Count one frame handed on, with its latency from capture."""
        now = time.monotonic() if now is None else now
        self.last_output = now
        self.frames += 1
        self.latency.add(now - t_capture)
        self.rate.tick(now)

    @property
    def dropped(self) -> int:
        return self.dropped_fn() if self.dropped_fn is not None else 0


class Stats:
    """The registry of every stage's stats plus the run's own clock and extra report keys."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stages: dict[str, StageStats] = {}
        self.extra: dict[str, object] = {}
        self.t_start = time.monotonic()
        self.t_end: float | None = None

    def stage(self, name: str) -> StageStats:
        with self._lock:
            if name not in self.stages:
                self.stages[name] = StageStats(name)
            return self.stages[name]

    def __iter__(self) -> Iterable[StageStats]:
        return iter(list(self.stages.values()))

    @property
    def seconds(self) -> float:
        end = self.t_end if self.t_end is not None else time.monotonic()
        return end - self.t_start

    def report(self, frames_stage: str = "capture") -> dict[str, object]:
        """The stats file: frames, seconds, fps, dropped and latency_ms per stage, then extras."""
        seconds = self.seconds
        frames = self.stages[frames_stage].frames if frames_stage in self.stages else 0
        report: dict[str, object] = {
            "frames": frames,
            "seconds": round(seconds, 3),
            "fps": round(frames / seconds, 3) if seconds > 0 else 0.0,
            "dropped": {s.name: s.dropped for s in self.stages.values()},
            "latency_ms": {s.name: s.latency.summary_ms() for s in self.stages.values()},
            "errors": {s.name: s.errors for s in self.stages.values()},
            "restarts": {s.name: s.restarts for s in self.stages.values()},
        }
        report.update(self.extra)
        return report
