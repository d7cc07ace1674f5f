"""Face landmarks cut from the body: MediaPipe's face mesh model on a ROI from the body's face points.

1. **ROI from the body.** The body's eleven face landmarks (nose, eyes, ears, mouth) give a
   square upright along the eyes (as ``FaceLandmarksFromPoseToRecropRoi``). MediaPipe Holistic
   then runs the face detector in a square three times that size; perform skips it and sizes the
   square for the landmark model directly: the body's face points span ear to ear and eye to
   mouth, and the landmark model wants 1.5 times the face (``face_landmark_landmarks_to_roi``).
2. **Landmarks.** ``face_landmark.tflite`` on that square at the frame's full resolution: 468
   points and a presence score; presence under ``min_presence`` is "no face here". On the
   frame a face is (re)acquired the model runs a second time on the square its own landmarks
   give; a face followed from the last frame starts from its landmarks' square moved with the
   body's head (``FaceTracking``).

``face_landmark_with_attention.tflite`` (478 points with irises) needs MediaPipe's own TFLite
operators and does not load in LiteRT, so the face has 468 points.

Coordinates are the body's (see :mod:`perform.vision.types`). Left and right are the body's
too: ``left_eye`` is the eye on the side BlazePose calls left (the image's right for a performer
facing an unmirrored camera), which is the face mesh's 263..362 eye.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from perform.vision.hands import rotation_to, transform_rect, warp
from perform.vision.twopass import Roi, _interpreter
from perform.vision.types import LM

FACE_MODEL = Path("modules/face_landmark/face_landmark.tflite")
# What it takes and gives (read from its flatbuffer): input_1 (1,192,192,3) RGB 0..1;
# conv2d_21 (1,1,1,1404) 468 x (x, y, z) crop pixels, conv2d_31 (1,1,1,1) presence logit.
_FACE_SIZE = 192
NUM_FACE_LANDMARKS = 468

#: Named points of the 468 (MediaPipe's canonical face mesh indices). Left and right are the
#: performer's, as the body's.
FACE_POINTS: dict[str, int] = {
    "forehead": 10,
    "chin": 152,
    "nose_tip": 4,
    "nose_bridge": 168,
    "mouth_left": 291,
    "mouth_right": 61,
    "upper_lip": 13,
    "lower_lip": 14,
    "left_eye_outer": 263,
    "left_eye_inner": 362,
    "left_eye_top": 386,
    "left_eye_bottom": 374,
    "right_eye_outer": 33,
    "right_eye_inner": 133,
    "right_eye_top": 159,
    "right_eye_bottom": 145,
    "left_brow": 334,
    "right_brow": 105,
    "left_cheek": 454,
    "right_cheek": 234,
}

#: FACE_POINTS' rows of the 468 landmarks, in that order.
FACE_ROWS: list[int] = list(FACE_POINTS.values())

# The body's face landmarks (the first 11 of BlazePose's 33).
_BODY_FACE = np.arange(11)
_BODY_EYES = (LM["right_eye"], LM["left_eye"])
# A face's ear-to-ear span is about its width; its eye-to-mouth height about 0.4 of its height.
_FACE_FROM_WIDTH, _FACE_FROM_HEIGHT = 1.5, 3.6
# The body's face points must be this visible (their mean) for a face to be looked for.
MIN_FACE_VISIBILITY = 0.5


@dataclass(frozen=True, slots=True)
class Face:
    """One performer's face.

    ``landmarks`` is (468, 3) float32: x, y normalised to the image, z on the scale of x
    (relative to the face's centre). ``score`` is the model's face presence. ``t`` is the
    capture time of the frame the landmarks were measured on.
    """

    landmarks: np.ndarray
    score: float
    t: float

    def point(self, name: str) -> np.ndarray:
        """(x, y) of a named face point (:data:`FACE_POINTS`), normalised."""
        return self.landmarks[FACE_POINTS[name], :2]


@dataclass(frozen=True, slots=True)
class FaceFit:
    """What the face model found in one ROI: 468 landmarks in frame pixels (z in pixels of x),
    the presence score and the ROI it ran on."""

    pixels: np.ndarray
    presence: float
    roi: Roi


def body_face_points(body_landmarks: np.ndarray, w: int, h: int) -> np.ndarray | None:
    """The body's 11 face landmarks in pixels (11, 2), or None when they are not visible enough
    (the performer turned away) to look for a face."""
    pts = body_landmarks[_BODY_FACE]
    if not np.isfinite(pts[:, :2]).all() or float(np.mean(pts[:, 3])) < MIN_FACE_VISIBILITY:
        return None
    return pts[:, :2].astype(np.float64) * np.array([w, h])


def _upright_box(points: np.ndarray, rotation: float) -> tuple[np.ndarray, float, float]:
    """Centre (pixels), width and height of ``points`` in axes turned by ``rotation``."""
    c, s = math.cos(rotation), math.sin(rotation)
    q = points @ np.array([[c, s], [-s, c]]).T
    lo, hi = q.min(axis=0), q.max(axis=0)
    centre = np.array([[c, -s], [s, c]]) @ ((lo + hi) / 2)
    return centre, float(hi[0] - lo[0]), float(hi[1] - lo[1])


def face_roi_from_body(points: np.ndarray) -> Roi:
    """The landmark model's square from the body's 11 face points (pixels): upright along the
    eyes, centred on their box, 1.5 x the face's size estimated from the box's width (ear to ear)
    or height (eyes to mouth), whichever says larger (a face in profile is narrow)."""
    rotation = rotation_to(points[_BODY_EYES[0]], points[_BODY_EYES[1]], 0.0)
    centre, w, h = _upright_box(points, rotation)
    size = max(_FACE_FROM_WIDTH * w, _FACE_FROM_HEIGHT * h)
    return Roi(float(centre[0]), float(centre[1]), size, rotation)


def face_roi_from_landmarks(pixels: np.ndarray) -> Roi:
    """The next frame's square from this frame's face landmarks (pixels): the box of all 468,
    upright along the eye corners 33 -> 263, x 1.5 (face_landmark_landmarks_to_roi)."""
    p = pixels[:, :2]
    rotation = rotation_to(p[33], p[263], 0.0)
    lo, hi = p.min(axis=0), p.max(axis=0)
    centre = (lo + hi) / 2
    w, h = hi - lo
    return transform_rect(float(centre[0]), float(centre[1]), float(w), float(h), rotation, 1.5)


class FaceModel:
    """The face landmark model, run on ROIs of RGB frames. One thread."""

    def __init__(self, threads: int = 1) -> None:
        import mediapipe as mp

        self._model = _interpreter(Path(mp.__file__).parent / FACE_MODEL, threads)
        self._in = self._model.get_input_details()[0]["index"]
        out = {d["name"]: d["index"] for d in self._model.get_output_details()}
        self._out_lm, self._out_flag = out["conv2d_21"], out["conv2d_31"]

    def fit(self, image: np.ndarray, roi: Roi) -> FaceFit:
        """The face landmark model on ``roi`` of ``image`` (RGB uint8)."""
        tensor, m = warp(image, roi, _FACE_SIZE)
        self._model.set_tensor(self._in, tensor)
        self._model.invoke()
        raw = self._model.get_tensor(self._out_lm).reshape(NUM_FACE_LANDMARKS, 3).astype(np.float64)
        logit = float(self._model.get_tensor(self._out_flag).reshape(-1)[0])
        px = np.empty_like(raw)
        px[:, :2] = raw[:, :2] @ m[:, :2].T + m[:, 2]
        px[:, 2] = raw[:, 2] * (roi.size / _FACE_SIZE)
        presence = 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, logit))))
        return FaceFit(px, presence, roi)
