import numpy as np
import pytest
from pydantic import ValidationError

from perform.events.config import EventsConfig, Floor, Zone
from perform.events.zones import FloorMap, ZoneTracker
from perform.vision.types import LM, NUM_LANDMARKS, Body, Poses

# A known homography: stage (metres) -> image (normalised), a camera looking down at the floor.
H_STAGE_TO_IMAGE = np.array([[0.1, 0.02, 0.5], [0.0, -0.05, 0.95], [0.0, 0.15, 1.0]])


def to_image(xy: np.ndarray) -> np.ndarray:
    p = np.concatenate([np.atleast_2d(xy), np.ones((len(np.atleast_2d(xy)), 1))], axis=1) @ H_STAGE_TO_IMAGE.T
    return p[:, :2] / p[:, 2:3]


STAGE_MARKS = [(-2.0, 0.0), (2.0, 0.0), (2.0, 4.0), (-2.0, 4.0)]
FLOOR = Floor(image=[tuple(p) for p in to_image(np.array(STAGE_MARKS))], stage=STAGE_MARKS)


def body(slot: int, stage_xy: tuple[float, float], feet_visible: bool = True) -> Body:
    lm = np.zeros((NUM_LANDMARKS, 4), np.float32)
    lm[:, 3] = 0.9
    feet = [LM[n] for n in ("left_ankle", "right_ankle", "left_heel", "right_heel")]
    x, y = stage_xy
    # the feet either side of the point in the image, so their midpoint is its image exactly
    centre = to_image(np.array([x, y]))[0]
    for k, i in enumerate(feet):
        lm[i, :2] = centre + (0.01 if k % 2 else -0.01, 0.0)
        lm[i, 3] = 0.9 if feet_visible else 0.1
    return Body(slot, lm, np.zeros((NUM_LANDMARKS, 3), np.float32))


def poses(t: float, *bodies: Body) -> Poses:
    return Poses(0, t, 1280, 720, tuple(bodies))


def test_calibration_recovers_stage_metres():
    floor = FloorMap(FLOOR)
    pts = np.array([[0.0, 0.0], [1.0, 2.0], [-1.5, 3.5], [0.3, 1.1]])
    assert np.allclose(floor.to_stage(to_image(pts)), pts, atol=1e-4)


def test_positions_from_the_feet_and_none_when_they_are_hidden():
    tracker = ZoneTracker(FLOOR, [])
    _, pos = tracker.update(poses(0.0, body(1, (1.0, 2.0)), body(2, (-1.0, 1.0), feet_visible=False)))
    assert set(pos) == {1}
    assert np.allclose(pos[1], (1.0, 2.0), atol=1e-3)


def test_enter_dwell_and_exit_with_margin():
    zone = Zone(
        name="front", polygon=[(-1.0, 0.0), (1.0, 0.0), (1.0, 1.0), (-1.0, 1.0)], dwell_s=1.0, margin_m=0.2
    )
    tracker = ZoneTracker(FLOOR, [zone])
    path = {
        0.0: (0.0, 2.0),
        0.5: (0.0, 0.5),
        1.0: (0.0, 0.6),
        1.5: (0.0, 1.1),
        2.0: (0.0, 1.15),
        2.5: (0.5, 0.5),
    }
    path.update({3.5: (0.5, 0.5), 4.0: (0.0, 1.5)})
    out = []
    for t, xy in sorted(path.items()):
        events, _ = tracker.update(poses(t, body(1, xy)))
        out += [(e.name, e.slot, e.active, e.t, round(e.value, 3)) for e in events]
    # 1.1 and 1.15 are outside, but within the 0.2 m margin: still inside
    assert out == [
        ("zone.front", 1, True, 0.5, 1.0),
        ("zone.front.dwell", 1, True, 1.5, 1.0),
        ("zone.front.dwell", 1, True, 2.5, 2.0),
        ("zone.front.dwell", 1, True, 3.5, 3.0),
        ("zone.front", 1, False, 4.0, 3.5),
    ]


def test_several_performers_and_a_leaving_performer_exits():
    zones = [
        Zone(name="left", polygon=[(-2, 0), (0, 0), (0, 4), (-2, 4)]),
        Zone(name="right", polygon=[(0, 0), (2, 0), (2, 4), (0, 4)]),
    ]
    tracker = ZoneTracker(FLOOR, zones)
    e1, _ = tracker.update(poses(0.0, body(1, (-1.0, 1.0)), body(2, (1.0, 1.0))))
    e2, _ = tracker.update(poses(1.0, body(1, (-1.0, 1.0))))
    e3, _ = tracker.update(poses(2.0, body(1, (-1.0, 1.0), feet_visible=False)))  # unseen feet: stays
    assert {(e.name, e.slot, e.active) for e in e1} == {("zone.left", 1, True), ("zone.right", 2, True)}
    assert [(e.name, e.slot, e.active, e.value) for e in e2] == [("zone.right", 2, False, 1.0)]
    assert e3 == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"floor": {"image": [[0, 0], [1, 0], [2, 0], [0, 1]], "stage": STAGE_MARKS}}, "are on one line"),
        ({"floor": {"image": [[0, 0], [1, 0], [1, 1]], "stage": STAGE_MARKS}}, "at least 4"),
        (
            {"floor": FLOOR.model_dump(), "zones": [{"name": "a", "polygon": [[0, 0], [1, 1], [2, 2]]}]},
            "has no area",
        ),
        (
            {
                "floor": FLOOR.model_dump(),
                "zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]]}] * 2,
            },
            "appears twice",
        ),
        (
            {"floor": FLOOR.model_dump(), "zones": [{"name": "A b", "polygon": [[0, 0], [1, 0], [1, 1]]}]},
            "zone name",
        ),
    ],
)
def test_bad_zone_config(data, message):
    with pytest.raises(ValidationError) as info:
        EventsConfig.model_validate(data)
    assert message in str(info.value)
