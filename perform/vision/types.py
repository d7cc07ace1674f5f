"""What the pose stage hands on: typed bodies, never MediaPipe protobufs.

Coordinates follow MediaPipe: ``x`` and ``y`` are normalised to the image (0..1, origin top
left, y down), ``z`` is depth relative to the hips on roughly the scale of ``x`` (smaller is
nearer the camera), ``visibility`` is 0..1. World coordinates are metres with the origin
between the hips (x right, y down, z away from the camera).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from perform.pipeline.frame import Frame

if TYPE_CHECKING:
    from perform.vision.detail import Detail

#: MediaPipe BlazePose's 33 landmarks, in its order.
LANDMARK_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye_inner",
    "left_eye",
    "left_eye_outer",
    "right_eye_inner",
    "right_eye",
    "right_eye_outer",
    "left_ear",
    "right_ear",
    "mouth_left",
    "mouth_right",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_pinky",
    "right_pinky",
    "left_index",
    "right_index",
    "left_thumb",
    "right_thumb",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
    "left_foot_index",
    "right_foot_index",
)
NUM_LANDMARKS = len(LANDMARK_NAMES)
#: Landmark name -> row in the landmark arrays.
LM: dict[str, int] = {name: i for i, name in enumerate(LANDMARK_NAMES)}

#: Bones for drawing skeletons (pairs of landmark indices), as MediaPipe's POSE_CONNECTIONS.
CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8), (9, 10),
    (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21), (17, 19),
    (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
    (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
    (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Detection:
    """One person as a pose backend found them in one image, before tracking.

    ``landmarks`` is (33, 4) float32: x, y, z, visibility. ``world`` is (33, 3) float32 metres.
    ``mask`` is this person's segmentation, (H, W) float32 0..1 at the image's size, or None.
    """

    landmarks: np.ndarray
    world: np.ndarray
    score: float = 1.0
    mask: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """A tracked performer: a detection with its stable slot number (1, 2, ...), smoothed."""

    slot: int
    landmarks: np.ndarray
    world: np.ndarray
    score: float = 1.0
    mask: np.ndarray | None = None
    #: Seconds since this performer entered (capture clock).
    age_s: float = 0.0

    def point(self, name: str) -> np.ndarray:
        """(x, y) of a named landmark, normalised."""
        return self.landmarks[LM[name], :2]


@dataclass(frozen=True, slots=True)
class PersonEvent:
    """A performer entering or leaving the stage."""

    kind: str  # "enter" | "leave"
    slot: int
    t: float


@dataclass(frozen=True, slots=True)
class Poses:
    """Everything the pose stage knows about one frame.

    ``features`` maps feature names (``people``, ``p1.energy``, ``stage.energy``...) to floats;
    see :mod:`perform.vision.features` for names and ranges.
    """

    seq: int
    t_capture: float
    width: int
    height: int
    bodies: tuple[Body, ...] = ()
    features: dict[str, float] = field(default_factory=dict)
    events: tuple[PersonEvent, ...] = ()
    #: Union of the bodies' masks, (H, W) float32 0..1, when masks are enabled.
    mask: np.ndarray | None = None
    #: The frame the poses were found in (None when replayed from a take or generated).
    frame: Frame | None = None
    #: Hands and face by slot, for the performers who get them (``pose.detail``); a part not
    #: found is None in its :class:`~perform.vision.detail.Detail`.
    details: dict[int, Detail] = field(default_factory=dict)

    def faded(self, keep: float) -> Poses:
        """These poses on their way out (tracking lost): visibility, mask and features times
        ``keep``; hands and face stay as they are (present or absent)."""
        bodies = []
        for body in self.bodies:
            landmarks = body.landmarks.copy()
            landmarks[:, 3] *= keep
            bodies.append(replace(body, landmarks=landmarks))
        mask = None if self.mask is None else self.mask * keep
        features = {k: v * keep for k, v in self.features.items()}
        return replace(self, bodies=tuple(bodies), features=features, mask=mask)

    def body(self, slot: int) -> Body | None:
        return next((b for b in self.bodies if b.slot == slot), None)
