"""Styling files: still images, video files (with their sound) and folders of them.

Nothing here knows about networks: a job gets ``stylise(frames) -> frames`` (a batch of RGB
uint8 frames of one size in, the same number out) and reports progress as it goes. A video is
read and written with PyAV: every input frame gives one output frame with the same timestamp,
so the frame count and rate stay the input's; the sound is copied as it is (or re-encoded to
AAC when the output container cannot hold it). On Ctrl-C or a failure the encoder is flushed
and the file closed, so what was written so far plays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from perform.capture.files import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from perform.errors import PerformError

#: Audio codecs an mp4/mov/mkv file takes as they are; others are re-encoded to AAC.
_COPY_AUDIO = {"aac", "mp3", "ac3", "eac3", "alac", "opus"}

Stylise = Callable[[list[np.ndarray]], list[np.ndarray]]
#: ``progress(done, total)``: frames (or files) done so far, and the total when known.
Progress = Callable[[int, int | None], None]


class MediaError(PerformError):
    """An input that cannot be read or an output that cannot be written."""


@dataclass
class Result:
    """What a job wrote: ``done`` of ``total`` frames (or files); ``stopped`` says why it ended early."""

    output: Path
    done: int
    total: int | None
    fps: float = 0.0
    audio: str = ""  # "copied", "aac" or "" (none)
    stopped: str = ""  # "" when complete, else "interrupted" or the failure

    @property
    def complete(self) -> bool:
        return not self.stopped


def kind_of(path: Path) -> str:
    """``image``, ``video`` or ``folder``, from what ``path`` is; a MediaError otherwise."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return "video"
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    raise MediaError(
        f"{path}: expected an image ({', '.join(sorted(IMAGE_EXTENSIONS))}), "
        f"a video ({', '.join(sorted(VIDEO_EXTENSIONS))}) or a folder"
    )


def read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: expected an image file OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise MediaError(f"{path}: could not write an image there (is the suffix an image type?)")


def style_image(src: Path, dst: Path, stylise: Stylise) -> Result:
    rgb = read_image(src)
    write_image(dst, stylise([rgb])[0])
    return Result(dst, 1, 1)


def probe_video(path: Path) -> tuple[int | None, float, tuple[int, int], bool]:
    """(frame count or None, frames per second, (width, height), has sound) of a video file."""
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: expected a video stream, found none")
            v = container.streams.video[0]
            rate = float(v.average_rate or v.guessed_rate or 25)
            total = v.frames or None
            if total is None and v.duration and v.time_base:
                total = round(float(v.duration * v.time_base) * rate) or None
            if total is None and container.duration:
                total = round(container.duration / 1e6 * rate) or None
            return total, rate, (v.codec_context.width, v.codec_context.height), bool(container.streams.audio)
    except av.FFmpegError as exc:
        raise MediaError(f"{path}: expected a video file FFmpeg can read: {exc}") from None


def _batches(frames: Iterator[tuple[np.ndarray, av.VideoFrame]], size: int) -> Iterator[list]:
    batch: list[tuple[np.ndarray, av.VideoFrame]] = []
    for item in frames:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def style_video(
    src: Path,
    dst: Path,
    stylise: Stylise,
    *,
    batch: int = 4,
    progress: Progress | None = None,
    crf: int = 18,
) -> Result:
    """Stylise every frame of ``src`` into ``dst`` (H.264 for .mp4/.mov/.mkv, MJPEG for .avi).

    Returns what was written; on KeyboardInterrupt or a failure the file is closed playable and
    the returned :class:`Result` says where it stopped (nothing is raised for those).
    """
    total, rate, (width, height), _has_audio = probe_video(src)
    try:
        inp = av.open(str(src))
    except av.FFmpegError as exc:
        raise MediaError(f"{src}: expected a video file FFmpeg can read: {exc}") from None
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        out = av.open(str(dst), "w")
    except (av.FFmpegError, ValueError) as exc:
        inp.close()
        raise MediaError(
            f"{dst}: could not write a video there ({exc}); use .mp4, .mov, .mkv or .avi"
        ) from None
    result = Result(dst, 0, total, rate)
    vin = inp.streams.video[0]
    vin.thread_type = "AUTO"
    codec = "mjpeg" if dst.suffix.lower() == ".avi" else "libx264"
    vout = out.add_stream(codec, rate=Fraction(vin.average_rate or vin.guessed_rate or 25))
    vout.width, vout.height = width - width % 2, height - height % 2  # yuv420p needs even sizes
    vout.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
    if codec == "libx264":
        vout.options = {"crf": str(crf), "preset": "veryfast"}
    vout.time_base = vin.time_base
    ain = inp.streams.audio[0] if inp.streams.audio else None
    aout, resampler = None, None
    if ain is not None:
        if ain.codec_context.name in _COPY_AUDIO and codec == "libx264":
            aout = out.add_stream_from_template(ain)
            result.audio = "copied"
        else:
            aout = out.add_stream("aac", rate=ain.codec_context.sample_rate or 48000)
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=aout.rate)
            result.audio = "aac"

    def frames() -> Iterator[tuple[np.ndarray, av.VideoFrame]]:
        streams = [s for s in (vin, ain) if s is not None]
        for packet in inp.demux(*streams):
            if packet.stream is ain:
                _audio(packet)
            else:
                for frame in packet.decode():
                    yield frame.to_ndarray(format="rgb24"), frame
        if ain is not None and resampler is not None:  # flush the audio encoder's input side
            for frame in resampler.resample(None):
                out.mux(aout.encode(frame))

    def _audio(packet: av.Packet) -> None:
        if packet.dts is None:
            return
        if resampler is None:
            packet.stream = aout
            out.mux(packet)
            return
        for frame in packet.decode():
            for f in resampler.resample(frame):
                out.mux(aout.encode(f))

    def write(items: list[tuple[np.ndarray, av.VideoFrame]]) -> None:
        styled = stylise([rgb for rgb, _ in items])
        for n, ((_, source), image) in enumerate(zip(items, styled, strict=True), start=result.done):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame.time_base = vin.time_base
            # the input's timestamp; a frame without one goes where the frame rate puts it
            frame.pts = source.pts if source.pts is not None else round(n / rate / vin.time_base)
            out.mux(vout.encode(frame))
        result.done += len(items)
        if progress is not None:
            progress(result.done, total)

    try:
        for items in _batches(frames(), max(1, batch)):
            write(items)
    except KeyboardInterrupt:
        result.stopped = "interrupted"
    except Exception as exc:
        result.stopped = f"{type(exc).__name__}: {exc}"
    finally:
        try:
            out.mux(vout.encode(None))
            if aout is not None and resampler is not None:
                out.mux(aout.encode(None))
        finally:
            out.close()
            inp.close()
    if result.done == 0 and not result.stopped:
        raise MediaError(f"{src}: the video has no frames FFmpeg can decode")
    return result


def folder_jobs(src: Path, dst: Path) -> list[tuple[Path, Path]]:
    """(input, output) for each image and video under ``src``, mirrored under ``dst``."""
    if dst.exists() and not dst.is_dir():
        raise MediaError(f"{dst}: expected a folder for the output of a folder")
    jobs = [(p, dst / p.relative_to(src)) for p in sorted(src.rglob("*"))
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS | VIDEO_EXTENSIONS]  # fmt: skip
    if not jobs:
        raise MediaError(f"{src}: expected images or videos in this folder, found none")
    return jobs
