import numpy as np

from perform.vision.types import LM
from perform.vision.virtual import VirtualTroupe


def test_same_seed_same_performance():
    a, b, c = VirtualTroupe(3, seed=5), VirtualTroupe(3, seed=5), VirtualTroupe(3, seed=6)
    for t in (1.0, 7.5, 20.0):
        da, db = (x.detections(t, 640, 360) for x in (a, b))
        assert [i for i, _ in da] == [i for i, _ in db]
        for (_, p), (_, q) in zip(da, db, strict=True):
            assert np.array_equal(p.landmarks, q.landmarks)
    assert any(
        len(a.detections(t, 640, 360)) != len(c.detections(t, 640, 360))
        or not np.allclose(
            a.detections(t, 640, 360)[0][1].landmarks, c.detections(t, 640, 360)[0][1].landmarks
        )
        for t in np.arange(2, 30, 0.5)
        if a.detections(t, 640, 360) and c.detections(t, 640, 360)
    )


def test_bodies_keep_their_proportions_while_moving():
    troupe = VirtualTroupe(2, seed=2)
    lengths = {}
    for t in np.arange(0, 40, 0.1):
        for ident, joints in troupe.world_joints(t):
            upper_arm = np.linalg.norm(joints[LM["left_shoulder"]] - joints[LM["left_elbow"]])
            shin = np.linalg.norm(joints[LM["right_knee"]] - joints[LM["right_ankle"]])
            lengths.setdefault(ident, []).append((upper_arm, shin))
    for values in lengths.values():
        values = np.array(values)
        assert np.ptp(values, axis=0).max() < 1e-6  # rigid bones
        assert 0.2 < values[0, 0] < 0.4 and 0.3 < values[0, 1] < 0.55


def test_people_enter_leave_and_do_everything():
    troupe = VirtualTroupe(3, seed=7)
    counts = [len(troupe.detections(t, 1280, 720)) for t in np.arange(0, 40, 0.25)]
    assert min(counts) <= 1 and max(counts) == 3
    actions = {seg.action for p in troupe.performers for seg in p.segments}
    assert {"walk", "raise_arms", "jump", "spin", "crouch"} <= actions


def test_landmarks_look_like_mediapipe():
    troupe = VirtualTroupe(1, seed=0)
    (_, det), *_ = troupe.detections(6.0, 1280, 720)
    lm = det.landmarks
    assert lm.shape == (33, 4) and det.world.shape == (33, 3)
    assert lm[LM["nose"], 1] < lm[LM["left_hip"], 1] < lm[LM["left_ankle"], 1]  # y down
    assert lm[LM["left_shoulder"], 0] > lm[LM["right_shoulder"], 0]  # facing the camera
    hips = (det.world[LM["left_hip"]] + det.world[LM["right_hip"]]) / 2
    assert np.allclose(hips, 0, atol=1e-5)  # world origin between the hips
    assert det.world[LM["nose"], 1] < 0  # world y down: the head is above the hips
