"""The pipeline core's own overhead, against a plain-queue reference.

A 1280x720 source at 60 fps feeds capture -> N pass-through stages -> a no-op sink. Each
hop's latency is the time from the upstream stage publishing an item to the downstream stage
holding it. The same chain built from ``queue.Queue(maxsize=1)`` (drop oldest) runs in the
same process as the reference, so the figures come with ratios, not only absolute numbers.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from perform.capture import CaptureStage, Pacer, Source, draw_pattern
from perform.pipeline import Frame, LatencyHistogram, ProcessStage, Slot, Stats


@dataclass(frozen=True, slots=True)
class _Hop:
    seq: int
    t_capture: float
    t_published: float


class _BenchSource(Source):
    """Pre-drawn 1280x720 BGR frames, converted to RGB on read as a camera's would be."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.name = f"bench {width}x{height}@{fps:g}"
        self._frames = [
            cv2.cvtColor(draw_pattern(width, height, n, fps), cv2.COLOR_RGB2BGR) for n in range(8)
        ]
        self._pacer = Pacer(fps)
        self._n = 0

    def open(self) -> None:
        self._pacer.reset()

    def read(self) -> tuple[np.ndarray, float]:
        self._pacer.wait()
        t = time.monotonic()
        bgr = self._frames[self._n % len(self._frames)]
        self._n += 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t

    def close(self) -> None:
        pass


class _PassThrough(ProcessStage[Frame | _Hop, _Hop]):
    def __init__(self, name: str, stats: Stats, source: Slot, output: Slot, hops: LatencyHistogram) -> None:
        super().__init__(name, stats, source, output)
        self.hops = hops

    def process(self, item: Frame | _Hop) -> _Hop:
        now = time.monotonic()
        self.hops.add(now - (item.t_published if isinstance(item, _Hop) else item.t_capture))
        return _Hop(item.seq, item.t_capture, time.monotonic())


def _run_slots(seconds: float, hops: int, width: int, height: int, fps: float) -> dict[str, object]:
    stats = Stats()
    hop_latency = LatencyHistogram()
    slots: list[Slot] = [Slot(f"s{i}") for i in range(hops + 1)]
    stages = [CaptureStage(stats, lambda: _BenchSource(width, height, fps), slots[0])]
    for i in range(hops):
        stages.append(_PassThrough(f"hop{i + 1}", stats, slots[i], slots[i + 1], hop_latency))
    for stage in stages:
        stage.start()
    time.sleep(seconds)
    for stage in stages:
        stage.stop()
    for stage in stages:
        stage.join(1.0)
    last = stats.stage(f"hop{hops}")
    return {
        "hop_ms": hop_latency.summary_ms(),
        "capture_ms": stats.stage("capture").latency.summary_ms(),
        "end_to_end_ms": last.latency.summary_ms(),
        "frames": stats.stage("capture").frames,
        "delivered": last.frames,
        "dropped": sum(s.dropped for s in stats),
    }


def _run_queues(seconds: float, hops: int, width: int, height: int, fps: float) -> dict[str, object]:
    """The reference: threads joined by ``queue.Queue(maxsize=1)`` that drop the oldest item."""
    queues: list[queue.Queue] = [queue.Queue(maxsize=1) for _ in range(hops + 1)]
    stop = threading.Event()
    hop_latency = LatencyHistogram()
    end_to_end = LatencyHistogram()
    counts = {"frames": 0, "delivered": 0, "dropped": 0}

    def put_latest(q: queue.Queue, item: object) -> None:
        while True:
            try:
                q.put_nowait(item)
                return
            except queue.Full:
                try:
                    q.get_nowait()
                    counts["dropped"] += 1
                except queue.Empty:
                    pass

    def capture() -> None:
        source = _BenchSource(width, height, fps)
        seq = 0
        while not stop.is_set():
            image, t = source.read()
            image.setflags(write=False)
            put_latest(queues[0], Frame(image, seq, t))
            seq += 1
            counts["frames"] += 1

    def hop(i: int) -> None:
        while not stop.is_set():
            try:
                item = queues[i].get(timeout=0.05)
            except queue.Empty:
                continue
            now = time.monotonic()
            hop_latency.add(now - (item.t_published if isinstance(item, _Hop) else item.t_capture))
            out = _Hop(item.seq, item.t_capture, time.monotonic())
            if i == hops - 1:
                end_to_end.add(out.t_published - out.t_capture)
                counts["delivered"] += 1
            put_latest(queues[i + 1], out)

    threads = [threading.Thread(target=capture, daemon=True)]
    threads += [threading.Thread(target=hop, args=(i,), daemon=True) for i in range(hops)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(1.0)
    return {"hop_ms": hop_latency.summary_ms(), "end_to_end_ms": end_to_end.summary_ms(), **counts}


def bench_core(
    quick: bool = False,
    hops: int = 3,
    width: int = 1280,
    height: int = 720,
    fps: float = 60.0,
    seconds: float | None = None,
) -> dict:
    """Run the core benchmark; ``quick`` takes about 10 s, the full one about 40 s."""
    if seconds is None:
        seconds = 5.0 if quick else 20.0
    ours = _run_slots(seconds, hops, width, height, fps)
    reference = _run_queues(seconds, hops, width, height, fps)
    ratio = {
        q: round(ours["hop_ms"][q] / reference["hop_ms"][q], 3) if reference["hop_ms"][q] else None
        for q in ("p50", "p95", "p99")
    }
    return {
        "setup": {"frame": f"{width}x{height}", "fps": fps, "hops": hops, "seconds": seconds},
        "slots": ours,
        "reference_queue": reference,
        "hop_ratio_vs_queue": ratio,
    }


def markdown(core: dict) -> list[str]:
    """The core benchmark as Markdown lines."""
    s = core["setup"]
    lines = [
        f"Core: {s['frame']} at {s['fps']:g} fps, capture -> {s['hops']} pass-through stages, "
        f"{s['seconds']:g} s each",
        "",
        "| measure | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    rows = [
        ("capture: grab to published (slots)", core["slots"]["capture_ms"]),
        ("one hop, latest-wins slot", core["slots"]["hop_ms"]),
        ("one hop, reference queue.Queue(1)", core["reference_queue"]["hop_ms"]),
        ("capture to sink (slots)", core["slots"]["end_to_end_ms"]),
        ("capture to sink (reference)", core["reference_queue"]["end_to_end_ms"]),
    ]
    for name, p in rows:
        lines.append(f"| {name} | {p['p50']:.3f} | {p['p95']:.3f} | {p['p99']:.3f} |")
    r = core["hop_ratio_vs_queue"]
    lines.append(f"| hop ratio slots / queue | {r['p50']} | {r['p95']} | {r['p99']} |")
    lines.append("")
    lines.append(
        f"Frames: {core['slots']['frames']} captured, {core['slots']['delivered']} reached the sink, "
        f"{core['slots']['dropped']} dropped on the way."
    )
    return lines
