"""NDI through cyndilib: a sender (:class:`NdiSink`), the sources in sight, and a receiver that
reads through NDI's frame-sync (:class:`NdiReceiver`, used by ``perform.capture.ndi``).

NDI finds peers by mDNS; where there is none (a show network without it, a container), an
``ndi-config.v1.json`` in the folder ``NDI_CONFIG_DIR`` names lists the peers' addresses.
"""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from types import ModuleType
from typing import Any

import cv2
import numpy as np

from perform.errors import SourceError, StageError
from perform.share.base import VideoSink

INSTALL = "pip install 'perform[ndi]' (cyndilib, which carries the NDI runtime)"
#: How long a finder looks before it says what it saw: NDI answers on loopback at once.
FIND_S = 1.0


def cyndilib() -> ModuleType:
    """The cyndilib module, or a :class:`StageError` saying how to install it."""
    try:
        import cyndilib as ndi
    except Exception as exc:  # ImportError, or the runtime's shared library failing to load
        raise StageError(f"NDI is unavailable ({type(exc).__name__}: {exc}); {INSTALL}") from None
    return ndi


def stream_name(full: str) -> str:
    """``HOST (NAME)`` -> ``NAME``: the part a sender chose."""
    if full.endswith(")") and " (" in full:
        return full[full.index(" (") + 2 : -1]
    return full


def matches(full: str, wanted: str) -> bool:
    """Whether the source ``full`` (``HOST (NAME)``) is the one asked for as ``wanted``
    (the full name, or only NAME)."""
    return full == wanted or stream_name(full) == wanted


_finder: Any = None
_finder_lock = threading.Lock()


def finder() -> Any:
    """The process's one NDI finder, opened on first use and kept: what it has discovered stays
    known, so looking for a source again (a reconnect) finds it at once."""
    global _finder
    with _finder_lock:
        if _finder is None:
            found = cyndilib().Finder()
            found.open()
            _finder = found
        return _finder


def find_sources(timeout: float = FIND_S) -> list[str]:
    """The names of the NDI sources in sight, waiting up to ``timeout`` seconds for a first one."""
    names = finder()
    deadline = time.monotonic() + timeout
    while not names.get_source_names() and time.monotonic() < deadline:
        names.wait_for_sources(min(0.1, max(0.0, deadline - time.monotonic())))
    return sorted(names.get_source_names())


class NdiSink(VideoSink):
    """One NDI source sending RGBA at the show's size and rate.

    Each frame's metadata carries its capture time (``<perform t_capture_unix="..."/>``, wall
    clock), since NDI's own timestamp is the time of sending.
    """

    def __init__(self, name: str, width: int, height: int, fps: float) -> None:
        self.ndi_name, self.width, self.height, self.fps = name, width, height, fps
        self.name = f"ndi {name!r} {width}x{height}"
        self._sender: Any = None
        self._frame: Any = None

    def open(self) -> None:
        ndi = cyndilib()
        taken = [s for s in find_sources(0.3) if matches(s, self.ndi_name)]
        if taken:
            raise StageError(f"NDI name {self.ndi_name!r} is already taken (by {taken[0]!r}); pick another")
        frame = ndi.VideoSendFrame()
        frame.set_resolution(self.width, self.height)
        frame.set_fourcc(ndi.FourCC.RGBA)
        frame.set_frame_rate(Fraction(self.fps).limit_denominator(1001))
        sender = ndi.Sender(self.ndi_name, clock_video=False)  # the show paces itself
        sender.set_video_frame(frame)
        try:
            sender.open()
        except Exception as exc:
            raise StageError(f"NDI sender {self.ndi_name!r} did not open: {exc}") from None
        self._sender, self._frame = sender, frame

    def send(self, pixels: np.ndarray, t_capture: float) -> None:
        if pixels.shape != (self.height, self.width, 4):
            raise ValueError(f"expected ({self.height},{self.width},4) uint8, got {pixels.shape}")
        wall = time.time() - (time.monotonic() - t_capture)
        self._frame.set_metadata(f'<perform t_capture_unix="{wall:.6f}"/>'.encode())
        self._sender.write_video(pixels.reshape(-1))

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.close()


class NdiReceiver:
    """Reads the newest picture of the NDI source ``wanted`` through NDI's frame-sync, which keeps
    every frame a sender sends (reading the receiver's own buffer undrained loses most of them).

    :meth:`connect` raises :class:`SourceError` when no such source is in sight; :meth:`read`
    returns ``None`` until a frame newer than the last one read has come.
    """

    def __init__(self, wanted: str) -> None:
        self.wanted = wanted
        self.source_name = wanted
        self._ndi = cyndilib_for_source()
        self._receiver: Any = None
        self._video: Any = None
        self._last = 0.0
        self._lock = threading.Lock()  # close() must not free the receiver under a read

    def connect(self, timeout: float = FIND_S) -> None:
        ndi, names = self._ndi, finder()
        deadline = time.monotonic() + timeout
        found = None
        while found is None:
            found = next((n for n in names.get_source_names() if matches(n, self.wanted)), None)
            left = deadline - time.monotonic()
            if found is not None or left <= 0:
                break
            names.wait_for_sources(min(left, 0.1))
        if found is None:
            seen = ", ".join(repr(n) for n in sorted(names.get_source_names())) or "none"
            raise SourceError(f"no NDI source {self.wanted!r} in sight (seen: {seen})")
        self.source_name = found
        receiver = ndi.Receiver(
            color_format=ndi.RecvColorFormat.RGBX_RGBA, bandwidth=ndi.RecvBandwidth.highest
        )
        video = ndi.VideoFrameSync()
        receiver.frame_sync.set_video_frame(video)
        receiver.set_source(names.get_source(found))
        self._receiver, self._video = receiver, video

    def read(self) -> tuple[np.ndarray, float] | None:
        """The newest unseen picture as (H, W, 3) RGB and the time it arrived, or None."""
        with self._lock:
            if self._receiver is None:
                raise SourceError(f"NDI source {self.wanted!r} is closed")
            self._receiver.frame_sync.capture_video()
            video = self._video
            stamp = video.get_timestamp_posix()
            width, height = video.get_resolution()
            if stamp == self._last or width <= 0 or height <= 0:
                return None
            self._last = stamp
            data = video.get_array()
        t = time.monotonic()
        stride = video.get_line_stride() or width * 4
        rows = data[: stride * height].reshape(height, stride)[:, : width * 4]
        return cv2.cvtColor(rows.reshape(height, width, 4), cv2.COLOR_RGBA2RGB), t

    @property
    def connected(self) -> bool:
        return self._receiver is not None and bool(self._receiver.is_connected())

    def close(self) -> None:
        with self._lock:
            receiver, self._receiver = self._receiver, None
            if receiver is not None:
                receiver.disconnect()


def cyndilib_for_source() -> ModuleType:
    """cyndilib, or a :class:`SourceError` (a source that cannot open is retried, not fatal)."""
    try:
        return cyndilib()
    except StageError as exc:
        raise SourceError(str(exc)) from None
