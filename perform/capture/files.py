"""Sources that play files: a video, one still image, a folder of images."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from perform.capture.base import Pacer, Source
from perform.capture.config import FolderSource, ImageSource, VideoSource
from perform.errors import SourceError

log = logging.getLogger(__name__)

DEFAULT_VIDEO_FPS = 30.0
#: What a folder source reads, and what ``--source`` takes for a still image.
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
#: What ``--source`` and ``perform style apply`` take for a video file.
VIDEO_EXTENSIONS = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv"}


def read_image(path: Path) -> np.ndarray:
    """An image file as read-only RGB, or SourceError saying why not."""
    if not path.is_file():
        raise SourceError(f"{path}: no such image file")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SourceError(f"{path}: not an image OpenCV can read")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rgb.setflags(write=False)
    return rgb


class VideoFile(Source):
    """A video file at its native frame rate (or as fast as it decodes), looping if asked."""

    def __init__(self, config: VideoSource) -> None:
        self.config = config
        self.name = f"video {config.path.name}"
        self._cap: cv2.VideoCapture | None = None
        self.fps = DEFAULT_VIDEO_FPS
        self._pacer = Pacer(None)
        self._decoded = 0

    def open(self) -> None:
        path = self.config.path
        if not path.is_file():
            raise SourceError(f"{path}: no such video file")
        cap = cv2.VideoCapture(str(path))
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"{path}: not a video OpenCV can decode")
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else DEFAULT_VIDEO_FPS
        self._cap = cap
        self._pacer = Pacer(None if self.config.fast else self.fps)
        self._decoded = 0
        self.name = f"video {path.name} {self.fps:g} fps"

    def read(self) -> tuple[np.ndarray, float] | None:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, bgr = self._cap.read()
        if not ok and self._decoded == 0:
            raise SourceError(f"{self.config.path}: no frame could be decoded (not a video?)")
        if not ok:
            if not self.config.loop:
                return None
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._cap.read()
            if not ok:
                raise SourceError(f"{self.config.path}: cannot seek back to the start to loop")
        self._decoded += 1
        t_capture = self._pacer.wait()
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t_capture

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class StillImage(Source):
    """One image delivered ``fps`` times a second."""

    def __init__(self, config: ImageSource) -> None:
        self.config = config
        self.name = f"image {config.path.name}"
        self._image: np.ndarray | None = None
        self._pacer = Pacer(config.fps)

    def open(self) -> None:
        self._image = read_image(self.config.path)
        self._pacer.reset()

    def read(self) -> tuple[np.ndarray, float] | None:
        if self._image is None:
            raise SourceError(f"{self.name} is not open")
        return self._image, self._pacer.wait()

    def close(self) -> None:
        self._image = None


class ImageFolder(Source):
    """The images of a folder in name order at ``fps``."""

    def __init__(self, config: FolderSource) -> None:
        self.config = config
        self.name = f"folder {config.path.name}"
        self._files: list[Path] = []
        self._index = 0
        self._pacer = Pacer(config.fps)

    def open(self) -> None:
        folder = self.config.path
        if not folder.is_dir():
            raise SourceError(f"{folder}: no such folder")
        self._files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)
        if not self._files:
            raise SourceError(f"{folder}: holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self._index = 0
        self._pacer.reset()
        self.name = f"folder {folder.name} ({len(self._files)} images)"

    def read(self) -> tuple[np.ndarray, float] | None:
        if not self._files:
            raise SourceError(f"{self.name} is not open")
        while True:
            if not self._files:
                raise SourceError(f"{self.config.path}: none of its images can be read")
            if self._index >= len(self._files):
                if not self.config.loop:
                    return None
                self._index = 0
            try:
                image = read_image(self._files[self._index])
            except SourceError as exc:  # skip the broken file, keep the sequence going
                log.warning("%s (skipped)", exc)
                del self._files[self._index]
                continue
            self._index += 1
            return image, self._pacer.wait()

    def close(self) -> None:
        self._files = []
