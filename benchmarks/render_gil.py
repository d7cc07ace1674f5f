"""How much Python work other threads get done while the render thread waits for a frame.

moderngl's ``finish`` and ``read`` hold the GIL while the GPU (llvmpipe here) draws, which stops
capture, pose and OSC threads for the length of every frame. perform waits through a ctypes
``glFinish`` instead (``perform.render.gl.gil_free_finish``), which lets go of it.

    .venv/bin/python benchmarks/render_gil.py

Prints, for each way of waiting, the main thread's time per frame and the rate of a spinning
Python thread as a fraction of its rate with nothing rendering (same process, same run).
"""

from __future__ import annotations

import threading
import time

import moderngl

from perform.render.gl import (
    GLSL_VERSION,
    VERTEX,
    Target,
    create_headless_context,
    gil_free_finish,
    quad,
    quad_buffer,
)

HEAVY = GLSL_VERSION + (
    "in vec2 v_uv; out vec4 f;"
    "void main() { float s = 0.0; for (int i = 0; i < 60; i++) s += sin(v_uv.x * float(i)); f = vec4(s); }"
)


def main(seconds: float = 2.0) -> None:
    ctx = create_headless_context()
    vao = quad(ctx, ctx.program(vertex_shader=VERTEX, fragment_shader=HEAVY), quad_buffer(ctx))
    target = Target.make(ctx, (640, 360))
    waits = {"moderngl finish": ctx.finish, "ctypes glFinish": gil_free_finish(ctx)}
    count, stop = [0], threading.Event()

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()

    def spin_rate(body: callable) -> tuple[float, float]:  # type: ignore[valid-type]
        c0, t0, frames, held = count[0], time.perf_counter(), 0, 0.0
        while time.perf_counter() - t0 < seconds:
            a = time.perf_counter()
            body()
            held += time.perf_counter() - a
            frames += 1
            time.sleep(max(0.0, 1 / 30 - (time.perf_counter() - a)))
        return (count[0] - c0) / (time.perf_counter() - t0), held / max(frames, 1)

    idle, _ = spin_rate(lambda: None)
    print(f"renderer: {ctx.info['GL_RENDERER']}")
    for name, wait in waits.items():

        def frame(wait=wait) -> None:
            target.fbo.use()
            vao.render(moderngl.TRIANGLE_STRIP)
            wait()

        rate, held = spin_rate(frame)
        print(f"{name:16s} frame {held * 1000:6.1f} ms  other threads run at {rate / idle:4.2f} of idle")
    stop.set()


if __name__ == "__main__":
    main()
