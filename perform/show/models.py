"""The show file, as pydantic models. Each field's description is its documentation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from perform.audio.config import AudioConfig
from perform.events.config import EventsConfig
from perform.osc.config import Midi, Network, Osc
from perform.render.config import InputLoss, Render
from perform.schema import Model, SourceBase, _resolve
from perform.style.config import StyleConfig


class CameraSource(SourceBase):
    """A live camera through OpenCV."""

    kind: Literal["camera"]
    device: int | str = Field(0, description="Camera index (0, 1, ...) or device path such as /dev/video2.")
    width: int = Field(
        1280, gt=0, le=7680, description="Requested width in pixels; the camera may pick another."
    )
    height: int = Field(720, gt=0, le=4320, description="Requested height in pixels.")
    fps: float = Field(30.0, gt=0, le=480, description="Requested frame rate.")
    mjpg: bool = Field(
        True, description="Ask for MJPG, which most USB cameras need for 720p at 30 fps and above."
    )


class VideoSource(SourceBase):
    """A video file, played at its own frame rate."""

    kind: Literal["video"]
    path: Path = Field(description="Video file, relative to the show file.")
    loop: bool = Field(True, description="Start again at the end; otherwise the show ends with the video.")
    fast: bool = Field(False, description="Deliver frames as fast as they decode, not at the file's rate.")

    _resolve_path = field_validator("path")(_resolve)


class ImageSource(SourceBase):
    """One still image, delivered as a stream."""

    kind: Literal["image"]
    path: Path = Field(description="Image file, relative to the show file.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second to deliver.")

    _resolve_path = field_validator("path")(_resolve)


class FolderSource(SourceBase):
    """The images of a folder in name order, as an image sequence."""

    kind: Literal["folder"]
    path: Path = Field(description="Folder of .jpg/.png/.bmp/.webp/.tif images, relative to the show file.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second to deliver.")
    loop: bool = Field(True, description="Start again after the last image.")

    _resolve_path = field_validator("path")(_resolve)


class PatternSource(SourceBase):
    """A synthetic test pattern with a moving figure; needs no camera."""

    kind: Literal["pattern"]
    width: int = Field(1280, gt=0, le=7680, description="Width in pixels.")
    height: int = Field(720, gt=0, le=4320, description="Height in pixels.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second.")
    fast: bool = Field(False, description="Deliver frames as fast as they are drawn.")


class VirtualSource(SourceBase):
    """Procedural performers (walk, raise arms, jump, spin, crouch, enter and leave); no camera, no model.

    Delivers poses directly, and a drawing of the skeletons as the camera image.
    """

    kind: Literal["virtual"]
    people: int = Field(2, ge=1, le=10, description="How many virtual performers take turns on stage.")
    seed: int = Field(0, description="Same seed, same performance.")
    width: int = Field(1280, gt=0, le=7680, description="Width of the virtual camera in pixels.")
    height: int = Field(720, gt=0, le=4320, description="Height of the virtual camera in pixels.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second.")
    fast: bool = Field(False, description="Deliver frames as fast as they are made.")


class TakeSource(SourceBase):
    """A recorded take (``perform run ... --take FILE``), replayed as if live."""

    kind: Literal["take"]
    path: Path = Field(description="Take file, relative to the show file.")
    speed: float = Field(1.0, gt=0, le=100, description="Playback speed: 1 is real time, 2 twice as fast.")
    loop: bool = Field(True, description="Start again at the end; otherwise the show ends with the take.")
    fast: bool = Field(False, description="Deliver frames as fast as they are read.")

    _resolve_path = field_validator("path")(_resolve)


class SenderPlacement(Model):
    """Where one sender's picture goes in the combined frame."""

    id: str = Field(min_length=1, description="The sender's source id (its `RemoteSender` source_id).")
    x: float = Field(0.0, ge=-10, le=10, description="Left edge, as a fraction of the combined width.")
    y: float = Field(0.0, ge=-10, le=10, description="Top edge, as a fraction of the combined height.")
    scale: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Width of the sender's picture as a fraction of the combined width; "
        "its height follows from the sender's aspect ratio.",
    )
    address: Network | None = Field(
        None,
        description="The address or network this sender streams from (192.168.1.21); its id is "
        "accepted from nowhere else (null: pinned to the first address it streams from).",
    )


class RemoteSource(SourceBase):
    """Poses streamed over OSC from other perform instances (one per camera), merged into one stage.

    Delivers poses directly, and a drawing of the skeletons as the camera image. mirror, rotate
    and crop are not applied here: set them on the sending machines.
    """

    kind: Literal["remote"]
    port: int = Field(9100, ge=0, le=65535, description="UDP port the senders stream to (0: any free port).")
    host: str = Field("0.0.0.0", description="Interface to listen on; 0.0.0.0 is every interface.")
    senders: list[SenderPlacement] = Field(
        default_factory=list,
        description="Each sender's place in the combined frame. Empty: every sender fills the whole "
        "frame; otherwise senders not listed are ignored (and counted).",
    )
    timeout_s: float = Field(
        1.0, gt=0, le=60, description="A sender silent this long is dropped and its people leave."
    )
    width: int = Field(1280, gt=0, le=7680, description="Width of the combined frame in pixels.")
    height: int = Field(720, gt=0, le=4320, description="Height of the combined frame in pixels.")
    fps: float = Field(30.0, gt=0, le=480, description="Rate at which the merged poses are published.")
    max_people: int = Field(
        4, ge=1, le=10, description="Most people tracked over all senders (at least pose.max_people)."
    )
    allow: list[Network] = Field(
        default_factory=list,
        description="Addresses or networks senders may stream from (192.168.1.0/24); empty: any. "
        "See docs/remote-security.md.",
    )
    key: str | None = Field(
        None,
        min_length=8,
        description="Shared key: accept only datagrams signed with it (the senders' osc.stream `key`).",
    )
    pin_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="A sender id is pinned to the address it streams from until it has been silent "
        "this long; datagrams claiming it from elsewhere are dropped (0: not pinned).",
    )
    max_skew_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="A frame time-tagged further than this from this machine's clock takes its arrival "
        "time instead (dropped when `key` is set), so a wrong clock cannot make real frames stale.",
    )
    max_senders: int = Field(
        16, ge=1, le=256, description="Most sender ids known at once; the longest silent makes room."
    )
    max_datagrams: int = Field(
        128,
        ge=1,
        le=4096,
        description="Most datagrams decoded per published frame; beyond it a flood is discarded unread "
        "(counted as `shed`), so the merged poses keep their rate.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> RemoteSource:
        ids = [s.id for s in self.senders]
        doubles = sorted({i for i in ids if ids.count(i) > 1})
        if doubles:
            raise ValueError(f"senders: each id once, got {', '.join(doubles)} more than once")
        return self


SourceConfig = Annotated[
    CameraSource
    | VideoSource
    | ImageSource
    | FolderSource
    | PatternSource
    | VirtualSource
    | TakeSource
    | RemoteSource,
    Field(discriminator="kind"),
]
#: Sources that deliver poses themselves, with no pose model.
POSE_SOURCES = (VirtualSource, TakeSource, RemoteSource)


class CaptureStage(Model):
    """How the capture stage watches its source."""

    stall_timeout_s: float = Field(
        1.0, gt=0, le=60, description="A source that delivers nothing for this long is reopened."
    )
    reopen_delay_s: float = Field(
        0.5, ge=0, le=60, description="Wait before the first reopen after a failure."
    )
    reopen_max_delay_s: float = Field(
        2.0, gt=0, le=300, description="Upper bound of the doubling wait between reopen attempts."
    )
    frozen_timeout_s: float | None = Field(
        3.0,
        gt=0,
        le=600,
        description="A camera that repeats the very same image this long is reopened (a live "
        "sensor never does; null: never). Files and stills are exempt.",
    )


class Smoothing(Model):
    """One Euro filtering of every landmark coordinate, after slot assignment."""

    enabled: bool = Field(True, description="Smooth landmarks; off passes the model's values through.")
    min_cutoff: float = Field(
        0.05,
        gt=0,
        le=100,
        description="Cutoff (Hz) when still: lower is steadier but lags more. MediaPipe: 0.05.",
    )
    beta: float = Field(
        80.0, ge=0, le=10000, description="How fast the cutoff rises with speed. MediaPipe: 80."
    )
    d_cutoff: float = Field(1.0, gt=0, le=100, description="Cutoff (Hz) of the speed estimate. MediaPipe: 1.")
    predict: bool = Field(
        False,
        description="Extrapolate each landmark by the measured capture-to-output latency "
        "(less lag, more overshoot).",
    )


class Tracking(Model):
    """How people keep their performer number (slot)."""

    grace_s: float = Field(
        1.0, ge=0, le=60, description="A person unseen this long leaves and frees their slot."
    )
    confirm_frames: int = Field(
        3, ge=1, le=60, description="Frames in a row a new person must be seen to enter."
    )
    slot_order: Literal["first", "leftmost", "nearest"] = Field(
        "first",
        description="Slot 1 is the person who entered first (stable), "
        "or who is leftmost or nearest the camera now.",
    )


TileCount = Annotated[int, Field(ge=1, le=8)]


class Pose(Model):
    """The pose stage: BlazePose landmarks and masks, performer slots, smoothing, features."""

    enabled: bool = Field(True, description="Run pose detection on the camera image.")
    backend: Literal["auto", "legacy", "twopass", "tasks"] = Field(
        "auto",
        description="legacy: MediaPipe solutions (1 person); twopass: BlazePose's models run by perform, "
        "multi-scale detection (several, finds far people); tasks: MediaPipe's PoseLandmarker (several); "
        "auto: legacy for max_people 1, else twopass.",
    )
    max_people: int = Field(
        10,
        ge=1,
        le=10,
        description="Most people tracked at once. 1 uses MediaPipe's legacy API (about 30 ms a frame on 2 "
        "cores); more uses the two-pass backend, whose cost grows with the people on stage: about 20 ms of "
        "landmarks per person refreshed (at most `landmark_budget` a frame) plus the detector's views "
        "(docs/multi-person.md).",
    )
    min_detection_confidence: float = Field(
        0.5, ge=0, le=1, description="Score a new person needs to be detected."
    )
    min_tracking_confidence: float = Field(
        0.5, ge=0, le=1, description="Score below which a tracked person is re-detected."
    )
    masks: bool = Field(True, description="Compute person segmentation masks (costs a few ms).")
    detect_every: int = Field(
        10,
        ge=1,
        le=300,
        description="twopass backend: look for new people every N frames (and whenever one is lost); "
        "in between, each person is followed from their last landmarks.",
    )
    proposals: Literal["motion", "grid"] = Field(
        "motion",
        description="twopass backend, where the detector looks for new people: motion (a fixed camera: "
        "where something moves, plus the whole frame; finds people from about 50 px tall cheaply) or grid "
        "(the whole frame and fixed tiles: a moving camera; still images always use the grid).",
    )
    landmark_budget: int = Field(
        4,
        ge=0,
        le=10,
        description="twopass backend: at most this many landmark runs a frame (0: everyone every frame); "
        "more people are refreshed in turns and carried forward by their motion in between.",
    )
    mask_smoothing_s: float = Field(
        0.1,
        ge=0,
        le=5,
        description="Time constant of the combined person mask's smoothing (0: none), so edges do not "
        "flicker.",
    )
    tiles: Literal["auto"] | TileCount | tuple[TileCount, TileCount] = Field(
        "auto",
        description="tasks backend: cut the frame into overlapping tiles so small people are found "
        "(auto: one strip per square of frame height; N strips; [columns, rows]). See docs/multi-person.md.",
    )
    smoothing: Smoothing = Field(default_factory=Smoothing, description="Landmark smoothing.")
    tracking: Tracking = Field(default_factory=Tracking, description="Performer slots.")
    features_window_s: float = Field(
        0.5, gt=0, le=10, description="Time window of movement features that look back (synchrony, jerk)."
    )


class Stages(Model):
    """Settings of the pipeline stages."""

    capture: CaptureStage = Field(default_factory=CaptureStage, description="The capture stage.")
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
    allow: list[str] = Field(
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

    _resolve_takes = field_validator("takes")(_resolve)

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError:
                raise ValueError(
                    f"expected an address or network such as 192.168.1.0/24 or 127.0.0.1, got {item!r}"
                ) from None
        return value


class Outputs(Model):
    """Where results go."""

    preview: bool = Field(
        True, description="Show the camera image in a window when a display exists (Esc or q quits)."
    )
    stats: Path | None = Field(None, description="Write the run's stats as JSON here when it ends.")
    status_hz: float = Field(4.0, gt=0, le=30, description="Refresh rate of the live terminal status.")

    _resolve_stats = field_validator("stats")(lambda v, info: None if v is None else _resolve(v, info))


class Show(Model):
    """A show: where frames come from, how the stages run, where results go."""

    name: str = Field("perform show", description="Shown in the status line and written to stats.")
    source: SourceConfig = Field(description="Where frames come from; `kind` picks the source type.")
    stages: Stages = Field(default_factory=Stages, description="Per-stage settings.")
    pose: Pose = Field(default_factory=Pose, description="Pose detection, tracking and features.")
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
