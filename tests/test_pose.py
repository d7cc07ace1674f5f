"""BlazePose through the legacy backend on a real photograph, and the pose stage in a pipeline."""

import time

import cv2
import numpy as np
import pytest
import skimage.data

from perform.capture.config import ImageSource
from perform.runtime import ShowPipeline
from perform.show.models import Show
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.types import LM

# Positions read off astronaut.png (512 x 512) by eye, in pixels.
ASTRONAUT = {
    "nose": (226, 128),
    "right_shoulder": (102, 244),  # the person's right: image left
    "left_shoulder": (322, 254),
    "right_wrist": (150, 490),  # the gloved hand, bottom left
}
PERSON = [(226, 100), (200, 350), (90, 420), (300, 300)]  # face, suit
BACKGROUND = [(30, 100), (420, 150), (480, 30), (470, 300)]  # flag, shuttle, wall, backdrop


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage.data.astronaut()


@pytest.fixture(scope="module")
def legacy_result(astronaut):
    backend = make_backend(PoseConfig(max_people=1, backend="legacy"), static_images=True)
    try:
        return backend(astronaut, 0.0)
    finally:
        backend.close()


def test_landmarks_on_a_real_photograph(legacy_result):
    assert len(legacy_result) == 1
    person = legacy_result[0]
    assert person.landmarks.shape == (33, 4) and person.landmarks.dtype == np.float32
    assert person.world.shape == (33, 3)
    for name, (px, py) in ASTRONAUT.items():
        x, y = person.landmarks[LM[name], :2] * 512
        tolerance = 40 if "wrist" in name else 25  # the wrist is half hidden by the glove's cuff
        assert abs(x - px) < tolerance and abs(y - py) < tolerance, f"{name} at ({x:.0f}, {y:.0f})"
    assert person.landmarks[LM["nose"], 3] > 0.9
    # world coordinates are metres around the hips: shoulders roughly 0.3-0.5 m apart
    width = np.linalg.norm(person.world[LM["left_shoulder"]] - person.world[LM["right_shoulder"]])
    assert 0.25 < width < 0.6


def test_mask_covers_the_person_not_the_background(legacy_result):
    mask = legacy_result[0].mask
    assert mask is not None and mask.shape == (512, 512)
    assert all(mask[y, x] > 0.5 for x, y in PERSON)
    assert all(mask[y, x] < 0.5 for x, y in BACKGROUND)
    assert 0.2 < (mask > 0.5).mean() < 0.7


def test_pose_stage_in_a_running_pipeline(tmp_path, astronaut):
    path = tmp_path / "astronaut.png"
    cv2.imwrite(str(path), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    show = Show(
        source=ImageSource(kind="image", path=path, fps=15),
        pose=PoseConfig(max_people=1, tracking={"confirm_frames": 2}),
        control={"enabled": False},
    )
    pipeline = ShowPipeline(show)
    reader = pipeline.poses.reader("test")
    pipeline.start()
    got = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len([p for p in got if p.bodies]) < 5:
        poses = reader.get(0.5)
        if poses is not None:
            got.append(poses)
    pipeline.stop()
    with_bodies = [p for p in got if p.bodies]
    assert len(with_bodies) >= 5
    last = with_bodies[-1]
    assert last.bodies[0].slot == 1
    assert last.frame is not None and last.frame.seq == last.seq
    assert last.mask is not None and last.mask.shape == (512, 512)
    assert last.features["people"] == 1
    assert any(e.kind == "enter" and e.slot == 1 for p in got for e in p.events)
    assert pipeline.stats.stage("pose").frames >= 5
