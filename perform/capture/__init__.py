"""Where frames come from: cameras, video files, images, folders and a test pattern."""

from __future__ import annotations

from collections.abc import Callable

from perform.capture.base import Pacer, Source
from perform.capture.camera import Camera
from perform.capture.config import (
    CameraSource,
    FolderSource,
    FrameSourceConfig,
    ImageSource,
    PatternSource,
    VideoSource,
)
from perform.capture.files import ImageFolder, StillImage, VideoFile
from perform.capture.pattern import Pattern, draw_pattern
from perform.capture.stage import CaptureStage
from perform.capture.transform import Transform

BACKENDS: dict[type, Callable[..., Source]] = {
    CameraSource: Camera,
    VideoSource: VideoFile,
    ImageSource: StillImage,
    FolderSource: ImageFolder,
    PatternSource: Pattern,
}


def make_source(config: FrameSourceConfig) -> Source:
    """A new, unopened source backend for a source config."""
    return BACKENDS[type(config)](config)


__all__ = [
    "BACKENDS",
    "Camera",
    "CaptureStage",
    "ImageFolder",
    "Pacer",
    "Pattern",
    "Source",
    "StillImage",
    "Transform",
    "VideoFile",
    "draw_pattern",
    "make_source",
]
