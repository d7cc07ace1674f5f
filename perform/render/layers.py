"""The kinds of layer a scene stacks: each draws into its own texture, then is blended on."""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import moderngl
import numpy as np

from perform.errors import PerformError
from perform.render import config as cfg
from perform.render.bindings import Bound, Inputs, constant_or_bound, resolve
from perform.render.gl import Target, set_uniform
from perform.vision.draw import SLOT_COLORS
from perform.vision.face import FACE_ROWS
from perform.vision.hands import HAND_CONNECTIONS
from perform.vision.types import CONNECTIONS, LM

if TYPE_CHECKING:
    from perform.render.canvas import Canvas

log = logging.getLogger(__name__)

#: One colour per performer slot (1, 2, ...), repeating: the same as previews and `perform pose`.
PALETTE = np.array(SLOT_COLORS, dtype="f4") / 255.0


BONES = np.array(CONNECTIONS, dtype=int)
HAND_BONES = np.array(HAND_CONNECTIONS, dtype=int)


def performer_colour(slot: int) -> np.ndarray:
    return PALETTE[(slot - 1) % len(PALETTE)]


class Layer(ABC):
    """A layer's running state. :meth:`draw` returns the texture to blend, or None to skip."""

    def __init__(self, spec: cfg.LayerBase, rf: Canvas) -> None:
        self.spec = spec
        self.opacity = constant_or_bound(spec.opacity)  # type: ignore[arg-type]

    def current_opacity(self, inputs: Inputs, dt: float) -> float:
        value = resolve(self.opacity, inputs, dt)
        return float(value if isinstance(value, float | int) else value[0])

    @property
    def premultiplied(self) -> bool:
        return False

    @abstractmethod
    def draw(self, rf: Canvas, below: moderngl.Texture) -> moderngl.Texture | None:
        """Draw this frame's layer; the texture to blend onto ``below``, or None to skip it."""

    def release(self) -> None:  # noqa: B027 (nothing to give back unless a layer owns GL objects)
        pass


class OwnTarget(Layer):
    def __init__(self, spec: cfg.LayerBase, rf: Canvas) -> None:
        super().__init__(spec, rf)
        self.target = Target.make(rf.ctx, rf.size)

    def release(self) -> None:
        self.target.release()


def fit_scale(image: tuple[int, int], out: tuple[int, int], fit: cfg.Fit) -> tuple[float, float]:
    """uv scale about the centre for ``fit`` (stretch 1,1; cover < 1 crops; contain > 1 adds bars)."""
    if fit == "stretch":
        return 1.0, 1.0
    r = (image[0] / image[1]) / (out[0] / out[1])  # > 1: the image is wider than the output
    if r > 1:  # cover crops the sides, contain adds bars above and below
        return (1.0 / r, 1.0) if fit == "cover" else (1.0, r)
    return (1.0, r) if fit == "cover" else (1.0 / r, 1.0)  # crop top and bottom, or bars at the sides


class ImageLayer(OwnTarget):
    """camera, styled and mask layers: one pass of the internal image program."""

    def draw(self, rf: Canvas, below: moderngl.Texture) -> moderngl.Texture | None:
        spec = self.spec
        if isinstance(spec, cfg.MaskLayer):
            if not rf.has_mask:
                return None
            # the styled image is made from the poses' own frame, as the mask is
            source = rf.styled if spec.fill == "styled" else rf.pose_camera()
            mode, fit = (1 if spec.fill == "colour" else 2), "stretch"
        else:
            assert isinstance(spec, cfg.CameraLayer | cfg.StyledLayer)
            source = rf.camera if isinstance(spec, cfg.CameraLayer) else rf.styled
            mode, fit = 0, spec.fit
        prog = rf.programs["image"]
        sx, sy = fit_scale(source.size, rf.size, fit)
        set_uniform(prog, "scale", (sx, sy))
        set_uniform(prog, "mode", mode)
        if isinstance(spec, cfg.MaskLayer):
            set_uniform(prog, "colour", spec.colour)
            half = max(spec.softness / 2, 1e-3)  # smoothstep needs edge0 < edge1 (undefined otherwise)
            set_uniform(prog, "edge", (spec.threshold - half, spec.threshold + half))
        source.use(0)
        rf.mask.use(1)
        self.target.fbo.use()
        rf.quad("image")
        return self.target.texture


class SkeletonLayer(OwnTarget):
    """Bones as quads and joints as small squares, built on the CPU (a few hundred vertices)."""

    def __init__(self, spec: cfg.SkeletonLayer, rf: Canvas) -> None:
        super().__init__(spec, rf)
        self.vbo = rf.ctx.buffer(reserve=4096 * 24)
        self.vao = rf.ctx.vertex_array(rf.programs["lines"], [(self.vbo, "2f 4f", "in_pos", "in_colour")])

    def draw(self, rf: Canvas, below: moderngl.Texture) -> moderngl.Texture | None:
        spec: cfg.SkeletonLayer = self.spec  # type: ignore[assignment]
        verts = skeleton_vertices(rf, spec)
        self.target.fbo.use()
        self.target.fbo.clear(0, 0, 0, 0)
        if len(verts):
            data = verts.tobytes()
            if len(data) > self.vbo.size:
                self.vbo.orphan(len(data))
            self.vbo.write(data)
            self.vao.render(moderngl.TRIANGLES, vertices=len(verts))
        return self.target.texture

    def release(self) -> None:
        self.vao.release()
        self.vbo.release()
        super().release()


def skeleton_vertices(rf: Canvas, spec: cfg.SkeletonLayer) -> np.ndarray:
    """Triangles (x, y, r, g, b, a) in clip space for every visible bone and joint, and the hands'
    bones and face points of performers who have them (``pose.detail``)."""
    poses = rf.inputs.poses
    if poses is None or not poses.bodies:
        return np.zeros((0, 6), "f4")
    w, h = rf.size
    half = spec.width * h / 720.0 / 2.0
    parts = []

    def pixels(lm: np.ndarray) -> np.ndarray:
        return np.stack([lm[:, 0] * w, (1.0 - lm[:, 1]) * h], axis=1)

    for body in poses.bodies:
        lm = body.landmarks
        px = pixels(lm)
        ok = lm[:, 3] >= spec.min_visibility
        colour = np.array(spec.colour if spec.colour is not None else performer_colour(body.slot), "f4")
        parts.append(_bones(px, BONES[ok[BONES[:, 0]] & ok[BONES[:, 1]]], half, colour, w, h))
        if spec.joints:
            parts.append(_squares(px[ok], half * 1.6, colour, w, h))
        detail = poses.details.get(body.slot)
        if detail is None:
            continue
        for hand in (detail.left_hand, detail.right_hand):
            if hand is not None:
                parts.append(_bones(pixels(hand.landmarks), HAND_BONES, half * 0.4, colour, w, h))
        if detail.face is not None:
            parts.append(_squares(pixels(detail.face.landmarks[FACE_ROWS]), half * 0.5, colour, w, h))
    return np.concatenate(parts) if parts else np.zeros((0, 6), "f4")


def _bones(px: np.ndarray, pairs: np.ndarray, half: float, colour: np.ndarray, w: int, h: int) -> np.ndarray:
    """Quads ``2 * half`` pixels wide along the bones ``pairs`` (rows of ``px``)."""
    p0, p1 = px[pairs[:, 0]], px[pairs[:, 1]]
    d = p1 - p0
    length = np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6)
    n = np.stack([-d[:, 1], d[:, 0]], axis=1) / length * half
    quads = np.stack([p0 + n, p0 - n, p1 + n, p1 + n, p0 - n, p1 - n], axis=1).reshape(-1, 2)
    return _with_colour(quads, colour, w, h)


def _squares(centres: np.ndarray, r: float, colour: np.ndarray, w: int, h: int) -> np.ndarray:
    corners = np.array([(-r, -r), (r, -r), (-r, r), (-r, r), (r, -r), (r, r)], "f4")
    return _with_colour((centres[:, None, :] + corners[None]).reshape(-1, 2), colour, w, h)


def _with_colour(px: np.ndarray, colour: np.ndarray, w: int, h: int) -> np.ndarray:
    out = np.empty((len(px), 6), "f4")
    out[:, 0] = px[:, 0] / w * 2.0 - 1.0
    out[:, 1] = px[:, 1] / h * 2.0 - 1.0
    out[:, 2:5] = colour
    out[:, 5] = 1.0
    return out


class ParticlesLayer(OwnTarget):
    """A CPU particle system (numpy, a few thousand points) drawn as soft additive points."""

    def __init__(self, spec: cfg.ParticlesLayer, rf: Canvas) -> None:
        super().__init__(spec, rf)
        n = spec.max_particles
        self.pos = np.zeros((n, 2), "f4")  # in output pixels, origin bottom-left
        self.vel = np.zeros((n, 2), "f4")
        self.colour = np.zeros((n, 3), "f4")
        self.age = np.full(n, np.inf, "f4")
        self.next = 0
        self.debt: dict[tuple[int, int], float] = {}
        self.last: dict[tuple[int, int], np.ndarray] = {}
        self.rate = constant_or_bound(spec.rate)  # type: ignore[arg-type]
        self.rng = np.random.default_rng(1)
        self.joints = [LM[name] for name in spec.emit_from]
        self.vbo = rf.ctx.buffer(reserve=n * 28)
        self.vao = rf.ctx.vertex_array(
            rf.programs["points"], [(self.vbo, "2f 4f 1f", "in_pos", "in_colour", "in_size")]
        )

    @property
    def premultiplied(self) -> bool:
        return True

    def draw(self, rf: Canvas, below: moderngl.Texture) -> moderngl.Texture | None:
        spec: cfg.ParticlesLayer = self.spec  # type: ignore[assignment]
        self.step(rf, spec)
        alive = self.age < spec.life_s
        self.target.fbo.use()
        self.target.fbo.clear(0, 0, 0, 0)
        count = int(alive.sum())
        if count:
            w, h = rf.size
            fade = 1.0 - self.age[alive] / spec.life_s
            data = np.empty((count, 7), "f4")
            data[:, 0] = self.pos[alive, 0] / w * 2 - 1
            data[:, 1] = self.pos[alive, 1] / h * 2 - 1
            data[:, 2:5] = self.colour[alive]
            data[:, 5] = fade
            data[:, 6] = spec.size * h / 720.0 * (0.4 + 0.6 * fade)
            self.vbo.write(data.tobytes())
            rf.ctx.enable(moderngl.BLEND | moderngl.PROGRAM_POINT_SIZE)
            rf.ctx.blend_func = moderngl.ONE, moderngl.ONE
            self.vao.render(moderngl.POINTS, vertices=count)
            rf.ctx.disable(moderngl.BLEND)
        return self.target.texture

    def step(self, rf: Canvas, spec: cfg.ParticlesLayer) -> None:
        dt = min(rf.dt, 0.1)
        w, h = rf.size
        self.age += dt
        self.vel[:, 1] -= spec.gravity * h * dt
        self.pos += self.vel * dt
        poses = rf.inputs.poses
        rate = float(resolve(self.rate, rf.inputs, dt))  # type: ignore[arg-type]
        if poses is None:
            return
        seen = set()
        for body in poses.bodies:
            colour = np.array(spec.colour if spec.colour is not None else performer_colour(body.slot), "f4")
            for j in self.joints:
                x, y, _, vis = body.landmarks[j]
                if vis < 0.5:
                    continue
                key = (body.slot, j)
                seen.add(key)
                here = np.array([x * w, (1.0 - y) * h], "f4")
                last = self.last.get(key, here)
                joint_vel = (here - last) / max(dt, 1e-3)
                self.last[key] = here
                self.debt[key] = self.debt.get(key, 0.0) + rate * dt
                n = int(self.debt[key])
                if n <= 0:
                    continue
                self.debt[key] -= n
                n = min(n, len(self.age))
                idx = (self.next + np.arange(n)) % len(self.age)
                self.next = int((self.next + n) % len(self.age))
                t = self.rng.random(n)[:, None]
                self.pos[idx] = last + (here - last) * t
                angle = self.rng.random(n) * 2 * math.pi
                speed = self.rng.random(n) * spec.speed * h
                self.vel[idx] = np.stack([np.cos(angle), np.sin(angle)], 1) * speed[:, None]
                self.vel[idx] += joint_vel * spec.inherit
                self.colour[idx] = colour
                self.age[idx] = 0.0
        for key in list(self.last):
            if key not in seen:
                del self.last[key]
                self.debt.pop(key, None)

    def release(self) -> None:
        self.vao.release()
        self.vbo.release()
        super().release()


class ShaderLayer(Layer):
    """A shaders/ program over the whole picture; a second target when it reads ``u_previous``."""

    def __init__(self, spec: cfg.ShaderLayer, rf: Canvas) -> None:
        super().__init__(spec, rf)
        self.entry = rf.shaders.get(spec.shader)
        self.uniforms = {k: constant_or_bound(v) for k, v in spec.uniforms.items()}
        self._refused: set[tuple[int, str]] = set()
        if self.entry.value is not None:
            for name, value in self.uniforms.items():
                try:
                    uniform_value(self.entry.value, name, 0.0 if isinstance(value, Bound) else value)
                except ValueError as exc:
                    raise PerformError(f"uniform {name!r} of {self.entry.path}: {exc}") from None
        # feedback decaying by a few % a frame sticks above black in 8 bits: half floats for those
        program = self.entry.value
        feedback = program is not None and "u_previous" in program
        dtype = "f2" if feedback else "f1"
        self.targets = [Target.make(rf.ctx, rf.size, dtype), Target.make(rf.ctx, rf.size, dtype)]
        for t in self.targets:
            t.fbo.clear(0, 0, 0, 0)
        self.vaos: dict[int, moderngl.VertexArray] = {}

    def draw(self, rf: Canvas, below: moderngl.Texture) -> moderngl.Texture | None:
        prog = self.entry.value
        if prog is None:
            return None
        vao = self.vaos.get(id(prog))
        if vao is None:  # a new program (hot reload): the old one's vertex array goes with it
            for old in self.vaos.values():
                old.release()
            self.vaos = {id(prog): rf.ctx.vertex_array(prog, [(rf.quad_vbo, "2f", "in_pos")])}
            vao = self.vaos[id(prog)]
        rf.standard_uniforms(prog)
        for name, value in self.uniforms.items():
            try:
                set_uniform(prog, name, uniform_value(prog, name, resolve(value, rf.inputs, rf.dt)))
            except ValueError as exc:  # a reloaded shader changed the uniform's type: leave it unset
                if (id(prog), name) not in self._refused:
                    self._refused.add((id(prog), name))
                    log.warning("uniform %r of %s: %s", name, self.entry.path, exc)
        out, previous = self.targets
        below.use(0)
        previous.texture.use(4)
        out.fbo.use()
        vao.render(moderngl.TRIANGLE_STRIP)
        self.targets.reverse()  # this frame's output is the next frame's u_previous
        return out.texture

    def release(self) -> None:
        for vao in self.vaos.values():
            vao.release()
        for t in self.targets:
            t.release()


def uniform_value(
    program: moderngl.Program, name: str, value: float | tuple[float, ...]
) -> float | int | tuple[float | int, ...] | np.ndarray | None:
    """A scene's number(s) in the form the program's uniform ``name`` takes (None: not used).

    Raises ValueError saying what was expected when the count does not fit.
    """
    member = program._members.get(name)
    if not isinstance(member, moderngl.Uniform):
        return None
    numbers = value if isinstance(value, tuple) else (value,)
    whole = member.fmt[-1] in "iI"  # int, uint and bool (vectors), samplers: scene numbers are floats
    want = member.dimension * member.array_length  # a driver may keep only the used head of an array
    if len(numbers) != want and not (member.array_length > 1 and len(numbers) > want):
        raise ValueError(f"expected {want} number{'s' if want > 1 else ''}, got {len(numbers)}")
    if member.array_length > 1:
        return np.rint(numbers).astype("i4") if whole else np.asarray(numbers, "f4")
    if whole:
        numbers = tuple(round(x) for x in numbers)
    return numbers[0] if want == 1 else numbers


def make_layer(spec: cfg.LayerBase, rf: Canvas) -> Layer:
    if isinstance(spec, cfg.SkeletonLayer):
        return SkeletonLayer(spec, rf)
    if isinstance(spec, cfg.ParticlesLayer):
        return ParticlesLayer(spec, rf)
    if isinstance(spec, cfg.ShaderLayer):
        return ShaderLayer(spec, rf)
    return ImageLayer(spec, rf)


__all__ = ["Bound", "Layer", "make_layer"]
