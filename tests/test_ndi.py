"""NDI out of a running show and NDI in as its source, for real, on loopback.

NDI finds peers by mDNS, which these machines lack; an ``ndi-config.v1.json`` naming 127.0.0.1,
in the folder ``NDI_CONFIG_DIR`` names, lets both sides find each other.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from perform.errors import ConfigError, SourceError, StageError
from perform.share.ndi import INSTALL, matches, stream_name
from perform.share.texture import texture_sink
from perform.show.sourcespec import parse_source
from tests.tools import wait_for

ROOT = Path(__file__).resolve().parents[1]
NDI_CONFIG = {
    "ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""}, "multicast": {"send": {"enable": False}}}
}

try:
    import cyndilib
except Exception:  # ImportError, or the runtime failing to load
    cyndilib = None
needs_ndi = pytest.mark.skipif(cyndilib is None, reason=f"needs cyndilib: {INSTALL}")


@pytest.fixture(scope="module")
def ndi_env(tmp_path_factory) -> dict[str, str]:
    """An NDI configuration for loopback, named in this process's environment and the children's."""
    folder = tmp_path_factory.mktemp("ndi")
    (folder / "ndi-config.v1.json").write_text(json.dumps(NDI_CONFIG))
    old = os.environ.get("NDI_CONFIG_DIR")
    os.environ["NDI_CONFIG_DIR"] = str(folder)
    yield {**os.environ, "NDI_CONFIG_DIR": str(folder), "COLUMNS": "400"}
    if old is None:
        os.environ.pop("NDI_CONFIG_DIR", None)
    else:
        os.environ["NDI_CONFIG_DIR"] = old


def unique(what: str) -> str:
    return f"perform-test-{what}-{os.getpid()}-{time.monotonic_ns() % 100000}"


def show_file(folder: Path, source: dict[str, object], record: bool = False) -> Path:
    show = {
        "name": "ndi test",
        "source": source,
        "pose": {"enabled": False},
        "control": {"enabled": False},
        "outputs": {"preview": False},
        "render": {"enabled": True, "scene": "film", "width": 320, "height": 180, "fps": 15},
    }
    if record:
        show["render"]["record"] = str(folder / "stage.mp4")  # type: ignore[index]
    path = folder / "show.yaml"
    path.write_text(json.dumps(show))
    return path


class Show:
    """``perform -v run SHOW --headless`` in a child process, its log lines collected as they come."""

    def __init__(self, show: Path, env: dict[str, str], *args: str) -> None:
        command = [sys.executable, "-m", "perform", "-v", "run", str(show), "--headless", *args]
        self.proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def saw(self, pattern: str, after: int = 0) -> bool:
        return any(re.search(pattern, line) for line in self.lines[after:])

    def wait_for(self, pattern: str, timeout: float, after: int = 0) -> None:
        ok = wait_for(lambda: self.saw(pattern, after) or self.proc.poll() is not None, timeout)
        assert ok and self.saw(pattern, after), f"no {pattern!r} in {timeout} s:\n{self.text}"

    def finish(self, timeout: float = 90) -> str:
        self.proc.wait(timeout=timeout)
        self._reader.join(5.0)
        return self.text


def test_source_specs_and_names():
    source = parse_source("ndi:TouchDesigner")
    assert source.kind == "ndi" and source.name == "TouchDesigner"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="expected ndi:NAME"):
        parse_source("ndi:")
    assert stream_name("STUDIO (TD out)") == "TD out"
    assert matches("STUDIO (TD out)", "TD out") and matches("STUDIO (TD out)", "STUDIO (TD out)")
    assert not matches("STUDIO (TD out 2)", "TD out")


def test_texture_sharing_is_unavailable_in_one_line_elsewhere():
    with pytest.raises(StageError, match=r"unavailable on linux.*use NDI"):
        texture_sink("perform", 64, 64, platform="linux")


@needs_ndi
def test_a_running_show_publishes_its_stage_picture(ndi_env, tmp_path):
    from perform.share.ndi import NdiReceiver

    name = unique("out")
    show = Show(
        show_file(tmp_path, {"kind": "pattern", "width": 320, "height": 180, "fps": 15}, True),
        ndi_env,
        "--ndi",
        name,
        "--seconds",
        "30",
        "--stats",
        str(tmp_path / "stats.json"),
    )
    try:
        receiver = NdiReceiver(name)
        assert wait_for(lambda: _connects(receiver), 60), show.text
        pictures = []
        deadline = time.monotonic() + 30
        while len(pictures) < 20 and time.monotonic() < deadline:
            got = receiver.read()
            if got is not None:
                pictures.append(got[0])
            time.sleep(0.005)
        receiver.close()
    finally:
        show.proc.terminate()
    show.finish()
    assert len(pictures) >= 20, show.text
    picture = pictures[-1]
    assert picture.shape == (180, 320, 3) and picture.std() > 5  # a picture, not a blank
    # the same picture as the one recorded (H.264 costs a few levels); upside down would not match
    with av.open(str(tmp_path / "stage.mp4")) as video:
        recorded = [f.to_ndarray(format="rgb24") for f in video.decode(video=0)]
    assert recorded, show.text
    best = min(np.abs(r.astype(np.int16) - picture).mean() for r in recorded)
    flipped = min(np.abs(r.astype(np.int16) - picture[::-1]).mean() for r in recorded)
    assert best < 6 and best < flipped, (best, flipped)
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["frame_to_ndi"]["p50"] > 0 and "dropped" in stats["frame_to_ndi"]


def _connects(receiver) -> bool:
    try:
        receiver.connect(0.5)
    except SourceError:
        receiver.close()
        return False
    return True


class LoopbackSender:
    """An NDI source sending a numbered grey level at 15 fps from a thread, until stopped."""

    def __init__(self, name: str, width: int = 160, height: int = 90) -> None:
        self.sender = cyndilib.Sender(name, clock_video=False)
        frame = cyndilib.VideoSendFrame()
        frame.set_resolution(width, height)
        frame.set_fourcc(cyndilib.FourCC.RGBA)
        frame.set_frame_rate(Fraction(15))
        self.sender.set_video_frame(frame)
        self.sender.open()
        self.size = (height, width)
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            level = 40 + (self.sent * 7) % 200
            self.sender.write_video(np.full((*self.size, 4), level, np.uint8).reshape(-1))
            self.sent += 1
            time.sleep(1 / 15)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.sender.close()


@needs_ndi
def test_a_show_reads_an_ndi_source_and_picks_it_up_again(ndi_env, tmp_path):
    name = unique("in")
    sender = LoopbackSender(name)
    source = {"kind": "ndi", "name": name, "find_s": 1.0, "timeout_s": 1.0}
    stats = tmp_path / "stats.json"
    show = Show(show_file(tmp_path, source), ndi_env, "--seconds", "40", "--stats", str(stats))
    try:
        show.wait_for(r"capture: ndi '.*\(" + re.escape(name) + r"\)'", 60)
        connected = sender.sent
        assert wait_for(lambda: sender.sent > connected + 30, 30)
        sender.close()  # the sender goes away...
        show.wait_for("sent nothing|delivered nothing", 30)
        mark = len(show.lines)
        sender = LoopbackSender(name)  # ...and comes back
        show.wait_for(r"is delivering again", 60, after=mark)
        connected = sender.sent
        assert wait_for(lambda: sender.sent > connected + 30, 30)
    finally:
        show.proc.terminate()
        sender.close()
    text = show.finish()
    report = json.loads(stats.read_text())
    assert report["frames"] > 40, text  # of the 60 or more sent while connected
    assert report["restarts"]["capture"] >= 1, report["restarts"]


@needs_ndi
def test_perform_devices_lists_the_ndi_sources_in_sight(ndi_env):
    from perform.devices import ndi_sources

    name = unique("devices")
    sender = LoopbackSender(name)
    probes = []
    try:  # the process's one finder may have seen other sources already: it answers at once
        assert wait_for(
            lambda: (
                probes.append(ndi_sources()) or any(matches(str(i["name"]), name) for i in probes[-1].found)
            ),
            30,
        ), probes[-1:]
    finally:
        sender.close()
    probe = probes[-1]
    assert any(item["source"] == f"ndi:{item['name']}" for item in probe.found)


@needs_ndi
def test_the_extra_outputs_send_skeletons_and_masks(ndi_env, tmp_path):
    from perform.share.ndi import NdiReceiver

    name = unique("extra")
    path = show_file(tmp_path, {"kind": "virtual", "people": 2, "width": 320, "height": 180, "fps": 15})
    yaml_with(path, outputs={"preview": False, "ndi": {"name": name, "skeleton": True, "mask": "grey"}})
    show = Show(path, ndi_env, "--seconds", "30")
    pictures = {}
    try:
        for suffix in ("skeleton", "mask"):
            receiver = NdiReceiver(f"{name} {suffix}")
            assert wait_for(lambda r=receiver: _connects(r), 60), show.text
            pictures[suffix] = []
            wanted = pictures[suffix]
            # virtual performers have bodies but no masks: their mask picture is black
            seconds = 30 if suffix == "skeleton" else 3
            drawn = wait_for(lambda r=receiver, w=wanted: _collect(r, w) and w[-1].max() > 0, seconds)
            assert drawn or (suffix == "mask" and wanted), show.text
            receiver.close()
    finally:
        show.proc.terminate()
    show.finish()
    assert all(p.shape == (180, 320, 3) for p in pictures["skeleton"] + pictures["mask"])
    assert pictures["skeleton"][-1].max() > 0  # skeletons drawn on black


def _collect(receiver, into: list) -> bool:
    got = receiver.read()
    if got is not None:
        into.append(got[0])
    return bool(into)


def yaml_with(path: Path, **sections: object) -> Path:
    data = json.loads(path.read_text())
    data.update(sections)
    path.write_text(json.dumps(data))
    return path


@needs_ndi
def test_the_bench_section_measures_capture_to_received_and_the_render_cost(ndi_env):
    from perform.bench.ndi import _latency, _render_fps, markdown

    result = {"setup": {"size": "1280x720", "scene": "x"}, **_latency(1.5)}
    assert result["received"] > 10 and result["capture_to_received_ms"]["p50"] > 0, result
    result["render_fps_without_ndi"] = result["render_fps_with_ndi"] = round(_render_fps(0.5, ndi=True), 1)
    assert result["render_fps_with_ndi"] > 0
    assert "capture to received" in "\n".join(markdown(result))


def test_a_missing_runtime_is_one_line_with_the_install_command(monkeypatch, caplog):
    from perform.share import open_outputs
    from perform.share.ndi import NdiSink

    monkeypatch.setitem(sys.modules, "cyndilib", None)  # import fails as if not installed
    assert open_outputs([lambda: NdiSink("perform", 64, 64, 30.0)]) == []
    assert "NDI is unavailable" in caplog.text and "pip install 'perform[ndi]'" in caplog.text
    assert "the show goes on" in caplog.text


@needs_ndi
def test_a_name_already_taken_and_a_source_never_seen_say_so(ndi_env):
    from perform.capture.config import NdiSource
    from perform.capture.ndi import NdiInput
    from perform.share.ndi import NdiSink, find_sources

    name = unique("taken")
    sender = LoopbackSender(name)
    try:
        assert wait_for(lambda: any(matches(s, name) for s in find_sources()), 30)
        with pytest.raises(StageError, match="already taken"):
            NdiSink(name, 64, 64, 30.0).open()
    finally:
        sender.close()
    source = NdiInput(NdiSource(kind="ndi", name=unique("never"), find_s=0.2))
    with pytest.raises(SourceError, match=r"no NDI source .* in sight"):
        source.open()
    source.close()
