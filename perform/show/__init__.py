"""The show file: what a performance runs, validated at the boundary."""

from perform.show.loader import load_model, load_show
from perform.show.models import (
    CameraSource,
    FolderSource,
    ImageSource,
    PatternSource,
    Show,
    SourceConfig,
    VideoSource,
)
from perform.show.sourcespec import parse_source

__all__ = [
    "CameraSource",
    "FolderSource",
    "ImageSource",
    "PatternSource",
    "Show",
    "SourceConfig",
    "VideoSource",
    "load_model",
    "load_show",
    "parse_source",
]
