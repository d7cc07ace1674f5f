"""The show file, as pydantic models. Each field's description is its documentation.

Each package owns its section (``perform.capture.config``, ``perform.vision.config``, ...); this
module composes them into a :class:`Show`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from perform.audio.config import AudioConfig
from perform.capture.config import CaptureSettings, FrameSourceConfig
from perform.events.config import EventsConfig
from perform.midi.config import Midi
from perform.osc.config import Osc, RemoteSource, Target, loops_back
from perform.panel.config import Panel
from perform.render.config import Render
from perform.schema import InputLoss, Model, Network, resolve_path
from perform.share.config import ShareConfig
from perform.style.config import StyleConfig
from perform.vision.config import PoseConfig, TakeSource, VirtualSource

SourceConfig = Annotated[
    FrameSourceConfig | VirtualSource | TakeSource | RemoteSource, Field(discriminator="kind")
]
#: Sources that deliver poses themselves, with no pose model.
POSE_SOURCES = (VirtualSource, TakeSource, RemoteSource)


class Stages(Model):
    """Settings of the pipeline stages."""

    capture: CaptureSettings = Field(default_factory=CaptureSettings, description="The capture stage.")
    stall_budget_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="A pose or events step that runs longer than this is given up and the stage "
        "restarted (style gets 5 times as long; loading a model does not count).",
    )


class Control(Model):
    """The OSC control input: cues and parameters from QLab, TouchOSC, Ableton or a lighting desk."""

    enabled: bool = Field(True, description="Listen for OSC cues (docs/osc-in.md lists the addresses).")
    port: int = Field(9000, ge=0, le=65535, description="UDP port for cues (0: any free port).")
    host: str = Field(
        "0.0.0.0",
        description="Interface to listen on: 0.0.0.0 every interface (every network the machine is on "
        "may send cues), 127.0.0.1 this machine only, or one interface's address (the show network's). "
        "See the README, Security on the show network.",
    )
    allow: list[Network] = Field(
        default_factory=list,
        description="Who may send cues: addresses and networks such as 192.168.1.0/24, 10.0.0.7, "
        "127.0.0.1 (empty: everyone who reaches the port). Datagrams from others are dropped unread "
        "and counted (not_allowed).",
    )
    http_port: int | None = Field(
        None,
        ge=0,
        le=65535,
        description="Serve an OSCQuery-style JSON listing of the addresses here (null: off).",
    )
    http_host: str = Field(
        "127.0.0.1",
        description="Interface the listing listens on: this machine only by default; 0.0.0.0 for every "
        "interface (the listing says what perform accepts, nothing more).",
    )
    max_delay_s: float = Field(
        1.0, ge=0, le=60, description="A bundle timetagged further ahead than this is applied at once."
    )
    takes: Path = Field(
        Path("takes"),
        validate_default=True,  # the default too is beside the show file, not in the working folder
        description="Folder where /perform/take/start cues write takes, relative to the show file. A cue "
        "names a file in it, never a path; a name that is taken gets a number.",
    )

    _resolve_takes = field_validator("takes")(resolve_path)


class Outputs(ShareConfig):
    """Where results go: a preview, stats, and live video for other software (NDI, Syphon, Spout)."""

    preview: bool = Field(
        True, description="Show the camera image in a window when a display exists (Esc or q quits)."
    )
    stats: Path | None = Field(None, description="Write the run's stats as JSON here when it ends.")
    status_hz: float = Field(4.0, gt=0, le=30, description="Refresh rate of the live terminal status.")

    _resolve_stats = field_validator("stats")(resolve_path)


class Show(Model):
    """A show: where frames come from, how the stages run, where results go."""

    name: str = Field("perform show", description="Shown in the status line and written to stats.")
    source: SourceConfig = Field(description="Where frames come from; `kind` picks the source type.")
    stages: Stages = Field(default_factory=Stages, description="Per-stage settings.")
    pose: PoseConfig = Field(default_factory=PoseConfig, description="Pose detection, tracking and features.")
    events: EventsConfig = Field(
        default_factory=EventsConfig, description="Events: built-ins, rules, floor zones, taught poses."
    )
    style: StyleConfig = Field(default_factory=StyleConfig, description="Live neural style transfer.")
    audio: AudioConfig = Field(
        default_factory=AudioConfig, description="Live audio analysis (levels, bands, beats)."
    )
    osc: Osc = Field(default_factory=Osc, description="OSC out to TouchDesigner, Ableton, lighting desks.")
    control: Control = Field(default_factory=Control, description="OSC in: cues and parameters.")
    midi: Midi = Field(default_factory=Midi, description="MIDI out: features as CCs, events as notes.")
    input_loss: InputLoss = Field(
        default_factory=InputLoss, description="Camera and tracking loss: hold, fade, fallback, neutral."
    )
    render: Render = Field(default_factory=Render, description="The stage picture: scenes drawn with OpenGL.")
    outputs: Outputs = Field(default_factory=Outputs, description="Outputs of the show.")
    panel: Panel = Field(
        default_factory=Panel, description="The operator's web panel: scenes, events, parameters, health."
    )

    def looping_targets(self) -> list[Target]:
        """The OSC targets aimed at this show's own cue port: perform would hear itself."""
        c = self.control
        if not (c.enabled and self.osc.enabled):
            return []
        return [t for t in self.osc.targets if loops_back(t.host, t.port, c.host, c.port)]
