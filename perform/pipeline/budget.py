"""A token bucket: how much a sender may do, on average and at once."""

from __future__ import annotations


class TokenBucket:
    """``rate`` a second on average, ``burst`` at once; one thread (or one event loop) uses it."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._t: float | None = None

    def take(self, n: float, now: float) -> bool:
        """Spend ``n`` tokens at ``now`` (``time.monotonic()``); False, spending none, when short."""
        if self._t is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._t) * self.rate)
        self._t = now
        if n > self._tokens:
            return False
        self._tokens -= n
        return True
