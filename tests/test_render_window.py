"""The projector window on a real X server (Xvfb, Mesa llvmpipe): it opens, draws, takes keys, closes.

Each test starts its own Xvfb on a free display and reads the screen back with xwd; keys go in
through xdotool. Where Xvfb, xwd or xdotool are missing the tests skip and say which.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from perform.bench.render import bench_window, window_markdown
from tests.test_render_projector import decode
from tests.xserver import XServer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "render"


@pytest.fixture
def xserver():
    server = XServer(1280, 800)
    yield server
    server.close()


def colour_share(picture: np.ndarray, rgb: tuple[int, int, int], tolerance: int = 40) -> float:
    """The share of the screen within ``tolerance`` of ``rgb``."""
    return float((np.abs(picture.astype(int) - rgb).max(axis=2) <= tolerance).mean())


def write_show(folder: Path, **window: object) -> Path:
    """A show of one virtual performer drawn by the test scenes (wrist dot, red, blue)."""
    shutil.copytree(DATA, folder / "render")
    show = {
        "name": "window test",
        "source": {"kind": "virtual", "people": 1, "seed": 3, "width": 640, "height": 360, "fps": 30},
        "osc": {"enabled": False},
        "control": {"enabled": False},
        "render": {
            "enabled": True,
            "width": 320,
            "height": 180,
            "fps": 30,
            "folders": [str(folder / "render")],
            "scenes": ["wrist", "red", "blue"],
            "crossfade_s": 0.3,
            "screenshots": str(folder / "shots"),
            "window": window,
        },
    }
    path = folder / "show.yaml"
    path.write_text(yaml.safe_dump(show), encoding="utf-8")
    return path


def perform(xserver: XServer, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "perform", *map(str, args)],
        env=xserver.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"perform did not stop:\n{out}") from None
    assert proc.returncode == 0, f"exit {proc.returncode}:\n{out}"
    assert "X Error" not in out and "Traceback" not in out, out
    return out


def test_fullscreen_window_draws_moves_takes_keys_reloads_records_and_quits(xserver, tmp_path):
    show = write_show(tmp_path)  # the defaults: fullscreen on monitor 0, vsync, hidden cursor
    stats, video = tmp_path / "stats.json", tmp_path / "show.mp4"
    proc = perform(xserver, "run", show, "--seconds", "120", "--stats", stats, "--record", video)
    try:
        window = xserver.window("window test")
        assert xserver.geometry(window) == (1280, 800), "fullscreen fills the monitor"
        # the wrist dot: white on black, moving with the performer
        first = xserver.wait_for("the wrist dot", lambda p: 0.001 < colour_share(p, (255, 255, 255)) < 0.2)
        xserver.wait_for(
            "the dot moving", lambda p: np.abs(p.astype(int) - first).max(axis=2).astype(bool).mean() > 0.0005
        )
        # 320x180 scaled to fit 1280x800: bars above and below
        assert colour_share(first[:40], (0, 0, 0), 10) > 0.99

        xserver.key(window, "2")
        red = xserver.wait_for("scene 2 (red) after key 2", lambda p: colour_share(p, (255, 0, 0)) > 0.6)
        assert colour_share(red[:40], (0, 0, 0), 10) > 0.99, "the picture keeps its bars"
        xserver.key(window, "Right")
        xserver.wait_for("blue after Right", lambda p: colour_share(p, (0, 0, 255)) > 0.6)
        xserver.key(window, "Left")
        xserver.wait_for("red after Left", lambda p: colour_share(p, (255, 0, 0)) > 0.6)
        xserver.key(window, "space")
        xserver.wait_for("blue after space", lambda p: colour_share(p, (0, 0, 255)) > 0.6)

        # hot reload in the window: the blue scene turns green when its file is saved
        scene = tmp_path / "render" / "scenes" / "blue.yaml"
        scene.write_text(scene.read_text().replace("[0.0, 0.0, 1.0, 1.0]", "[0.0, 1.0, 0.0, 1.0]"))
        xserver.wait_for("the edited scene (green)", lambda p: colour_share(p, (0, 255, 0)) > 0.6)

        xserver.key(window, "s")
        shots = tmp_path / "shots"
        xserver.wait_for("a screenshot file", lambda p: shots.is_dir() and any(shots.iterdir()), timeout=30)
        xserver.key(window, "q")
        out = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "window closed" in out
    report = json.loads(stats.read_text())
    output = report["render"]["output"]
    assert output["kind"] == "window" and output["size"] == [1280, 800] and output["fullscreen"] is True
    assert output["api"] == "EGL", "Linux windows share EGL with the headless paths"
    assert output["frame_ms"]["p50"] > 0
    assert report["render"]["scene"] == "blue"
    frames = decode(video)
    assert len(frames) >= 30, "recorded while the window was open"
    assert any(colour_share(f, (255, 0, 0)) > 0.9 for f in frames), "the recording holds the red scene"


def test_windowed_without_vsync_opens_at_the_render_size_and_closes_on_escape(xserver, tmp_path):
    show = write_show(tmp_path, fullscreen=False, vsync=False, hide_cursor=False)
    stats = tmp_path / "stats.json"
    proc = perform(xserver, "run", show, "--seconds", "120", "--stats", stats)
    try:
        window = xserver.window("window test")
        assert xserver.geometry(window) == (320, 180)
        xserver.wait_for("the wrist dot", lambda p: colour_share(p[:180, :320], (255, 255, 255)) > 0.001)
        xserver.key(window, "Escape")
        assert "window closed" in finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    output = json.loads(stats.read_text())["render"]["output"]
    assert output["kind"] == "window" and output["size"] == [320, 180] and output["fullscreen"] is False


def test_a_display_that_cannot_be_opened_falls_back_to_headless_with_one_warning(tmp_path):
    show = write_show(tmp_path)
    stats = tmp_path / "stats.json"
    env = {**os.environ, "DISPLAY": ":1999"}  # nothing listens there
    out = subprocess.run(
        [sys.executable, "-m", "perform", "run", str(show), "--seconds", "2", "--stats", str(stats)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert text.count("drawing headless") == 1, text
    assert "Traceback" not in text
    assert json.loads(stats.read_text())["render"]["output"] == {"kind": "headless"}


def test_a_window_opens_after_a_headless_context_in_the_same_process(xserver, monkeypatch):
    """The issue's cause: an EGL context made and released before the window (perform check, bench)."""
    monkeypatch.setenv("DISPLAY", xserver.display)
    script = """
import numpy as np
from perform.render.config import Window
from perform.render.gl import create_headless_context
from perform.render.output import ProjectorWindow
create_headless_context().release()
win = ProjectorWindow(Window(fullscreen=False), (64, 48), "after egl")
tex = win.ctx.texture((64, 48), 4, np.full((48, 64, 4), 200, np.uint8).tobytes())
win.present(tex)
print("drawn", win.report()["api"])
win.close()
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=xserver.env
    )
    assert out.returncode == 0, out.stderr
    assert "X Error" not in out.stderr
    assert out.stdout.split()[:2] == ["drawn", "EGL"]


def test_window_benchmark_draws_in_a_window_beside_headless(xserver, monkeypatch):
    monkeypatch.setenv("DISPLAY", xserver.display)
    result = bench_window(size=(320, 180), frames=5)
    assert result["window"]["output"]["kind"] == "window" and result["window"]["frames"] == 5
    assert result["headless"]["output"] == {"kind": "headless"} and result["headless"]["frames"] == 5
    assert result["vs_headless_p50"] > 0
    assert "| window |" in "\n".join(window_markdown(result))


def test_window_benchmark_without_a_display_says_why(monkeypatch):
    monkeypatch.setenv("DISPLAY", ":1999")
    result = bench_window(size=(64, 36), frames=2)
    assert result["skipped"].startswith("no display") and result["headless"]["frames"] == 2
    assert window_markdown(result)[0].startswith("Window: skipped (no display")
