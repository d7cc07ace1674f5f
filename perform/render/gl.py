"""OpenGL plumbing: contexts, programs with perform's prelude, error lines, textures."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import moderngl
import numpy as np

from perform.errors import PerformError

GLSL_VERSION = "#version 330 core\n"
PRELUDE = (Path(__file__).with_name("prelude.glsl")).read_text(encoding="utf-8")

VERTEX = (
    GLSL_VERSION
    + """
in vec2 in_pos;
out vec2 v_uv;
void main() {
    v_uv = in_pos * 0.5 + 0.5;
    gl_Position = vec4(in_pos, 0.0, 1.0);
}
"""
)

# Mesa "0:12(5): error: x", NVIDIA "0(12) : error C1008: x", AMD and Apple "ERROR: 0:12: x"
_ERROR_LINE = re.compile(
    r"^\s*(?:ERROR:\s*)?\d+[:(](\d+)\)?(?:\(\d+\))?\s*:\s*(?:error\s*[A-Z]?\d*\s*:?\s*)?(.*)$"
)

_VERSION_LINE = re.compile(r"^[ \t]*#[ \t]*version\b", re.MULTILINE)

#: Headings of moderngl's error text, not errors themselves.
_BANNERS = ("GLSL Compiler failed", "GLSL Linker failed", "fragment_shader", "vertex_shader", "Program")


class ShaderError(PerformError):
    """A shader that does not compile: ``path:line: message`` for the first error."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


def parse_gl_error(log: str) -> tuple[int | None, str]:
    """The first error's line (in the user's file) and message from a driver's compile log."""
    for raw in log.splitlines():
        m = _ERROR_LINE.match(raw)
        if m and ("error" in raw.lower() or raw.strip().startswith("ERROR")):
            return int(m.group(1)), m.group(2).strip()
    lines = [s.strip() for s in log.splitlines() if s.strip() and not set(s.strip()) <= {"="}]
    lines = [s for s in lines if s not in _BANNERS]
    # a link error has no line: Mesa "error: fragment shader lacks `main'"
    return None, re.sub(r"^error:\s*", "", lines[0], flags=re.IGNORECASE) if lines else "does not compile"


def fragment_source(user_source: str, defines: dict[str, str] | None = None) -> str:
    """The full fragment shader: version, prelude, then the user's code from line 1."""
    extra = "".join(f"#define {k} {v}\n" for k, v in (defines or {}).items())
    return f"{GLSL_VERSION}{extra}{PRELUDE}\n#line 1\n{user_source}"


def compile_fragment(ctx: moderngl.Context, source: str, path: Path) -> moderngl.Program:
    """Compile a shaders/ fragment shader (with the prelude); :class:`ShaderError` names path:line."""
    version = _VERSION_LINE.search(source)
    if version is not None:  # the driver would say "#version must appear on the first line"
        line = source.count("\n", 0, version.start()) + 1
        raise ShaderError(path, line, f"remove this line: perform puts {GLSL_VERSION.strip()!r} first")
    try:
        return ctx.program(vertex_shader=VERTEX, fragment_shader=fragment_source(source))
    except moderngl.Error as exc:
        line, message = parse_gl_error(str(exc))
        raise ShaderError(path, line, message) from None


def compile_internal(ctx: moderngl.Context, fragment: str) -> moderngl.Program:
    """Compile one of perform's own fragment shaders (no prelude); a failure is a bug."""
    return ctx.program(vertex_shader=VERTEX, fragment_shader=GLSL_VERSION + fragment)


def quad(ctx: moderngl.Context, program: moderngl.Program, vbo: moderngl.Buffer) -> moderngl.VertexArray:
    return ctx.vertex_array(program, [(vbo, "2f", "in_pos")])


def quad_buffer(ctx: moderngl.Context) -> moderngl.Buffer:
    return ctx.buffer(np.array([-1, -1, 1, -1, -1, 1, 1, 1], dtype="f4").tobytes())


def set_uniform(program: moderngl.Program, name: str, value: object) -> None:
    """Set ``name`` when the program uses it (drivers drop unused uniforms)."""
    member = program._members.get(name)
    if member is None or not isinstance(member, moderngl.Uniform):
        return
    if isinstance(value, np.ndarray):
        # a driver may keep only the used head of an array
        flat = value.astype("f4" if value.dtype.kind == "f" else value.dtype, copy=False).ravel()
        member.write(flat[: member.array_length * member.dimension].tobytes())
    else:
        member.value = value


def create_headless_context() -> moderngl.Context:
    """A standalone GL 3.3+ context with no window: EGL on Linux (Mesa llvmpipe without a GPU)."""
    import sys

    errors: list[str] = []
    backends = [{"backend": "egl"}, {}] if sys.platform.startswith("linux") else [{}]
    for kwargs in backends:
        try:
            return moderngl.create_standalone_context(require=330, **kwargs)
        except Exception as exc:  # each backend fails in its own way
            errors.append(f"{kwargs.get('backend', 'default')}: {exc}")
    raise PerformError(
        "no OpenGL 3.3 context: " + "; ".join(errors) + " (on Linux install libegl1 and libgl1-mesa-dri)"
    )


@dataclass
class Target:
    """A colour texture with a framebuffer around it."""

    texture: moderngl.Texture
    fbo: moderngl.Framebuffer

    @classmethod
    def make(cls, ctx: moderngl.Context, size: tuple[int, int], dtype: str = "f1") -> Target:
        """``dtype`` f1 (8 bits) or f2 (half floats: feedback that decays slowly reaches black)."""
        texture = ctx.texture(size, 4, dtype=dtype)
        texture.filter = (moderngl.LINEAR, moderngl.LINEAR)
        texture.repeat_x = texture.repeat_y = False
        return cls(texture, ctx.framebuffer(color_attachments=[texture]))

    def release(self) -> None:
        self.fbo.release()
        self.texture.release()


def gil_free_finish(
    ctx: moderngl.Context, proc_address: Callable[[str], int | None] | None = None
) -> Callable[[], None]:
    """A ``glFinish`` that lets other Python threads run while the GPU (or llvmpipe) works.

    moderngl holds the GIL in ``finish`` and ``read``, so waiting for a frame there stops the
    pose, OSC and capture threads for as long as the frame takes. The same call made through
    ctypes releases the GIL; a read right after it only copies. ``proc_address`` looks a GL
    function up (glfw's for a window); by default EGL's. Falls back to ``ctx.finish``.
    """
    import ctypes
    import ctypes.util

    address: int | None = None
    try:
        if proc_address is None:
            egl = ctypes.CDLL(ctypes.util.find_library("EGL") or "libEGL.so.1")
            egl.eglGetProcAddress.restype = ctypes.c_void_p
            egl.eglGetProcAddress.argtypes = [ctypes.c_char_p]
            address = egl.eglGetProcAddress(b"glFinish")
        else:
            address = proc_address("glFinish")
    except (OSError, AttributeError):
        address = None
    if not address:
        return ctx.finish
    return ctypes.CFUNCTYPE(None)(address)
