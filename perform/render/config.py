"""Scene files (``scenes/*.yaml``) and the show's ``render`` section, as pydantic models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from perform.schema import Model, resolve_path

BlendMode = Literal["normal", "add", "screen", "multiply", "overlay", "difference", "lighten", "darken"]
Fit = Literal["stretch", "cover", "contain"]
Colour = tuple[float, float, float]


class Binding(Model):
    """A value that follows the show: ``from`` a feature, an event, audio or an OSC parameter.

    ``from`` is a feature name (``p1.hands_up``, ``stage.energy``, ``audio.band2``: docs/features.md),
    ``param:NAME`` (set by ``/perform/param/NAME``), ``event:NAME`` (1 when the event fires, then
    decaying to 0 over ``decay_s``) or ``time``. The value is mapped from ``range`` to ``to``,
    then smoothed.
    """

    source: str = Field(alias="from", min_length=1, description="What the value follows (see above).")
    range: tuple[float, float] = Field((0.0, 1.0), description="Input range mapped onto `to`.")
    to: tuple[float, float] = Field((0.0, 1.0), description="Output range.")
    clamp: bool = Field(True, description="Keep the output within `to`.")
    smooth_s: float = Field(
        0.0, ge=0, le=60, description="Time constant of exponential smoothing in seconds (0: none)."
    )
    decay_s: float = Field(0.5, gt=0, le=60, description="event: how long a pulse takes to fall to 0.")
    default: float = Field(0.0, description="Input value while the source has none (nobody on stage).")

    @field_validator("range")
    @classmethod
    def _not_empty(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] == v[1]:
            raise ValueError(f"range must have two different ends, got [{v[0]}, {v[1]}]")
        return v


UniformValue = float | list[float] | Binding


class LayerBase(Model):
    enabled: bool = Field(True, description="Draw this layer.")
    blend: BlendMode = Field("normal", description="How the layer combines with the picture below it.")
    opacity: float | Binding = Field(1.0, description="0..1, a number or a binding.")


class CameraLayer(LayerBase):
    """The newest camera image."""

    kind: Literal["camera"]
    fit: Fit = Field("stretch", description="stretch (joints line up), cover (crop) or contain (bars).")


class StyledLayer(LayerBase):
    """The newest stylised image (the camera image while style is off or warming up)."""

    kind: Literal["styled"]
    fit: Fit = Field("stretch", description="stretch (joints line up), cover (crop) or contain (bars).")


class MaskLayer(LayerBase):
    """The performers' silhouettes from the person mask."""

    kind: Literal["mask"]
    fill: Literal["colour", "camera", "styled"] = Field(
        "colour", description="What fills the silhouette: a flat colour, the camera or the stylised image."
    )
    colour: Colour = Field((1.0, 1.0, 1.0), description="RGB 0..1 for fill: colour.")
    threshold: float = Field(0.5, ge=0, le=1, description="Mask value at the edge.")
    softness: float = Field(0.1, ge=0, le=1, description="Width of the soft edge in mask units.")


class SkeletonLayer(LayerBase):
    """Lines between the joints of every performer."""

    kind: Literal["skeleton"]
    width: float = Field(6.0, gt=0, le=100, description="Line width in pixels at 720 lines of output.")
    colour: Colour | None = Field(None, description="RGB 0..1; null: one colour per performer.")
    joints: bool = Field(True, description="Draw a dot on each joint.")
    min_visibility: float = Field(0.5, ge=0, le=1, description="Joints seen less surely are left out.")


class ParticlesLayer(LayerBase):
    """Sparks emitted from joints (hands, feet), moving with them, falling and fading."""

    kind: Literal["particles"]
    emit_from: list[str] = Field(
        default_factory=lambda: ["left_wrist", "right_wrist"],
        min_length=1,
        description="Joints that emit (names from docs/features.md, e.g. left_wrist, right_ankle).",
    )
    rate: float | Binding = Field(200.0, description="Particles per second per joint.")
    life_s: float = Field(1.5, gt=0, le=30, description="How long a particle lives.")
    speed: float = Field(0.15, ge=0, le=10, description="Random speed at birth, screen heights/s.")
    inherit: float = Field(0.5, ge=0, le=5, description="Share of the joint's own speed a particle takes.")
    gravity: float = Field(0.3, ge=-10, le=10, description="Downward pull in screen heights per second^2.")
    size: float = Field(8.0, gt=0, le=200, description="Point size in pixels at 720 lines of output.")
    colour: Colour | None = Field(None, description="RGB 0..1; null: one colour per performer.")
    max_particles: int = Field(4000, ge=1, le=100000, description="The oldest go first when full.")

    @field_validator("emit_from")
    @classmethod
    def _known_joints(cls, v: list[str]) -> list[str]:
        from perform.vision.types import LANDMARK_NAMES

        for name in v:
            if name not in LANDMARK_NAMES:
                raise ValueError(f"unknown joint {name!r}; joints are named as in docs/features.md")
        return v


class ShaderLayer(LayerBase):
    """A full-screen GLSL shader from shaders/: a generator, or an effect on the picture below."""

    kind: Literal["shader"]
    shader: str = Field(min_length=1, description="Name of a shaders/NAME.glsl file (without .glsl).")
    uniforms: dict[str, UniformValue] = Field(
        default_factory=dict,
        description="Values of the shader's own uniforms: a number, a list (vec2..vec4) or a binding.",
    )


Layer = Annotated[
    CameraLayer | StyledLayer | MaskLayer | SkeletonLayer | ParticlesLayer | ShaderLayer,
    Field(discriminator="kind"),
]


class SceneFile(Model):
    """A scene: an ordered stack of layers, drawn bottom (first) to top (last)."""

    name: str | None = Field(None, description="Shown in the console; the file name when left out.")
    description: str = Field("", description="What the scene is for.")
    background: Colour = Field((0.0, 0.0, 0.0), description="RGB 0..1 under the first layer.")
    layers: list[Layer] = Field(min_length=1, description="The layers, bottom first.")


class Window(Model):
    """The projector window."""

    monitor: int = Field(0, ge=0, le=16, description="Monitor index (perform devices lists them).")
    fullscreen: bool = Field(True, description="Fill the monitor at its own resolution.")
    vsync: bool = Field(True, description="Wait for the display's refresh (no tearing).")
    hide_cursor: bool = Field(True, description="Hide the mouse pointer over the window.")


class SceneTrigger(Model):
    """Switch scene when an event fires."""

    event: str = Field(min_length=1, description="Event name (hands_up, jump, a rule or a taught pose).")
    scene: str = Field(min_length=1, description="Scene to switch to.")


class Render(Model):
    """The stage picture: scenes drawn with OpenGL to a window, a video file, or both."""

    enabled: bool = Field(False, description="Draw scenes.")
    scene: str | None = Field(None, description="Scene shown first (default: the first of `scenes`).")
    scenes: list[str] = Field(
        default_factory=list,
        description="The scenes of the show in order (keys 1-9, /perform/scene N); "
        "empty: every scene file found, by name.",
    )
    folders: list[Path] = Field(
        default_factory=list,
        description="Extra folders holding scenes/ and shaders/, searched before the show's "
        "folder (and its parent) and perform's own.",
    )
    scene_files: list[Path] = Field(
        default_factory=list,
        description="Scene files outside the scenes/ folders, by path; each is named after its file.",
    )
    width: int = Field(1280, ge=16, le=7680, description="Width of the picture in pixels.")
    height: int = Field(720, ge=16, le=4320, description="Height of the picture in pixels.")
    fps: float = Field(30.0, gt=0, le=240, description="Frames drawn per second (at most).")
    crossfade_s: float = Field(1.0, ge=0, le=60, description="Length of a crossfade between scenes.")
    triggers: list[SceneTrigger] = Field(default_factory=list, description="Events that switch scenes.")
    window: Window = Field(default_factory=Window, description="The projector window.")

    record: Path | None = Field(None, description="Write what is drawn to this video file (H.264 .mp4).")
    screenshots: Path = Field(Path("out/screenshots"), description="Folder for screenshots (key s, cue).")

    _resolve_paths = field_validator("record", "screenshots")(resolve_path)
    _resolve_folders = field_validator("folders", "scene_files")(
        lambda v, info: [resolve_path(p, info) for p in v]
    )

    @model_validator(mode="after")
    def _start_in_list(self) -> Render:
        if self.scene is not None and self.scenes and self.scene not in self.scenes:
            raise ValueError(f"scene {self.scene!r} is not one of scenes: {', '.join(self.scenes)}")
        return self
