"""``perform bench``: every benchmark perform has, with the machine it ran on.

Figures are p50/p95/p99 with a reference measured in the same process, never timed assertions.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

import cv2
import numpy as np

from perform import __version__
from perform.bench.audio import bench_audio
from perform.bench.audio import markdown as audio_markdown
from perform.bench.core import bench_core
from perform.bench.e2e import bench_end_to_end
from perform.bench.e2e import markdown as e2e_markdown
from perform.bench.osc import bench_osc
from perform.bench.osc import markdown as osc_markdown
from perform.bench.pose import bench_pose
from perform.bench.pose import markdown as pose_markdown
from perform.bench.style import bench_style
from perform.bench.style import markdown as style_markdown


def machine() -> dict[str, object]:
    """Where a benchmark ran: host, CPU, cores, GPU and the versions that matter."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, object] = {
        "host": platform.node(),
        "os": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "perform": __version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "gpu": None,
    }
    try:
        import torch

        info["torch"] = torch.__version__
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:
        info["torch"] = None
    return info


def run_bench(quick: bool = False) -> dict[str, object]:
    """Every benchmark perform has, with the machine they ran on."""
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    result: dict[str, object] = {"machine": machine(), "time": started, "quick": quick}
    result["core"] = bench_core(quick)
    result["pose"] = bench_pose(quick)
    result["style"] = bench_style(quick)
    result["audio"] = bench_audio(quick)
    result["osc"] = bench_osc(quick)
    result["end_to_end"] = bench_end_to_end(quick)
    return result


def markdown(result: dict) -> str:
    """The benchmark result as a Markdown table, machine first."""
    m = result["machine"]
    core = result["core"]
    s = core["setup"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, GPU {m['gpu'] or 'none'}; "
        f"Python {m['python']}, numpy {m['numpy']}, OpenCV {m['opencv']}, torch {m.get('torch')}; "
        f"{result['time']}",
        "",
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
    if "pose" in result:
        lines += ["", "Pose: the bundled photograph on a dark stage; ours = backend + perception.", ""]
        lines += pose_markdown(result["pose"])
    if "style" in result:
        lines += ["", *style_markdown(result["style"])]
    if "audio" in result:
        lines += ["", *audio_markdown(result["audio"])]
    if "osc" in result:
        lines += ["", *osc_markdown(result["osc"])]
    if "end_to_end" in result:
        lines += ["", *e2e_markdown(result["end_to_end"])]
    return "\n".join(lines) + "\n"


def write_json(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
