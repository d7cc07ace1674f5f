"""NDI out: capture to frame received by another process, and what NDI costs the show.

*latency*: pictures of 1280x720 RGBA are handed to a :class:`~perform.share.VideoOut` with an
NDI sink at 30 fps, each with its number drawn as 16 black or white blocks along the top (NDI's
codec is lossy: bytes would not survive it), its capture time ``time.monotonic()`` kept here. A
receiver subprocess reads the source through NDI's frame-sync, stamps each new frame's arrival
(CLOCK_MONOTONIC is system-wide on Linux) and reads its number back. Figures: capture to
received, p50/p95/p99.

*cost*: the projector draws the benchmark's scene at 1280x720 as fast as it can for a while, with
and without an NDI output (the read-back, and the sender's thread sharing the cores); render fps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from perform.bench.render import BUILTIN, BUILTIN_SCENE
from perform.capture.pattern import draw_pattern
from perform.control import Controls
from perform.pipeline import Frame, LatencyHistogram, Slot, Stats
from perform.render.config import Render
from perform.render.projector import Projector
from perform.share import VideoOut
from perform.share.ndi import NdiSink

SIZE = (1280, 720)
BLOCK = 32  # the side of one bit of a frame's number, in pixels

# Finds the source named argv[1] (or exits after 10 s), prints "ready", then stamps each new frame
# until stdin closes.
_RECEIVER = r"""
import json, sys, threading, time
import numpy as np
import cyndilib as ndi
BLOCK = 32
finder = ndi.Finder(); finder.open()
deadline, source = time.monotonic() + 10, None
while source is None and time.monotonic() < deadline:
    finder.wait_for_sources(0.2)
    source = next((s for s in finder.get_source_names() if s.endswith("(" + sys.argv[1] + ")")), None)
if source is None:
    sys.exit("not found")
r = ndi.Receiver(color_format=ndi.RecvColorFormat.RGBX_RGBA, bandwidth=ndi.RecvBandwidth.highest)
video = ndi.VideoFrameSync(); r.frame_sync.set_video_frame(video); r.set_source(finder.get_source(source))
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
print("ready", flush=True)
got, last = [], 0.0
while not done.is_set():
    r.frame_sync.capture_video()
    stamp = video.get_timestamp_posix()
    if stamp != last and video.get_resolution()[0] > 0:
        last = stamp
        now = time.monotonic()
        w, h = video.get_resolution()
        row = video.get_array()[: w * 4 * BLOCK].reshape(BLOCK, w, 4)[BLOCK // 2, : 16 * BLOCK : BLOCK, 0]
        got.append((int(sum(1 << i for i, v in enumerate(row[:16]) if v > 127)), now))
    time.sleep(0.001)
print(json.dumps(got), flush=True)
"""


def _latency(seconds: float, fps: float = 30.0) -> dict[str, object]:
    name = f"perform-bench-{os.getpid()}"
    out = VideoOut(NdiSink(name, *SIZE, fps))
    rx = subprocess.Popen(
        [sys.executable, "-c", _RECEIVER, name],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert rx.stdout is not None and rx.stdin is not None
        if rx.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the NDI receiver did not find {name!r} (NDI_CONFIG_DIR: see README)")
        base = np.zeros((SIZE[1], SIZE[0], 4), np.uint8)
        base[..., :3] = draw_pattern(*SIZE, 0, fps)
        sent, stamps = 0, []
        t_next = time.monotonic()
        until = t_next + seconds
        while time.monotonic() < until:
            pixels = base.copy()
            for bit in range(16):
                pixels[:BLOCK, bit * BLOCK : (bit + 1) * BLOCK, :3] = 255 if sent >> bit & 1 else 0
            t_capture = time.monotonic()
            stamps.append(t_capture)
            out.submit(pixels, t_capture)
            sent += 1
            t_next += 1.0 / fps
            time.sleep(max(0.0, t_next - time.monotonic()))
        time.sleep(0.3)
        rx.stdin.close()
        got = json.loads(rx.stdout.readline() or "[]")
    finally:
        report = out.close()
        if rx.poll() is None:
            rx.kill()
        rx.wait(10)
    latency = LatencyHistogram()
    for number, arrival in got:
        if number < len(stamps) and 0 <= arrival - stamps[number] < 5.0:
            latency.add(arrival - stamps[number])
    return {
        "sent": sent,
        "received": latency.count,
        "dropped_by_sender": report["dropped"],
        "capture_to_received_ms": latency.summary_ms(),
        "frame_to_ndi_ms": report["frame_to_out_ms"],
    }


def _render_fps(seconds: float, ndi: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "scenes").mkdir()
        (Path(folder) / "scenes" / f"{BUILTIN}.yaml").write_text(BUILTIN_SCENE, encoding="utf-8")
        render = Render(
            enabled=True,
            scene=BUILTIN,
            scenes=[BUILTIN],
            folders=[Path(folder)],
            width=SIZE[0],
            height=SIZE[1],
        )
        frames: Slot[Frame] = Slot("frames")
        outs = (
            [VideoOut(NdiSink(f"perform-bench-cost-{os.getpid()}", *SIZE, 30.0), bottom_up=True)]
            if ndi
            else []
        )
        projector = Projector(render, Stats(), Controls(), frames, video_outs=outs)
        try:
            image = draw_pattern(*SIZE, 0, 30.0)
            n, t0 = 0, time.monotonic()
            while time.monotonic() - t0 < seconds:
                frames.publish(Frame(image, n, time.monotonic(), "bench"))
                projector.tick()
                n += 1
            return n / (time.monotonic() - t0)
        finally:
            projector.close()


def bench_ndi(quick: bool = False) -> dict[str, object]:
    """NDI out at 1280x720: capture to received in another process, and render fps with and without."""
    seconds = 4.0 if quick else 15.0
    without = _render_fps(seconds / 2, ndi=False)
    with_ndi = _render_fps(seconds / 2, ndi=True)
    return {
        "setup": {"size": f"{SIZE[0]}x{SIZE[1]}", "fps": 30, "seconds": seconds, "scene": BUILTIN},
        **_latency(seconds),
        "render_fps_without_ndi": round(without, 1),
        "render_fps_with_ndi": round(with_ndi, 1),
    }


def markdown(result: dict) -> list[str]:
    lat, f2n = result["capture_to_received_ms"], result["frame_to_ndi_ms"]
    return [
        f"{result['setup']['size']} RGBA at 30 fps to a receiver process on loopback (NDI frame-sync).",
        "",
        "| figure | p50 | p95 | p99 |",
        "|---|---|---|---|",
        f"| capture to received, ms | {lat['p50']} | {lat['p95']} | {lat['p99']} |",
        f"| capture to sent (frame_to_ndi), ms | {f2n['p50']} | {f2n['p95']} | {f2n['p99']} |",
        "",
        f"Frames sent {result['sent']}, received {result['received']}, dropped by the sender "
        f"{result['dropped_by_sender']}. Render fps (scene {result['setup']['scene']}, as fast as it draws): "
        f"{result['render_fps_without_ndi']} without NDI, {result['render_fps_with_ndi']} with.",
    ]
