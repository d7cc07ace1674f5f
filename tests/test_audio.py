"""Audio analysis, the ring buffer, supervised inputs and ``perform audio``; no sound card."""

from __future__ import annotations

import argparse
import io
import json
import time
import wave
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from perform.audio import (
    AUDIO_FEATURES,
    Analyzer,
    AudioConfig,
    AudioFeatures,
    AudioInput,
    AudioStage,
    RingBuffer,
    audio_features,
)
from perform.audio.cli import add_audio_parser, cmd_audio
from perform.audio.input import InputState, SoundDeviceInput
from perform.errors import PerformError
from perform.pipeline import Slot, Stats
from tests.tools import wait_for

SR, BS = 48000, 512


def run(analyzer: Analyzer, x: np.ndarray) -> list[AudioFeatures]:
    return [analyzer.update(x[i : i + BS]) for i in range(0, len(x) - BS + 1, BS)]


def clicks(bpm: float, seconds: float, first: float = 0.25) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros(int(SR * seconds), np.float32)
    times = np.arange(first, seconds - 0.05, 60.0 / bpm)
    burst = np.random.default_rng(1).uniform(-0.8, 0.8, 240).astype(np.float32)
    for t in times:
        i = int(t * SR)
        x[i : i + 240] += burst
    return x, times


class FakeInput(AudioInput):
    """Writes a sine into the ring from a thread.

    Knobs: ``fail_after`` blocks it dies mid-stream; then ``down_for`` reopens fail (the device is
    gone) before it comes back; ``fail_opens`` makes the next opens fail from the start.
    """

    name = "fake input"

    def __init__(
        self, ring: RingBuffer, fail_after: int | None = None, down_for: int = 0, fail_opens: int = 0
    ) -> None:
        super().__init__(ring)
        self.fail_after = fail_after
        self.down_for = down_for
        self.fail_opens = fail_opens  # the next N opens raise (the device is not back yet)
        self.opens = 0
        self._running = False
        self._thread: object = None

    def _open(self) -> None:
        import threading

        if self.fail_opens > 0:
            self.fail_opens -= 1
            raise OSError("no audio input whose name contains 'fake'")
        self.opens += 1
        self._running = True
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _play(self) -> None:
        block = (0.3 * np.sin(2 * np.pi * 440 * np.arange(BS) / SR)).astype(np.float32)
        sent = 0
        while self._running:
            if self.fail_after is not None and sent >= self.fail_after:
                self.fail_opens = self.down_for  # vanishes, as a pulled USB interface
                self._running = False
                self.fail_after = None
                return
            self.ring.write(block, time.monotonic())
            sent += 1
            time.sleep(BS / SR / 4)  # faster than real time keeps the test short

    def _close(self) -> None:
        self._running = False

    def _alive(self) -> bool:
        return self._running


def test_config_defaults_and_checks() -> None:
    c = AudioConfig()
    assert (c.enabled, c.samplerate, c.blocksize, c.bands, c.tempo_min, c.tempo_max) == (
        False, 48000, 512, 8, 60.0, 180.0
    )  # fmt: skip
    for field in AudioConfig.model_fields.values():
        assert field.description
    with pytest.raises(ValueError, match="fmin < fmax"):
        AudioConfig(fmin=1000, fmax=500)
    with pytest.raises(ValueError, match="tempo_min < tempo_max"):
        AudioConfig(tempo_min=150, tempo_max=100)
    with pytest.raises(ValueError):
        AudioConfig(bogus=1)


def test_sine_lands_in_its_band() -> None:
    cfg = AudioConfig()
    edges = np.geomspace(cfg.fmin, cfg.fmax, cfg.bands + 1)
    for band in (1, 4, 6):
        freq = float(np.sqrt(edges[band] * edges[band + 1]))
        x = (0.5 * np.sin(2 * np.pi * freq * np.arange(SR) / SR)).astype(np.float32)
        f = run(Analyzer(SR, BS, cfg), x)[-1]
        assert int(np.argmax(f.bands)) == band, (freq, f.bands)
        others = [b for k, b in enumerate(f.bands) if k != band]
        assert f.bands[band] > 0.8 and max(others) < f.bands[band] - 0.3
        assert -10 < f.rms_db < -8  # a 0.5 sine is -9 dBFS


def test_clicks_at_120_bpm_give_tempo_and_onsets() -> None:
    x, times = clicks(120, 8.0)
    feats = run(Analyzer(SR, BS), x)
    assert abs(feats[-1].tempo_bpm - 120.0) < 2.0
    onsets = np.array([f.t for f in feats if f.onset])
    assert len(onsets) == len(times)
    assert np.all(np.abs(onsets - times) < 0.03)  # within three blocks of each click
    beats = np.array([f.t for f in feats if f.beat and f.t > 4.0])
    assert len(beats) >= 6
    dist = np.abs(beats[:, None] - times[None, :]).min(axis=1)
    assert np.all(dist < 0.06)  # beats fall on the clicks once locked
    assert all(0.0 <= f.beat_phase < 1.0 for f in feats)


def test_silence_is_zero() -> None:
    feats = run(Analyzer(SR, BS), np.zeros(SR * 3, np.float32))
    f = feats[-1]
    assert f.level == 0.0 and f.peak == 0.0 and f.rms_db == -120.0
    assert not any(g.onset or g.beat for g in feats) and f.tempo_bpm == 0.0
    assert max(f.bands) == 0.0


def test_features_dict_matches_the_registry() -> None:
    f = run(Analyzer(SR, BS), clicks(120, 1.0)[0])[-1]
    d = f.features_dict()
    assert set(d) == set(AUDIO_FEATURES)
    assert all(info.scope == "stage" and info.unit for info in AUDIO_FEATURES.values())
    assert "audio.band12" in audio_features(12) and "audio.band9" not in AUDIO_FEATURES
    assert all(np.isfinite(v) for v in d.values())


def test_block_shape_checked() -> None:
    with pytest.raises(ValueError, match=r"expected a block of \(512,\) samples, got \(100,\)"):
        Analyzer(SR, BS).update(np.zeros(100, np.float32))


def test_ring_wraps_and_counts_overflow_and_underflow() -> None:
    ring = RingBuffer(1000, 1, SR)
    out = np.zeros((300, 1), np.float32)
    assert ring.read(out) is None and ring.underflows == 1
    data = np.arange(2600, dtype=np.float32)
    for i in range(0, 900, 300):
        ring.write(data[i : i + 300], 1.0)
    assert ring.read(out) is not None and out[0, 0] == 0.0
    for i in range(900, 2400, 300):  # the reader falls behind by more than the capacity
        ring.write(data[i : i + 300], 2.0)
    t = ring.read(out)
    assert ring.overflows == 1 and ring.lost > 0
    assert out[-1, 0] == 2399.0 and t == pytest.approx(2.0)  # newest data, newest time
    assert np.array_equal(ring.latest(5)[:, 0], data[2395:2400])


def test_ring_write_does_not_allocate() -> None:
    import tracemalloc

    ring = RingBuffer(4096, 2, SR)
    block = np.ones((512, 2), np.float32)
    ring.write(block, 0.0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(100):
        ring.write(block, 0.0)
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 1024  # no new arrays per block (small ints and floats only)


def test_fake_device_that_fails_mid_stream_is_reopened() -> None:
    cfg = AudioConfig(enabled=True)
    ring = RingBuffer(SR, 1, SR)
    fake = FakeInput(ring, fail_after=20, down_for=2)
    slot: Slot[AudioFeatures] = Slot("audio")
    stats = Stats()
    stage = AudioStage(cfg, stats, slot, source=fake)
    stage.start()
    try:
        deadline = time.monotonic() + 5.0
        while fake.reopens < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake.failures == 1 and fake.reopens == 1 and fake.opens == 2 and fake.fail_opens == 0
        assert fake.state is InputState.RUNNING and fake.problem == ""
        count = slot.published
        assert wait_for(lambda: slot.published > count, 5.0)  # features flow again
        assert slot.latest() is not None and slot.latest().level > 0.5
    finally:
        stage.stop()
        stage.join(2.0)
    assert stats.stages["audio"].frames > 0 and stats.stages["audio"].latency.count > 0


def test_no_portaudio_is_one_clear_message(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    import builtins

    real_import = builtins.__import__

    def no_portaudio(name: str, *a, **k):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    cfg = AudioConfig(enabled=True, device="Scarlett")
    slot: Slot[AudioFeatures] = Slot("audio")
    source = SoundDeviceInput(cfg, RingBuffer(SR, 1, SR))
    stage = AudioStage(cfg, Stats(), slot, source=source)
    stage.start()
    assert stage.join(2.0)
    assert source.state is InputState.FAILED and "libportaudio2" in source.problem
    assert slot.closed
    assert sum("libportaudio2" in r.getMessage() for r in caplog.records) == 1


def write_wav(path: Path, x: np.ndarray, rate: int = SR) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_audio_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_perform_audio_prints_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "clicks.wav"
    write_wav(path, clicks(120, 4.0)[0])
    out = io.StringIO()
    with redirect_stdout(out):
        assert cmd_audio(parse(["audio", str(path), "--json"]), Console(file=io.StringIO())) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 4 * SR // BS
    assert set(lines[0]) == {"t", "level", "bands", "onset", "tempo"} and len(lines[0]["bands"]) == 8
    assert sum(line["onset"] for line in lines) == 8
    assert abs(lines[-1]["tempo"] - 120) < 2


def test_perform_audio_bad_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(PerformError, match=str(missing)):
        cmd_audio(parse(["audio", str(missing)]), Console(file=io.StringIO()))
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00not a wave file")
    with pytest.raises(PerformError, match=f"{garbage}: cannot read audio"):
        cmd_audio(parse(["audio", str(garbage)]), Console(file=io.StringIO()))


def test_file_input_plays_in_real_time(tmp_path: Path) -> None:
    path = tmp_path / "tone.wav"
    write_wav(path, (0.5 * np.sin(2 * np.pi * 440 * np.arange(SR // 2) / SR)).astype(np.float32))
    cfg = AudioConfig(enabled=True, file=path, buffer_s=0.5)
    slot: Slot[AudioFeatures] = Slot("audio")
    stage = AudioStage(cfg, Stats(), slot)
    t_start = time.monotonic()
    stage.start()
    try:
        assert wait_for(lambda: slot.latest() is not None, 5.0)  # the first block analysed
        t0 = slot.latest().t
        time.sleep(0.3)
        f, wall = slot.latest(), time.monotonic() - t_start
    finally:
        stage.stop()
        stage.join(2.0)
    # stream time never runs ahead of the wall clock (real time, not as fast as possible)
    assert f.t <= wall + 0.02
    assert f.t - t0 > 0.1  # and it kept flowing: about 0.3 s, less on a busy machine
    assert f.level > 0.7
