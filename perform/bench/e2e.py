"""End to end with pose running: frame captured to OSC datagram received by another process.

A show reads the bundled photograph as a 640x360 camera at 30 fps, runs the pose stage (one
person, legacy backend), the events stage and OSC out to a receiver subprocess on loopback. The
receiver stamps each datagram's arrival with ``time.monotonic()`` (system-wide on Linux); the
bundle's timetag is the frame's capture time on the wall clock, turned back into monotonic time
with the sender's own offset. Figures: capture to the frame's first datagram, with the pose
stage's and the OSC stage's own latency from the same run beside them.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import cv2
from pythonosc.parsing.osc_types import get_date

from perform.bench.osc import _Receiver
from perform.bench.pose import stage_frame
from perform.osc.config import Osc, Target
from perform.pipeline import LatencyHistogram
from perform.runtime import ShowPipeline
from perform.show.models import Control, ImageSource, Pose, Show


def bench_end_to_end(quick: bool = False, seconds: float | None = None) -> dict[str, object]:
    """Capture to OSC on the wire, p50/p95/p99 ms, with pose at 640x360."""
    if seconds is None:
        seconds = 6.0 if quick else 20.0
    rx = _Receiver(1)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stage.png"
        cv2.imwrite(str(path), cv2.cvtColor(stage_frame(640, 360, 1), cv2.COLOR_RGB2BGR))
        show = Show(
            name="bench",
            source=ImageSource(kind="image", path=path, fps=30),
            pose=Pose(max_people=1, masks=False),
            osc=Osc(targets=[Target(host="127.0.0.1", port=rx.ports[0], preset="default")]),
            control=Control(enabled=False),
        )
        pipeline = ShowPipeline(show)
        pipeline.start()
        # the pose model loads with the first frame: measure from when it is warm
        deadline = time.monotonic() + 30
        while pipeline.stats.stage("pose").frames < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        t_warm = time.monotonic()
        for stage in pipeline.stats:
            stage.latency = LatencyHistogram()
        assert pipeline.osc is not None
        pipeline.osc.frame_to_osc = LatencyHistogram()
        captured = pipeline.stats.stage("capture").frames
        time.sleep(seconds)
        pipeline.stop()
        captured = pipeline.stats.stage("capture").frames - captured
    got = rx.finish()
    offset = pipeline.osc.clock.offset
    first: dict[str, float] = {}
    for arrival, tag in got["arrivals"]:
        first[tag] = min(arrival, first.get(tag, arrival))
    latency = LatencyHistogram()
    for tag, arrival in first.items():
        t_capture = get_date(bytes.fromhex(tag), 0)[0] - offset
        if t_capture >= t_warm and arrival - t_capture < 5.0:
            latency.add(arrival - t_capture)
    stages = {s.name: s.latency.summary_ms() for s in pipeline.stats}
    return {
        "setup": {
            "source": "photo 640x360 @ 30 fps",
            "pose": "legacy, 1 person, no mask",
            "seconds": seconds,
        },
        "frames_captured": captured,
        "frames_received": latency.count,
        "capture_to_osc_received_ms": latency.summary_ms(),
        "pose_stage_ms": stages.get("pose"),
        "osc_stage_ms": stages.get("osc"),
    }


def markdown(result: dict) -> list[str]:
    r = result
    rows = [
        ("capture to OSC datagram received (other process)", r["capture_to_osc_received_ms"]),
        ("capture to pose stage output", r["pose_stage_ms"]),
        ("capture to OSC sent", r["osc_stage_ms"]),
    ]
    lines = [
        f"End to end: {r['setup']['source']}, pose {r['setup']['pose']}, {r['setup']['seconds']:g} s; "
        f"{r['frames_received']} of {r['frames_captured']} frames reached the receiver.",
        "",
        "| measure | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, p in rows:
        if p:
            lines.append(f"| {name} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")
    return lines
