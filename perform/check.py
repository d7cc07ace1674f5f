"""``perform check``: everything a show refers to exists and can be read, without running it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from perform.capture import make_source
from perform.capture.config import CameraSource
from perform.devices import cameras
from perform.errors import PerformError
from perform.quiet import quiet_stderr
from perform.show.models import POSE_SOURCES, Show
from perform.vision.config import TakeSource, VirtualSource
from perform.vision.take import read_take


def check_show(show: Show, show_dir: Path | None = None) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: problems make the show unable to run; notes are worth knowing."""
    problems: list[str] = []
    notes: list[str] = []
    source = show.source
    if isinstance(source, CameraSource):
        notes.extend(_check_camera(source))
    elif isinstance(source, VirtualSource):
        pass
    elif isinstance(source, TakeSource):
        try:
            _, records = read_take(source.path)
            if next(records, None) is None:
                problems.append(f"source: {source.path}: the take holds no frames")
        except PerformError as exc:
            problems.append(f"source: {exc}")
    else:
        backend = make_source(source)
        try:
            backend.open()
            if backend.read() is None:
                problems.append(f"source {backend.name}: delivers no frames")
        except PerformError as exc:
            problems.append(f"source: {exc}")
        finally:
            backend.close()
    if show.pose.enabled and not isinstance(source, POSE_SOURCES):
        problems.extend(_check_pose_models(show))
    if show.render.enabled:
        problems.extend(check_render(show, show_dir))
    for t in show.looping_targets():
        notes.append(
            f"osc target {t.host}:{t.port} is perform's own cue port (control.port): "
            "it is left out when the show runs; send to another port"
        )
    if show.outputs.stats is not None:
        folder = show.outputs.stats.parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            problems.append(f"outputs.stats: cannot write into {folder}")
    return problems, notes


def _check_camera(source: CameraSource) -> list[str]:
    """A camera may be absent where the show is checked (a laptop); that is a note, not a problem."""
    if not sys.platform.startswith("linux"):
        return []
    found = cameras().found
    device = source.device
    if isinstance(device, int):
        present = any(c["index"] == device for c in found)
    else:
        present = os.path.exists(device)
    return [] if present else [f"camera {device!r} is not connected to this machine"]


def _check_pose_models(show: Show) -> list[str]:
    """The pose models load from the installed mediapipe (and the .task bundle builds)."""
    try:
        from perform.vision.base import make_backend

        with quiet_stderr():
            make_backend(show.pose).close()
    except PerformError as exc:
        return [f"pose: {exc}"]
    except Exception as exc:
        return [f"pose: the pose model does not load: {type(exc).__name__}: {exc}"]
    return []


def check_render(show: Show, show_dir: Path | None) -> list[str]:
    """Every scene the show can reach loads and every shader it uses compiles (headless GL)."""
    from perform.render.gl import create_headless_context
    from perform.render.renderer import Renderer

    try:
        ctx = create_headless_context()
    except PerformError as exc:
        return [f"render: {exc}"]
    problems: list[str] = []
    try:
        renderer = Renderer(ctx, show.render, show_dir, on_error=problems.append)
    except PerformError as exc:
        ctx.release()
        return [*problems, f"render: {exc}"]
    names = [*renderer.order, *(t.scene for t in show.render.triggers)]
    if show.input_loss.fallback != "black":
        names.append(show.input_loss.fallback)
    for name in dict.fromkeys(names):
        try:
            renderer.load_scene(renderer.scene_name(name), 0.0).release()
        except PerformError as exc:
            problems.append(f"render: {exc}")
    renderer.release()
    ctx.release()
    return list(dict.fromkeys(problems))
