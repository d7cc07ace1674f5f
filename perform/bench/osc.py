"""OSC out latency and throughput, measured at a receiver in another process on loopback.

*latency*: virtual performers' poses are published to the OSC stage at a frame rate, each stamped
with ``time.monotonic()`` as it is published (its capture time). A receiver subprocess stamps
each datagram's arrival with ``time.monotonic()`` too (CLOCK_MONOTONIC is system-wide on Linux)
and reports the bundle timetag, which identifies the frame. Figures are capture to the frame's
first datagram and to its last (the whole frame received). *reference*: the same frames built
with python-osc's ``OscMessageBuilder``/``OscBundleBuilder`` in the same process.

*throughput*: poses offered at 1000 per second (the stage takes the newest), to three targets (default,
touchdesigner, ableton presets); messages, datagrams and bytes per second, and datagrams the
receiver got.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import threading
import time

import numpy as np
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from perform.osc.config import Osc, Target
from perform.osc.out import FrameEncoder, OscOutStage, WallClock
from perform.osc.wire import pack_bundles
from perform.pipeline import LatencyHistogram, Slot, Stats
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.types import Poses
from perform.vision.virtual import VirtualTroupe

# Binds N UDP ports on loopback, prints them, then records (socket, arrival, timetag) until /stop.
_RECEIVER = r"""
import json, selectors, socket, sys, time
n = int(sys.argv[1])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("127.0.0.1", 0))
    s.setblocking(False)
    socks.append(s)
print(json.dumps([s.getsockname()[1] for s in socks]), flush=True)
sel = selectors.DefaultSelector()
for i, s in enumerate(socks):
    sel.register(s, selectors.EVENT_READ, i)
arrivals, counts, nbytes, running = [], [0] * n, [0] * n, True
while running:
    for key, _ in sel.select(5.0):
        while True:
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                break
            now = time.monotonic()
            if data.startswith(b"/stop"):
                running = False
                break
            counts[key.data] += 1
            nbytes[key.data] += len(data)
            if key.data == 0:
                arrivals.append((now, data[8:16].hex()))
print(json.dumps({"arrivals": arrivals, "counts": counts, "bytes": nbytes}), flush=True)
"""


class _Receiver:
    def __init__(self, sockets: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _RECEIVER, str(sockets)], stdout=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        self.ports: list[int] = json.loads(self.proc.stdout.readline())

    def finish(self) -> dict:
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"/stop\0\0\0,\0\0\0", ("127.0.0.1", self.ports[0]))
        out, _ = self.proc.communicate(timeout=30)
        return json.loads(out.strip().splitlines()[-1])


def virtual_poses(people: int = 3, frames: int = 240, fps: float = 30.0, seed: int = 1) -> list[Poses]:
    """Frames of virtual performers with features, from a moment most of them are on stage."""
    troupe = VirtualTroupe(people=people, seed=seed)
    perception = Perception(PoseConfig(max_people=people))
    start = max(np.arange(0.0, 30.0, 0.5), key=lambda t: len(troupe.detections(float(t), 1280, 720)))
    out = []
    for i in range(frames):
        t = float(start) + i / fps
        dets = [d for _, d in troupe.detections(t, 1280, 720)]
        out.append(perception(dets, i, 1000.0 + i / fps, 1280, 720))
    return out


def _python_osc_frame(elements: list[bytes], timestamp: float) -> bytes:
    """The reference: the same messages built with python-osc's builders, one bundle."""
    bundle = OscBundleBuilder(timestamp)  # type: ignore[arg-type]
    for el in elements:
        m = OscMessage(el[4:])
        tags = el[4:].split(b",", 1)[1].split(b"\0")[0].decode()
        b = OscMessageBuilder(m.address)
        for tag, v in zip(tags, m.params, strict=True):
            b.add_arg(v, tag)
        bundle.add_content(b.build())
    return bundle.build().dgram


def _build_cost(frames: list[Poses], preset: str, n: int) -> dict[str, object]:
    """Encoding one frame: ours against python-osc's builders, alternating, same frames."""
    clock = WallClock()
    ours, ref = LatencyHistogram(), LatencyHistogram()
    encoder = FrameEncoder(Osc(targets=[Target(port=1, preset=preset)]).targets[0].effective_mapping)
    for i in range(n):
        p = frames[i % len(frames)]
        t0 = time.perf_counter()
        elements = encoder.encode(p, [], p.t_capture)
        pack_bundles(clock.timetag(p.t_capture), elements, 1472)
        t1 = time.perf_counter()
        _python_osc_frame(elements, clock.wall(p.t_capture))
        t2 = time.perf_counter()
        ours.add(t1 - t0)
        ref.add(t2 - t1)
    return {"ours_ms": ours.summary_ms(), "python_osc_builders_ms": ref.summary_ms()}


def _latency(frames: list[Poses], seconds: float, fps: float, preset: str) -> dict[str, object]:
    rx = _Receiver(1)
    slot: Slot[Poses] = Slot("poses")
    stage = OscOutStage(Stats(), slot, None, Osc(targets=[Target(port=rx.ports[0], preset=preset)]))
    sent: dict[str, float] = {}
    stage.start()
    time.sleep(0.1)
    period = 1.0 / fps
    n = int(seconds * fps)
    next_t = time.monotonic()
    for i in range(n):
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
        t = time.monotonic()
        sent[stage.clock.timetag(t).hex()] = t
        slot.publish(dataclasses.replace(frames[i % len(frames)], seq=i, t_capture=t))
    time.sleep(0.2)
    slot.close()
    stage.stop()
    stage.join(1.0)
    got = rx.finish()
    first, last = LatencyHistogram(), LatencyHistogram()
    per_frame: dict[str, list[float]] = {}
    for arrival, tag in got["arrivals"]:
        per_frame.setdefault(tag, []).append(arrival)
    for tag, arrivals in per_frame.items():
        if tag in sent:
            first.add(min(arrivals) - sent[tag])
            last.add(max(arrivals) - sent[tag])
    return {
        "preset": preset,
        "fps": fps,
        "frames_published": n,
        "frames_received": first.count,
        "datagrams_per_frame": round(stage.counters.datagrams / max(1, stage.stats.frames), 2),
        "first_datagram_ms": first.summary_ms(),
        "whole_frame_ms": last.summary_ms(),
        "stage_ms": stage.stats.latency.summary_ms(),
    }


def _throughput(frames: list[Poses], seconds: float) -> dict[str, object]:
    presets = ["default", "touchdesigner", "ableton"]
    rx = _Receiver(len(presets))
    slot: Slot[Poses] = Slot("poses")
    targets = [Target(port=p, preset=name) for p, name in zip(rx.ports, presets, strict=True)]  # type: ignore[arg-type]
    stage = OscOutStage(Stats(), slot, None, Osc(targets=targets))
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.is_set():
            slot.publish(dataclasses.replace(frames[i % len(frames)], seq=i, t_capture=time.monotonic()))
            i += 1
            time.sleep(0.001)  # 1000 poses/s offered: more than the stage takes

    feeder = threading.Thread(target=feed, daemon=True)
    stage.start()
    feeder.start()
    t0 = time.monotonic()
    time.sleep(seconds)
    stop.set()
    feeder.join()
    slot.close()
    stage.stop()
    stage.join(1.0)
    elapsed = time.monotonic() - t0
    got = rx.finish()
    c = stage.counters
    return {
        "targets": presets,
        "seconds": round(elapsed, 3),
        "frames_per_s": round(stage.stats.frames / elapsed, 1),
        "messages_per_s": round(c.messages / elapsed),
        "datagrams_per_s": round(c.datagrams / elapsed),
        "megabytes_per_s": round(c.bytes / elapsed / 1e6, 2),
        "datagrams_received": sum(got["counts"]),
        "datagrams_sent": c.datagrams,
        "would_block": c.would_block,
        "stage_ms": stage.stats.latency.summary_ms(),
    }


def bench_osc(quick: bool = False, people: int = 3, fps: float = 60.0) -> dict[str, object]:
    """Latency from capture to datagram received (default and touchdesigner presets), the cost of
    encoding against python-osc's builders, and sustained throughput to three targets."""
    frames = virtual_poses(people=people, frames=120 if quick else 300)
    seconds = 3.0 if quick else 10.0
    return {
        "setup": {"people": max(len(p.bodies) for p in frames), "fps": fps, "seconds": seconds},
        "latency": [_latency(frames, seconds, fps, preset) for preset in ("default", "touchdesigner")],
        "build": {p: _build_cost(frames, p, 100 if quick else 400) for p in ("default", "touchdesigner")},
        "throughput": _throughput(frames, seconds / 2),
    }


def markdown(result: dict) -> list[str]:
    """The OSC benchmark as Markdown lines."""
    s = result["setup"]
    lines = [
        f"OSC out: up to {s['people']} virtual performers, {s['fps']:g} fps, {s['seconds']:g} s per preset; "
        "receiver in another process on loopback.",
        "",
        "| measure | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for lat in result["latency"]:
        for key, label in (("first_datagram_ms", "first datagram"), ("whole_frame_ms", "whole frame")):
            p = lat[key]
            name = (
                f"{lat['preset']}: capture to {label} received ({lat['datagrams_per_frame']} datagrams/frame)"
            )
            lines.append(f"| {name} | {p['p50']:.3f} | {p['p95']:.3f} | {p['p99']:.3f} |")
    for preset, b in result["build"].items():
        for key, label in (("ours_ms", "perform"), ("python_osc_builders_ms", "python-osc builders")):
            p = b[key]
            lines.append(
                f"| {preset}: encode one frame, {label} | {p['p50']:.3f} | {p['p95']:.3f} | {p['p99']:.3f} |"
            )
    t = result["throughput"]
    lines += [
        "",
        f"Throughput to {len(t['targets'])} targets ({', '.join(t['targets'])}): "
        f"{t['frames_per_s']} frames/s, "
        f"{t['messages_per_s']} messages/s, {t['datagrams_per_s']} datagrams/s, {t['megabytes_per_s']} MB/s; "
        f"{t['datagrams_received']} of {t['datagrams_sent']} datagrams received, {t['would_block']} refused "
        "by a full send buffer.",
    ]
    return lines
