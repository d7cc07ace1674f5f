"""Where frames come from: cameras, video files, images, folders, a test pattern and NDI."""

from __future__ import annotations

from collections.abc import Callable

from perform.capture.base import Pacer, Source
from perform.capture.camera import Camera
from perform.capture.config import (
    CameraSource,
    FolderSource,
    FrameSourceConfig,
    ImageSource,
    NdiSource,
    PatternSource,
    VideoSource,
)
from perform.capture.files import ImageFolder, StillImage, VideoFile
from perform.capture.pattern import Pattern, draw_pattern
from perform.capture.stage import CaptureStage
from perform.capture.transform import Transform


def _ndi_input(config: NdiSource) -> Source:
    from perform.capture.ndi import NdiInput  # cyndilib only when a show reads NDI

    return NdiInput(config)


BACKENDS: dict[type, Callable[..., Source]] = {
    CameraSource: Camera,
    VideoSource: VideoFile,
    ImageSource: StillImage,
    FolderSource: ImageFolder,
    PatternSource: Pattern,
    NdiSource: _ndi_input,
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
