"""Where the picture goes: a projector window (glfw) or nowhere (headless, for files and tests)."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable

import moderngl

from perform.errors import PerformError
from perform.pipeline.stats import LatencyHistogram
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

    def report(self) -> dict[str, object]:
        """What the stats file says of the output."""
        return {"kind": "headless"}

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
    """A glfw window, fullscreen on a chosen monitor, vsynced, with the cursor hidden.

    On Linux the window's context is made through EGL, the API of the headless context, so a
    process never mixes EGL and GLX (Mesa ends the process with an X error when a GLX context
    is made current after an EGL one); where EGL gives no window, the display's own API is used.
    """

    def __init__(self, window: Window, size: tuple[int, int], title: str = "perform") -> None:
        import glfw

        self.glfw = glfw
        errors: list[str] = []
        glfw.set_error_callback(lambda code, text: errors.append(text.decode(errors="replace")))
        x_errors = XErrors.install()
        if not glfw.init():
            raise PerformError(
                f"no display ({errors[-1] if errors else 'glfw cannot start'}): "
                "use --headless, or run on the projector machine"
            )
        try:
            handle, self.api = self._open(window, size, title, errors)
            glfw.make_context_current(handle)
            if x_errors is not None and x_errors.since_install:
                glfw.destroy_window(handle)
                raise PerformError(f"the window's OpenGL context failed: {x_errors.last}")
        except PerformError:
            glfw.terminate()
            raise
        self.window = handle
        glfw.swap_interval(1 if window.vsync else 0)
        if window.hide_cursor:
            glfw.set_input_mode(handle, glfw.CURSOR, glfw.CURSOR_HIDDEN)
        # the context glfw made, whichever API: moderngl's own detection knows only one per platform
        moderngl.init_context(_GlfwLoader(glfw))
        self.ctx = moderngl.get_context()
        self.finish = gil_free_finish(self.ctx, glfw.get_proc_address)
        self._commands: list[str] = []
        glfw.set_key_callback(handle, self._on_key)
        self.prog = self.ctx.program(vertex_shader=VERTEX, fragment_shader=BLIT)
        self.vao = self.ctx.vertex_array(self.prog, [(quad_buffer(self.ctx), "2f", "in_pos")])
        self.fullscreen = window.fullscreen
        self.frame_ms = LatencyHistogram()
        self._last_swap: float | None = None
        log.info("render: window %dx%d (%s)", *glfw.get_framebuffer_size(handle), self.api)

    def _open(
        self, window: Window, size: tuple[int, int], title: str, errors: list[str]
    ) -> tuple[object, str]:
        glfw = self.glfw
        monitors = glfw.get_monitors() or []
        monitor = None
        if window.fullscreen:
            if window.monitor >= len(monitors):
                raise PerformError(
                    f"render.window.monitor {window.monitor}: there are {len(monitors)} monitors "
                    "(perform devices lists them)"
                )
            monitor = monitors[window.monitor]
            mode = glfw.get_video_mode(monitor)
            size = (mode.size.width, mode.size.height)
        apis = [("EGL", glfw.EGL_CONTEXT_API)] if sys.platform.startswith("linux") else []
        apis.append(("native", glfw.NATIVE_CONTEXT_API))
        for name, api in apis:
            glfw.default_window_hints()
            for hint, value in (
                (glfw.CONTEXT_VERSION_MAJOR, 3),
                (glfw.CONTEXT_VERSION_MINOR, 3),
                (glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE),
                (glfw.OPENGL_FORWARD_COMPAT, True),
                (glfw.CONTEXT_CREATION_API, api),
            ):
                glfw.window_hint(hint, value)
            if monitor is not None:
                glfw.window_hint(glfw.REFRESH_RATE, mode.refresh_rate)
            handle = glfw.create_window(size[0], size[1], title, monitor, None)
            if handle:
                return handle, name
        raise PerformError(
            "cannot open an OpenGL 3.3 window on this display "
            f"({errors[-1] if errors else 'no reason given'})"
        )

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
        screen.viewport = (0, 0, w, h)
        screen.clear(0.0, 0.0, 0.0, 1.0)
        screen.viewport = ((w - vw) // 2, (h - vh) // 2, vw, vh)
        picture.use(0)
        self.vao.render(moderngl.TRIANGLE_STRIP)
        self.glfw.swap_buffers(self.window)
        now = time.monotonic()
        if self._last_swap is not None:
            self.frame_ms.add(now - self._last_swap)
        self._last_swap = now

    def poll(self) -> list[str]:
        self.glfw.poll_events()
        if self.glfw.window_should_close(self.window):
            self._commands.append("quit")
        commands, self._commands = self._commands, []
        return commands

    def report(self) -> dict[str, object]:
        w, h = self.glfw.get_framebuffer_size(self.window)
        return {
            "kind": "window",
            "api": self.api,
            "size": [w, h],
            "fullscreen": self.fullscreen,
            "frame_ms": self.frame_ms.summary_ms(),
        }

    def close(self) -> None:
        self.prog.release()
        self.vao.release()
        self.glfw.destroy_window(self.window)
        self.glfw.terminate()


class _GlfwLoader:
    """GL functions looked up through glfw, for :func:`moderngl.init_context`."""

    def __init__(self, glfw: object) -> None:
        self.glfw = glfw

    def load_opengl_function(self, name: str) -> int:
        return self.glfw.get_proc_address(name) or 0  # type: ignore[attr-defined]

    def release(self) -> None:
        pass

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        pass


class XErrors:
    """Xlib's default handler ends the process on any X error; this one logs it and goes on.

    Installed once per process, before glfw opens a window, and kept (glfw restores it after its
    own calls). A failed GL call then shows as a message and a fallback, not a lost show.
    """

    _installed: XErrors | None = None

    def __init__(self, x11: ctypes.CDLL) -> None:
        self.x11 = x11
        self.count = 0
        self.last = ""
        self._seen_at_open = 0
        self.handler = _X_ERROR_HANDLER(self._on_error)  # kept alive as long as Xlib may call it
        x11.XSetErrorHandler(self.handler)

    @classmethod
    def install(cls) -> XErrors | None:
        """The process's handler (None where there is no Xlib); counts start again from now."""
        if cls._installed is None:
            if not sys.platform.startswith("linux"):
                return None
            try:
                x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
            except OSError:
                return None
            x11.XSetErrorHandler.restype = ctypes.c_void_p
            x11.XSetErrorHandler.argtypes = [_X_ERROR_HANDLER]
            x11.XGetErrorText.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
            cls._installed = cls(x11)
        cls._installed._seen_at_open = cls._installed.count
        return cls._installed

    @property
    def since_install(self) -> int:
        return self.count - self._seen_at_open

    def _on_error(self, display: int, event: ctypes._Pointer) -> int:  # type: ignore[type-arg]
        e = event.contents
        text = ctypes.create_string_buffer(256)
        self.x11.XGetErrorText(display, e.error_code, text, len(text))
        self.count += 1
        self.last = f"X error {text.value.decode(errors='replace')} (request {e.request_code}.{e.minor_code})"
        if self.count <= 10 or self.count % 1000 == 0:
            log.warning("render: %s (%d so far)", self.last, self.count)
        return 0


class _XErrorEvent(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("resourceid", ctypes.c_ulong),
        ("serial", ctypes.c_ulong),
        ("error_code", ctypes.c_ubyte),
        ("request_code", ctypes.c_ubyte),
        ("minor_code", ctypes.c_ubyte),
    ]


_X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_XErrorEvent))
