"""GL resources shared by every scene: input textures, perform's own programs, standard uniforms."""

from __future__ import annotations

import time

import cv2
import moderngl
import numpy as np

from perform.render.bindings import Inputs, detail_uniforms
from perform.render.gl import GLSL_VERSION, VERTEX, Target, compile_internal, quad_buffer, set_uniform
from perform.render.library import Library

MAX_PEOPLE, JOINTS = 4, 33
BEAT_DECAY_S = 0.25

IMAGE = """
in vec2 v_uv; out vec4 f;
uniform sampler2D tex; uniform sampler2D mask;
uniform vec2 scale; uniform int mode; uniform vec3 colour; uniform vec2 edge;
void main() {
    vec2 uv = (v_uv - 0.5) * scale + 0.5;
    if (any(lessThan(uv, vec2(0.0))) || any(greaterThan(uv, vec2(1.0)))) { f = vec4(0.0); return; }
    vec3 rgb = mode == 1 ? colour : texture(tex, uv).rgb;
    float a = mode == 0 ? 1.0 : smoothstep(edge.x, edge.y, texture(mask, uv).r);
    f = vec4(rgb, a);
}
"""

COMPOSITE = """
in vec2 v_uv; out vec4 f;
uniform sampler2D base; uniform sampler2D layer;
uniform int mode; uniform float opacity; uniform bool premultiplied;
vec3 blend(vec3 b, vec3 s) {
    if (mode == 1) return b + s;
    if (mode == 2) return 1.0 - (1.0 - b) * (1.0 - s);
    if (mode == 3) return b * s;
    if (mode == 4) return mix(2.0 * b * s, 1.0 - 2.0 * (1.0 - b) * (1.0 - s), step(0.5, b));
    if (mode == 5) return abs(b - s);
    if (mode == 6) return max(b, s);
    if (mode == 7) return min(b, s);
    return s;
}
void main() {
    vec4 b = texture(base, v_uv);
    vec4 s = texture(layer, v_uv);
    if (premultiplied && s.a > 0.0) s.rgb /= s.a;
    float a = clamp(s.a * opacity, 0.0, 1.0);
    f = vec4(clamp(mix(b.rgb, blend(b.rgb, s.rgb), a), 0.0, 1.0), 1.0);
}
"""

LINES_VERTEX = """#version 330 core
in vec2 in_pos; in vec4 in_colour; out vec4 v_colour;
void main() { v_colour = in_colour; gl_Position = vec4(in_pos, 0.0, 1.0); }
"""
LINES = "in vec4 v_colour; out vec4 f; void main() { f = v_colour; }"

POINTS_VERTEX = """#version 330 core
in vec2 in_pos; in vec4 in_colour; in float in_size; out vec4 v_colour;
void main() { v_colour = in_colour; gl_PointSize = in_size; gl_Position = vec4(in_pos, 0.0, 1.0); }
"""
POINTS = """
in vec4 v_colour; out vec4 f;
void main() {
    float d = length(gl_PointCoord - 0.5) * 2.0;
    float a = v_colour.a * smoothstep(1.0, 0.2, d);
    f = vec4(v_colour.rgb * a, a);
}
"""

BLEND_MODES = ("normal", "add", "screen", "multiply", "overlay", "difference", "lighten", "darken")


class Canvas:
    """Everything a layer draws with, for one output size."""

    def __init__(
        self, ctx: moderngl.Context, size: tuple[int, int], shaders: Library[moderngl.Program]
    ) -> None:
        self.ctx = ctx
        self.size = size
        self.shaders = shaders
        self.quad_vbo = quad_buffer(ctx)
        self.programs = {
            "image": compile_internal(ctx, IMAGE),
            "composite": compile_internal(ctx, COMPOSITE),
            "lines": ctx.program(vertex_shader=LINES_VERTEX, fragment_shader=GLSL_VERSION + LINES),
            "points": ctx.program(vertex_shader=POINTS_VERTEX, fragment_shader=GLSL_VERSION + POINTS),
        }
        set_uniform(self.programs["image"], "tex", 0)
        set_uniform(self.programs["image"], "mask", 1)
        set_uniform(self.programs["composite"], "base", 0)
        set_uniform(self.programs["composite"], "layer", 1)
        self._vaos = {
            name: ctx.vertex_array(self.programs[name], [(self.quad_vbo, "2f", "in_pos")])
            for name in ("image", "composite")
        }
        black = np.zeros((1, 1, 3), np.uint8)
        self.camera = self._texture(black)
        self.styled = self.camera
        self._styled_own: moderngl.Texture | None = None
        self.mask = ctx.texture((1, 1), 1, np.zeros(1, "f4").tobytes(), dtype="f4")
        self.has_mask = False
        self._seq = {"camera": -1, "styled": -1, "mask": -1, "pose_camera": -1}
        self._pose_camera: moderngl.Texture | None = None
        self.inputs = Inputs(now=0.0)
        self.dt = 0.0
        self.joints = np.zeros((MAX_PEOPLE * JOINTS, 4), "f4")
        self.person = np.zeros((MAX_PEOPLE, 4), "f4")
        self._last_beat = -1e9
        self._audio_seq = -1
        self.upload_ms = 0.0
        assert VERTEX  # the quad's vertex shader is shared with shaders/ programs

    # -- inputs ----------------------------------------------------------------------------

    def update(self, inputs: Inputs, dt: float) -> None:
        """Take the newest inputs: upload the images that changed, compute standard uniforms."""
        t0 = time.perf_counter()
        self.inputs, self.dt = inputs, dt
        frame = inputs.frame
        if frame is None and inputs.poses is not None:
            frame = inputs.poses.frame
        if frame is not None and frame.seq != self._seq["camera"]:
            self.camera = self._upload(self.camera, frame.image)
            self._seq["camera"] = frame.seq
        styled = inputs.styled
        if styled is not None and styled.seq != self._seq["styled"]:
            self._styled_own = self._upload(self._styled_own, styled.image)
            self._seq["styled"] = styled.seq
        self.styled = self._styled_own if self._styled_own is not None else self.camera
        poses = inputs.poses
        mask = poses.mask if poses is not None else None
        if mask is not None and poses is not None and poses.seq != self._seq["mask"]:
            self.mask = self._upload(self.mask, mask)
            self._seq["mask"] = poses.seq
        self.has_mask = mask is not None or self._seq["mask"] >= 0
        self._pose_uniforms()
        self.upload_ms = (time.perf_counter() - t0) * 1000.0

    def pose_camera(self) -> moderngl.Texture:
        """The camera image the newest poses (and their mask) were found in.

        The camera texture holds the newest image, often a frame or two ahead of the poses; a
        silhouette filled with it would show the performer beside their own mask.
        """
        poses = self.inputs.poses
        frame = poses.frame if poses is not None else None
        if frame is None or frame.seq == self._seq["camera"]:
            return self.camera
        if frame.seq != self._seq["pose_camera"]:
            self._pose_camera = self._upload(self._pose_camera, frame.image)
            self._seq["pose_camera"] = frame.seq
        assert self._pose_camera is not None
        return self._pose_camera

    def _texture(self, image: np.ndarray) -> moderngl.Texture:
        h, w = image.shape[:2]
        comps = 1 if image.ndim == 2 else image.shape[2]
        dtype = "f4" if image.dtype == np.float32 else "f1"
        tex = self.ctx.texture((w, h), comps, dtype=dtype)
        tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        tex.repeat_x = tex.repeat_y = False
        return tex

    def _upload(self, tex: moderngl.Texture | None, image: np.ndarray) -> moderngl.Texture:
        """Upload ``image`` (top row first) so that ``texture(t, v_uv)`` is upright."""
        h, w = image.shape[:2]
        comps = 1 if image.ndim == 2 else image.shape[2]
        want = "f4" if image.dtype == np.float32 else "f1"
        if tex is None or tex.size != (w, h) or tex.components != comps or tex.dtype != want:
            if tex is not None:
                tex.release()
            tex = self._texture(image)
        tex.write(cv2.flip(np.ascontiguousarray(image), 0).data)
        return tex

    def _pose_uniforms(self) -> None:
        self.joints[:] = 0.0
        self.person[:] = 0.0
        poses = self.inputs.poses
        if poses is not None:
            for body in poses.bodies:
                if not 1 <= body.slot <= MAX_PEOPLE:
                    continue
                i = body.slot - 1
                lm = body.landmarks
                block = self.joints[i * JOINTS : (i + 1) * JOINTS]
                block[:, 0] = lm[:, 0]
                block[:, 1] = 1.0 - lm[:, 1]
                block[:, 2] = lm[:, 2]
                block[:, 3] = lm[:, 3]
                hips = block[[23, 24], :2].mean(axis=0)
                energy = self.inputs.features.get(f"p{body.slot}.energy_level", 0.0)
                self.person[i] = (hips[0], hips[1], energy, 1.0)
        audio = self.inputs.audio
        if audio is not None and audio.seq != self._audio_seq:
            self._audio_seq = audio.seq
            if audio.beat:
                self._last_beat = self.inputs.now

    def standard_uniforms(self, prog: moderngl.Program) -> None:
        """Set the prelude's uniforms on a shaders/ program (textures on units 0-4)."""
        inputs = self.inputs
        poses = inputs.poses
        audio = inputs.audio
        bands = np.zeros(8, "f4")
        if audio is not None:
            n = min(8, len(audio.bands))
            bands[:n] = audio.bands[:n]
        values: dict[str, object] = {
            "u_time": inputs.show_time - self.scene_start,
            "u_show_time": inputs.show_time,
            "u_delta": float(self.dt),
            "u_resolution": (float(self.size[0]), float(self.size[1])),
            "u_below": 0,
            "u_camera": 1,
            "u_styled": 2,
            "u_mask": 3,
            "u_previous": 4,
            "u_people": len(poses.bodies) if poses is not None else 0,
            "u_joints": self.joints,
            "u_person": self.person,
            "u_energy": float(inputs.features.get("stage.energy", 0.0)),
            "u_audio_level": float(audio.level) if audio is not None else 0.0,
            "u_audio_bands": bands,
            "u_beat": max(0.0, 1.0 - (inputs.now - self._last_beat) / BEAT_DECAY_S),
            "u_beat_phase": float(audio.beat_phase) if audio is not None else 0.0,
            **detail_uniforms(inputs),
        }
        for name, value in values.items():
            set_uniform(prog, name, value)
        self.camera.use(1)
        self.styled.use(2)
        self.mask.use(3)

    scene_start = 0.0

    # -- drawing -----------------------------------------------------------------------------

    def quad(self, program: str) -> None:
        self._vaos[program].render(moderngl.TRIANGLE_STRIP)

    def composite(
        self,
        base: moderngl.Texture,
        layer: moderngl.Texture,
        out: Target,
        mode: str,
        opacity: float,
        premultiplied: bool = False,
    ) -> None:
        prog = self.programs["composite"]
        set_uniform(prog, "mode", BLEND_MODES.index(mode))
        set_uniform(prog, "opacity", float(opacity))
        set_uniform(prog, "premultiplied", premultiplied)
        base.use(0)
        layer.use(1)
        out.fbo.use()
        self.quad("composite")

    def release(self) -> None:
        for vao in self._vaos.values():
            vao.release()
        for prog in self.programs.values():
            prog.release()
        self.quad_vbo.release()
        textures = {id(t): t for t in (self.camera, self._styled_own, self.mask, self._pose_camera) if t}
        for texture in textures.values():
            texture.release()
