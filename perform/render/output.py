"""Where the picture goes: a projector window (glfw) or nowhere (headless, for files and tests)."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

import moderngl

from perform.errors import PerformError
from perform.render.config import Window
from perform.render.gl import GLSL_VERSION, VERTEX, create_headless_context, gil_free_finish, quad_buffer

log = logging.getLogger(__name__)

BLIT = (
    GLSL_VERSION + "in vec2 v_uv; out vec4 f; uniform sampler2D tex; void main() { f = texture(tex, v_uv); }"
)


class Output(ABC):
    """A GL context and a place to show pictures; :meth:`poll` returns the operator's commands."""

    ctx: moderngl.Context
    #: Wait for the GPU without holding the GIL (see :func:`gil_free_finish`).
    finish: Callable[[], None]

    @abstractmethod
    def present(self, picture: moderngl.Texture) -> None:
        """Show the picture (a window scales it to fit, with bars)."""

    def poll(self) -> list[str]:
        """Commands since the last call: ``quit``, ``next``, ``previous``, ``screenshot``, ``scene N``."""
        return []

    def close(self) -> None:  # noqa: B027 (nothing to close headless)
        """Give back the window and context."""


class Headless(Output):
    """An offscreen context (EGL on Linux): pictures are only read back, recorded or tested."""

    def __init__(self) -> None:
        self.ctx = create_headless_context()
        self.finish = gil_free_finish(self.ctx)

    def present(self, picture: moderngl.Texture) -> None:
        self.finish()  # the frame's time is its drawing's; the other threads run meanwhile

    def close(self) -> None:
        self.ctx.release()


KEYS = {
    "ESCAPE": "quit",
    "Q": "quit",
    "RIGHT": "next",
    "SPACE": "next",
    "LEFT": "previous",
    "S": "screenshot",
}


class ProjectorWindow(Output):
    """A glfw window, fullscreen on a chosen monitor, vsynced, with the cursor hidden."""

    def __init__(self, window: Window, size: tuple[int, int], title: str = "perform") -> None:
        import glfw

        self.glfw = glfw
        if not glfw.init():
            raise PerformError(
                "no display: glfw cannot start (use --headless, or run on the projector machine)"
            )
        monitors = glfw.get_monitors() or []
        if window.fullscreen and window.monitor >= len(monitors):
            glfw.terminate()
            raise PerformError(
                f"render.window.monitor {window.monitor}: there are {len(monitors)} monitors "
                "(perform devices lists them)"
            )
        for hint, value in (
            (glfw.CONTEXT_VERSION_MAJOR, 3),
            (glfw.CONTEXT_VERSION_MINOR, 3),
            (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE),
            (glfw.OPENGL_FORWARD_COMPAT, True),
        ):
            glfw.window_hint(hint, value)
        if window.fullscreen:
            monitor = monitors[window.monitor]
            mode = glfw.get_video_mode(monitor)
            glfw.window_hint(glfw.REFRESH_RATE, mode.refresh_rate)
            handle = glfw.create_window(mode.size.width, mode.size.height, title, monitor, None)
        else:
            handle = glfw.create_window(size[0], size[1], title, None, None)
        if not handle:
            glfw.terminate()
            raise PerformError("cannot open an OpenGL 3.3 window on this display")
        self.window = handle
        glfw.make_context_current(handle)
        glfw.swap_interval(1 if window.vsync else 0)
        if window.hide_cursor:
            glfw.set_input_mode(handle, glfw.CURSOR, glfw.CURSOR_HIDDEN)
        self.ctx = moderngl.create_context(require=330)
        self.finish = gil_free_finish(self.ctx, glfw.get_proc_address)
        self._commands: list[str] = []
        glfw.set_key_callback(handle, self._on_key)
        self.prog = self.ctx.program(vertex_shader=VERTEX, fragment_shader=BLIT)
        self.vao = self.ctx.vertex_array(self.prog, [(quad_buffer(self.ctx), "2f", "in_pos")])

    def _on_key(self, window: object, key: int, scancode: int, action: int, mods: int) -> None:
        glfw = self.glfw
        if action != glfw.PRESS:
            return
        if glfw.KEY_1 <= key <= glfw.KEY_9:
            self._commands.append(f"scene {key - glfw.KEY_1}")
            return
        for name, command in KEYS.items():
            if key == getattr(glfw, f"KEY_{name}"):
                self._commands.append(command)

    def present(self, picture: moderngl.Texture) -> None:
        w, h = self.glfw.get_framebuffer_size(self.window)
        pw, ph = picture.size
        scale = min(w / pw, h / ph)
        vw, vh = int(pw * scale), int(ph * scale)
        screen = self.ctx.screen
        screen.use()
        screen.clear(0.0, 0.0, 0.0, 1.0)
        screen.viewport = ((w - vw) // 2, (h - vh) // 2, vw, vh)
        picture.use(0)
        self.vao.render(moderngl.TRIANGLE_STRIP)
        self.glfw.swap_buffers(self.window)

    def poll(self) -> list[str]:
        self.glfw.poll_events()
        if self.glfw.window_should_close(self.window):
            self._commands.append("quit")
        commands, self._commands = self._commands, []
        return commands

    def close(self) -> None:
        self.glfw.destroy_window(self.window)
        self.glfw.terminate()
