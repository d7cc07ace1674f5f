"""Frames from a file, through the same perception and events as a show, at full speed.

A video and a take go through tracking, slots, smoothing, features and events frame by frame,
timed by the file (frame / fps), not the wall clock. A folder holds unrelated photographs: each
image is found on its own as ``perform pose IMAGE`` finds it (slots 1, 2, ... best first, no
smoothing), then its features and events are computed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from perform.capture.config import VideoSource
from perform.capture.files import DEFAULT_VIDEO_FPS, IMAGE_EXTENSIONS, VideoFile, read_image
from perform.errors import PerformError, SourceError
from perform.events.config import EventsConfig
from perform.events.stage import EventEngine
from perform.events.types import Event
from perform.pipeline import Frame
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.take import read_take
from perform.vision.types import Body, Poses

TAKE_SUFFIX = ".take"


@dataclass(frozen=True)
class Analysed:
    """One frame's result: its index, file time, name (an image's path), poses and events."""

    index: int
    time_s: float
    name: str
    poses: Poses
    events: tuple[Event, ...]
    image: np.ndarray | None  # RGB; None for a take


@dataclass(frozen=True)
class Skipped:
    """A frame or image that could not be read, by name, and why."""

    name: str
    reason: str


def input_kind(path: Path) -> str:
    """``image``, ``folder``, ``take`` or ``video``, from what ``path`` is."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if not path.exists():
        raise PerformError(f"{path}: no such file or folder")
    return "take" if suffix == TAKE_SUFFIX else "video"


def folder_images(folder: Path) -> list[Path]:
    """The images of a folder, in name order (as a folder source plays them)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise PerformError(f"{folder}: holds no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return files


def probe(path: Path, kind: str) -> tuple[int | None, float]:
    """How many frames ``path`` holds (None when unknown: a video's header may lack it) and its fps."""
    if kind == "folder":
        return len(folder_images(path)), DEFAULT_VIDEO_FPS
    if kind != "video":
        return None, DEFAULT_VIDEO_FPS
    cap = cv2.VideoCapture(str(path))
    n, fps = (int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), cap.get(cv2.CAP_PROP_FPS)) if cap.isOpened() else (0, 0)
    cap.release()
    return (n if n > 0 else None), (fps if 0 < fps < 1000 else DEFAULT_VIDEO_FPS)


class Analysis:
    """Images in, :class:`Poses` and events out: the pose and events stages with no thread."""

    def __init__(
        self, pose: PoseConfig | None = None, events: EventsConfig | None = None, stills: bool = False
    ) -> None:
        self.pose = pose if pose is not None else PoseConfig()
        self.stills = stills
        self.backend = make_backend(self.pose, static_images=stills)
        self.perception = Perception(self.pose)
        self.events = EventEngine(events)

    def __call__(self, image: np.ndarray, index: int, t: float, name: str = "") -> tuple[Poses, list[Event]]:
        h, w = image.shape[:2]
        frame = Frame(image, index, t, name)  # hands and face, when the config asks, look at it
        if not self.stills:
            poses = self.perception(self.backend(image, t), index, t, w, h, frame)
            return poses, self.events.update(poses)
        # each photograph on its own, exactly as `perform pose IMAGE` sees it
        reset = getattr(self.backend, "reset", None)
        if reset is not None:
            reset()
        people = self.backend(image, 0.0)
        bodies = [Body(n, d.landmarks, d.world, d.score, d.mask) for n, d in enumerate(people, start=1)]
        self.perception.reset()
        self.events.reset()
        poses = self.perception.finish(bodies, index, t, w, h, frame=frame)
        return poses, self.events.update(poses)

    def close(self) -> None:
        self.backend.close()


def read_input(
    path: Path,
    kind: str,
    pose: PoseConfig | None = None,
    events: EventsConfig | None = None,
    skipped: Callable[[Skipped], None] | None = None,
) -> Iterator[Analysed]:
    """Every readable frame of a video, folder or take, analysed; ``skipped`` hears of the others."""
    if kind == "take":
        yield from _take(path, EventEngine(events))
        return
    analysis = Analysis(pose, events, stills=kind == "folder")
    try:
        for index, (name, t, image) in enumerate(_images(path, kind, skipped)):
            poses, fired = analysis(image, index, t, name)
            yield Analysed(index, t, name, poses, tuple(fired), image)
    finally:
        analysis.close()


def _images(
    path: Path, kind: str, skipped: Callable[[Skipped], None] | None
) -> Iterator[tuple[str, float, np.ndarray]]:
    if kind == "folder":
        n = 0
        for file in folder_images(path):
            try:
                image = read_image(file)
            except SourceError as exc:  # a broken photograph costs itself, not the run
                if skipped is not None:
                    skipped(Skipped(str(file), str(exc).removeprefix(f"{file}: ")))
                continue
            yield str(file), n / DEFAULT_VIDEO_FPS, image
            n += 1
        return
    video = VideoFile(VideoSource(kind="video", path=path, loop=False, fast=True))
    video.open()
    fps = video.fps
    try:
        n = 0
        while (frame := video.read()) is not None:
            yield f"{path}#{n}", n / fps, frame[0]
            n += 1
    finally:
        video.close()


def _take(path: Path, engine: EventEngine) -> Iterator[Analysed]:
    header, records = read_take(path)
    w, h = int(header["width"]), int(header["height"])
    for index, r in enumerate(records):
        poses = Poses(r.seq, r.t, w, h, r.bodies, r.features, r.events, r.mask)
        yield Analysed(index, r.t, f"{path}#{index}", poses, tuple(engine.update(poses)), None)
