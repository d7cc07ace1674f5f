"""The pose section of a show file (``pose``), and the sources that deliver poses with no model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from perform.schema import Model, SourceBase, resolve_path


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

    _resolve_path = field_validator("path")(resolve_path)


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


class DetailConfig(Model):
    """Hands and face per performer, cut from the body (docs/hands-face.md)."""

    hands: bool = Field(False, description="Find each chosen performer's hands (21 landmarks each).")
    face: bool = Field(False, description="Find each chosen performer's face (468 landmarks).")
    slots: list[int] | None = Field(
        None, description="Performers (slot numbers) who get hands and face, e.g. [1]; empty: everyone."
    )
    every: int = Field(
        2,
        ge=1,
        le=30,
        description="Measure each hand and face every N frames (they take turns); in between they "
        "follow the body. 2 adds about a quarter to one performer's body time on 2 cores, 1 about 60 %.",
    )
    between: Literal["carry", "hold"] = Field(
        "carry",
        description="Between measurements: carry hands and face along with the body's wrists and head, "
        "or hold them where they were measured.",
    )
    hand_model: Literal["full", "lite"] = Field(
        "lite",
        description="MediaPipe's hand landmark model: lite (about 3 ms a hand on one core) or full "
        "(about 6 ms, steadier fingertips).",
    )
    min_presence: float = Field(
        0.5, ge=0, le=1, description="Presence score under which a hand or face is not found."
    )
    smoothing: Smoothing = Field(
        default_factory=Smoothing, description="One Euro smoothing of hand and face landmarks."
    )


TileCount = Annotated[int, Field(ge=1, le=8)]


class PoseConfig(Model):
    """The pose stage: BlazePose landmarks and masks, performer slots, smoothing, features."""

    model_config = ConfigDict(title="Pose")  # its name in docs/show-file.md

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
    detail: DetailConfig = Field(
        default_factory=DetailConfig,
        description="Hands and face per performer (off by default; docs/hands-face.md).",
    )
