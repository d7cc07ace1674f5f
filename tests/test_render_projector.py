"""The projector in a show (headless) and ``perform render``, end to end, into real files."""

import logging
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from perform.cli import main
from perform.control import Controls
from perform.events.types import Event
from perform.pipeline import EventLog, Frame, Slot, Stats
from perform.render.config import Render
from perform.render.projector import Projector
from perform.render.thumbnail import Thumbnail
from tests.render_inputs import DATA, photograph, wrist_poses

ROOT = Path(__file__).resolve().parents[1]
BAD_SCENES = ROOT / "tests" / "data" / "bad_scenes"
FPS = 30.0


def decode(path: Path) -> list[np.ndarray]:
    """Every frame of a video file as (H, W, 3) uint8 RGB, top row first."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def close_to(pixel: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    """H.264 in 4:2:0 moves flat colours by a few levels."""
    return bool(np.abs(pixel.astype(int) - colour).max() <= tolerance)


class FakeShow:
    """What the pipeline hands the projector: slots to publish to, controls, an event log."""

    def __init__(self, tmp_path: Path, **render: object) -> None:
        self.config = Render.model_validate(
            {
                "enabled": True,
                "width": 320,
                "height": 180,
                "fps": FPS,
                "folders": [DATA],
                "scenes": ["red", "blue", "wrist"],
                "crossfade_s": 0.0,
                "triggers": [{"event": "jump", "scene": "wrist"}, {"event": "p2/spin", "scene": "red"}],
                "screenshots": tmp_path / "shots",
                **render,
            }
        )
        self.stats = Stats()
        self.controls = Controls()
        self.frames: Slot[Frame] = Slot("frames")
        self.poses = Slot("poses")
        self.events: EventLog[Event] = EventLog()
        self.seq = 0

    def projector(self, **kwargs: object) -> Projector:
        return Projector(
            self.config, self.stats, self.controls, self.frames, self.poses, events=self.events, **kwargs
        )

    def tick(self, projector: Projector, n: int = 1, wrist: tuple[float, float] = (0.7, 0.4)) -> None:
        """``n`` frames: a new camera image and poses just captured, then one draw, at the render rate."""
        for _ in range(n):
            self.seq += 1
            now = time.monotonic()
            self.frames.publish(Frame(photograph(), self.seq, now))
            self.poses.publish(wrist_poses(*wrist, now, self.seq, only_wrist=True))
            projector.tick()
            time.sleep(max(0.0, now + 1.0 / FPS - time.monotonic()))


def test_projector_draws_switches_screenshots_and_records(tmp_path):
    show = FakeShow(tmp_path)
    video = tmp_path / "x.mp4"
    projector = show.projector(record=video)
    try:
        show.tick(projector, 5)
        assert projector.renderer.current.name == "red"
        stats = show.stats.stages["render"]
        assert stats.frames == 5 and stats.state == "running"
        assert projector.frame_to_render.count == projector.pose_to_render.count == 5
        assert 0 < projector.frame_to_render.percentile(50) < 0.5

        show.controls.cue("scene", "blue")
        show.tick(projector)
        assert projector.renderer.current.name == "blue"
        show.controls.cue("scene", 2)  # by index in the show's order
        show.tick(projector)
        assert projector.renderer.current.name == "wrist"
        show.controls.cue("scene", "nope")
        show.tick(projector)
        assert projector.renderer.current.name == "wrist"

        t = time.monotonic()
        show.events.publish(Event("spin", slot=2, active=True, t=t))  # fires as p2/spin
        show.tick(projector)
        assert projector.renderer.current.name == "red"
        show.events.publish(Event("jump", slot=None, active=False, t=t))  # an end edge fires nothing
        show.tick(projector)
        assert projector.renderer.current.name == "red"
        show.events.publish(Event("jump", slot=1, active=True, t=t))  # fires as jump and p1/jump
        show.tick(projector)
        assert projector.renderer.current.name == "wrist"

        show.controls.cue("screenshot")
        show.tick(projector, wrist=(0.7, 0.4))
        show.tick(projector, 10)
    finally:
        report = projector.close()
    assert stats.frames == 22 and stats.state == "stopped"
    assert report["scene"] == "wrist" and report["size"] == [320, 180]

    assert len(projector.screenshots) == 1
    shot = projector.screenshots[0]
    assert shot.parent == tmp_path / "shots" and shot.suffix == ".png"
    image = cv2.cvtColor(cv2.imread(str(shot)), cv2.COLOR_BGR2RGB)
    assert image.shape == (180, 320, 3)
    ys, xs = np.nonzero(image.min(axis=2) > 200)  # the white disc on the right wrist, upright
    assert abs(xs.mean() + 0.5 - 0.7 * 320) < 2 and abs(ys.mean() + 0.5 - 0.4 * 180) < 2

    record = report["record"]
    assert record["path"] == str(video) and record["finished"]
    assert record["frames"] + record["dropped"] == record["submitted"] == 22
    frames = decode(video)
    assert len(frames) == record["frames"] >= 15
    assert frames[0].shape == (180, 320, 3)
    assert close_to(frames[0][90, 160], (255, 0, 0))  # red first
    assert close_to(frames[-1][72, 224], (255, 255, 255)) and close_to(frames[-1][20, 20], (0, 0, 0))


def test_projector_steps_scenes_and_previews_only_while_watched(tmp_path):
    show = FakeShow(tmp_path)
    thumbnail = Thumbnail(fps=1000, width=80)
    projector = show.projector(thumbnail=thumbnail)
    try:
        show.tick(projector, 2)
        assert thumbnail.seq == 0  # nobody watches: nothing is read back
        show.controls.cue("scene.next")
        show.tick(projector)
        assert projector.renderer.current.name == "blue"
        show.controls.cue("scene.previous", 2.5)  # with its crossfade's length
        show.tick(projector)
        assert projector.renderer.current.name == "red" and projector.renderer.fade_s == 2.5
        show.controls.cue("scene", "wrist", 0.0)
        thumbnail.watchers = 1
        show.tick(projector)
        assert thumbnail.seq == 1
    finally:
        projector.close()
    small = cv2.imdecode(np.frombuffer(thumbnail.jpeg() or b"", np.uint8), cv2.IMREAD_COLOR)
    assert small.shape == (45, 80, 3)  # shrunk on the GPU to the preview's width
    ys, xs = np.nonzero(small.min(axis=2) > 170)  # the white disc on the wrist, upright
    assert abs(xs.mean() + 0.5 - 0.7 * 80) < 3 and abs(ys.mean() + 0.5 - 0.4 * 45) < 3


def test_projector_without_scenes_says_where_it_looked(tmp_path, monkeypatch):
    empty = tmp_path / "an empty perform"
    monkeypatch.setattr("perform.render.library.resource_folder", lambda kind: empty / kind)
    show = FakeShow(tmp_path, folders=[tmp_path], scenes=[])
    with pytest.raises(Exception, match="render: no scene files") as info:
        show.projector()
    assert str(tmp_path / "scenes") in str(info.value)


# -- perform render -------------------------------------------------------------------------------


def perform(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "perform", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """``perform render`` of the skeleton scene, virtual performers, 2.5 s at 320 x 180."""
    out = tmp_path_factory.mktemp("render") / "x.mp4"
    scene = DATA / "scenes" / "skeleton.yaml"
    args = ["--source", "virtual", "--out", str(out), "--seconds", "2.5", "--size", "320x180"]
    return perform("render", str(scene), *args), out


def test_perform_render_writes_a_video(rendered):
    result, out = rendered
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"video written to {out}" in result.stderr
    frames = decode(out)
    assert 40 <= len(frames) <= 78  # 2.5 s at 30 fps, a few lost to start-up
    assert frames[0].shape == (180, 320, 3)
    lit = [(f.max(axis=2) > 128).mean() for f in frames]
    assert max(lit) > 0.001  # a performer walks on within the first second


def test_perform_render_of_virtual_performers_does_not_fade_out(rendered):
    result, out = rendered
    assert result.returncode == 0, result.stderr
    last = decode(out)[-1]
    assert (last.max(axis=2) > 128).mean() > 0.001, "the skeletons faded out"


@pytest.fixture
def cli(capsys):
    """``perform.cli.main`` in this process: (exit status, stderr); perform's logger is put back after."""
    logger = logging.getLogger("perform")
    saved = (list(logger.handlers), logger.level, logger.propagate)

    def run(*args: str) -> tuple[int, str]:
        status = main(list(args))
        return status, capsys.readouterr().err

    yield run
    logger.handlers[:], logger.level, logger.propagate = saved


def test_perform_render_refuses_a_bad_out_suffix(cli, tmp_path):
    status, err = cli("render", "red", "--source", "virtual", "--out", str(tmp_path / "x.avi"))
    assert status == 2
    assert (
        f"perform: --out {tmp_path / 'x.avi'}: expected a video file name ending in .mp4, .mov or .mkv" in err
    )
    assert not (tmp_path / "x.avi").exists()


def test_perform_render_names_the_line_of_a_broken_scene(cli, tmp_path):
    (tmp_path / "scenes").mkdir()
    path = tmp_path / "scenes" / "broken.yaml"
    path.write_bytes((BAD_SCENES / "yaml_syntax_error.yaml").read_bytes())
    status, err = cli("render", str(path), "--source", "virtual", "--out", str(tmp_path / "x.mp4"))
    assert status == 2
    assert f"perform: {path}:7: YAML syntax: expected ',' or ']', but got '}}'" in " ".join(err.split())
    assert "Traceback" not in err and "internal error" not in err
    assert not (tmp_path / "x.mp4").exists()


def test_perform_render_reads_a_scene_file_anywhere(cli, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_bytes((BAD_SCENES / "yaml_syntax_error.yaml").read_bytes())
    status, err = cli("render", str(path), "--source", "virtual", "--out", str(tmp_path / "x.mp4"))
    assert status == 2
    assert f"{path}:7: YAML syntax" in " ".join(err.split())
