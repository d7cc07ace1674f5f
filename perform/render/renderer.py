"""Scenes drawn frame by frame: layer stacks, crossfades, hot reload of scenes and shaders."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import moderngl
import numpy as np

from perform.control import scene_name
from perform.errors import PerformError
from perform.render.bindings import Inputs
from perform.render.canvas import Canvas
from perform.render.config import Render, SceneFile
from perform.render.gl import Target
from perform.render.layers import Layer, make_layer
from perform.render.library import Library, Throttle, scene_library, search_folders, shader_library

log = logging.getLogger(__name__)


class Scene:
    """A scene file made live: its layers' GL state and the picture they composite to."""

    def __init__(self, name: str, spec: SceneFile, canvas: Canvas, start: float, version: int = 0) -> None:
        self.name = name
        self.spec = spec
        self.start = start
        self.version = version
        self.layers: list[Layer] = []
        try:
            for n, layer in enumerate(spec.layers, 1):
                if layer.enabled:
                    try:
                        self.layers.append(make_layer(layer, canvas))
                    except PerformError as exc:
                        raise PerformError(f"scene {name!r}, layer {n} ({layer.kind}): {exc}") from None
            self.acc = [Target.make(canvas.ctx, canvas.size), Target.make(canvas.ctx, canvas.size)]
        except Exception:
            self.release()
            raise

    def draw(self, canvas: Canvas) -> moderngl.Texture:
        canvas.scene_start = self.start
        a, b = self.acc
        a.fbo.use()
        a.fbo.clear(*self.spec.background, 1.0)
        for layer in self.layers:
            opacity = layer.current_opacity(canvas.inputs, canvas.dt)
            texture = layer.draw(canvas, a.texture)
            if texture is None or opacity <= 0.0:
                continue
            canvas.composite(a.texture, texture, b, layer.spec.blend, opacity, layer.premultiplied)
            a, b = b, a
        self.acc = [a, b]
        return a.texture

    def release(self) -> None:
        for layer in self.layers:
            layer.release()
        for t in getattr(self, "acc", []):
            t.release()


class Renderer:
    """Draws the current scene (and the one fading out) from the newest inputs."""

    def __init__(
        self,
        ctx: moderngl.Context,
        config: Render,
        show_dir: Path | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.ctx = ctx
        self.config = config
        self.size = (config.width, config.height)
        self.shaders: Library[moderngl.Program] = shader_library(
            ctx, search_folders("shaders", show_dir, config.folders)
        )
        self.scenes: Library[SceneFile] = scene_library(search_folders("scenes", show_dir, config.folders))
        if on_error is not None:
            self.shaders.on_error = self.scenes.on_error = on_error
        files = [self.scenes.register(p) for p in config.scene_files]
        self.order = list(config.scenes) or list(dict.fromkeys([*files, *self.scenes.names()]))
        if not self.order:
            where = ", ".join(str(f) for f in self.scenes.folders)
            raise PerformError(f"render: no scene files (*.yaml) in {where}")
        self.canvas = Canvas(ctx, self.size, self.shaders)
        self.final = Target.make(ctx, self.size)
        self.faded = Target.make(ctx, self.size)
        self.black = ctx.texture((1, 1), 4, bytes([0, 0, 0, 255]))
        self._small: Target | None = None  # the picture shrunk for a preview
        self._reload = Throttle(0.25)
        self._last_now: float | None = None
        self.fading: Scene | None = None
        self.fade_start = 0.0
        self.fade_s = config.crossfade_s
        self.current = self.load_scene(config.scene or self.order[0], 0.0)

    def load_scene(self, name: str, now: float) -> Scene:
        """A scene made live from its file's last good version; PerformError when it has none."""
        entry = self.scenes.get(name, report=False)
        if entry.value is None:
            raise PerformError(entry.error or f"scene {name!r} does not load")
        return Scene(name, entry.value, self.canvas, now, entry.version)

    def scene_name(self, key: str | int) -> str:
        """A scene by name or by 0-based index in the show's order; PerformError when unknown.

        A name is checked (length, characters: :func:`perform.control.scene_name`) before it is
        looked for, and only in the registered scene folders: a name is never a path.
        """
        if isinstance(key, int):
            if not 0 <= key < len(self.order):
                raise PerformError(
                    f"no scene number {key}: the show has {len(self.order)} (0..{len(self.order) - 1})"
                )
            return self.order[key]
        if (
            key not in self.order
            and key not in self.scenes.entries
            and self.scenes.find(scene_name(key)) is None
        ):
            raise PerformError(f"no scene {key!r}; scenes: {', '.join(self.order)}")
        return key

    def switch(
        self,
        key: str | int,
        now: float,
        fade_s: float | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> bool:
        """Crossfade to a scene; False (``warn``, default: logged) when it cannot be loaded, the
        current one stays. Nothing a scene does to load raises from here."""
        try:
            name = self.scene_name(key)
            if name == self.current.name and self.fading is None:
                return True
            scene = self.load_scene(name, now)
        except Exception as exc:  # a bad name, file or GL state costs the switch, never the show
            message = (
                str(exc) if isinstance(exc, PerformError) else f"scene {key!r}: {type(exc).__name__}: {exc}"
            )
            (warn or log.warning)(f"render: {message}")
            return False
        if self.fading is not None:
            self.fading.release()
        self.fading, self.current = self.current, scene
        self.fade_start = now
        self.fade_s = self.config.crossfade_s if fade_s is None else fade_s
        log.info("scene: %s", name)
        return True

    def step(self, offset: int, now: float, fade_s: float | None = None) -> bool:
        """Next (+1) or previous (-1) scene in the show's order."""
        i = self.order.index(self.current.name) if self.current.name in self.order else 0
        return self.switch(self.order[(i + offset) % len(self.order)], now, fade_s)

    def reload(self) -> None:
        """Look at the files: new shaders are used from now on; a changed scene is rebuilt."""
        self.shaders.poll()
        self.scenes.poll()
        entry = self.scenes.entries.get(self.current.name)
        if entry is not None and entry.value is not None and entry.version != self.current.version:
            try:
                scene = Scene(self.current.name, entry.value, self.canvas, self.current.start, entry.version)
            except PerformError as exc:
                log.warning("%s: %s (keeping the last good version on stage)", entry.path, exc)
                self.current.version = entry.version
                return
            self.current.release()
            self.current = scene
            log.info("%s: reloaded", entry.path)

    def draw(self, inputs: Inputs) -> moderngl.Texture:
        """Draw one frame; the returned texture holds the picture until the next call."""
        dt = 0.0 if self._last_now is None else max(0.0, inputs.now - self._last_now)
        self._last_now = inputs.now
        if self._reload(inputs.now):
            self.reload()
        self.canvas.update(inputs, dt)
        picture = self.current.draw(self.canvas)
        if self.fading is None:
            return picture
        t = 1.0 if self.fade_s <= 0 else (inputs.show_time - self.fade_start) / self.fade_s
        if t >= 1.0:
            self.fading.release()
            self.fading = None
            return picture
        old = self.fading.draw(self.canvas)
        eased = t * t * (3.0 - 2.0 * t)
        self.canvas.composite(old, picture, self.final, "normal", eased)
        return self.final.texture

    def fade_to_black(self, picture: moderngl.Texture, amount: float) -> moderngl.Texture:
        """``picture`` darkened by ``amount`` (0: unchanged, 1: black)."""
        if amount <= 0.0:
            return picture
        self.canvas.composite(picture, self.black, self.faded, "normal", min(amount, 1.0))
        return self.faded.texture

    def read(self, texture: moderngl.Texture) -> np.ndarray:
        """The picture as (H, W, 4) uint8 RGBA, bottom row first (as GL keeps it)."""
        w, h = texture.size
        return np.frombuffer(texture.read(), np.uint8).reshape(h, w, 4)

    def read_small(self, texture: moderngl.Texture, width: int) -> np.ndarray:
        """The picture shrunk on the GPU to ``width`` pixels wide, then read (a small read-back
        instead of the whole picture: the operator panel's preview). RGBA, bottom row first."""
        w, h = texture.size
        size = (min(width, w), max(1, round(h * min(width, w) / w)))
        if self._small is None or self._small.texture.size != size:
            if self._small is not None:
                self._small.release()
            self._small = Target.make(self.ctx, size)
        self.canvas.composite(texture, texture, self._small, "normal", 0.0)
        return self.read(self._small.texture)

    def release(self) -> None:
        if self._small is not None:
            self._small.release()
        self.current.release()
        if self.fading is not None:
            self.fading.release()
        self.final.release()
        self.faded.release()
        self.black.release()
        self.canvas.release()
