"""``perform style apply`` on videos and folders: frame count, rate and sound kept, progress shown,
a playable file after Ctrl-C or a failure. Real (tiny) video files written here with PyAV."""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from rich.console import Console

from perform.style.media import MediaError, Result, probe_video, style_video
from perform.style.model import save_model
from perform.style.nets import TransformerNet

torch.set_num_threads(1)
W, H, FPS, FRAMES = 64, 48, 12, 18


def make_clip(path: Path, frames: int = FRAMES, audio: bool = True, codec: str = "libx264") -> Path:
    """A clip of moving stripes at 12 fps, with a 440 Hz tone when ``audio``."""
    with av.open(str(path), "w") as out:
        v = out.add_stream(codec, rate=FPS)
        v.width, v.height = W, H
        v.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        a = out.add_stream("aac", rate=22050) if audio else None
        for i in range(frames):
            x = np.arange(W)[None, :, None]
            image = np.broadcast_to(((x + 4 * i) % 16 < 8) * 200 + 20, (H, W, 3)).astype(np.uint8)
            out.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")))
        if a is not None:
            n = 22050 * frames // FPS
            for start in range(0, n, 1024):
                t = (np.arange(1024) + start) / 22050
                frame = av.AudioFrame.from_ndarray(
                    (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = 22050, start
                out.mux(a.encode(frame))
            out.mux(a.encode(None))
        out.mux(v.encode(None))
    return path


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


def invert(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [255 - f for f in frames]


def test_video_keeps_frame_count_rate_and_sound(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4")
    seen: list[tuple[int, int | None]] = []
    result = style_video(
        src, tmp_path / "out.mp4", invert, batch=4, progress=lambda d, t: seen.append((d, t))
    )
    assert result.complete and result.done == FRAMES and result.audio == "copied"
    assert seen == [(4, FRAMES), (8, FRAMES), (12, FRAMES), (16, FRAMES), (18, FRAMES)]
    _total, fps, size, sound = probe_video(tmp_path / "out.mp4")
    assert (fps, size, sound) == (FPS, (W, H), True)
    assert decoded_frames(tmp_path / "out.mp4") == FRAMES
    with av.open(str(tmp_path / "out.mp4")) as c:
        first = next(c.decode(video=0)).to_ndarray(format="rgb24")
    assert abs(float(first[:, 0].mean()) - (255 - 220)) < 20  # the stylised (inverted) picture was written


def test_avi_input_with_mjpeg_output(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.avi", audio=False, codec="mjpeg")
    result = style_video(src, tmp_path / "out.avi", invert, batch=5)
    assert result.complete and result.done == FRAMES and result.audio == ""
    assert decoded_frames(tmp_path / "out.avi") == FRAMES


@pytest.mark.parametrize("fault", [KeyboardInterrupt, RuntimeError])
def test_interrupt_or_failure_leaves_a_playable_file(tmp_path: Path, fault: type[BaseException]) -> None:
    src = make_clip(tmp_path / "in.mp4")
    calls = 0

    def fails_on_third(frames: list[np.ndarray]) -> list[np.ndarray]:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise fault("boom")
        return frames

    result = style_video(src, tmp_path / "out.mp4", fails_on_third, batch=4)
    assert result.done == 8 and not result.complete
    assert (
        result.stopped == "interrupted"
        if fault is KeyboardInterrupt
        else "RuntimeError: boom" in result.stopped
    )
    assert decoded_frames(tmp_path / "out.mp4") == 8  # the moov atom is written: it plays


def test_unreadable_video_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MediaError, match="expected a video file FFmpeg can read"):
        style_video(bad, tmp_path / "out.mp4", invert)


# the command line ----------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    from perform.style.cli import add_style_parser

    p = argparse.ArgumentParser()
    add_style_parser(p.add_subparsers(dest="command"))
    return p


def tiny_models(folder: Path) -> Path:
    torch.manual_seed(0)
    save_model(
        folder / "tiny.pt", TransformerNet(width=4, blocks=1).eval(), name="tiny", architecture="realtime"
    )
    return folder


def test_cli_styles_a_video_with_progress(tmp_path: Path) -> None:
    from perform.style.cli import cmd_style

    src = make_clip(tmp_path / "in.mp4")
    models = tiny_models(tmp_path)
    console = Console(record=True, width=200, force_terminal=False)
    args = parser().parse_args(["style", "apply", "tiny", str(src), str(tmp_path / "out.mp4"), "--batch", "3",
                                "--models", str(models), "--device", "cpu"])  # fmt: skip
    assert cmd_style(args, console) == 0
    text = console.export_text()
    assert f"{FRAMES}/{FRAMES}" in text and "fps" in text
    assert f"wrote {tmp_path / 'out.mp4'} ({FRAMES} of {FRAMES} frames at {FPS} fps, sound copied)" in text
    assert decoded_frames(tmp_path / "out.mp4") == FRAMES


def test_cli_ctrl_c_says_what_was_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from perform.style import stage
    from perform.style.cli import cmd_style

    src = make_clip(tmp_path / "in.mp4")
    models = tiny_models(tmp_path)
    real = stage.Stylizer.run_batch
    calls = 0

    def interrupted(self: stage.Stylizer, frames: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise KeyboardInterrupt
        return real(self, frames)

    monkeypatch.setattr(stage.Stylizer, "run_batch", interrupted)
    console = Console(record=True, width=200)
    args = parser().parse_args(["style", "apply", "tiny", str(src), str(tmp_path / "out.mp4"), "--batch", "4",
                                "--models", str(models), "--device", "cpu"])  # fmt: skip
    assert cmd_style(args, console) == 130
    text = console.export_text()
    assert f"(4 of {FRAMES} frames" in text and "stopped (interrupted)" in text
    assert "holds the 4 frames done so far and plays" in text
    assert decoded_frames(tmp_path / "out.mp4") == 4


def test_cli_styles_a_folder(tmp_path: Path) -> None:
    from perform.style.cli import cmd_style

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "a.png"), rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    cv2.imwrite(str(folder / "sub" / "b.jpg"), rng.integers(0, 256, (30, 20, 3), dtype=np.uint8))
    (folder / "notes.txt").write_text("not an image")
    make_clip(folder / "clip.mp4", audio=False)
    models = tiny_models(tmp_path)
    console = Console(record=True, width=200)
    args = parser().parse_args(["style", "apply", "tiny", str(folder), str(tmp_path / "out"),
                                "--models", str(models), "--device", "cpu"])  # fmt: skip
    assert cmd_style(args, console) == 0
    assert cv2.imread(str(tmp_path / "out" / "a.png")).shape == (40, 50, 3)
    assert cv2.imread(str(tmp_path / "out" / "sub" / "b.jpg")).shape == (30, 20, 3)
    assert decoded_frames(tmp_path / "out" / "clip.mp4") == FRAMES
    assert "wrote 3 of 3 files" in console.export_text()


def test_result_knows_when_it_is_complete(tmp_path: Path) -> None:
    assert Result(tmp_path, 3, 3).complete and not Result(tmp_path, 1, 3, stopped="interrupted").complete


def test_cli_folder_stops_at_a_broken_image_and_keeps_the_rest(tmp_path: Path) -> None:
    from perform.style.cli import cmd_style

    folder = tmp_path / "in"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((20, 30, 3), 90, np.uint8))
    (folder / "b.png").write_bytes(b"not a png")
    models = tiny_models(tmp_path)
    console = Console(record=True, width=200)
    args = parser().parse_args(["style", "apply", "tiny", str(folder), str(tmp_path / "out"),
                                "--models", str(models), "--device", "cpu"])  # fmt: skip
    assert cmd_style(args, console) == 1
    text = console.export_text()
    assert "wrote 1 of 2 files" in text and "b.png: expected an image file" in text
    assert (tmp_path / "out" / "a.png").is_file()


def test_sound_an_mp4_cannot_hold_is_reencoded_to_aac(tmp_path: Path) -> None:
    src = tmp_path / "pcm.avi"
    with av.open(str(src), "w") as out:
        v = out.add_stream("mjpeg", rate=FPS)
        v.width, v.height, v.pix_fmt = W, H, "yuvj420p"
        a = out.add_stream("pcm_s16le", rate=16000)
        for i in range(FRAMES):
            out.mux(
                v.encode(av.VideoFrame.from_ndarray(np.full((H, W, 3), i * 10, np.uint8), format="rgb24"))
            )
        for start in range(0, 16000, 1000):
            samples = (np.sin(np.arange(1000) / 5) * 8000).astype(np.int16)[None]
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 16000, start
            out.mux(a.encode(frame))
        out.mux(v.encode(None))
    result = style_video(src, tmp_path / "out.mp4", invert, batch=5)
    assert result.complete and result.audio == "aac" and decoded_frames(tmp_path / "out.mp4") == FRAMES
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.streams.audio[0].codec_context.name == "aac"
        assert sum(f.samples for f in c.decode(audio=0)) >= 16000
