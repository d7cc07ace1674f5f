"""Looking where something moves: blobs from real video, views around them, the landmark budget, masks."""

from __future__ import annotations

import numpy as np
import pytest

from perform.vision.config import PoseConfig
from perform.vision.motion import Box, MotionMap
from perform.vision.perception import Perception
from perform.vision.twopass import TwoPassPose, View, unexplained, views_around
from perform.vision.types import Detection
from tests.footage import video_frames
from tests.tools import needs_vtest


def test_views_are_sized_to_the_blob_and_follow_a_group():
    (one,) = views_around([Box(100, 100, 120, 160)])  # a walker 60 px tall
    assert one == View(110 - 90, 130 - 90, 180.0)  # 3 x the height, centred
    (small,) = views_around([Box(10, 10, 14, 30)])
    assert small.size == 96.0  # never below the least side
    group = views_around([Box(0, 100, 400, 160)])  # people side by side, 400 px wide
    assert len(group) >= 3 and all(v.size == 180.0 for v in group)
    centres = [v.x0 + v.size / 2 for v in group]
    assert (
        centres == sorted(centres) and centres[0] == pytest.approx(45) and centres[-1] == pytest.approx(355)
    )
    assert views_around([Box(100, 100, 120, 160), Box(101, 101, 121, 161)]) == [one]  # merged


def test_the_parts_of_a_blob_nobody_explains_are_where_someone_else_may_stand():
    blob = Box(600, 100, 640, 160)  # 60 px tall, room for one
    assert unexplained(blob, []) == [620.0]  # nobody known: the whole blob
    assert unexplained(blob, [Box(600, 100, 620, 160)]) == [630.0]  # beside the known one
    assert unexplained(blob, [Box(600, 100, 630, 160)]) == []  # 10 px: nobody fits
    assert unexplained(blob, [Box(0, 0, 10, 10)]) == [620.0]  # a box elsewhere explains nothing
    assert unexplained(Box(0, 0, 60, 40), []) == [10.0, 30.0, 50.0]  # three side by side


@needs_vtest
def test_motion_map_finds_the_walkers_of_real_footage_and_nothing_before_it_has_learnt():
    motion = MotionMap()
    seen = []
    for i, image in video_frames(0, 60):
        blobs = motion.update(image)
        if i < 14:
            assert blobs == [] and motion.silhouette(768, 576) is None
        seen.append(len(blobs))
    assert motion.warm and 2 <= max(seen[30:]) <= 12, seen
    for b in motion.blobs:  # people-shaped: taller than wide, within the frame
        assert 0 <= b.x0 < b.x1 <= 768 and 0 <= b.y0 < b.y1 <= 576
        assert b.h >= 0.04 * 576
    mask = motion.silhouette(768, 576)
    assert mask.shape == (576, 768) and mask.dtype == np.float32
    assert 0.002 < (mask > 0.5).mean() < 0.2  # the walkers, not the lawn


@needs_vtest
def test_motion_proposals_and_the_landmark_budget_on_real_footage():
    backend = TwoPassPose(num_poses=10, masks=True, proposals="motion", detect_every=5, landmark_budget=3)
    counts, runs = [], []
    for i, image in video_frames(60, 141):
        people = backend(image, i / 10.0)
        counts.append(len(people))
        runs.append(backend.last_runs[1])
        for det in people:
            assert det.mask is not None and det.mask.shape == (576, 768)
    assert max(counts[30:]) >= 5, counts  # 6-8 people walk there by frame 100
    # while more people are tracked than the budget, only new people go over it
    assert np.median(runs[30:]) <= 4, runs


def test_carried_people_move_with_their_motion_between_refreshes():
    from perform.vision.twopass import Roi, _Person, _Track

    lm = np.zeros((33, 4), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 3] = 0.5, 0.5, 1.0
    person = _Person(lm, np.zeros((33, 3), np.float32), 0.9, None, Roi(50, 50, 40, 0.0), True)
    track = _Track(person, Roi(50, 50, 40, 0.0), velocity=(2.0, -1.0))
    later = track.carried(100, 100).carried(100, 100)
    assert later.stale == 2
    assert later.person.landmarks[0, 0] == pytest.approx(0.54) and later.person.landmarks[
        0, 1
    ] == pytest.approx(0.48)
    assert (later.roi.cx, later.roi.cy) == (54, 48)


def test_the_union_mask_is_smoothed_over_time_and_fades_when_nobody_is_left():
    def det(on: bool) -> Detection:
        mask = np.zeros((20, 30), np.float32)
        if on:
            mask[5:15, 10:20] = 1.0
        lm = np.full((33, 4), 0.5, np.float32)
        return Detection(lm, np.zeros((33, 3), np.float32), 0.9, mask)

    tracking = {"confirm_frames": 1}
    smooth = Perception(PoseConfig(max_people=2, mask_smoothing_s=0.1, tracking=tracking))
    raw = Perception(PoseConfig(max_people=2, mask_smoothing_s=0.0, tracking=tracking))
    values, raws = [], []
    for n in range(12):  # the mask flickers on and off at 30 fps
        t = n / 30.0
        values.append(float(smooth([det(n % 2 == 0)], n, t, 30, 20).mask[10, 15]))
        raws.append(float(raw([det(n % 2 == 0)], n, t, 30, 20).mask[10, 15]))
    assert raws[-4:] == [1.0, 0.0, 1.0, 0.0]
    assert all(0.3 < v < 0.8 for v in values[-4:]), values  # no flicker
    t = 0.4
    for n in range(12, 40):
        t += 1 / 30.0
        poses = smooth([], n, t, 30, 20)
    assert poses.mask is None  # nobody left: faded out
