"""Performer slots through a crossing of two real people, found by the real multi-person model."""

import cv2
import numpy as np
import pytest

from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.tracker import body_centre
from tests.people import source

W, H, SIDE, FRAMES = 1280, 720, 420, 36


def crossing_frames():
    """The astronaut walks left to right while the cameraman walks right to left, passing in front."""
    astronaut = cv2.resize(source("astronaut"), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    cameraman = cv2.resize(source("camera"), (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    for n in range(FRAMES):
        u = n / (FRAMES - 1)
        xa = round(60 + u * (W - SIDE - 120))
        xc = round(W - SIDE - 60 - u * (W - SIDE - 120))
        frame = np.full((H, W, 3), 40, np.uint8)
        frame[H - SIDE :, xa : xa + SIDE] = astronaut
        frame[H - SIDE :, xc : xc + SIDE] = cameraman  # in front at the crossing
        yield n, frame, (xa + SIDE / 2) / W, (xc + SIDE / 2) / W


@pytest.mark.parametrize("backend", ["twopass", "tasks"])
def test_slots_follow_each_person_through_a_crossing(backend):
    # the pasted photographs move with their backgrounds, which no fixed camera sees: the fixed
    # tiles, not motion proposals (real crossings: tests/test_perception_footage.py)
    config = PoseConfig(
        max_people=2,
        backend=backend,
        masks=False,
        proposals="grid",
        tracking={"confirm_frames": 2, "grace_s": 1.0},
    )
    backend = make_backend(config)
    perception = Perception(config)
    slot_of: dict[str, list[tuple[int, int]]] = {"astronaut": [], "cameraman": []}
    try:
        for n, frame, xa, xc in crossing_frames():
            poses = perception(backend(frame, n / 30), n, n / 30, W, H)
            for body in poses.bodies:
                x = float(body_centre(body.landmarks)[0])
                if abs(xa - xc) < 0.15:
                    continue  # overlapping: identity is not defined by position alone
                who = "astronaut" if abs(x - xa) < abs(x - xc) else "cameraman"
                slot_of[who].append((n, body.slot))
    finally:
        backend.close()
    for who, seen in slot_of.items():
        frames = [n for n, _ in seen]
        assert min(frames) < FRAMES / 3 and max(frames) > 2 * FRAMES / 3, f"{who} not seen on both sides"
        assert len({slot for _, slot in seen}) == 1, f"{who} changed slot: {seen}"
    assert slot_of["astronaut"][0][1] != slot_of["cameraman"][0][1]
