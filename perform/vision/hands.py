"""Hand landmarks cut from the body: MediaPipe Holistic's hand path, run with LiteRT.

For each hand of a performer, as MediaPipe's ``hand_landmarks_from_pose_cpu`` graph does:

1. **ROI from the body.** The body's wrist, index and pinky landmarks give a rotated square
   (``HandDetectionsFromPoseToRectsCalculator``, then ``RectTransformationCalculator`` x 2.7);
   a body whose wrist visibility is under 0.1 has no hand
   (``HandVisibilityFromHandLandmarksFromPose``).
2. **Re-crop.** ``hand_recrop.tflite`` looks at that square and gives the hand's centre and scale
   (``HandRecropByRoiCpu``). It runs when a hand is (re)acquired; a hand followed from the last
   frame starts from its own landmarks' ROI moved with the body's wrist (``HandTracking``).
3. **Landmarks.** ``hand_landmark_lite.tflite`` (or ``_full``) on the ROI at the frame's full
   resolution: 21 landmarks, a presence score and a handedness score. Presence under
   ``min_presence`` is "no hand here"; so is a hand whose wrist lies outside the square of step 1
   (someone else's hand, or the performer's other one).

Conventions. ``left``/``right`` are the body's: the left hand is the one at the body's
``left_wrist``, never guessed from the hand's shape. BlazePose's left is the performer's own left
in an unmirrored image (a selfie-style mirrored source swaps them, for the body and the hands
alike). The hand model's own handedness output reads, on the unmirrored photographs of
tests/data/hands, as the probability of an anatomical right hand; :attr:`Hand.handedness` is
turned to agree with the body: near 1 when the model agrees the hand is on the side the body
says. It is unsure on some views (0.5 for an open hand seen edge-on), so it only decides which
side keeps a hand both sides found.

Coordinates are the body's: ``x``, ``y`` normalised to the image (origin top left, y down), ``z``
depth relative to the wrist on roughly the scale of ``x`` (smaller is nearer the camera). World
landmarks are metres around the hand's centre, x right, y down, z away from the camera.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from perform.vision.twopass import Roi, _interpreter, roi_matrix
from perform.vision.types import LM

Side = Literal["left", "right"]
SIDES: tuple[Side, Side] = ("left", "right")

#: MediaPipe Hands' 21 landmarks, in its order (``INDEX_FINGER_TIP`` is ``index_tip``).
HAND_LANDMARK_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc",
    "thumb_mcp",
    "thumb_ip",
    "thumb_tip",
    "index_mcp",
    "index_pip",
    "index_dip",
    "index_tip",
    "middle_mcp",
    "middle_pip",
    "middle_dip",
    "middle_tip",
    "ring_mcp",
    "ring_pip",
    "ring_dip",
    "ring_tip",
    "pinky_mcp",
    "pinky_pip",
    "pinky_dip",
    "pinky_tip",
)
NUM_HAND_LANDMARKS = len(HAND_LANDMARK_NAMES)
#: Hand landmark name -> row.
HL: dict[str, int] = {name: i for i, name in enumerate(HAND_LANDMARK_NAMES)}
#: Bones for drawing, as MediaPipe's HAND_CONNECTIONS.
HAND_CONNECTIONS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (5, 9), (9, 10), (10, 11),
    (11, 12), (9, 13), (13, 14), (14, 15), (15, 16), (13, 17), (0, 17), (17, 18), (18, 19), (19, 20),
)  # fmt: skip

#: The models inside the mediapipe wheel, relative to its folder.
HAND_MODELS: dict[str, Path] = {
    "full": Path("modules/hand_landmark/hand_landmark_full.tflite"),
    "lite": Path("modules/hand_landmark/hand_landmark_lite.tflite"),
}
RECROP_MODEL = Path("modules/holistic_landmark/hand_recrop.tflite")
# What they take and give (read from their flatbuffers):
#   hand landmarks: input_1 (1,224,224,3) RGB 0..1; Identity (1,63) 21 x (x, y, z) crop pixels,
#                   Identity_1 (1,1) presence 0..1, Identity_2 (1,1) handedness 0..1 (a right
#                   hand, in an unmirrored picture), Identity_3 (1,63) world landmarks, metres.
#   re-crop:        input_1 (1,256,256,3) RGB 0..1; output_crop (1,1,1,4) centre and scale
#                   points, crop pixels.
_HAND_SIZE = 224
_RECROP_SIZE = 256
# TensorsToLandmarksCalculator's normalize_z for the hand model: its z is 1 / 0.4 of x's scale.
_HAND_Z_SCALE = 0.4
# The body's wrist must be this visible for its hand to be looked for (MediaPipe: 0.1).
MIN_WRIST_VISIBILITY = 0.1
# hand_tracking.pbtxt's RoiTrackingCalculator: the last ROI is kept while the body's hand points
# stay inside it shrunk by this margin.
_TRACK_MARGIN = 0.1


@dataclass(frozen=True, slots=True)
class Hand:
    """One hand of one performer.

    ``landmarks`` is (21, 3) float32: x, y normalised to the image, z relative to the wrist on
    the scale of x. ``world`` is (21, 3) float32 metres around the hand's centre. ``score`` is
    the model's hand presence, ``handedness`` its agreement (0..1) that this is the ``side``
    hand. ``t`` is the capture time of the frame the landmarks were measured on (older than the
    current frame when carried between measurements).
    """

    side: Side
    landmarks: np.ndarray
    world: np.ndarray
    score: float
    handedness: float
    t: float

    def point(self, name: str) -> np.ndarray:
        """(x, y) of a named hand landmark, normalised."""
        return self.landmarks[HL[name], :2]


@dataclass(frozen=True, slots=True)
class HandFit:
    """What the hand model found in one ROI: landmarks in frame pixels (21, 3; z in pixels of x),
    world landmarks (21, 3, metres, in the frame's axes), presence, the model's handedness (how
    sure it is of a right hand) and the ROI it ran on."""

    pixels: np.ndarray
    world: np.ndarray
    presence: float
    right: float
    roi: Roi


def rotation_to(start: np.ndarray, end: np.ndarray, target: float) -> float:
    """The ROI rotation (radians, clockwise on screen) that turns the vector ``start -> end`` (pixels)
    to ``target`` radians (counter-clockwise from +x, y up): DetectionsToRectsCalculator's."""
    angle = target - math.atan2(-(float(end[1]) - float(start[1])), float(end[0]) - float(start[0]))
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def transform_rect(
    cx: float, cy: float, w: float, h: float, rotation: float, scale: float, shift_y: float = 0.0
) -> Roi:
    """RectTransformationCalculator with ``square_long``: shift along the rect's own y axis by
    ``shift_y`` of its height, square on the long side, scale."""
    cx -= h * shift_y * math.sin(rotation)
    cy += h * shift_y * math.cos(rotation)
    return Roi(cx, cy, max(w, h) * scale, rotation)


def hand_roi_from_body(wrist: np.ndarray, index: np.ndarray, pinky: np.ndarray) -> Roi:
    """The re-crop model's search square from the body's wrist, index and pinky (pixels):
    centred on the estimated middle finger, twice its distance from the wrist, x 2.7, shifted a
    tenth towards the fingers, upright along wrist -> middle finger (HandLandmarksFromPoseToRecropRoi)."""
    middle = (2.0 * index + pinky) / 3.0
    size = 2.0 * float(np.hypot(*(middle - wrist)))
    rotation = rotation_to(wrist, middle, math.pi / 2)
    return transform_rect(float(middle[0]), float(middle[1]), size, size, rotation, 2.7, -0.1)


def hand_roi_from_recrop(centre: np.ndarray, scale: np.ndarray) -> Roi:
    """The landmark model's square from the re-crop model's centre and scale points (pixels):
    centred on the first, twice their distance, turned so the second lies straight below the
    first (AlignmentPointsRectsCalculator, target -90 degrees), then shifted a tenth towards the
    fingers (HandRecropByRoiCpu)."""
    size = 2.0 * float(np.hypot(*(scale - centre)))
    rotation = rotation_to(centre, scale, -math.pi / 2)
    return transform_rect(float(centre[0]), float(centre[1]), size, size, rotation, 1.0, -0.1)


#: The palm's landmarks HandLandmarksToRoi bounds: wrist, thumb base, and each finger's first two.
_PALM = np.array([0, 1, 2, 3, 5, 6, 9, 10, 13, 14, 17, 18])


def hand_roi_from_landmarks(pixels: np.ndarray) -> Roi:
    """The next frame's square from this frame's hand landmarks (pixels): upright along the
    wrist -> (index, middle, ring knuckles), bounding the palm, x 2, shifted a tenth towards the
    fingers (HandLandmarksToRectCalculator, HandLandmarksToRoi)."""
    p = pixels[_PALM, :2].astype(np.float64)
    knuckles = ((pixels[5, :2] + pixels[13, :2]) / 2 + pixels[9, :2]) / 2
    rotation = rotation_to(pixels[0, :2], knuckles, math.pi / 2)
    centre = (p.max(axis=0) + p.min(axis=0)) / 2
    c, s = math.cos(rotation), math.sin(rotation)
    back = np.array([[c, s], [-s, c]])  # frame -> rect axes
    q = (p - centre) @ back.T
    lo, hi = q.min(axis=0), q.max(axis=0)
    mid = centre + np.array([[c, -s], [s, c]]) @ ((lo + hi) / 2)
    w, h = hi - lo
    return transform_rect(float(mid[0]), float(mid[1]), float(w), float(h), rotation, 2.0, -0.1)


def points_inside(points: np.ndarray, roi: Roi, margin: float = _TRACK_MARGIN) -> bool:
    """Whether every point (pixels) lies inside ``roi`` shrunk by ``margin`` (RoiTrackingCalculator's
    landmarks requirement)."""
    c, s = math.cos(roi.rotation), math.sin(roi.rotation)
    d = points[:, :2] - np.array([roi.cx, roi.cy])
    u = d @ np.array([[c, s], [-s, c]]).T
    half = roi.size * (1.0 - margin) / 2
    return bool(np.all(np.abs(u) < half))


def warp(image: np.ndarray, roi: Roi, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``size`` x ``size`` crop of ``roi`` as a float32 0..1 tensor (1, size, size, 3), and the
    2 x 3 map from crop pixels to frame pixels (ImageToTensorCalculator: bilinear, edges repeated)."""
    m = roi_matrix(roi, size)
    crop = cv2.warpAffine(
        image, m, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE
    )
    return (crop.astype(np.float32) * (1.0 / 255.0))[None], m


def body_hand_points(body_landmarks: np.ndarray, side: Side, w: int, h: int) -> np.ndarray | None:
    """The body's (wrist, index, pinky) of one side in pixels (3, 2), or None when the wrist is
    not visible enough to look for a hand."""
    rows = [LM[f"{side}_wrist"], LM[f"{side}_index"], LM[f"{side}_pinky"]]
    pts = body_landmarks[rows]
    if not np.isfinite(pts[:, :2]).all() or float(pts[0, 3]) < MIN_WRIST_VISIBILITY:
        return None
    return pts[:, :2].astype(np.float64) * np.array([w, h])


class HandModel:
    """The hand landmark model and the re-crop model, run on ROIs of RGB frames. One thread."""

    def __init__(self, model: Literal["full", "lite"] = "full", threads: int = 1) -> None:
        import mediapipe as mp

        mp_dir = Path(mp.__file__).parent
        self._landmarks = _interpreter(mp_dir / HAND_MODELS[model], threads)
        self._recrop = _interpreter(mp_dir / RECROP_MODEL, threads)
        self._lm_in = self._landmarks.get_input_details()[0]["index"]
        out = {d["name"]: d["index"] for d in self._landmarks.get_output_details()}
        self._lm_out = [out[f"Identity{s}"] for s in ("", "_1", "_2", "_3")]
        self._rc_in = self._recrop.get_input_details()[0]["index"]
        self._rc_out = self._recrop.get_output_details()[0]["index"]

    def recrop(self, image: np.ndarray, roi: Roi) -> Roi:
        """The landmark ROI the re-crop model finds inside the search square ``roi``."""
        tensor, m = warp(image, roi, _RECROP_SIZE)
        self._recrop.set_tensor(self._rc_in, tensor)
        self._recrop.invoke()
        pts = self._recrop.get_tensor(self._rc_out).reshape(2, 2).astype(np.float64)
        px = pts @ m[:, :2].T + m[:, 2]
        return hand_roi_from_recrop(px[0], px[1])

    def fit(self, image: np.ndarray, roi: Roi) -> HandFit:
        """The hand landmark model on ``roi`` of ``image`` (RGB uint8)."""
        tensor, m = warp(image, roi, _HAND_SIZE)
        self._landmarks.set_tensor(self._lm_in, tensor)
        self._landmarks.invoke()
        get = self._landmarks.get_tensor
        raw, presence, right, world = (get(i) for i in self._lm_out)
        raw = raw.reshape(NUM_HAND_LANDMARKS, 3).astype(np.float64)
        px = np.empty_like(raw)
        px[:, :2] = raw[:, :2] @ m[:, :2].T + m[:, 2]
        px[:, 2] = raw[:, 2] / _HAND_Z_SCALE * (roi.size / _HAND_SIZE)
        c, s = math.cos(roi.rotation), math.sin(roi.rotation)
        world = world.reshape(NUM_HAND_LANDMARKS, 3).astype(np.float64)
        world[:, :2] = world[:, :2] @ np.array([[c, -s], [s, c]]).T
        return HandFit(px, world, float(presence.reshape(-1)[0]), float(right.reshape(-1)[0]), roi)
