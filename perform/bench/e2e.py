"""End to end with pose running: frame captured to OSC datagram received, and to the picture drawn.

A show reads the bundled photograph as a 640x360 camera at 30 fps, runs the pose stage (one
person, legacy backend), the events stage and OSC out to a receiver subprocess on loopback. The
receiver stamps each datagram's arrival with ``time.monotonic()`` (system-wide on Linux); the
bundle's timetag is the frame's capture time on the wall clock, turned back into monotonic time
with the sender's own offset. Figures: capture to the frame's first datagram, with the pose
stage's and the OSC stage's own latency from the same run beside them.

*With rendering* the same show also draws a scene at 1280x720 and 30 fps on the headless GL
context, from the main thread as ``perform run --headless --scene`` does: the figures add
``frame_to_render`` (capture to the picture finished, ``ctx.finish()`` included) and the
projector's own draw time, which share the 2 cores with pose.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
from pythonosc.parsing.osc_types import get_date

from perform.bench.osc import _Receiver
from perform.bench.pose import stage_frame
from perform.bench.render import BUILTIN, BUILTIN_SCENE
from perform.capture.config import ImageSource
from perform.osc.config import Osc, Target
from perform.panel.config import Panel
from perform.pipeline import LatencyHistogram
from perform.render.config import Render
from perform.runtime import RunOptions, ShowPipeline, make_panel, make_projector
from perform.show.models import Control, Show
from perform.vision.config import PoseConfig

if TYPE_CHECKING:
    from perform.render.projector import Projector

WARM_FRAMES = 5  # the pose model loads with the first frame: measure from when it is warm
#: Opens a page on the operator panel at (url, passcode) for as long as its context lasts.
Viewer = Callable[[str, str], AbstractContextManager[object]]


def bench_end_to_end(
    quick: bool = False,
    seconds: float | None = None,
    scene: str | None = None,
    size: tuple[int, int] = (1280, 720),
    viewer: Viewer | None = None,
) -> dict[str, object]:
    """Capture to OSC on the wire, p50/p95/p99 ms, with pose at 640x360.

    With ``scene`` (a scene name, as ``perform run --scene``) the show also renders it headless
    at ``size``, 30 fps, and the result has ``frame_to_render_ms``. With ``viewer`` the show
    serves its operator panel on loopback, and ``viewer(url, passcode)`` keeps a page open on it
    while the show is measured.
    """
    if seconds is None:
        seconds = 6.0 if quick else 20.0
    rx = _Receiver(1)
    folders: list[Path] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stage.png"
        cv2.imwrite(str(path), cv2.cvtColor(stage_frame(640, 360, 1), cv2.COLOR_RGB2BGR))
        render = Render()
        if scene is not None:
            if scene == BUILTIN:
                (Path(folder) / "scenes").mkdir()
                (Path(folder) / "scenes" / f"{scene}.yaml").write_text(BUILTIN_SCENE, encoding="utf-8")
                folders.append(Path(folder))
            render = Render(
                enabled=True,
                scene=scene,
                scenes=[scene],
                folders=folders,
                width=size[0],
                height=size[1],
                fps=30.0,
            )
        show = Show(
            name="bench",
            source=ImageSource(kind="image", path=path, fps=30),
            pose=PoseConfig(max_people=1, masks=False),
            osc=Osc(targets=[Target(host="127.0.0.1", port=rx.ports[0], preset="default")]),
            control=Control(enabled=False),
            render=render,
            panel=Panel(enabled=viewer is not None, host="127.0.0.1", port=0),
        )
        pipeline = ShowPipeline(show)
        projector = make_projector(pipeline, show, RunOptions(headless=True)) if scene is not None else None
        panel = make_panel(pipeline, show, projector) if viewer is not None else None
        pages = ExitStack()
        try:
            if panel is not None and viewer is not None:
                pages.callback(panel.stop)
                panel.start()
                pages.enter_context(viewer(panel.url, panel.passcode))
            pipeline.start()
            t_warm = _drive(pipeline, projector, time.monotonic() + 30, warm=True)
            if panel is not None:  # the page has loaded and takes its updates
                t_warm = _drive(
                    pipeline,
                    projector,
                    time.monotonic() + 60,
                    until_true=lambda: panel.counts["updates"] > 30,
                )
            for stage in pipeline.stats:
                stage.latency = LatencyHistogram()
            assert pipeline.osc is not None
            pipeline.osc.frame_to_osc = LatencyHistogram()
            if projector is not None:
                projector.frame_to_render = LatencyHistogram()
                projector.draw_ms = LatencyHistogram()
            before = {name: pipeline.stats.stage(name).frames for name in ("capture", "pose")}
            t_measure = time.monotonic()
            _drive(pipeline, projector, time.monotonic() + seconds)
            measured_s = time.monotonic() - t_measure
        except BaseException:
            rx.proc.kill()
            raise
        finally:
            pages.close()
            pipeline.stop()
            render_report = projector.close() if projector is not None else None
        counted = {name: pipeline.stats.stage(name).frames - n for name, n in before.items()}
        captured = counted["capture"]
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
    result: dict[str, object] = {
        "setup": {
            "source": "photo 640x360 @ 30 fps",
            "pose": "legacy, 1 person, no mask",
            "seconds": seconds,
        },
        "frames_captured": captured,
        "frames_received": latency.count,
        "capture_to_osc_received_ms": latency.summary_ms(),
        "frame_to_osc_ms": pipeline.osc.frame_to_osc.summary_ms(),
        "pose_stage_ms": stages.get("pose"),
        "osc_stage_ms": stages.get("osc"),
    }
    result["fps"] = {name: round(n / measured_s, 2) for name, n in counted.items()}
    if panel is not None:
        result["panel"] = {k: panel.counts[k] for k in ("pages", "updates", "previews", "slow_closed")}
    if projector is not None and render_report is not None:
        result["setup"]["render"] = (
            f"scene {scene}, {render.width}x{render.height} @ {render.fps:g} fps, headless"  # type: ignore[index]
        )
        result["frame_to_render_ms"] = projector.frame_to_render.summary_ms()
        result["frames_rendered"] = projector.draw_ms.count
        result["fps"]["render"] = round(projector.draw_ms.count / measured_s, 2)  # type: ignore[index]
        result["render_draw_ms"] = render_report["draw_ms"]
    return result


def _drive(
    pipeline: ShowPipeline,
    projector: Projector | None,
    until: float,
    warm: bool = False,
    until_true: Callable[[], bool] | None = None,
) -> float:
    """Run the show's main loop until ``until`` (or, with ``warm``, until pose is warm, or until
    ``until_true()``); the time."""
    period = 1.0 / 30.0
    next_frame = time.monotonic()
    while time.monotonic() < until:
        if warm and pipeline.stats.stage("pose").frames >= WARM_FRAMES:
            break
        if until_true is not None and until_true():
            break
        if projector is None:
            time.sleep(0.02)
            continue
        if time.monotonic() >= next_frame:
            projector.tick()
            next_frame = max(next_frame + period, time.monotonic())
        time.sleep(max(0.0, min(next_frame, until) - time.monotonic()))
    return time.monotonic()


def markdown(result: dict) -> list[str]:
    r = result
    rows = [
        ("capture to OSC datagram received (other process)", r["capture_to_osc_received_ms"]),
        ("capture to pose stage output", r["pose_stage_ms"]),
        ("capture to OSC sent (frame_to_osc)", r.get("frame_to_osc_ms") or r["osc_stage_ms"]),
    ]
    if "frame_to_render_ms" in r:
        rows += [
            ("capture to picture drawn (frame_to_render)", r["frame_to_render_ms"]),
            ("projector: one frame drawn", r["render_draw_ms"]),
        ]
    s = r["setup"]
    render = f", rendering {s['render']}" if "render" in s else ", no rendering"
    drawn = f", {r['frames_rendered']} pictures drawn" if "frames_rendered" in r else ""
    lines = [
        f"End to end: {s['source']}, pose {s['pose']}{render}, {s['seconds']:g} s; "
        f"{r['frames_received']} of {r['frames_captured']} frames reached the receiver{drawn}.",
        "",
        "| measure | p50 ms | p95 ms | p99 ms |",
        "|---|---:|---:|---:|",
    ]
    for name, p in rows:
        if p:
            lines.append(f"| {name} | {p['p50']:.2f} | {p['p95']:.2f} | {p['p99']:.2f} |")
    return lines
