"""Audio analysis cost and latency, at 48 kHz with 256- and 512-sample blocks.

*cost*: :meth:`Analyzer.update` timed per block over a synthetic mix (clicks at 120 BPM, two
sines, noise), processed as fast as possible.

*latency*: a writer thread plays the same mix into the ring buffer in real time, as a sound
card's callback would, stamping each block with ``time.monotonic()`` as it is written; the
:class:`AudioStage` reads, analyses and publishes. Figures are from the capture of a block's last
sample to its features being published (the stage's own latency histogram). A real device adds
its input latency (the driver's buffering, ``InputStream.latency``) before the callback.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from perform.audio.analysis import Analyzer, AudioFeatures
from perform.audio.config import AudioConfig
from perform.audio.input import AudioInput, AudioStage
from perform.audio.ring import RingBuffer
from perform.pipeline import LatencyHistogram, Slot, Stats

SR = 48000


def _mix(seconds: float) -> np.ndarray:
    n = int(SR * seconds)
    t = np.arange(n) / SR
    rng = np.random.default_rng(0)
    x = 0.2 * np.sin(2 * np.pi * 110 * t) + 0.1 * np.sin(2 * np.pi * 2500 * t) + 0.02 * rng.standard_normal(n)
    for c in np.arange(0.1, seconds, 0.5):
        i = int(c * SR)
        x[i : i + 240] += rng.uniform(-0.6, 0.6, len(x[i : i + 240]))
    return x.astype(np.float32)


class _Player(AudioInput):
    """Plays samples into the ring in real time from a thread, like a sound card callback."""

    name = "bench player"

    def __init__(self, ring: RingBuffer, samples: np.ndarray, blocksize: int) -> None:
        super().__init__(ring)
        self.samples, self.blocksize = samples, blocksize
        self._running = False
        self._thread: threading.Thread | None = None

    def _open(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._play, daemon=True)
        self._thread.start()

    def _play(self) -> None:
        bs, period = self.blocksize, self.blocksize / SR
        due = time.monotonic() + period
        for pos in range(0, len(self.samples) - bs + 1, bs):
            if not self._running:
                return
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self.ring.write(self.samples[pos : pos + bs], time.monotonic())
            due += period
        self._running = False

    def _close(self) -> None:
        self._running = False

    def _alive(self) -> bool:
        return True  # ends with the samples; not to be reopened


def _cost(samples: np.ndarray, blocksize: int) -> dict[str, object]:
    analyzer = Analyzer(SR, blocksize, AudioConfig(blocksize=blocksize))
    hist = LatencyHistogram()
    for pos in range(0, len(samples) - blocksize + 1, blocksize):
        block = samples[pos : pos + blocksize]
        t0 = time.perf_counter()
        analyzer.update(block)
        hist.add(time.perf_counter() - t0)
    budget_ms = blocksize / SR * 1000.0
    return {
        "blocks": hist.count,
        "ms": hist.summary_ms(),
        "block_ms": round(budget_ms, 3),
        "cpu_share_p50": round(hist.percentile(50) * 1000.0 / budget_ms, 4),
        "n_fft": analyzer.n_fft,
    }


def _latency(samples: np.ndarray, blocksize: int) -> dict[str, object]:
    config = AudioConfig(enabled=True, blocksize=blocksize)
    ring = RingBuffer(SR, 1, SR)
    stats = Stats()
    slot: Slot[AudioFeatures] = Slot("audio")
    stage = AudioStage(config, stats, slot, source=_Player(ring, samples, blocksize))
    stage.start()
    time.sleep(len(samples) / SR + 0.05)
    stage.stop()
    stage.join(2.0)
    s = stats.stages["audio"]
    return {"published": s.frames, "ms": s.latency.summary_ms(), "lost_samples": ring.lost}


def bench_audio(quick: bool = False) -> dict[str, object]:
    """Cost per block and latency from sample to feature; figures in milliseconds."""
    cost_s, live_s = (5.0, 2.0) if quick else (30.0, 8.0)
    mix = _mix(cost_s)
    rows = []
    for blocksize in (256, 512):
        rows.append(
            {
                "blocksize": blocksize,
                "cost": _cost(mix, blocksize),
                "latency": _latency(mix[: int(live_s * SR)], blocksize),
            }
        )
    return {"samplerate": SR, "cost_seconds": cost_s, "live_seconds": live_s, "rows": rows}


def markdown(result: dict) -> list[str]:
    lines = [
        f"Audio analysis at {result['samplerate']} Hz: cost per block over {result['cost_seconds']} s "
        f"of audio, latency from sample to feature over {result['live_seconds']} s played in real time:",
        "",
        "| block | block ms | FFT | cost p50 / p95 / p99 ms | CPU share | latency p50 / p95 / p99 ms |",
        "|---:|---:|---:|---|---:|---|",
    ]
    for r in result["rows"]:
        c, lat = r["cost"], r["latency"]
        lines.append(
            f"| {r['blocksize']} | {c['block_ms']:.2f} | {c['n_fft']} "
            f"| {c['ms']['p50']:.3f} / {c['ms']['p95']:.3f} / {c['ms']['p99']:.3f} "
            f"| {100 * c['cpu_share_p50']:.1f} % "
            f"| {lat['ms']['p50']:.2f} / {lat['ms']['p95']:.2f} / {lat['ms']['p99']:.2f} |"
        )
    return lines


if __name__ == "__main__":
    import json
    import sys

    out = bench_audio(quick="--quick" in sys.argv)
    print(json.dumps(out, indent=1))
    print("\n".join(markdown(out)))
