"""Audio inputs that fill a :class:`RingBuffer`, and the stage that analyses it.

An input is supervised, not trusted: :meth:`AudioInput.poll` (called by :class:`AudioStage` at
block rate) notices a stream that died (a USB interface pulled mid-show) and reopens it, by
name, with a growing back-off. What cannot be fixed by waiting (no PortAudio library) is
reported once and the show goes on without audio.
"""

from __future__ import annotations

import logging
import threading
import time
import wave
from abc import ABC, abstractmethod
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np

from perform.audio.analysis import Analyzer, AudioFeatures
from perform.audio.config import AudioConfig
from perform.audio.ring import RingBuffer
from perform.errors import SourceError
from perform.pipeline import Slot, Stage, StageState, Stats
from perform.quiet import quiet_stderr

log = logging.getLogger(__name__)

#: Reopen back-off: first wait, factor, longest wait (seconds).
BACKOFF_S = (0.25, 2.0, 5.0)


class AudioUnavailable(Exception):
    """A reason for no audio that waiting will not cure (no PortAudio library)."""


class InputState(StrEnum):
    IDLE = "idle"
    RUNNING = "running"
    LOST = "lost"  # gone; reopening with back-off
    FAILED = "failed"  # no audio for this show
    STOPPED = "stopped"


class AudioInput(ABC):
    """A source of audio frames written into ``ring``; subclasses open and close the stream."""

    name = "audio input"

    def __init__(self, ring: RingBuffer) -> None:
        self.ring = ring
        self.state = InputState.IDLE
        #: Why there is no audio now ("" while running).
        self.problem = ""
        self.reopens = 0
        self.failures = 0
        self._next_try = 0.0
        self._wait = BACKOFF_S[0]
        self._reported = ""

    @property
    def samplerate(self) -> float:
        return self.ring.samplerate

    def start(self) -> None:
        """Open the stream; a failure is reported (never raised) and retried by :meth:`poll`."""
        self._try_open(time.monotonic(), first=True)

    def poll(self, now: float | None = None) -> None:
        """Notice a dead stream and reopen it when its back-off has passed."""
        now = time.monotonic() if now is None else now
        if self.state is InputState.RUNNING and not self._alive():
            self.failures += 1
            self._close_quietly()
            self._lost(now, f"{self.name} stopped")
        if self.state is InputState.LOST and now >= self._next_try:
            self._try_open(now, first=False)

    def stop(self) -> None:
        self._close_quietly()
        if self.state is not InputState.FAILED:  # keep saying why there was no audio
            self.state = InputState.STOPPED

    def _try_open(self, now: float, first: bool) -> None:
        try:
            self._open()
        except AudioUnavailable as exc:
            self.state, self.problem = InputState.FAILED, str(exc)
            log.warning("no audio: %s; the show goes on without it", exc)
            return
        except Exception as exc:
            self._close_quietly()
            self._lost(now, f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
            return
        self.state, self.problem, self._reported = InputState.RUNNING, "", ""
        self._wait = BACKOFF_S[0]
        if not first:  # counted once running again: a reader that sees the count sees the state
            log.warning("%s is back", self.name)
            self.reopens += 1

    def _lost(self, now: float, problem: str) -> None:
        self.state, self.problem = InputState.LOST, problem
        if problem != self._reported:  # one message per kind of trouble, not one per retry
            log.warning("no audio: %s; retrying", problem)
            self._reported = problem
        self._next_try = now + self._wait
        self._wait = min(self._wait * BACKOFF_S[1], BACKOFF_S[2])

    def _close_quietly(self) -> None:
        try:
            self._close()
        except Exception as exc:  # closing a vanished device may fail; it is gone either way
            log.debug("%s: close: %s", self.name, exc)

    @abstractmethod
    def _open(self) -> None:
        """Start delivering frames; raise AudioUnavailable (permanent) or anything else (retry)."""

    @abstractmethod
    def _close(self) -> None:
        """Stop delivering frames."""

    @abstractmethod
    def _alive(self) -> bool:
        """Whether frames are still coming."""


def _find_device(sd: Any, wanted: str | None) -> int | None:
    """Index of the first input whose name contains ``wanted`` (None: the default input)."""
    devices = sd.query_devices()
    inputs = [(i, d["name"]) for i, d in enumerate(devices) if d["max_input_channels"] > 0]
    if not inputs:
        raise OSError("no audio inputs on this machine")
    if wanted is None:
        return None
    for index, name in inputs:
        if wanted.lower() in name.lower():
            return index
    names = ", ".join(repr(n) for _, n in inputs)
    raise OSError(f"no audio input whose name contains {wanted!r} (inputs: {names})")


class SoundDeviceInput(AudioInput):
    """A sound card through python-sounddevice (PortAudio), chosen by name."""

    def __init__(self, config: AudioConfig, ring: RingBuffer) -> None:
        super().__init__(ring)
        self.config = config
        self.name = f"audio device {config.device!r}" if config.device else "default audio input"
        self._stream: Any = None
        self._sd: Any = None
        #: Blocks PortAudio flagged as input overflow (the callback was late).
        self.xruns = 0

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        # runs on PortAudio's thread: no allocation, no I/O, no locks
        if status.input_overflow:
            self.xruns += 1
        self.ring.write(indata, time.monotonic())

    def _open(self) -> None:
        if self._sd is None:
            try:
                with quiet_stderr():
                    import sounddevice
            except OSError as exc:
                raise AudioUnavailable(
                    f"cannot load PortAudio ({exc}); install it: apt-get install libportaudio2"
                ) from exc
            except ImportError as exc:
                raise AudioUnavailable(f"python-sounddevice is not installed ({exc})") from exc
            self._sd = sounddevice
        else:  # PortAudio lists devices once per initialisation: look again for a replugged one
            with quiet_stderr():
                self._sd._terminate()
                self._sd._initialize()
        sd = self._sd
        with quiet_stderr():
            index = _find_device(sd, self.config.device)
            self._stream = sd.InputStream(
                device=index,
                channels=self.config.channels,
                samplerate=self.config.samplerate,
                blocksize=self.config.blocksize,
                dtype="float32",
                callback=self._callback,
            )
            self._stream.start()

    def _close(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close(ignore_errors=True)

    def _alive(self) -> bool:
        return self._stream is not None and bool(self._stream.active)


def read_audio_file(path: Path | str) -> tuple[np.ndarray, int]:
    """Decode a sound file into float32 frames x channels and its sample rate.

    WAV (8/16/24/32-bit PCM) through the stdlib; anything soundfile reads when it is installed.
    Raises :class:`SourceError` naming the path.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such audio file")
    try:
        import soundfile
    except (ImportError, OSError):
        soundfile = None
    if soundfile is not None:
        try:
            data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            return np.ascontiguousarray(data), int(rate)
        except Exception as exc:
            if path.suffix.lower() != ".wav":
                raise SourceError(f"{path}: cannot read audio: {exc}") from exc
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise SourceError(
            f"{path}: cannot read audio: expected a PCM WAV file (or install soundfile), got: {exc}"
        ) from exc
    if width == 1:
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        samples = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        samples = (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    else:
        raise SourceError(f"{path}: expected 8, 16, 24 or 32-bit samples, got {8 * width}-bit")
    return samples.reshape(-1, channels), rate


class FileInput(AudioInput):
    """A sound file played into the ring in real time, block by block, looping."""

    def __init__(self, path: Path | str, ring: RingBuffer, blocksize: int = 512, loop: bool = True) -> None:
        super().__init__(ring)
        self.path = Path(path)
        self.name = f"audio file {self.path}"
        self.blocksize = blocksize
        self.loop = loop
        self._samples, rate = read_audio_file(self.path)
        if len(self._samples) < blocksize:
            raise SourceError(f"{self.path}: expected at least {blocksize} samples, got {len(self._samples)}")
        ring.samplerate = float(rate)
        self._mono = np.ascontiguousarray(self._samples.mean(axis=1, dtype=np.float32))
        self._thread: threading.Thread | None = None
        self._halt = threading.Event()
        self.finished = False

    def _open(self) -> None:
        self._halt.clear()
        self._thread = threading.Thread(target=self._play, name="perform-audio-file", daemon=True)
        self._thread.start()

    def _close(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(1.0)
        self._thread = None

    def _alive(self) -> bool:
        return self.finished or (self._thread is not None and self._thread.is_alive())

    def _play(self) -> None:
        n, bs, pos = len(self._mono), self.blocksize, 0
        period = bs / self.ring.samplerate
        due = time.monotonic() + period
        while not self._halt.is_set():
            if pos + bs > n:
                if not self.loop:
                    self.finished = True
                    return
                pos = 0
            wait = due - time.monotonic()
            if wait > 0:
                self._halt.wait(wait)
            self.ring.write(self._mono[pos : pos + bs], due)
            pos += bs
            due += period


def open_input(config: AudioConfig, ring: RingBuffer) -> AudioInput:
    """The input ``config`` asks for: its file when set, else the sound card."""
    if config.file is not None:
        return FileInput(config.file, ring, config.blocksize)
    return SoundDeviceInput(config, ring)


class AudioStage(Stage):
    """Reads the ring block by block, analyses every block, publishes the newest features.

    Every block is analysed (onsets and tempo need them all); only the newest result is
    published. The ring is polled every quarter block: the callback may not signal (that would
    take a lock). Latency is recorded from the capture of a block's last sample.
    """

    def __init__(
        self,
        config: AudioConfig,
        stats: Stats,
        output: Slot[AudioFeatures],
        source: AudioInput | None = None,
        ring: RingBuffer | None = None,
    ) -> None:
        super().__init__("audio", stats)
        self.config = config
        if source is not None:
            self.ring = source.ring
        else:
            self.ring = ring or RingBuffer(
                max(8 * config.blocksize, round(config.buffer_s * config.samplerate)),
                config.channels,
                config.samplerate,
            )
        self.source = source if source is not None else open_input(config, self.ring)
        self.output = output
        self.analyzer = Analyzer(round(self.source.samplerate), config.blocksize, config)
        self._block = np.zeros((config.blocksize, self.ring.channels), dtype=np.float32)
        self._poll_s = config.blocksize / self.source.samplerate / 4.0
        self.stats.dropped_fn = lambda: self.ring.lost // config.blocksize

    def start(self) -> None:
        self.source.start()
        super().start()

    def step(self) -> None:
        self.source.poll()
        if self.source.state is InputState.FAILED:
            self.state = StageState.ENDED  # reported once by the input; the show runs on
            return
        latest: AudioFeatures | None = None
        while self.ring.available >= len(self._block):
            t_capture = self.ring.read(self._block)
            if t_capture is None:
                break
            latest = self.analyzer.update(self._block, t_capture)
        if latest is None:
            self._stop.wait(self._poll_s)
            return
        self.stats.record(latest.t_capture)
        self.output.publish(latest)

    def on_stop(self) -> None:
        self.source.stop()
        self.output.close()
