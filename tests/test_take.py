import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from perform.pipeline import Slot, Stats
from perform.vision.config import PoseConfig, TakeSource
from perform.vision.perception import Perception
from perform.vision.sources import TakeSourceStage
from perform.vision.take import TakeError, TakeWriter, read_take
from perform.vision.virtual import VirtualTroupe

ROOT = Path(__file__).resolve().parents[1]
FPS = 30.0


def record(path: Path, seconds: float = 12.0, masks: bool = False):
    troupe = VirtualTroupe(people=3, seed=4)
    perception = Perception(PoseConfig(max_people=4))
    writer = TakeWriter(path, 640, 360, masks=masks, show="test")
    live = []
    for n in range(int(seconds * FPS)):
        t = 100.0 + n / FPS
        poses = perception([d for _, d in troupe.detections(n / FPS, 640, 360)], n, t, 640, 360)
        if masks and poses.bodies:
            mask = np.zeros((360, 640), np.float32)
            mask[100:300, 200:400] = 1.0
            poses = poses.__class__(
                **{**{k: getattr(poses, k) for k in poses.__dataclass_fields__}, "mask": mask}
            )
        writer.write(poses)
        live.append(poses)
    writer.close()
    return live


def test_replayed_take_reproduces_the_features_of_the_run_that_recorded_it(tmp_path):
    path = tmp_path / "rehearsal.take"
    live = record(path)
    stage = TakeSourceStage(
        Stats(), Slot("f"), Slot("p"), TakeSource(kind="take", path=path), PoseConfig(max_people=4)
    )
    _, records = read_take(path)
    replayed = [stage._replay(r) for r in records]
    assert len(replayed) == len(live)
    compared = 0
    for a, b in zip(live, replayed, strict=True):
        assert [x.slot for x in a.bodies] == [x.slot for x in b.bodies]
        for x, y in zip(a.bodies, b.bodies, strict=True):
            assert np.array_equal(x.landmarks, y.landmarks)
        assert a.features.keys() == b.features.keys()
        for key, value in a.features.items():
            assert b.features[key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
            compared += 1
        assert [(e.kind, e.slot) for e in a.events] == [(e.kind, e.slot) for e in b.events]
    assert compared > 1000
    assert any(p.events for p in live)  # the take holds entrances


def test_take_is_compact_and_keeps_masks(tmp_path):
    path = tmp_path / "m.take"
    live = record(path, seconds=2.0, masks=True)
    bodies = sum(len(p.bodies) for p in live)
    header, records = read_take(path)
    assert header["width"] == 640 and header["masks"] is True
    records = list(records)
    with_mask = [r for r in records if r.mask is not None]
    assert with_mask and with_mask[0].mask.shape == (360, 640) and with_mask[0].mask[200, 300] == 1.0
    assert path.stat().st_size < 60 * len(records) + 1100 * bodies + sum(2000 for _ in with_mask)


def test_a_take_cut_short_reads_up_to_its_last_whole_record(tmp_path):
    path = tmp_path / "cut.take"
    live = record(path, seconds=1.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 500])
    _, records = read_take(path)
    assert len(list(records)) == len(live) - 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello world, not a take", "not a perform take"),
        (b"PERFTAKE\x09\x00\x02\x00\x00\x00{}", "take version 9 is newer"),
        (b"PERFTAKE\x01\x00\x05\x00\x00\x00{oops", "damaged header"),
    ],
)
def test_bad_take_files(tmp_path, content, message):
    path = tmp_path / "bad.take"
    path.write_bytes(content)
    with pytest.raises(TakeError, match=message):
        read_take(path)


def test_record_a_take_from_a_show_and_rehearse_with_it(tmp_path):
    take = tmp_path / "demo.take"
    # the shipped demo, its video recorded under tmp_path rather than into the tree's out/
    run = [sys.executable, "-m", "perform", "run", "config/demo.yaml", "--record", str(tmp_path / "demo.mp4")]
    first = subprocess.run(
        [*run, "--headless", "--seconds", "3", "--take", str(take)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    _, records = read_take(take)
    frames = len(list(records))
    assert frames >= 30  # 90 at 30 fps for 3 s; fewer when another job on the machine costs frames
    stats = tmp_path / "s.json"
    second = subprocess.run(
        [*run, "--headless", "--source", f"take:{take}", "--seconds", "2",
         "--stats", str(stats)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert second.returncode == 0, second.stderr
    replay = json.loads(stats.read_text())
    # real time: 30 fps for 2 s (60), not as fast as it can; fewer on a busy machine
    assert 20 <= replay["frames"] <= 64
    assert replay["source"] == "take demo.take"


def test_cues_start_and_stop_takes_mid_show(tmp_path):
    import time

    from perform.runtime import ShowPipeline
    from perform.show.models import Show
    from perform.vision.config import VirtualSource
    from perform.vision.recorder import TakeRecorder
    from tests.tools import wait_for

    show = Show(
        source=VirtualSource(kind="virtual", people=2, fps=60, fast=False),
        control={"enabled": False, "takes": tmp_path / "takes"},
    )
    pipeline = ShowPipeline(show)
    recorder = next(s for s in pipeline.stages if isinstance(s, TakeRecorder))
    first, second = tmp_path / "takes" / "a.take", tmp_path / "takes" / "b.take"
    pipeline.start()
    try:
        assert wait_for(lambda: pipeline.poses.published > 0)  # the show is running
        t_a = time.monotonic()
        pipeline.controls.cue("take.start", "a")  # a name in the show's takes folder
        assert wait_for(lambda: recorder.recording and recorder.path == first)
        time.sleep(1.1)  # at most one take started a second, counted from the start just seen
        t_b = time.monotonic()
        pipeline.controls.cue("take.start", "b.take")  # closes the first
        assert wait_for(lambda: recorder.path == second)
        span_a = time.monotonic() - t_a  # the first take recorded 1.1 s at least, this at most
        time.sleep(0.6)
        pipeline.controls.cue("take.stop")
        assert wait_for(lambda: not recorder.recording)  # stopped: the take is closed
        span_b = time.monotonic() - t_b
        size = second.stat().st_size
        published = pipeline.poses.published
        assert wait_for(lambda: pipeline.poses.published >= published + 15)  # frames went on
        assert second.stat().st_size == size  # stopped: nothing more written
    finally:
        pipeline.stop()
    for path, least, most in ((first, 1.1, span_a), (second, 0.6, span_b)):
        _, records = read_take(path)
        # 60 fps; far fewer when another job on the machine costs frames, never faster
        assert 10 * least <= len(list(records)) <= 75 * most
