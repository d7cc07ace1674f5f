"""Faults injected into a running show, each with a measured pass criterion.

Camera unplugged (raises, delivers nothing, repeats one frame), a capture read that hangs, pose
inference that stalls, style out of memory. OSC fuzz: test_osc_fuzz.py; broken shaders and
scenes saved mid-show: test_render*.py; audio device gone and back: test_audio.py.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from perform.capture import CaptureStage
from perform.capture.base import Pacer, Source
from perform.capture.config import CaptureSettings
from perform.control import Controls
from perform.errors import SourceError
from perform.pipeline import Frame, Pipeline, Slot, Stats
from perform.render.config import Render
from perform.render.projector import Projector
from perform.schema import InputLoss
from perform.style.config import StyleConfig
from perform.style.stage import Styled, StyleStage, Stylizer
from perform.vision.config import PoseConfig
from perform.vision.stage import PoseStage
from perform.vision.types import Poses
from tests.test_style import photo, tiny_model

CAMERA_SCENE = "layers:\n  - kind: camera\n"


def scene_folder(tmp_path: Path) -> Path:
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "cam.yaml").write_text(CAMERA_SCENE)
    return tmp_path


class Unpluggable(Source):
    """A bright camera at 30 fps that is unplugged from ``t_off`` to ``t_on`` (monotonic times).

    ``mode``: ``raise`` (reads raise), ``block`` (reads block until it is back) or ``repeat``
    (reads return the last image again and again).
    """

    live = True

    def __init__(self, mode: str, t_off: float, t_on: float, log: dict) -> None:
        self.name = f"unpluggable ({mode})"
        self.mode, self.t_off, self.t_on, self.log = mode, t_off, t_on, log
        self.pacer = Pacer(30.0)
        self.n = 0
        log.setdefault("last", np.full((48, 64, 3), 200, np.uint8))  # the device's, kept across opens

    def open(self) -> None:
        self.log["opens"] = self.log.get("opens", 0) + 1

    def read(self) -> tuple[np.ndarray, float] | None:
        t = self.pacer.wait()
        if self.t_off <= t < self.t_on:
            if self.mode == "raise":
                raise SourceError("unplugged")
            if self.mode == "block":
                while time.monotonic() < self.t_on:
                    time.sleep(0.01)
                t = time.monotonic()
            else:
                return self.log["last"], t
        self.n += 1
        image = np.full((48, 64, 3), 200, np.uint8)
        image[0, : self.n % 64] = 255  # every image differs, as a live sensor's do
        self.log["last"] = image
        return image, t

    def close(self) -> None:
        pass


@pytest.mark.parametrize("mode", ["raise", "block", "repeat"])
def test_camera_unplugged_for_5_s_mid_show(mode: str, tmp_path: Path) -> None:
    start = time.monotonic()
    t_off, t_on = start + 1.0, start + 6.0  # unplugged 5 s
    log: dict = {}
    stats = Stats()
    frames: Slot[Frame] = Slot("frames")
    settings = CaptureSettings(stall_timeout_s=1.0, frozen_timeout_s=1.0)
    capture = CaptureStage(stats, lambda: Unpluggable(mode, t_off, t_on, log), frames, settings=settings)
    loss = InputLoss(hold_s=0.5, fade_s=0.5, fallback="black")
    render = Render(enabled=True, width=64, height=48, folders=[scene_folder(tmp_path)])
    projector = Projector(render, stats, Controls(), frames, input_loss=loss)
    pipeline = Pipeline(stats)
    pipeline.add(capture)
    pipeline.start()
    ticks: list[tuple[float, float, float]] = []  # (time, tick duration, picture brightness)
    try:
        while time.monotonic() < t_on + 4.0:
            t0 = time.monotonic()
            projector.tick()
            picture = projector.renderer.read(projector.picture)
            ticks.append((t0, time.monotonic() - t0, float(picture[..., :3].mean())))
            time.sleep(max(0.0, 1 / 30 - (time.monotonic() - t0)))
    finally:
        pipeline.stop(1.0)
        projector.close()
    t = np.array([x[0] for x in ticks])
    took = np.array([x[1] for x in ticks])
    light = np.array([x[2] for x in ticks])
    # rendering never stops: no gap between frames drawn, and no frame, as long as the camera's
    # 1 s stall timeout or its 5 s absence (a frame waiting on the camera would show one). Sanity
    # bounds, not speed goals: idle, the longest gap is ~40 ms and the slowest frame ~20 ms; another
    # job on the machine has made a frame take 107 ms (the speed goals: perform bench, make soak)
    assert np.diff(t).max() < 0.5, f"longest gap between rendered frames {np.diff(t).max():.3f} s"
    assert took.max() < 0.5, f"slowest frame {took.max() * 1000:.0f} ms"
    # before: the camera image; during (after hold, fade and detection): the black fallback
    assert light[(t > start + 0.5) & (t < t_off)].min() > 150
    detect = 1.0 if mode != "raise" else 0.0  # a blocked or frozen camera is noticed after 1 s
    dark = light[(t > t_off + detect + loss.hold_s + loss.fade_s + 0.2) & (t < t_on)]
    assert len(dark) > 15 and dark.max() < 2, f"fallback not black: {dark.max():.1f}"
    # back: the source reopens (or resumes) and the picture returns within 3 s
    back = t[(t > t_on) & (light > 150)]
    assert len(back) and back[0] - t_on < 3.0, f"picture back {back[0] - t_on if len(back) else None} s late"
    assert projector.camera_lost is False


def test_capture_read_that_hangs_forever_is_replaced(tmp_path: Path) -> None:
    class HangsOnce(Source):
        name = "hangs once"
        live = True

        def __init__(self, shared: dict) -> None:
            self.shared, self.pacer, self.n = shared, Pacer(60.0), 0

        def open(self) -> None:
            self.shared["opens"] += 1
            self.first = self.shared["opens"] == 1

        def read(self) -> tuple[np.ndarray, float] | None:
            t = self.pacer.wait()
            self.n += 1
            if self.first and self.n == 20:
                self.shared["hung_at"] = time.monotonic()
                threading.Event().wait()  # forever
            image = np.zeros((8, 8, 3), np.uint8)
            image[0, 0] = self.n % 256
            return image, t

        def close(self) -> None:
            pass

    shared = {"opens": 0}
    stats = Stats()
    frames: Slot[Frame] = Slot("frames")
    arrivals: list[float] = []
    settings = CaptureSettings(stall_timeout_s=0.4, reopen_delay_s=0.0)
    stage = CaptureStage(stats, lambda: HangsOnce(shared), frames, settings=settings)
    reader = frames.reader("test")
    stage.start()
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            if reader.get(0.05) is not None:
                arrivals.append(time.monotonic())
        left_behind = stage.abandoned_threads
    finally:
        stage.stop()
        stage.join(1.0)
    hung = shared["hung_at"]
    after = [a for a in arrivals if a > hung]
    assert after, "no frame after the hang"
    # replaced after the 0.4 s stall timeout: idle, its first frame comes < 0.5 s (+ one frame)
    # after the hang; 1 s is the sanity bound a busy machine does not trip (never: no frame at all)
    assert after[0] - hung < 1.0, f"replaced after {after[0] - hung:.3f} s"
    assert shared["opens"] == 2 and stats.stage("capture").restarts == 1
    assert left_behind == 1  # the hung read's thread, and only that one


class StallingBackend:
    """A pose backend that finds nobody, and stalls once for ``stall_s`` at call ``stall_at``."""

    name = "stalling fake"
    timestamps: ClassVar[list[int]] = []
    calls = 0

    def __init__(self, stall_at: int, stall_s: float) -> None:
        self.stall_at, self.stall_s = stall_at, stall_s
        self._last = -1

    def __call__(self, image: np.ndarray, t: float) -> list:
        StallingBackend.calls += 1
        ms = max(int(t * 1000), self._last + 1)  # as MonotonicMs: per model instance
        self._last = ms
        StallingBackend.timestamps.append(ms)
        if StallingBackend.calls == self.stall_at:
            time.sleep(self.stall_s)
        return []

    def close(self) -> None:
        pass


def test_pose_inference_stalling_2_s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    StallingBackend.timestamps, StallingBackend.calls = [], 0
    backends: list[StallingBackend] = []

    def make(config: object, static_images: bool = False) -> StallingBackend:
        backends.append(StallingBackend(stall_at=30, stall_s=2.0))
        return backends[-1]

    monkeypatch.setattr("perform.vision.stage.make_backend", make)
    stats = Stats()
    frames: Slot[Frame] = Slot("frames")
    poses: Slot[Poses] = Slot("poses")
    pose = PoseStage(stats, frames, poses, PoseConfig(max_people=1, masks=False))
    pose.stall_budget_s = 0.5
    pipeline = Pipeline(stats)
    pipeline.add(pose)
    render = Render(enabled=True, width=64, height=48, folders=[scene_folder(tmp_path)])
    projector = Projector(render, stats, Controls(), frames, poses)
    pipeline.start()
    image = np.full((48, 64, 3), 100, np.uint8)
    seq = 0
    ticks: list[tuple[float, bool, float, bool]] = []  # (time, poses stale, age of poses, no newer came)
    start = time.monotonic()
    try:
        while time.monotonic() < start + 4.0:
            t0 = time.monotonic()
            frames.publish(Frame(image, seq, t0))
            seq += 1
            before, t_tick = poses.latest(), time.monotonic()
            projector.tick()
            latest = poses.latest()  # the poses this tick drew, unless newer ones came during it
            age = t_tick - latest.t_capture if latest else 0.0
            ticks.append((t0, projector.pose_stale, age, latest is before))
            time.sleep(max(0.0, 1 / 30 - (time.monotonic() - t0)))
    finally:
        pipeline.stop(1.0)
        projector.close()
    t = np.array([x[0] for x in ticks])
    stale = np.array([x[1] for x in ticks])
    age = np.array([x[2] for x in ticks])
    known = np.array([x[3] for x in ticks])  # ticks whose poses' age is the one the projector saw
    # render fps holds: frames kept being drawn through the 2 s stall (idle: ~30 fps, gaps < 0.1 s;
    # the bounds leave room for another job on the machine, and a render waiting on poses would
    # show a 2 s gap)
    assert np.diff(t).max() < 0.5 and len(t) > 4.0 * 30 * 0.5, f"{len(t)} frames in 4 s"
    # stale after 200 ms: every frame whose newest poses are > 0.25 s old is marked stale, none < 0.15 s
    assert stale[known & (age > 0.25)].all() and not stale[known & (age < 0.15)].any()
    assert stale.any()
    # the stage was restarted with a fresh model once, well before the 2 s stall ended
    assert pose.stats.restarts == 1 and len(backends) == 2
    # idle: < 0.5 s budget + 0.2; without the restart they would be > 2 s old
    assert age.max() < 1.5, f"poses were {age.max():.2f} s old at worst (budget 0.5 s)"
    # timestamps handed to MediaPipe keep strictly increasing across the restart
    ts = StallingBackend.timestamps
    assert all(b > a for a, b in itertools.pairwise(ts)), "timestamps went back"
    assert pose.left_behind <= 1


class OutOfMemoryAt(torch.nn.Module):
    """Identity network that raises CUDA out-of-memory at call ``k``."""

    def __init__(self, k: int) -> None:
        super().__init__()
        self.k, self.calls = k, 0
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.k:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        return x * self.scale


def test_style_out_of_memory_at_frame_k_passes_frames_through_then_retries() -> None:
    k = 5
    net = OutOfMemoryAt(k)
    config = StyleConfig(enabled=True, scales=[1.0], retry={"first_s": 0.3, "max_s": 2.0})
    stylizer = Stylizer(config, device=torch.device("cpu"))
    stylizer.add_model(tiny_model(net=net))
    stats = Stats()
    poses: Slot[Poses] = Slot("poses")
    styled: Slot[Styled] = Slot("styled")
    stage = StyleStage(stats, poses, styled, config, Controls(), stylizer=stylizer)
    reader = styled.reader("test")
    stage.start()
    got: dict[int, Styled] = {}
    sent: dict[int, float] = {}
    try:
        image = photo()
        for seq in range(40):
            t = time.monotonic()
            frame = Frame(image, seq, t)
            sent[seq] = t
            poses.publish(Poses(seq=seq, t_capture=t, width=64, height=48, frame=frame))
            out = reader.get(0.5)  # each frame's result before the next frame is sent
            if out is not None:
                got[out.seq] = out
            time.sleep(max(0.0, 1 / 30 - (time.monotonic() - t)))
    finally:
        stage.stop()
        stage.join(1.0)
    styled_seqs = [s for s, o in got.items() if o.styled]
    failed = [s for s, o in got.items() if not o.styled]
    # every frame came out (none lost to the failure), in order
    assert sorted(got) == list(range(40))
    # the failing frame passed through within the same frame, the camera image untouched
    first_fail = min(failed)
    assert got[first_fail].image is image
    # back-off: styling resumes after ~0.3 s (about 9 frames at 30 fps), not at once, not never
    resumed = min(s for s in styled_seqs if s > first_fail)
    waited = sent[resumed] - sent[first_fail]
    # (idle: < 0.45 s; the upper bound is a sanity bound a busy machine does not trip)
    assert 0.25 < waited < 1.0, f"styling resumed after {waited:.2f} s"
    assert stage.failures == 1 and stats.stage("style").errors == 1
