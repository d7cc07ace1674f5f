"""Latest-wins hand-off between stages.

A slot holds one item: publishing replaces it. Each consumer reads through its own
:class:`Reader`, which returns every publish at most once, always the newest, and counts the
ones it never saw. Nothing ever queues up, so a slow consumer costs frames, never latency.
"""

from __future__ import annotations

import threading
from typing import Generic, TypeVar

T = TypeVar("T")


class Slot(Generic[T]):
    """One producer, any number of readers; holds only the newest item."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._cond = threading.Condition(threading.Lock())
        self._item: T | None = None
        self._version = 0
        self._closed = False
        self.readers = 0

    def publish(self, item: T) -> None:
        """Replace the held item and wake every waiting reader."""
        with self._cond:
            self._item = item
            self._version += 1
            self._cond.notify_all()

    def latest(self) -> T | None:
        """The newest item, without waiting and without marking it read (for renderers)."""
        return self._item

    @property
    def published(self) -> int:
        """How many items were ever published."""
        return self._version

    def close(self) -> None:
        """Wake all readers for good; their ``get`` returns ``None`` from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def reader(self, name: str) -> Reader[T]:
        """A new cursor on this slot; it starts after whatever was published before."""
        with self._cond:
            self.readers += 1
            return Reader(self, name, self._version)


class Reader(Generic[T]):
    """One consumer's view of a slot: newest unseen item, with a count of the skipped ones."""

    def __init__(self, slot: Slot[T], name: str, seen: int) -> None:
        self.slot = slot
        self.name = name
        self._seen = seen
        self.received = 0
        self.dropped = 0

    def get(self, timeout: float | None = None) -> T | None:
        """Wait up to ``timeout`` seconds for an item newer than the last one returned.

        Returns ``None`` on timeout or when the slot is closed.
        """
        slot = self.slot
        with slot._cond:
            if slot._version == self._seen and not slot._closed:
                slot._cond.wait(timeout)
            if slot._version == self._seen or slot._closed:
                return None
            self.dropped += slot._version - self._seen - 1
            self._seen = slot._version
            self.received += 1
            return slot._item

    def pending(self) -> bool:
        """Whether an unseen item is waiting."""
        return self.slot._version != self._seen
