"""The render benchmark and the whole report: structure and figures present, never timings asserted.

Rendering uses the real headless context (EGL, Mesa llvmpipe here), on tiny pictures.
"""

import functools
import json
from pathlib import Path

import pytest

import perform.bench as bench
from perform.bench import SECTIONS, markdown, run_bench
from perform.bench.core import bench_core
from perform.bench.render import BUILTIN, bench_render, bench_window
from perform.cli import main
from perform.render.gl import create_headless_context

RENDER_DATA = Path(__file__).parent / "data" / "render"
TINY = ((64, 36), (96, 54))


def _gl_or_skip() -> None:
    try:
        create_headless_context().release()
    except Exception as exc:
        pytest.skip(f"no headless OpenGL here: {exc}")


def _positive(p: dict) -> None:
    assert 0 < p["p50"] <= p["p95"] <= p["p99"]


def test_render_bench_measures_every_scene_size_upload_and_readback():
    _gl_or_skip()
    result = bench_render(
        sizes=TINY,
        frames=2,
        warmup=1,
        scenes=[BUILTIN, "skeleton", "wrist", "no_such_scene"],
        folders=[RENDER_DATA],
    )
    assert result["gl"]["renderer"] and result["inputs"]["performers"] == 2
    rows = {r["scene"]: r for r in result["scenes"]}
    for name in (BUILTIN, "skeleton", "wrist"):
        assert set(rows[name]["sizes"]) == {"64x36", "96x54"}
        for m in rows[name]["sizes"].values():
            assert m["frames"] == 2
            _positive(m["ms"])
            _positive(m["blit_ms"])
            assert m["vs_blit_p50"] > 0
    assert rows[BUILTIN]["builtin"] and not rows["wrist"]["builtin"]
    assert rows[BUILTIN]["sizes"]["64x36"]["canvas_update_ms"]["p50"] > 0  # camera and mask uploaded
    assert "no_such_scene" in rows["no_such_scene"]["skipped"]
    for key in ("camera", "mask"):
        _positive(result["upload"][key]["ms"])
        assert result["upload"][key]["megabytes_per_s"] > 0
    assert result["upload"]["camera"]["shape"] == [720, 1280, 3]
    assert result["upload"]["mask"]["dtype"] == "float32"
    assert set(result["readback"]) == {"64x36", "96x54"}
    _positive(result["readback"]["96x54"]["ms"])
    text = "\n".join(bench.render_markdown(result))
    assert "| wrist |" in text and "skipped" in text and "readback 96x54" in text


def test_quick_render_bench_draws_the_larger_size_for_the_built_in_scene_only():
    _gl_or_skip()
    result = bench_render(
        quick=True, sizes=TINY, frames=2, scenes=[BUILTIN, "skeleton"], folders=[RENDER_DATA]
    )
    rows = {r["scene"]: r for r in result["scenes"]}
    assert set(rows[BUILTIN]["sizes"]) == {"64x36", "96x54"}
    assert set(rows["skeleton"]["sizes"]) == {"64x36"}
    text = "\n".join(bench.render_markdown(result))
    assert "| skeleton | " in text and "| - | - |" in text and "--quick" in text


def test_render_bench_without_gl_is_skipped_with_the_reason(monkeypatch):
    from perform.bench import render
    from perform.errors import PerformError

    def no_gl():
        raise PerformError("no OpenGL 3.3 context: egl: cannot open display")

    monkeypatch.setattr(render, "create_headless_context", no_gl)
    result = bench_render(sizes=TINY, frames=1)
    assert result == {"skipped": "no OpenGL 3.3 context: egl: cannot open display"}
    assert "skipped (no OpenGL" in render.markdown(result)[0]


def _quick_but_tiny(monkeypatch):
    """Every section of --quick, the heavy ones failing on purpose, core and render for real but small."""

    def fails(*args, **kwargs):
        raise RuntimeError("no model in this test")

    for name in (
        "bench_pose",
        "bench_pose_distance",
        "bench_hands",
        "bench_style",
        "bench_audio",
        "bench_osc",
        "bench_ndi",
        "bench_end_to_end",
    ):
        monkeypatch.setattr(bench, name, fails)
    monkeypatch.setattr(bench, "bench_core", functools.partial(bench_core, seconds=0.3, width=160, height=90))
    monkeypatch.setattr(
        bench,
        "bench_render",
        functools.partial(bench_render, sizes=TINY[:1], frames=1, warmup=1, scenes=[BUILTIN]),
    )
    monkeypatch.setattr(bench, "bench_window", functools.partial(bench_window, size=TINY[0], frames=1))


def test_quick_report_has_every_section_and_the_machine(monkeypatch):
    _quick_but_tiny(monkeypatch)
    seen = []
    result = run_bench(quick=True, progress=lambda name, s: seen.append(name))
    assert seen == list(SECTIONS)
    for name in SECTIONS:
        assert name in result, name
    assert result["quick"] is True
    assert result["pose"] == {"skipped": "RuntimeError: no model in this test"}
    assert result["end_to_end_render"] == {"skipped": "RuntimeError: no model in this test"}
    assert result["core"]["slots"]["frames"] > 0
    m = result["machine"]
    for key in ("cpu", "cores", "gpu", "gl", "python", "torch", "mediapipe", "moderngl", "numpy", "opencv"):
        assert key in m, key
    assert m["cores"] >= 1 and m["gl"]["renderer"]
    assert set(result["seconds"]) == {*SECTIONS, "total"}

    text = markdown(result)
    assert text.startswith(f"Machine: {m['cpu']}, {m['cores']} cores, GPU {m['gpu'] or 'none'}, OpenGL ")
    assert "mediapipe" in text and "moderngl" in text and "torch" in text
    for title in (
        "Core",
        "Pose",
        "Style",
        "Render",
        "Audio",
        "OSC",
        "End to end",
        "End to end with rendering",
    ):
        assert f"### {title}\n" in text
    assert "Skipped: RuntimeError: no model in this test" in text
    assert "bench_layers (built in)" in text


def test_cli_bench_writes_json_and_markdown(monkeypatch, tmp_path):
    _quick_but_tiny(monkeypatch)
    out, md = tmp_path / "b.json", tmp_path / "b.md"
    assert main(["bench", "--quick", "--only", "core,render", "--json", str(out), "--md", str(md)]) == 0
    result = json.loads(out.read_text())
    assert {"core", "render", "machine"} <= set(result) and "pose" not in result
    assert "### Render" in md.read_text()
    assert main(["bench", "--only", "core,nope", "--json", str(out)]) == 2


def test_end_to_end_with_rendering_reports_frame_to_osc_and_frame_to_render():
    _gl_or_skip()
    from perform.bench.e2e import bench_end_to_end
    from perform.bench.e2e import markdown as e2e_markdown

    result = bench_end_to_end(seconds=1.0, scene=BUILTIN, size=(160, 90))
    assert result["frames_captured"] > 0 and result["frames_rendered"] > 0
    for key in ("capture_to_osc_received_ms", "frame_to_osc_ms", "frame_to_render_ms", "render_draw_ms"):
        _positive(result[key])
    assert result["setup"]["render"].startswith("scene bench_layers, 160x90")
    assert "(frame_to_render)" in "\n".join(e2e_markdown(result))
