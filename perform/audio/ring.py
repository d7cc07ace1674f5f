"""A preallocated ring buffer between the audio callback (one writer) and the analysis (one reader).

The writer never allocates, blocks or takes a lock: it copies the block into the preallocated
array with at most two slice assignments and then advances an integer sample counter. The
reader checks the counter before and after its copy, so a block the writer overwrote meanwhile
is detected (counted as an overflow) instead of being analysed torn.
"""

from __future__ import annotations

import numpy as np


class RingBuffer:
    """``capacity`` frames of ``channels`` float32 samples, with sample-accurate time stamps.

    ``written`` counts every frame ever written; the reader keeps its own position ``read_pos``.
    ``overflows`` counts reads that found their data already overwritten (the reader fell
    behind by more than the capacity; it skips ahead to the newest data), ``underflows`` counts
    reads that found fewer frames than asked for.
    """

    def __init__(self, capacity: int, channels: int = 1, samplerate: float = 48000.0) -> None:
        if capacity < 1 or channels < 1:
            raise ValueError(f"expected capacity >= 1 and channels >= 1, got {capacity} and {channels}")
        self.capacity = capacity
        self.channels = channels
        self.samplerate = float(samplerate)
        self._buf = np.zeros((capacity, channels), dtype=np.float32)
        self.written = 0
        self.read_pos = 0
        #: ``time.monotonic()`` when the last written frame was captured.
        self.t_last = 0.0
        self.overflows = 0
        self.underflows = 0
        #: Frames lost to overflows.
        self.lost = 0

    # -- writer side (the audio callback): no allocation, no I/O, no locks --------------------

    def write(self, block: np.ndarray, t_end: float) -> None:
        """Append ``block`` (frames x channels, or frames for mono), captured up to ``t_end``."""
        n = block.shape[0]
        cap = self.capacity
        if n > cap:
            block = block[n - cap :]
            self.written += n - cap
            n = cap
        start = self.written % cap
        first = min(n, cap - start)
        if block.ndim == 1:
            self._buf[start : start + first, 0] = block[:first]
            if first < n:
                self._buf[: n - first, 0] = block[first:]
        else:
            self._buf[start : start + first] = block[:first]
            if first < n:
                self._buf[: n - first] = block[first:]
        self.t_last = t_end
        self.written += n  # last: the reader trusts everything below this index

    # -- reader side ---------------------------------------------------------------------------

    @property
    def available(self) -> int:
        """Frames written and not yet read (may exceed the capacity when the reader fell behind)."""
        return self.written - self.read_pos

    def time_of(self, index: int) -> float:
        """``time.monotonic()`` at which frame ``index`` (counted from the start) was captured."""
        return self.t_last - (self.written - 1 - index) / self.samplerate

    def read(self, out: np.ndarray) -> float | None:
        """Copy the next ``len(out)`` unread frames into ``out`` (frames x channels).

        Returns the capture time of the last frame copied, or ``None`` (an underflow, nothing
        copied) when fewer frames are there.
        """
        n = out.shape[0]
        if n > self.capacity:
            raise ValueError(f"expected a read of at most {self.capacity} frames, got {n}")
        for _ in range(3):
            written = self.written
            if written - self.read_pos < n:
                self.underflows += 1
                return None
            if written - self.read_pos > self.capacity:
                # fell behind: jump to the newest whole reads' worth of data
                skip = written - n - self.read_pos
                self.overflows += 1
                self.lost += skip
                self.read_pos += skip
            t = self.time_of(self.read_pos + n - 1)
            self._copy(self.read_pos, out)
            if self.written - self.read_pos <= self.capacity:  # not overwritten while copying
                self.read_pos += n
                return t
        self.underflows += 1
        return None

    def latest(self, n: int) -> np.ndarray:
        """A copy of the newest ``n`` frames (fewer at the start), without moving ``read_pos``."""
        n = min(n, self.capacity, self.written)
        out = np.empty((n, self.channels), dtype=np.float32)
        self._copy(self.written - n, out)
        return out

    def _copy(self, index: int, out: np.ndarray) -> None:
        n = out.shape[0]
        start = index % self.capacity
        first = min(n, self.capacity - start)
        out[:first] = self._buf[start : start + first]
        if first < n:
            out[first:] = self._buf[: n - first]
