import re
import time
import tracemalloc
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from perform.errors import ConfigError, StageError
from perform.render import record
from perform.render.record import VideoRecorder, save_screenshot

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def colour_bar(i: int, width: int = 320, height: int = 240, channels: int = 3) -> np.ndarray:
    """Frame ``i`` top-down: red top half, blue bottom half, a green bar moving right 5 px a frame."""
    image = np.zeros((height, width, channels), np.uint8)
    image[: height // 2, :, :3] = RED
    image[height // 2 :, :, :3] = BLUE
    x = (5 * i) % (width - 20)
    image[:, x : x + 20, :3] = GREEN
    if channels == 4:
        image[..., 3] = 255
    return image


def bottom_up(image: np.ndarray) -> np.ndarray:
    """What an OpenGL framebuffer read gives: the bottom row first, in a fresh buffer."""
    return np.ascontiguousarray(image[::-1])


def wait_until_taken(recorder: VideoRecorder, submitted: int, timeout: float = 5.0) -> None:
    """Pace a test like a render loop slower than the encoder: every frame gets encoded."""
    deadline = time.monotonic() + timeout
    while recorder.frames + recorder.dropped < submitted and recorder.error is None:
        assert time.monotonic() < deadline, "the encoder did not take the frame"
        time.sleep(0.001)


def decode(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def test_records_frames_at_render_time_and_right_side_up(tmp_path):
    path = tmp_path / "show.mp4"
    sources = [colour_bar(i) for i in range(60)]
    recorder = VideoRecorder(path, 320, 240, 30.0)
    assert recorder.codec in ("libx264", "libopenh264", "mpeg4")
    for i, image in enumerate(sources):
        recorder.submit(bottom_up(image), i / 30)
        wait_until_taken(recorder, i + 1)
    stats = recorder.close()

    assert stats["path"] == str(path)
    assert (stats["frames"], stats["dropped"], stats["error"], stats["finished"]) == (60, 0, None, True)
    assert stats["seconds"] == pytest.approx(2.0, abs=0.01)
    assert stats["encode_ms_p50"] > 0
    frames = decode(path)
    assert len(frames) == 60
    assert [f.time for f in frames] == pytest.approx([i / 30 for i in range(60)], abs=0.002)
    with av.open(str(path)) as container:
        assert float(container.duration / av.time_base) == pytest.approx(2.0, abs=0.05)

    for i in (0, 29, 59):
        decoded = frames[i].to_ndarray(format="rgb24")
        assert decoded.shape == (240, 320, 3)
        assert np.abs(decoded.astype(int) - sources[i]).mean() < 4.0
        top, bottom = decoded[:100].reshape(-1, 3).mean(0), decoded[140:].reshape(-1, 3).mean(0)
        assert top[0] > 150 and top[2] < 100, f"expected a red top, got {top}"
        assert bottom[2] > 150 and bottom[0] < 100, f"expected a blue bottom, got {bottom}"


def test_top_down_rgba_frames_and_odd_sizes(tmp_path):
    path = tmp_path / "odd.mp4"
    recorder = VideoRecorder(path, 321, 241, 30.0, bottom_up=False)
    for i in range(10):
        recorder.submit(colour_bar(i, 321, 241, channels=4), i / 30)
        wait_until_taken(recorder, i + 1)
    stats = recorder.close()
    assert stats["frames"] == 10 and stats["size"] == "320x240"
    frames = decode(path)
    assert len(frames) == 10 and (frames[0].width, frames[0].height) == (320, 240)
    decoded = frames[3].to_ndarray(format="rgb24")
    assert np.abs(decoded.astype(int) - colour_bar(3, 321, 241)[:240, :320]).mean() < 4.0


def test_dropped_frames_keep_real_time(tmp_path):
    path = tmp_path / "gaps.mp4"
    recorder = VideoRecorder(path, 320, 240, 30.0)
    for n, i in enumerate(range(0, 60, 3)):  # the render loop managed only every third frame
        recorder.submit(bottom_up(colour_bar(i)), 100.0 + i / 30)  # any clock: t counts from the first
        wait_until_taken(recorder, n + 1)
    recorder.close()
    frames = decode(path)
    assert len(frames) == 20
    assert frames[-1].time == pytest.approx(57 / 30, abs=0.002)


def test_a_timestamp_that_does_not_increase_is_skipped(tmp_path):
    recorder = VideoRecorder(tmp_path / "stale.mp4", 320, 240, 30.0)
    for n, t in enumerate((0.0, 0.1, 0.1, 0.05, 0.2)):
        recorder.submit(bottom_up(colour_bar(n)), t)
        wait_until_taken(recorder, n + 1)
    stats = recorder.close()
    assert (stats["frames"], stats["dropped"]) == (3, 2)
    assert len(decode(tmp_path / "stale.mp4")) == 3


def test_submitting_faster_than_the_encoder_drops_instead_of_queueing(tmp_path):
    path = tmp_path / "flood.mp4"
    base = colour_bar(0, 1280, 720)
    frame_bytes = base.nbytes
    recorder = VideoRecorder(path, 1280, 720, 30.0)
    tracemalloc.start()
    try:
        start = time.perf_counter()
        for i in range(500):
            recorder.submit(base.copy(), i / 30)  # a fresh buffer each time, like fbo.read()
        submit_s = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    stats = recorder.close(timeout=5.0)

    assert stats["finished"] and stats["error"] is None
    assert stats["submitted"] == 500
    assert stats["dropped"] > 0
    assert stats["frames"] + stats["dropped"] == 500
    assert peak < 12 * frame_bytes, f"expected a few frames in flight, {peak / frame_bytes:.0f} were"
    assert submit_s < 2.0  # submit never waits for the encoder
    assert len(decode(path)) == stats["frames"]


def test_an_encoder_failure_stops_the_recording_but_keeps_what_was_written(tmp_path, caplog):
    path = tmp_path / "fails.mp4"
    recorder = VideoRecorder(path, 320, 240, 30.0)
    encode, calls = recorder._encode, []

    def fail_after_ten(pixels: np.ndarray, pts: int) -> None:
        calls.append(pts)
        if len(calls) > 10:
            raise av.error.ExternalError(-1, "encoder gave up")  # what a broken codec raises
        encode(pixels, pts)

    recorder._encode = fail_after_ten
    for i in range(11):
        recorder.submit(bottom_up(colour_bar(i)), i / 30)
        wait_until_taken(recorder, i + 1)
    assert not recorder.recording
    recorder.submit(bottom_up(colour_bar(11)), 11 / 30)  # the show goes on: a no-op, no exception
    stats = recorder.close()

    assert stats["frames"] == 10 and stats["submitted"] == 11
    assert "encoder gave up" in stats["error"]
    assert sum("recording to" in r.message and "stopped" in r.message for r in caplog.records) == 1
    assert len(decode(path)) == 10  # flushed and closed: the ten frames play


def test_submit_checks_the_frame_shape(tmp_path):
    recorder = VideoRecorder(tmp_path / "shape.mp4", 320, 240, 30.0)
    with pytest.raises(ValueError, match=r"expected \(240,320,3\|4\) uint8, got \(320, 240, 3\)"):
        recorder.submit(np.zeros((320, 240, 3), np.uint8), 0.0)
    with pytest.raises(ValueError, match="float32"):
        recorder.submit(np.zeros((240, 320, 3), np.float32), 0.0)
    assert recorder.close()["frames"] == 0


@pytest.mark.parametrize("name", ["under-a-file/show.mp4", "a-folder"])
def test_an_unwritable_path_fails_at_construction_naming_the_file(tmp_path, name):
    (tmp_path / "under-a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    path = tmp_path / name
    with pytest.raises(ConfigError, match=re.escape(str(path))) as info:
        VideoRecorder(path, 320, 240, 30.0)
    assert info.value.path == path
    assert "cannot write a video here" in str(info.value)


def test_falls_back_to_the_next_encoder_and_says_which_once(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(record, "CODECS", ("no-such-encoder", "mpeg4"))
    monkeypatch.setattr(record, "_logged_codecs", set())
    caplog.set_level("INFO", logger="perform.render.record")
    for name in ("a.mp4", "b.mp4"):
        recorder = VideoRecorder(tmp_path / name, 320, 240, 30.0)
        assert recorder.codec == "mpeg4"
        for i in range(5):
            recorder.submit(bottom_up(colour_bar(i)), i / 30)
            wait_until_taken(recorder, i + 1)
        assert recorder.close()["frames"] == 5
    assert [r.message for r in caplog.records] == ["recording with the mpeg4 encoder"]
    decoded = decode(tmp_path / "b.mp4")[4].to_ndarray(format="rgb24")
    assert np.abs(decoded.astype(int) - colour_bar(4)).mean() < 8.0


def test_no_encoder_at_all_is_a_stage_error(tmp_path, monkeypatch):
    monkeypatch.setattr(record, "CODECS", ("no-such-encoder",))
    with pytest.raises(StageError, match="expected one of the encoders no-such-encoder, none opened"):
        VideoRecorder(tmp_path / "none.mp4", 320, 240, 30.0)


def test_an_unknown_container_suffix_is_reported(tmp_path):
    path = tmp_path / "show.notavideo"
    with pytest.raises(ConfigError, match=r"expected a video file name such as show\.mp4"):
        VideoRecorder(path, 320, 240, 30.0)
    assert not path.exists()


def test_screenshot_to_a_folder_and_to_a_file(tmp_path):
    image = colour_bar(0, channels=4)
    shot = save_screenshot(tmp_path / "shots", bottom_up(image))  # a new folder, named without a suffix
    assert shot.parent == tmp_path / "shots"
    assert re.fullmatch(r"perform-\d{8}-\d{6}-\d{3}\.png", shot.name)
    assert np.array_equal(cv2.cvtColor(cv2.imread(str(shot)), cv2.COLOR_BGR2RGB), image[..., :3])

    again = save_screenshot(tmp_path / "shots", bottom_up(image))  # an existing folder
    assert again.parent == shot.parent

    named = save_screenshot(tmp_path / "deep" / "er" / "cue-12.png", image[..., :3], bottom_up=False)
    assert named == tmp_path / "deep" / "er" / "cue-12.png"
    assert np.array_equal(cv2.cvtColor(cv2.imread(str(named)), cv2.COLOR_BGR2RGB), image[..., :3])


def test_screenshot_errors_name_the_path(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    path = tmp_path / "file" / "shot.png"
    with pytest.raises(ConfigError, match=re.escape(str(path))):
        save_screenshot(path, colour_bar(0))
