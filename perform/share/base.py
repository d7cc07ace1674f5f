"""The sink contract, and :class:`VideoOut`: one sink fed on its own thread, latest-wins."""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from perform.pipeline import LatencyHistogram, Slot

log = logging.getLogger(__name__)

#: How long the sender waits for a frame before it looks at its stop flag again.
POLL_S = 0.05


class VideoSink(ABC):
    """A backend that hands pictures to other software. Used by one thread at a time.

    ``open`` raises :class:`perform.errors.StageError` with one clear line when the backend cannot
    run here (no runtime, a name already taken).
    """

    #: Human-readable description for reports ("ndi 'perform' 1280x720").
    name: str = "sink"

    @abstractmethod
    def open(self) -> None:
        """Acquire the backend."""

    @abstractmethod
    def send(self, pixels: np.ndarray, t_capture: float) -> None:
        """Send one (H, W, 4) uint8 RGBA picture, top row first."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend; safe to call twice."""


#: Turns an item of a followed slot into (RGBA pixels, capture time), or None to skip it.
Convert = Callable[[Any], "tuple[np.ndarray, float] | None"]


class VideoOut:
    """Feeds ``sink`` from its own thread: :meth:`submit` never waits, and a slow sink costs frames
    (counted in ``dropped``), never the show's time. ``frame_to_out`` is the time from a frame's
    capture to the end of its send. Opens ``sink``: its errors come from here.

    With ``follow`` and ``convert`` it reads a pipeline slot instead of :meth:`submit` (the
    stylised image, the poses), converting each item on its own thread.
    """

    def __init__(
        self,
        sink: VideoSink,
        *,
        bottom_up: bool = False,
        follow: Slot[Any] | None = None,
        convert: Convert | None = None,
    ) -> None:
        sink.open()  # raises before any thread starts
        self.sink = sink
        self.bottom_up = bottom_up
        self.convert = convert
        self.sent = 0
        self.error: str | None = None
        self.frame_to_out = LatencyHistogram()
        self._slot: Slot[Any] = follow if follow is not None else Slot(f"share:{sink.name}")
        self._reader = self._slot.reader(sink.name)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="perform-share", daemon=True)
        self._thread.start()

    def submit(self, pixels: np.ndarray, t_capture: float) -> None:
        """Hand on one picture ((H, W, 4) uint8 RGBA); keeps the array, so pass a fresh one."""
        if self.error is None and not self._stop.is_set():
            self._slot.publish((pixels, t_capture))

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                item = self._reader.get(timeout=POLL_S)
                if item is not None and self.convert is not None:
                    item = self.convert(item)
                if item is None:
                    continue
                pixels, t_capture = item
                if self.bottom_up:
                    pixels = pixels[::-1]
                self.sink.send(np.ascontiguousarray(pixels), t_capture)
                self.sent += 1
                self.frame_to_out.add(time.monotonic() - t_capture)
        except Exception as exc:  # the show goes on without this output
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("%s stopped: %s", self.sink.name, self.error)
        finally:
            self.sink.close()

    @property
    def submitted(self) -> int:
        """Pictures handed on (or published to the followed slot) since the output opened."""
        return self._reader.received + self._reader.dropped + int(self._reader.pending())

    @property
    def dropped(self) -> int:
        """Pictures handed on but never sent: overtaken by a newer one."""
        return self._reader.dropped

    def close(self, timeout: float = 2.0) -> dict[str, object]:
        """Stop the thread and the sink; the output's stats."""
        self._stop.set()
        self._thread.join(timeout)
        return {
            "name": self.sink.name,
            "submitted": self.submitted,
            "sent": self.sent,
            "dropped": self.dropped,
            "frame_to_out_ms": self.frame_to_out.summary_ms(),
            "error": self.error,
        }
