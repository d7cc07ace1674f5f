import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from perform.capture import CaptureStage, ImageFolder, Pattern, StillImage, Transform, VideoFile, draw_pattern
from perform.capture.config import FolderSource, ImageSource, PatternSource, VideoSource
from perform.errors import SourceError
from perform.pipeline import Frame, Slot, StageState, Stats
from perform.schema import Crop
from tests.fakes import FakeCamera, wait_until


def write_video(path: Path, frames: int, fps: float, size=(96, 64)) -> Path:
    """A video whose frame i is uniformly gray level 10 * i (so the decoded index is readable)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), 10 * i, np.uint8))
    writer.release()
    return path


def frame_index(image: np.ndarray) -> int:
    return round(float(image.mean()) / 10)


class Collector:
    """Reads a slot on its own thread like a downstream stage would."""

    def __init__(self, slot: Slot[Frame]) -> None:
        self.reader = slot.reader("collector")
        self.frames: list[Frame] = []
        self.arrivals: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.reader.get(0.05)
            if frame is not None:
                self.frames.append(frame)
                self.arrivals.append(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(1.0)


def run_capture(open_source, seconds: float, until=None, **settings):
    """Run a capture stage ``seconds``, or until ``until(stage, collector)`` holds, ``seconds`` at most."""
    from perform.capture.config import CaptureSettings

    stats = Stats()
    slot: Slot[Frame] = Slot("frames")
    stage = CaptureStage(stats, open_source, slot, settings=CaptureSettings(**settings))
    collector = Collector(slot)
    stage.start()
    if until is None:
        time.sleep(seconds)
    else:
        wait_until(lambda: until(stage, collector), seconds)
    stage.stop()
    stage.join(1.0)
    collector.stop()
    return stage, collector, stats


def test_video_plays_at_native_rate_and_loops(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=10, fps=20)
    stage, got, _ = run_capture(
        lambda: VideoFile(VideoSource(kind="video", path=path)),
        20.0,
        until=lambda _, got: len(got.frames) >= 2 and got.frames[-1].seq >= 30,
    )
    frames = got.frames
    assert len(frames) >= 2 and frames[-1].seq >= 30  # past the end of the clip twice
    # the rate from the capture times: 20 fps, never faster; slower only when the machine is busy
    seqs = np.array([f.seq for f in frames])
    times = np.array([f.t_capture for f in frames])
    rate = (seqs[-1] - seqs[0]) / (times[-1] - times[0])
    span = seqs[-1] - seqs[0]  # the first frame seen may have left up to two periods late
    assert 14 <= rate <= 20 * span / (span - 2)
    assert np.median(np.diff(times) / np.diff(seqs)) == pytest.approx(0.05, abs=0.01)
    # a latest-wins reader may miss frames, but each one it got is frame seq % 10: 9 wraps to 0
    assert all(np.diff(seqs) > 0)
    assert [frame_index(f.image) for f in frames] == [s % 10 for s in seqs]
    assert stage.opens == 1


def test_video_fast_runs_ahead_of_its_rate_and_ends_without_loop(tmp_path):
    path = write_video(tmp_path / "clip.avi", frames=25, fps=5)
    stage, got, _ = run_capture(
        lambda: VideoFile(VideoSource(kind="video", path=path, loop=False, fast=True)),
        10.0,
        until=lambda stage, _: stage.state is StageState.ENDED,
    )
    assert stage.state is StageState.ENDED
    assert stage.output.closed
    assert len(got.frames) >= 1  # a fast reader may miss some: it is latest-wins
    assert all(frame_index(f.image) == f.seq for f in got.frames)
    last = stage.output.latest()  # what a reader got last may not be the last frame: the slot closed
    assert frame_index(last.image) == 24
    assert last.seq == 24


def test_source_that_raises_is_reopened_while_the_consumer_keeps_running():
    shared: dict = {}
    _, got, stats = run_capture(
        lambda: FakeCamera(fps=60, raise_after=20, shared=shared),
        10.0,
        until=lambda _, got: shared.get("opens", 0) >= 3 and len(got.frames) > 50,
        reopen_delay_s=0.05,
    )
    assert shared["opens"] >= 3  # failed after 20 frames, every time
    assert shared["closes"] >= shared["opens"] - 1
    assert stats.stage("capture").restarts == shared["opens"] - 1
    assert stats.stage("capture").errors >= 2
    assert len(got.frames) > 50  # frames kept arriving across the reopenings
    seqs = [f.seq for f in got.frames]
    assert seqs == sorted(set(seqs))  # seq keeps increasing across reopenings


def test_source_that_stalls_is_detected_and_replaced():
    shared: dict = {}
    _, got, stats = run_capture(
        lambda: FakeCamera(fps=60, stall_after=10, stall_s=None, shared=shared),
        10.0,
        until=lambda _, got: shared.get("opens", 0) >= 2 and len(got.frames) > 20,
        stall_timeout_s=0.3,
        reopen_delay_s=0.05,
    )
    assert shared["opens"] >= 2
    # frames arrived after the first stall, from the reopened source
    assert len(got.frames) > 20
    gaps = np.diff(got.arrivals)
    assert gaps.max() < 1.0  # stall timeout 0.3 s + reopen delay 0.05 s + scheduling slack
    assert stats.stage("capture").restarts >= 1


def test_camera_that_cannot_be_opened_is_retried_with_backoff():
    shared: dict = {}
    stage, got, stats = run_capture(
        lambda: FakeCamera(fps=60, fail_open=3, shared=shared),
        10.0,
        until=lambda _, got: shared.get("opens", 0) >= 4 and len(got.frames) > 60,
        reopen_delay_s=0.05,
        reopen_max_delay_s=0.2,
    )
    assert shared["opens"] == 4  # three refusals, then it stays open
    assert len(got.frames) > 60  # about a second open: it stayed open
    assert stats.stage("capture").errors == 3
    assert stage.state is StageState.STOPPED


def test_missing_video_is_reported_not_raised(tmp_path, caplog):
    _, got, stats = run_capture(
        lambda: VideoFile(VideoSource(kind="video", path=tmp_path / "nope.mp4")), 0.3, reopen_delay_s=0.05
    )
    assert got.frames == []
    assert stats.stage("capture").errors >= 1
    assert "nope.mp4: no such video file" in caplog.text


def test_pattern_is_deterministic_and_moves():
    a = draw_pattern(320, 180, 12, 30.0)
    b = draw_pattern(320, 180, 12, 30.0)
    c = draw_pattern(320, 180, 40, 30.0)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 1.0
    source = Pattern(PatternSource(kind="pattern", width=320, height=180, fps=480, fast=True))
    source.open()
    image, _ = source.read()
    assert image.shape == (180, 320, 3) and image.dtype == np.uint8


def test_still_image_and_folder(tmp_path):
    for i, color in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        img = np.zeros((20, 30, 3), np.uint8)
        img[:] = color  # BGR on disk
        cv2.imwrite(str(tmp_path / f"{i:02d}.png"), img)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "03.png").write_bytes(b"broken")
    folder = ImageFolder(FolderSource(kind="folder", path=tmp_path, fps=480, loop=False))
    folder.open()
    colors = []
    while (result := folder.read()) is not None:
        colors.append(tuple(int(v) for v in result[0][0, 0]))
    assert colors == [(0, 0, 255), (0, 255, 0), (255, 0, 0)]  # RGB, in name order, broken one skipped
    still = StillImage(ImageSource(kind="image", path=tmp_path / "01.png", fps=480))
    still.open()
    image, _ = still.read()
    assert image.shape == (20, 30, 3) and not image.flags.writeable
    with pytest.raises(SourceError, match="not an image"):
        StillImage(ImageSource(kind="image", path=tmp_path / "notes.txt")).open()


def test_transform_mirror_rotate_crop():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    assert np.array_equal(Transform(mirror=True)(image), image[:, ::-1])
    assert np.array_equal(Transform(rotate=90)(image), np.rot90(image, k=-1))
    assert np.array_equal(Transform(rotate=180)(image), image[::-1, ::-1])
    cropped = Transform(crop=Crop(left=0.5, top=0.25, bottom=0.25))(image)
    assert np.array_equal(cropped, image[1:3, 3:6])
    assert Transform().is_identity and Transform(crop=Crop()).is_identity
