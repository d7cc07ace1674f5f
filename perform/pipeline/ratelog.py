"""Warnings from the network side, at most one per kind every few seconds."""

from __future__ import annotations

import logging
import threading
import time


class RateLimitedLog:
    """One warning per kind every ``every_s`` seconds, with the number held back since; any thread."""

    def __init__(self, logger: logging.Logger, prefix: str, every_s: float = 5.0) -> None:
        self.logger = logger
        self.prefix = prefix
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, kind: str, message: str) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.every_s:
                self._held[kind] = self._held.get(kind, 0) + 1
                return
            held = self._held.pop(kind, 0)
            self._last[kind] = now
        self.logger.warning("%s%s%s", self.prefix, message, f" ({held} more since)" if held else "")
