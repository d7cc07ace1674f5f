"""Scene render cost on the headless GL context, against a plain blit pass in the same run.

Every scene in ``scenes/`` (and a built-in stack of camera, mask, skeleton and particles layers,
so that a run always has one scene to compare with the last) is drawn at 1280x720 and 1920x1080
from fake but realistic inputs: the bundled photograph as a 1280x720 camera frame with two
people in it, two virtual performers' poses and a 1280x720 float32 person mask, all new every
frame as from a 30 fps camera. A frame's time is :meth:`Renderer.draw` (uploads included) up to
``ctx.finish()``, after warm-up frames. The reference, alternating frame by frame with the
scene, is one full-screen pass sampling the camera texture into a target of the output size:
the ratio says how many plain passes a scene costs. Texture uploads (the camera image and the
mask, flipped and written as the canvas does) and readback (what recording and screenshots pay)
are measured on their own, against a ``memcpy`` of the same bytes.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path

import cv2
import moderngl
import numpy as np

from perform.bench.osc import virtual_poses
from perform.bench.pose import stage_frame
from perform.errors import PerformError
from perform.pipeline import Frame, LatencyHistogram
from perform.render.bindings import Inputs
from perform.render.config import Render, Window
from perform.render.gl import GLSL_VERSION, VERTEX, Target, create_headless_context, quad_buffer
from perform.render.library import scene_library, search_folders
from perform.render.output import Headless, Output, ProjectorWindow
from perform.render.renderer import Renderer
from perform.vision.draw import draw_bodies
from perform.vision.types import Poses

SIZES = ((1280, 720), (1920, 1080))
CAMERA = (1280, 720)
FPS = 30.0
BUILTIN = "bench_layers"

#: The built-in scene: every layer kind that needs no shaders/ file.
BUILTIN_SCENE = """\
description: perform bench's own stack (camera, mask, skeleton, particles)
layers:
  - kind: camera
    fit: cover
  - kind: mask
    fill: colour
    colour: [0.2, 0.6, 1.0]
    blend: screen
    opacity: 0.6
  - kind: skeleton
  - kind: particles
    emit_from: [left_wrist, right_wrist, left_ankle, right_ankle]
"""

BLIT = (
    GLSL_VERSION + "in vec2 v_uv; out vec4 f; uniform sampler2D tex; void main() { f = texture(tex, v_uv); }"
)


class BenchInputs:
    """What each frame draws from: the photo as a camera, two moving performers and a mask.

    Every call gives a new frame number, so the canvas uploads the camera image and the mask
    every frame, as it does with a live camera at the render rate.
    """

    def __init__(self, people: int = 2, poses: int = 60, masks: int = 8) -> None:
        w, h = CAMERA
        image = stage_frame(w, h, people)
        image.setflags(write=False)
        self.image = image
        self.poses = virtual_poses(people=people, frames=poses, fps=FPS)
        self.people = max(len(p.bodies) for p in self.poses)
        self.masks = [person_mask(p, w, h) for p in self.poses[:masks]]
        self.n = 0
        self.t0 = time.monotonic()

    def next(self) -> Inputs:
        n = self.n
        self.n += 1
        now = self.t0 + n / FPS
        frame = Frame(self.image, n, now, "bench photo")
        poses = dataclasses.replace(
            self.poses[n % len(self.poses)], seq=n, t_capture=now, mask=self.masks[n % len(self.masks)]
        )
        return Inputs(
            now=now, show_time=n / FPS, frame=frame, poses=poses, features=poses.features, fired=set()
        )


def person_mask(poses: Poses, width: int, height: int) -> np.ndarray:
    """A soft (H, W) float32 0..1 silhouette around the performers' limbs, as a pose model's mask."""
    canvas = np.zeros((height, width, 3), np.uint8)
    draw_bodies(canvas, [b.landmarks for b in poses.bodies], [(255, 255, 255)] * len(poses.bodies))
    mask = cv2.dilate(canvas[..., 0], np.ones((25, 25), np.uint8))
    mask = cv2.GaussianBlur(mask, (0, 0), 6).astype(np.float32) / 255.0
    mask.setflags(write=False)
    return mask


class Blit:
    """The reference: one full-screen pass sampling a texture into a target of the output size."""

    def __init__(self, ctx: moderngl.Context, size: tuple[int, int]) -> None:
        self.ctx = ctx
        self.target = Target.make(ctx, size)
        self.vbo = quad_buffer(ctx)
        self.program = ctx.program(vertex_shader=VERTEX, fragment_shader=BLIT)
        self.vao = ctx.vertex_array(self.program, [(self.vbo, "2f", "in_pos")])

    def draw(self, texture: moderngl.Texture) -> None:
        texture.use(0)
        self.target.fbo.use()
        self.vao.render(moderngl.TRIANGLE_STRIP)

    def release(self) -> None:
        for obj in (self.vao, self.program, self.vbo):
            obj.release()
        self.target.release()


def gl_info(ctx: moderngl.Context) -> dict[str, str]:
    return {
        "renderer": str(ctx.info.get("GL_RENDERER", "?")),
        "version": str(ctx.info.get("GL_VERSION", "?")),
        "vendor": str(ctx.info.get("GL_VENDOR", "?")),
    }


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b > 0 else None


def _scene(
    ctx: moderngl.Context,
    name: str,
    size: tuple[int, int],
    folders: list[Path],
    inputs: BenchInputs,
    warmup: int,
    frames: int,
    budget_s: float,
) -> dict[str, object]:
    """One scene at one size: ms/frame with finish, the canvas's upload share, the blit beside it."""
    config = Render(enabled=True, width=size[0], height=size[1], scene=name, scenes=[name], folders=folders)
    renderer = Renderer(ctx, config)
    blit = Blit(ctx, size)
    draw, upload, reference = LatencyHistogram(), LatencyHistogram(), LatencyHistogram()
    try:
        deadline = None
        for n in range(warmup + frames):
            if n == warmup:
                deadline = time.perf_counter() + budget_s
            item = inputs.next()
            ctx.finish()
            t0 = time.perf_counter()
            renderer.draw(item)
            ctx.finish()
            t1 = time.perf_counter()
            blit.draw(renderer.canvas.camera)
            ctx.finish()
            t2 = time.perf_counter()
            if n >= warmup:
                draw.add(t1 - t0)
                reference.add(t2 - t1)
                upload.add(renderer.canvas.upload_ms / 1000.0)
                if deadline is not None and time.perf_counter() > deadline and draw.count >= 2:
                    break
    finally:
        blit.release()
        renderer.release()
    return {
        "frames": draw.count,
        "ms": draw.summary_ms(),
        "canvas_update_ms": upload.summary_ms(),
        "blit_ms": reference.summary_ms(),
        "vs_blit_p50": _ratio(draw.percentile(50), reference.percentile(50)),
    }


def _upload(ctx: moderngl.Context, image: np.ndarray, n: int) -> dict[str, object]:
    """Flip and write into a texture of the same size, as the canvas does, then finish."""
    h, w = image.shape[:2]
    comps = 1 if image.ndim == 2 else image.shape[2]
    tex = ctx.texture((w, h), comps, dtype="f4" if image.dtype == np.float32 else "f1")
    hist, ref = LatencyHistogram(), LatencyHistogram()
    scratch = np.empty_like(image)
    try:
        for i in range(n + 2):
            ctx.finish()
            t0 = time.perf_counter()
            tex.write(cv2.flip(np.ascontiguousarray(image), 0).data)
            ctx.finish()
            t1 = time.perf_counter()
            np.copyto(scratch, image)
            t2 = time.perf_counter()
            if i >= 2:
                hist.add(t1 - t0)
                ref.add(t2 - t1)
    finally:
        tex.release()
    p50 = hist.percentile(50)
    return {
        "shape": list(image.shape),
        "dtype": str(image.dtype),
        "megabytes": round(image.nbytes / 1e6, 2),
        "ms": hist.summary_ms(),
        "megabytes_per_s": round(image.nbytes / 1e6 / p50) if p50 else None,
        "memcpy_ms": ref.summary_ms(),
        "vs_memcpy_p50": _ratio(p50, ref.percentile(50)),
    }


def _readback(ctx: moderngl.Context, size: tuple[int, int], n: int) -> dict[str, object]:
    """:meth:`Renderer.read` of a drawn picture (RGBA8), as recording does each frame."""
    blit = Blit(ctx, size)
    source = ctx.texture(CAMERA, 3, stage_frame(*CAMERA, 2).tobytes())
    hist, ref = LatencyHistogram(), LatencyHistogram()
    nbytes = size[0] * size[1] * 4
    scratch = np.empty(nbytes, np.uint8)
    try:
        for i in range(n + 2):
            blit.draw(source)  # something freshly drawn, so the read waits for nothing else
            ctx.finish()
            t0 = time.perf_counter()
            pixels = np.frombuffer(blit.target.texture.read(), np.uint8).reshape(size[1], size[0], 4)
            t1 = time.perf_counter()
            np.copyto(scratch, pixels.reshape(-1))
            t2 = time.perf_counter()
            if i >= 2:
                hist.add(t1 - t0)
                ref.add(t2 - t1)
    finally:
        source.release()
        blit.release()
    p50 = hist.percentile(50)
    return {
        "megabytes": round(nbytes / 1e6, 2),
        "ms": hist.summary_ms(),
        "megabytes_per_s": round(nbytes / 1e6 / p50) if p50 else None,
        "memcpy_ms": ref.summary_ms(),
        "vs_memcpy_p50": _ratio(p50, ref.percentile(50)),
    }


def scene_names(folders: list[Path]) -> list[str]:
    """The scenes ``perform`` would find: the extra folders first, then ``scenes/``."""
    return scene_library(search_folders("scenes", None, folders)).names()


def bench_render(
    quick: bool = False,
    sizes: tuple[tuple[int, int], ...] = SIZES,
    frames: int | None = None,
    warmup: int | None = None,
    budget_s: float | None = None,
    scenes: list[str] | None = None,
    folders: list[Path] | None = None,
) -> dict[str, object]:
    """ms/frame per scene and size, texture uploads and readback; ``skipped`` without GL 3.3.

    ``scenes`` defaults to every scene found: the built-in one, those in ``folders`` (each
    holding scenes/ and shaders/, as ``render.folders`` in a show) and perform's scenes/.
    ``quick`` draws only the built-in scene at the sizes after the first.
    ``budget_s`` caps the measured time per scene and size (at least 2 frames are measured),
    so that a scene slow on a software rasteriser cannot stretch the run.
    """
    if frames is None:
        frames = 12 if quick else 120
    if warmup is None:
        warmup = 1 if quick else 10
    if budget_s is None:
        budget_s = 0.25 if quick else 8.0
    try:
        ctx = create_headless_context()
    except PerformError as exc:
        return {"skipped": str(exc)}
    try:
        with tempfile.TemporaryDirectory() as folder:
            extra = Path(folder)
            (extra / "scenes").mkdir()
            (extra / "scenes" / f"{BUILTIN}.yaml").write_text(BUILTIN_SCENE, encoding="utf-8")
            search = [extra, *(folders or [])]
            names = scenes if scenes is not None else scene_names(search)
            inputs = BenchInputs()
            rows: list[dict[str, object]] = []
            for name in names:
                row: dict[str, object] = {"scene": name, "builtin": name == BUILTIN}
                # --quick: the larger sizes for the built-in scene only (a minute in all)
                scene_sizes = sizes if not quick or name == BUILTIN else sizes[:1]
                try:
                    row["sizes"] = {
                        f"{w}x{h}": _scene(ctx, name, (w, h), search, inputs, warmup, frames, budget_s)
                        for w, h in scene_sizes
                    }
                except PerformError as exc:
                    row["skipped"] = str(exc)
                except Exception as exc:  # a scene must not end the benchmark
                    row["skipped"] = f"{type(exc).__name__}: {exc}"
                rows.append(row)
            n = max(5, frames // 2)
            upload = {
                "camera": _upload(ctx, inputs.image, n),
                "mask": _upload(ctx, inputs.masks[0], n),
            }
            readback = {f"{w}x{h}": _readback(ctx, (w, h), n) for w, h in sizes}
            return {
                "quick": quick,
                "gl": gl_info(ctx),
                "inputs": {
                    "camera": f"the bundled photograph with 2 people, {CAMERA[0]}x{CAMERA[1]} RGB uint8",
                    "performers": inputs.people,
                    "mask": f"{CAMERA[0]}x{CAMERA[1]} float32",
                    "fps": FPS,
                },
                "warmup": warmup,
                "frames": frames,
                "budget_s": budget_s,
                "scenes": rows,
                "upload": upload,
                "readback": readback,
            }
    finally:
        ctx.release()


def _output_frames(
    output: Output, size: tuple[int, int], folder: Path, inputs: BenchInputs, warmup: int, frames: int
) -> dict[str, object]:
    """The built-in scene drawn and shown through ``output`` as a show does, then waited for."""
    config = Render(
        enabled=True, width=size[0], height=size[1], scene=BUILTIN, scenes=[BUILTIN], folders=[folder]
    )
    renderer = Renderer(output.ctx, config)
    ms = LatencyHistogram()
    try:
        for n in range(warmup + frames):
            t0 = time.perf_counter()
            output.poll()
            output.present(renderer.draw(inputs.next()))
            output.finish()
            if n >= warmup:
                ms.add(time.perf_counter() - t0)
    finally:
        renderer.release()
    return {"frames": ms.count, "ms": ms.summary_ms(), "output": output.report()}


def bench_window(
    quick: bool = False, size: tuple[int, int] = (1280, 720), frames: int | None = None
) -> dict[str, object]:
    """The projector window's frame time beside headless EGL at the same size, in one run.

    A frame is what the show's render tick pays: the built-in scene drawn, shown (blit into the
    window and swap, or nothing headless) and finished. Vsync is off, so the display's refresh
    does not set the time. Skipped, with the reason, where no window can be opened.
    """
    frames = frames if frames is not None else (20 if quick else 200)
    warmup = 2 if quick else 10
    inputs = BenchInputs()
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "scenes").mkdir()
        (Path(folder) / "scenes" / f"{BUILTIN}.yaml").write_text(BUILTIN_SCENE, encoding="utf-8")
        try:
            headless: Output = Headless()
        except PerformError as exc:
            return {"skipped": str(exc)}
        try:
            reference = _output_frames(headless, size, Path(folder), inputs, warmup, frames)
        finally:
            headless.close()  # one context at a time, as in a show
        try:
            window: Output = ProjectorWindow(Window(fullscreen=False, vsync=False), size, "perform bench")
        except PerformError as exc:
            return {"skipped": str(exc), "headless": reference}
        try:
            gl = gl_info(window.ctx)
            shown = _output_frames(window, size, Path(folder), inputs, warmup, frames)
        finally:
            window.close()
    return {
        "size": f"{size[0]}x{size[1]}",
        "scene": BUILTIN,
        "gl": gl,
        "window": shown,
        "headless": reference,
        "vs_headless_p50": _ratio(shown["ms"]["p50"], reference["ms"]["p50"]),  # type: ignore[index]
    }


def window_markdown(result: dict) -> list[str]:
    """The window benchmark as Markdown lines."""
    if "window" not in result:
        return [f"Window: skipped ({result['skipped']})."]
    lines = [
        f"The projector window ({result['window']['output']['api']} on {result['gl']['renderer']}) against "
        f"headless EGL, {result['size']}, the built-in scene; a frame is draw, show (blit and swap in "
        "the window) and finish, vsync off.",
        "",
        "| output | p50 / p95 / p99 ms | frames | vs headless p50 |",
        "|---|---|---:|---:|",
    ]
    for name in ("headless", "window"):
        r, ms = result[name], result[name]["ms"]
        ratio = "1" if name == "headless" else str(result["vs_headless_p50"])
        cell = f"{ms['p50']:.2f} / {ms['p95']:.2f} / {ms['p99']:.2f}"
        lines.append(f"| {name} | {cell} | {r['frames']} | {ratio} |")
    return lines


def markdown(result: dict) -> list[str]:
    """The render benchmark as Markdown lines."""
    if "skipped" in result:
        return [f"Render: skipped ({result['skipped']})."]
    gl, inp = result["gl"], result["inputs"]
    sizes = sorted(
        {s for r in result["scenes"] for s in r.get("sizes", {})}, key=lambda s: int(s.split("x")[0])
    )
    warmup = f"{result['warmup']} warm-up frame" + ("s" if result["warmup"] != 1 else "")
    lines = [
        f"Render on {gl['renderer']} ({gl['version']}): ms/frame with ctx.finish(), after {warmup}. "
        f"Camera: {inp['camera']}; {inp['performers']} virtual performers' poses; a {inp['mask']} "
        "mask; all new every frame. *vs blit*: the scene over one full-screen pass at the same size "
        "in the same run.",
        "",
        "| scene | " + " | ".join(f"{s} p50 / p95 / p99 ms | vs blit" for s in sizes) + " | frames |",
        "|---|" + "---|---:|" * len(sizes) + "---:|",
    ]
    for r in result["scenes"]:
        name = f"{r['scene']} (built in)" if r.get("builtin") else r["scene"]
        if "skipped" in r:
            lines.append(f"| {name} | skipped: {r['skipped']} |")
            continue
        cells, counts = [], []
        for s in sizes:
            m = r["sizes"].get(s)
            if m is None:
                cells.append("- | -")
                continue
            ms = m["ms"]
            cells.append(f"{ms['p50']:.2f} / {ms['p95']:.2f} / {ms['p99']:.2f} | {m['vs_blit_p50']}")
            counts.append(str(m["frames"]))
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'/'.join(counts)} |")
    blits = []
    for s in sizes:
        best = min(r["sizes"][s]["blit_ms"]["p50"] for r in result["scenes"] if s in r.get("sizes", {}))
        blits.append(f"{s} {best:.2f} ms")
    if blits:
        lines += ["", f"One full-screen blit pass (lowest p50 over the scenes' runs): {', '.join(blits)}."]
    if result.get("quick"):
        lines += [
            "",
            "--quick: the larger size for the built-in scene only; full runs draw every scene.",
        ]
    lines += [
        "",
        "| transfer | MB | p50 / p95 / p99 ms | MB/s | vs memcpy p50 |",
        "|---|---:|---|---:|---:|",
    ]
    labels = {"camera": "upload camera image (RGB uint8)", "mask": "upload mask (float32)"}
    transfers = [(labels[k], v) for k, v in result["upload"].items()]
    transfers += [(f"readback {s} RGBA (recording)", v) for s, v in result["readback"].items()]
    for label, t in transfers:
        ms = t["ms"]
        lines.append(
            f"| {label} | {t['megabytes']} | {ms['p50']:.2f} / {ms['p95']:.2f} / {ms['p99']:.2f} "
            f"| {t['megabytes_per_s']} | {t['vs_memcpy_p50']} |"
        )
    return lines


if __name__ == "__main__":
    import json
    import sys

    out = bench_render(quick="--quick" in sys.argv)
    print(json.dumps(out, indent=1))
    print("\n".join(markdown(out)))
