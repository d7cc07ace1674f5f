"""Events (a performer entered, a pose was recognised) for consumers that must see every one.

Frames are latest-wins: a slow consumer may skip some. Events must not be skipped, so they
travel through an :class:`EventLog`: a bounded ring that each consumer drains from its own
cursor. A consumer that falls more than ``capacity`` events behind loses the oldest, and
counts them; the log never grows.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from typing import Generic, TypeVar

E = TypeVar("E")


class EventLog(Generic[E]):
    """One writer or many, any number of cursors; holds the last ``capacity`` events."""

    def __init__(self, capacity: int = 1024) -> None:
        self._lock = threading.Lock()
        self._events: deque[E] = deque(maxlen=capacity)
        self._end = 0  # absolute index after the newest event

    def publish(self, event: E) -> None:
        with self._lock:
            self._events.append(event)
            self._end += 1

    def cursor(self) -> EventCursor[E]:
        """A consumer's position; it starts after the events already published."""
        with self._lock:
            return EventCursor(self, self._end)


class EventCursor(Generic[E]):
    """Reads every event published after it was made, in order."""

    def __init__(self, log: EventLog[E], position: int) -> None:
        self._log = log
        self._position = position
        self.lost = 0

    def drain(self) -> list[E]:
        """The events since the last call (oldest first)."""
        log = self._log
        with log._lock:
            start = log._end - len(log._events)
            if self._position < start:
                self.lost += start - self._position
                self._position = start
            new = list(itertools.islice(log._events, self._position - start, None))
            self._position = log._end
        return new
