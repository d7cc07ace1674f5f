"""``perform bench``: every benchmark perform has, with the machine it ran on.

Figures are p50/p95/p99 with a reference measured in the same process, never timed assertions.
A section that cannot run here (no OpenGL, no model) is reported as skipped with the reason;
the others still run.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import subprocess
import time
from collections.abc import Callable
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np

from perform import __version__

log = logging.getLogger(__name__)


def _lazy(module: str, name: str) -> Callable[..., Any]:
    """``perform.bench.<module>.<name>``, imported when first called: importing this package (or
    ``perform bench --help``) loads no section's dependencies (torch, MediaPipe, OpenGL)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(import_module(f"perform.bench.{module}"), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


bench_audio = _lazy("audio", "bench_audio")
audio_markdown = _lazy("audio", "markdown")
bench_core = _lazy("core", "bench_core")
bench_hands = _lazy("hands", "bench_hands")
hands_markdown = _lazy("hands", "markdown")
core_markdown = _lazy("core", "markdown")
bench_end_to_end = _lazy("e2e", "bench_end_to_end")
e2e_markdown = _lazy("e2e", "markdown")
bench_ndi = _lazy("ndi", "bench_ndi")
ndi_markdown = _lazy("ndi", "markdown")
bench_osc = _lazy("osc", "bench_osc")
osc_markdown = _lazy("osc", "markdown")
bench_pose = _lazy("pose", "bench_pose")
bench_pose_distance = _lazy("pose", "bench_pose_distance")
distance_markdown = _lazy("pose", "distance_markdown")
pose_markdown = _lazy("pose", "markdown")
bench_render = _lazy("render", "bench_render")
bench_window = _lazy("render", "bench_window")
render_markdown = _lazy("render", "markdown")
window_markdown = _lazy("render", "window_markdown")
bench_panel = _lazy("panel", "bench_panel")
panel_markdown = _lazy("panel", "markdown")
bench_style = _lazy("style", "bench_style")
style_markdown = _lazy("style", "markdown")

#: Sections in the order they run and are reported; ``end_to_end_render`` adds a scene.
SECTIONS = (
    "core",
    "pose",
    "pose_distance",
    "hands",
    "style",
    "render",
    "window",
    "audio",
    "osc",
    "ndi",
    "end_to_end",
    "end_to_end_render",
    "panel",
)

#: Style sizes in --quick on a CPU: the size of the CPU goal (15 fps at 320x180). One frame of
#: the three networks takes 1.6 s at 640x360 and 5-9 s at 1280x720 on 2 cores, and bench_style
#: warms up with two frames per size; full runs measure every size.
QUICK_CPU_STYLE_SIZES = ((320, 180),)


def _version(module: str) -> str | None:
    try:
        return str(__import__(module).__version__)
    except Exception:
        return None


def _gpu() -> str | None:
    """The first GPU's name from torch (CUDA), else from nvidia-smi, else None."""
    try:
        import torch

        if torch.cuda.is_available():
            return str(torch.cuda.get_device_name(0))
    except Exception:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return names[0] if out.returncode == 0 and names else None


def _gl() -> dict[str, str]:
    """The headless OpenGL context's renderer and version, or why there is none."""
    from perform.bench.render import gl_info
    from perform.render.gl import create_headless_context

    try:
        ctx = create_headless_context()
    except Exception as exc:
        return {"renderer": "none", "problem": str(exc)}
    try:
        return gl_info(ctx)
    finally:
        ctx.release()


def machine() -> dict[str, object]:
    """Where a benchmark ran: host, CPU, cores, GPU, OpenGL renderer and the versions that matter."""
    import cv2

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": _gpu(),
        "gl": _gl(),
        "python": platform.python_version(),
        "perform": __version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "torch": _version("torch"),
        "mediapipe": _version("mediapipe"),
        "moderngl": _version("moderngl"),
    }


def _style(quick: bool) -> dict[str, object]:
    from perform.bench.style import SIZES
    from perform.style.stage import pick_device  # torch

    if not quick or pick_device("auto").type != "cpu":
        return bench_style(quick)
    # --quick on a CPU leaves out 1280x720 (full runs have it)
    result = bench_style(quick, frames=2, sizes=QUICK_CPU_STYLE_SIZES)
    left_out = [f"{w}x{h}" for w, h in SIZES if (w, h) not in QUICK_CPU_STYLE_SIZES]
    return {**result, "left_out": {"sizes": left_out, "reason": "--quick on a CPU"}}


def _render_scene() -> str:
    """The scene the end-to-end run draws: the first in scenes/, else the benchmark's own."""
    from perform.bench.render import BUILTIN, scene_names

    names = scene_names([])
    return names[0] if names else BUILTIN


def sections(quick: bool) -> dict[str, Callable[[], object]]:
    """Each section's run, with the lengths ``--quick`` uses (under a minute in all on 2 cores)."""
    return {
        "core": lambda: bench_core(quick, seconds=1.5 if quick else None),
        "pose": lambda: bench_pose(quick, frames=3 if quick else None),
        "pose_distance": lambda: bench_pose_distance(quick),
        "hands": lambda: bench_hands(quick),
        "style": lambda: _style(quick),
        "render": lambda: bench_render(quick),
        "window": lambda: bench_window(quick),
        "audio": lambda: bench_audio(quick),
        "osc": lambda: bench_osc(quick),
        "ndi": lambda: bench_ndi(quick),
        "end_to_end": lambda: bench_end_to_end(quick, seconds=2.0 if quick else None),
        "end_to_end_render": lambda: bench_end_to_end(
            quick, seconds=3.0 if quick else None, scene=_render_scene()
        ),
        "panel": lambda: bench_panel(quick),
    }


def run_bench(
    quick: bool = False,
    only: list[str] | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, object]:
    """Every benchmark perform has (or those named in ``only``), with the machine they ran on.

    ``progress`` is called with each section's name and seconds as it ends.
    """
    t0 = time.monotonic()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    result: dict[str, object] = {"machine": machine(), "time": started, "quick": quick}
    seconds: dict[str, float] = {}
    for name, run in sections(quick).items():
        if only is not None and name not in only:
            continue
        t = time.monotonic()
        try:
            result[name] = run()
        except Exception as exc:  # one section failing must not lose the others
            log.warning("bench %s: %s: %s", name, type(exc).__name__, exc)
            result[name] = {"skipped": f"{type(exc).__name__}: {exc}"}
        seconds[name] = round(time.monotonic() - t, 1)
        if progress is not None:
            progress(name, seconds[name])
    seconds["total"] = round(time.monotonic() - t0, 1)
    result["seconds"] = seconds
    return result


def _skipped(value: object) -> str | None:
    return value.get("skipped") if isinstance(value, dict) else None  # type: ignore[return-value]


def header(result: dict) -> list[str]:
    """The machine and versions a result came from."""
    m = result["machine"]
    gl = m.get("gl") or {}
    opengl = f"OpenGL {gl.get('renderer', '?')}" + (f" ({gl['version']})" if gl.get("version") else "")
    if gl.get("problem"):
        opengl += f" ({gl['problem']})"
    mode = "quick" if result.get("quick") else "full"
    took = result.get("seconds", {}).get("total")
    return [
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU {m['gpu'] or 'none'}, {opengl}; {m['os']}",
        "",
        f"Versions: Python {m['python']}, perform {m['perform']}, torch {m.get('torch')}, "
        f"mediapipe {m.get('mediapipe')}, moderngl {m.get('moderngl')}, numpy {m['numpy']}, "
        f"OpenCV {m['opencv']}",
        "",
        f"Run: {result['time']}, {mode}" + (f", {took:g} s" if took is not None else ""),
    ]


def _pose_markdown(rows: list[dict]) -> list[str]:
    return ["The bundled photograph on a dark stage; ours = backend + perception.", "", *pose_markdown(rows)]


def _style_with_note(result: dict) -> list[str]:
    lines = style_markdown(result)
    if "left_out" in result:
        lo = result["left_out"]
        lines += ["", f"Style sizes left out: {', '.join(lo['sizes'])} ({lo['reason']})."]
    return lines


TITLES: dict[str, tuple[str, Callable[..., list[str]]]] = {
    "core": ("Core", core_markdown),
    "pose": ("Pose", _pose_markdown),
    "pose_distance": ("Pose: people at a distance", distance_markdown),
    "hands": ("Hands and face", hands_markdown),
    "style": ("Style", _style_with_note),
    "render": ("Render", render_markdown),
    "window": ("Projector window", window_markdown),
    "audio": ("Audio", audio_markdown),
    "osc": ("OSC", osc_markdown),
    "ndi": ("NDI out", ndi_markdown),
    "end_to_end": ("End to end", e2e_markdown),
    "end_to_end_render": ("End to end with rendering", e2e_markdown),
    "panel": ("Operator panel open", panel_markdown),
}


def markdown(result: dict) -> str:
    """The benchmark result as Markdown: the machine, then a table per section."""
    lines = header(result)
    for name, (title, render) in TITLES.items():
        if name not in result:
            continue
        lines += ["", f"### {title}", ""]
        reason = _skipped(result[name])
        lines += [f"Skipped: {reason}"] if reason else render(result[name])
    seconds = result.get("seconds")
    if seconds:
        lines += ["", "Seconds per section: " + ", ".join(f"{k} {v:g}" for k, v in seconds.items())]
    return "\n".join(lines) + "\n"


def write_json(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
