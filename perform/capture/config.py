"""The capture section of a show file: frame sources (``source.kind``) and ``stages.capture``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator

from perform.schema import Model, SourceBase, resolve_path


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

    _resolve_path = field_validator("path")(resolve_path)


class ImageSource(SourceBase):
    """One still image, delivered as a stream."""

    kind: Literal["image"]
    path: Path = Field(description="Image file, relative to the show file.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second to deliver.")

    _resolve_path = field_validator("path")(resolve_path)


class FolderSource(SourceBase):
    """The images of a folder in name order, as an image sequence."""

    kind: Literal["folder"]
    path: Path = Field(description="Folder of .jpg/.png/.bmp/.webp/.tif images, relative to the show file.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second to deliver.")
    loop: bool = Field(True, description="Start again after the last image.")

    _resolve_path = field_validator("path")(resolve_path)


class PatternSource(SourceBase):
    """A synthetic test pattern with a moving figure; needs no camera."""

    kind: Literal["pattern"]
    width: int = Field(1280, gt=0, le=7680, description="Width in pixels.")
    height: int = Field(720, gt=0, le=4320, description="Height in pixels.")
    fps: float = Field(30.0, gt=0, le=480, description="Frames per second.")
    fast: bool = Field(False, description="Deliver frames as fast as they are drawn.")


class NdiSource(SourceBase):
    """An NDI source on the network (a camera, TouchDesigner's NDI Out TOP, OBS), found by name."""

    kind: Literal["ndi"]
    name: str = Field(
        min_length=1, description="The source's name: `HOST (NAME)` as `perform devices` lists it, or NAME."
    )
    find_s: float = Field(
        0.5, gt=0, le=60, description="How long to wait for the source to be in sight on each try."
    )
    timeout_s: float = Field(
        2.0, gt=0, le=60, description="A source that sends nothing this long is looked for again."
    )


#: The sources the capture stage reads frames from (the others deliver poses).
FrameSourceConfig = CameraSource | VideoSource | ImageSource | FolderSource | PatternSource | NdiSource


class CaptureSettings(Model):
    """How the capture stage watches its source."""

    model_config = ConfigDict(title="CaptureStage")  # its name in docs/show-file.md

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
