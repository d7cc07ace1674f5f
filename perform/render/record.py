"""Recording what the projector shows: an H.264 video of the show and single-frame screenshots.

The render loop hands each frame to :meth:`VideoRecorder.submit`, which only publishes it to a
latest-wins :class:`~perform.pipeline.Slot`; a worker thread flips, converts, encodes and writes.
When the encoder falls behind, frames are dropped and counted, never queued, and the video keeps
real time because each frame's timestamp comes from the time it was rendered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from perform.errors import ConfigError, StageError
from perform.pipeline.slot import Slot

log = logging.getLogger(__name__)

#: Encoders tried in this order; the first one the PyAV wheel can open is used.
CODECS = ("libx264", "h264", "libopenh264", "mpeg4")

#: Timestamps are counted in milliseconds of render time, whatever the frame rate.
TIME_BASE = Fraction(1, 1000)

#: How long the worker waits for a frame before it looks at its stop flag again.
POLL_S = 0.05

#: AVColorSpace and AVColorRange values for BT.601 and limited ("MPEG") range.
BT601, LIMITED_RANGE = 6, 1

_logged_codecs: set[str] = set()


def _codec_options(name: str, preset: str, crf: int) -> dict[str, str]:
    if name == "libx264":
        return {"preset": preset, "tune": "zerolatency", "crf": str(crf)}
    return {}


def _open_context(name: str, width: int, height: int, fps: float, preset: str, crf: int) -> str:
    """Open ``name`` as a stand-alone encoder to see whether it works; returns its real name."""
    ctx = av.CodecContext.create(name, "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base = TIME_BASE
    ctx.framerate = Fraction(fps).limit_denominator(1001)
    ctx.options = _codec_options(ctx.name, preset, crf)
    if not ctx.options:
        ctx.bit_rate = _bit_rate(width, height, fps)
    ctx.open()
    return ctx.name  # the probe context is freed with its last reference


def _bit_rate(width: int, height: int, fps: float) -> int:
    # For encoders without a constant-quality mode: about 0.15 bit per pixel, plenty for mpeg4.
    return int(width * height * fps * 0.15)


def pick_codec(width: int, height: int, fps: float, preset: str = "ultrafast", crf: int = 20) -> str:
    """The first of :data:`CODECS` that opens at this size; raises :class:`StageError` if none does."""
    failures = []
    for name in CODECS:
        try:
            real = _open_context(name, width, height, fps, preset, crf)
        except Exception as exc:  # a codec the wheel lacks raises one of several av errors
            failures.append(f"{name}: {exc}")
            continue
        if real not in _logged_codecs:
            _logged_codecs.add(real)
            log.info("recording with the %s encoder", real)
        return real
    raise StageError(f"expected one of the encoders {', '.join(CODECS)}, none opened: {'; '.join(failures)}")


class VideoRecorder:
    """Writes submitted frames to an H.264 ``.mp4`` on a worker thread.

    ``width`` and ``height`` are those of the frames that will be submitted; an odd one is cropped
    by a pixel because yuv420p needs even sizes. ``fps`` is the nominal rate written in the file;
    the real timing comes from each frame's ``t``. ``bottom_up`` frames (as read back from an
    OpenGL framebuffer) are flipped on the worker.

    Raises :class:`~perform.errors.ConfigError` naming the file when it cannot be written and
    :class:`~perform.errors.StageError` when no encoder opens, both before the show starts.
    """

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: float,
        *,
        bottom_up: bool = True,
        preset: str = "ultrafast",
        crf: int = 20,
    ) -> None:
        if width < 2 or height < 2 or not fps > 0:
            raise ValueError(f"expected width, height >= 2 and fps > 0, got {width}x{height} at {fps}")
        self.path = Path(path)
        self.width, self.height, self.fps = width, height, fps
        self.bottom_up = bottom_up
        self.enc_width, self.enc_height = width & ~1, height & ~1
        self.codec = pick_codec(self.enc_width, self.enc_height, fps, preset, crf)

        self._container = self._open(preset, crf)
        self._slot: Slot[tuple[np.ndarray, float]] = Slot(f"record:{self.path.name}")
        self._reader = self._slot.reader("encoder")
        self._stop = threading.Event()
        self._closed = False
        self.error: str | None = None
        self.submitted = 0
        self.frames = 0
        self.skipped = 0
        self._t0: float | None = None
        self._t_last: float | None = None
        self._last_pts = -1
        self._encode_s: deque[float] = deque(maxlen=10_000)  # the last five minutes or so
        self._thread = threading.Thread(target=self._run, name="perform-record", daemon=True)
        self._thread.start()

    def _open(self, preset: str, crf: int) -> av.container.OutputContainer:
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb"):  # avformat only opens the file at the first packet: find out now
                pass
        except OSError as exc:
            raise ConfigError(f"cannot write a video here: {exc.strerror or exc}", path) from exc
        try:
            container = av.open(str(path), "w")
        except ValueError as exc:
            path.unlink(missing_ok=True)
            expected = f"expected a video file name such as show.mp4, got {path.name!r}"
            raise ConfigError(expected, path) from exc
        try:
            stream = container.add_stream(self.codec, rate=Fraction(self.fps).limit_denominator(1001))
            stream.width, stream.height, stream.pix_fmt = self.enc_width, self.enc_height, "yuv420p"
            stream.time_base = TIME_BASE
            stream.codec_context.time_base = TIME_BASE
            # OpenCV's RGB to I420 is BT.601, limited range; say so, or players guess BT.709 for HD.
            stream.codec_context.colorspace = BT601
            stream.codec_context.color_range = LIMITED_RANGE
            options = _codec_options(self.codec, preset, crf)
            if options:
                stream.codec_context.options = options
            else:
                stream.codec_context.bit_rate = _bit_rate(self.enc_width, self.enc_height, self.fps)
            container.start_encoding()
        except Exception as exc:
            container.close()
            path.unlink(missing_ok=True)
            raise ConfigError(f"cannot start a {self.codec} video: {exc}", path) from exc
        self._stream = stream
        return container

    # -- render thread ---------------------------------------------------------------------------

    def submit(self, pixels: np.ndarray, t: float) -> None:
        """Hand one frame rendered at time ``t`` (seconds, any clock) to the encoder; never waits.

        ``pixels`` is ``(height, width, 3 or 4)`` uint8. The recorder keeps the array itself, not
        a copy, until it is encoded or replaced by a newer one: pass a fresh array each time
        (``np.frombuffer(fbo.read(), np.uint8).reshape(h, w, 3)``) and do not write into it again.
        After :meth:`close` or an encoder failure this does nothing.
        """
        if self._closed or self.error is not None:
            return
        if pixels.shape[:2] != (self.height, self.width) or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            raise ValueError(
                f"expected ({self.height},{self.width},3|4) uint8, got {pixels.shape} {pixels.dtype}"
            )
        if pixels.dtype != np.uint8:
            raise ValueError(f"expected uint8 pixels, got {pixels.dtype}")
        self.submitted += 1
        self._slot.publish((pixels, t))

    # -- worker thread ---------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                item = self._reader.get(timeout=POLL_S)
                if item is not None:
                    self._encode_item(*item)
                if self.error is not None:
                    return
            if self._reader.pending():  # the frame submitted just before close still goes in
                item = self._reader.get(timeout=0)
                if item is not None:
                    self._encode_item(*item)
        finally:
            self._finish()

    def _encode_item(self, pixels: np.ndarray, t: float) -> None:
        if self._t0 is None:
            self._t0 = t
        pts = round((t - self._t0) / TIME_BASE)
        if pts <= self._last_pts:  # a container needs strictly increasing timestamps
            self.skipped += 1
            return
        start = time.perf_counter()
        try:
            self._encode(pixels, pts)
        except Exception as exc:  # the show goes on without its recording
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("recording to %s stopped: %s", self.path, self.error)
            return
        self._encode_s.append(time.perf_counter() - start)
        self._last_pts = pts
        self._t_last = t
        self.frames += 1

    def _encode(self, pixels: np.ndarray, pts: int) -> None:
        # OpenCV flips and converts in about a millisecond at 1080p; PyAV's own path from a flipped
        # RGBA array (negative strides) takes tens.
        pixels = pixels[: self.enc_height, : self.enc_width]
        if self.bottom_up:
            pixels = cv2.flip(pixels, 0)
        code = cv2.COLOR_RGBA2YUV_I420 if pixels.shape[2] == 4 else cv2.COLOR_RGB2YUV_I420
        yuv = cv2.cvtColor(pixels, code)
        frame = av.VideoFrame.from_ndarray(yuv, format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        self._container.mux(self._stream.encode(frame))

    def _finish(self) -> None:
        """Flush the encoder and write the file's index, so that every frame written stays playable."""
        try:
            if self.error is None:
                self._container.mux(self._stream.encode(None))
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("recording to %s: flushing the encoder failed: %s", self.path, self.error)
        finally:
            try:
                self._container.close()
            except Exception as exc:
                log.error("recording to %s: closing the file failed: %s", self.path, exc)

    # -- control ---------------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        """Frames submitted but never encoded: overtaken by a newer one, or with a stale timestamp."""
        return self._reader.dropped + self.skipped

    @property
    def recording(self) -> bool:
        """Whether submitted frames still go into the file."""
        return not self._closed and self.error is None

    def close(self, timeout: float = 2.0) -> dict[str, Any]:
        """Encode the last frame, flush, close the file; returns the recording's stats.

        Waits up to ``timeout`` seconds for the worker; if it has not finished by then it goes on
        in the background and the stats say ``"finished": False``.
        """
        self._closed = True
        self._stop.set()
        self._thread.join(timeout)
        finished = not self._thread.is_alive()
        if not finished:
            log.warning("recording to %s: the encoder did not finish within %.1f s", self.path, timeout)
        return self.stats(finished)

    def stats(self, finished: bool | None = None) -> dict[str, Any]:
        """Counts and timings so far.

        ``seconds`` is the span of render time recorded, ``dropped`` counts frames submitted but
        never encoded (so ``frames + dropped == submitted`` once the recorder has finished), and
        the encode times (flip, colour conversion, encoding, writing) cover the last 10,000 frames.
        """
        enc_ms = np.array(list(self._encode_s)) * 1000.0
        seconds = 0.0
        if self._t0 is not None and self._t_last is not None:
            seconds = self._t_last - self._t0 + 1.0 / self.fps
        return {
            "path": str(self.path),
            "codec": self.codec,
            "size": f"{self.enc_width}x{self.enc_height}",
            "submitted": self.submitted,
            "frames": self.frames,
            "dropped": self.dropped,
            "seconds": round(seconds, 3),
            "encode_ms_p50": round(float(np.percentile(enc_ms, 50)), 2) if enc_ms.size else None,
            "encode_ms_p95": round(float(np.percentile(enc_ms, 95)), 2) if enc_ms.size else None,
            "finished": not self._thread.is_alive() if finished is None else finished,
            "error": self.error,
        }

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def save_screenshot(path: Path, pixels: np.ndarray, bottom_up: bool = True) -> Path:
    """Write ``pixels`` ((H, W, 3|4) uint8 RGB[A]) as a PNG and return the file's path.

    ``path`` may be a folder (existing, or named without a suffix): the file is then called
    ``perform-YYYYmmdd-HHMMSS-mmm.png`` inside it. Missing folders are created.
    """
    path = Path(path)
    if path.is_dir() or not path.suffix:
        now = datetime.now()
        path = path / f"perform-{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}.png"
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype != np.uint8:
        raise ValueError(f"expected (H,W,3|4) uint8, got {pixels.shape} {pixels.dtype}")
    if bottom_up:
        pixels = pixels[::-1]
    code = cv2.COLOR_RGBA2BGR if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR  # the projector is opaque
    image = cv2.cvtColor(np.ascontiguousarray(pixels), code)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ok = cv2.imwrite(str(path), image)
    except (OSError, cv2.error) as exc:
        raise ConfigError(f"cannot write a screenshot here: {exc}", path) from exc
    if not ok:
        raise ConfigError("cannot write a screenshot here (expected a writable .png path)", path)
    return path
