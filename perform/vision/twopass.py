"""A multi-person backend that runs BlazePose's two TFLite models itself, in two passes.

MediaPipe's pose graph, re-implemented in numpy and OpenCV on the two models inside the mediapipe
wheel (run with LiteRT, ``ai-edge-litert``):

1. **Detection.** The detector (224 x 224) looks at the whole frame letterboxed and at
   overlapping square tiles of the frame, so small performers are large enough in its input.
   Its SSD outputs are decoded with the anchors and options of MediaPipe's ``pose_detection``
   graph, mapped to frame pixels and merged by weighted non-max suppression across all views.
2. **Landmarks.** For each person, the rotated square ROI MediaPipe derives from the hip centre
   and the full-body scale keypoint (x 1.25) is warped from the full-resolution frame into the
   landmark model (256 x 256); its 33 landmarks (refined on the heatmap), world landmarks and
   segmentation are projected back to the frame.
3. **Tracking.** Each person's next ROI comes from the landmark model's two auxiliary points, so
   the detector runs only every ``detect_every`` frames, or on the frame after a person is lost.

See docs/multi-person.md for how it compares with :class:`perform.vision.tasks.TasksPose`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from perform.vision.base import PoseBackend
from perform.vision.bundle import DETECTOR_MODEL, LANDMARK_MODEL, ModelBundleError
from perform.vision.motion import Box, MotionMap
from perform.vision.tasks import similarity
from perform.vision.types import NUM_LANDMARKS, Detection

_DET_SIZE = 224
_LM_SIZE = 256
# MediaPipe's pose_detection graph: SsdAnchorsCalculator and TensorsToDetectionsCalculator options.
_STRIDES = (8, 16, 32, 32, 32)
_MIN_SCALE, _MAX_SCALE = 0.1484375, 0.75
_SCORE_CLIP = 100.0
_NMS_IOU = 0.3
# pose_landmark_by_roi: RefineLandmarksFromHeatmapCalculator options.
_HEATMAP_KERNEL = 7
_HEATMAP_MIN_CONFIDENCE = 0.5
# The landmark model's 39 points: the 33 body landmarks, then the hip centre and full-body scale
# point it uses for the next frame's ROI, then 4 unused.
_NUM_MODEL_LANDMARKS = 39
_AUX_CENTRE, _AUX_SCALE = 33, 34
# ROIs are 1.25 x twice the hip-centre-to-scale-point distance (RectTransformationCalculator).
_ROI_SCALE = 1.25


@dataclass(frozen=True, slots=True)
class Roi:
    """A rotated square in frame pixels: centre, side, and rotation (radians, clockwise on screen)."""

    cx: float
    cy: float
    size: float
    rotation: float


@dataclass(frozen=True, slots=True)
class View:
    """One square the detector looks at: frame pixels ``x0..x0+size``, ``y0..y0+size`` (may overhang)."""

    x0: float
    y0: float
    size: float


def ssd_anchors() -> np.ndarray:
    """The detector's 2254 anchor centres (x, y), normalised, as MediaPipe's SsdAnchorsCalculator.

    Layers with the same stride are merged; each layer gives two anchors per cell (aspect ratio 1
    and the interpolated scale), and with ``fixed_anchor_size`` only the centres matter.
    """
    out = []
    layer = 0
    while layer < len(_STRIDES):
        last = layer
        per_cell = 0
        while last < len(_STRIDES) and _STRIDES[last] == _STRIDES[layer]:
            per_cell += 2
            last += 1
        side = math.ceil(_DET_SIZE / _STRIDES[layer])
        ys, xs = np.mgrid[0:side, 0:side]
        centres = np.stack([(xs + 0.5) / side, (ys + 0.5) / side], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
        layer = last
    return np.concatenate(out).astype(np.float32)


def plan_views(width: int, height: int, tile_sizes: tuple[float, ...], overlap: float) -> list[View]:
    """The whole frame letterboxed, then for each of ``tile_sizes`` (a tile's side over the frame's
    shorter side) a grid of square tiles whose neighbours overlap by at least ``overlap``."""
    views = [View((width - max(width, height)) / 2, (height - max(width, height)) / 2, max(width, height))]
    short = min(width, height)
    for fraction in tile_sizes:
        side = fraction * short
        spans = []
        for length in (width, height):
            n = 1 if side >= length else math.ceil((length - side) / (side * (1 - overlap)) - 1e-9) + 1
            step = (length - side) / (n - 1) if n > 1 else 0.0
            spans.append([i * step + (length - side) / 2 * (n == 1) for i in range(n)])
        if side < max(width, height):  # else one tile: the whole frame again
            views += [View(x, y, side) for y in spans[1] for x in spans[0]]
    return views


def views_around(blobs: Sequence[Box], zoom: float = 3.0, least: float = 96.0) -> list[View]:
    """Square views around places where something moves: side ``zoom`` x the blob's height (at least
    ``least`` px), so a person fills a third of the detector's input, where it scores best (a 50 px
    walker is upscaled 1.5x); a blob wider than that (people side by side) gets views along it,
    overlapping by half."""
    views: list[View] = []
    for b in blobs:
        side = max(zoom * b.h, least)
        cy = (b.y0 + b.y1) / 2
        if b.w <= 0.75 * side:
            centres = [(b.x0 + b.x1) / 2]
        else:
            n = math.ceil((b.w - 0.5 * side) / (0.5 * side)) + 1
            centres = [b.x0 + 0.25 * side + i * (b.w - 0.5 * side) / (n - 1) for i in range(n)]
        for cx in centres:
            view = View(cx - side / 2, cy - side / 2, side)
            if not any(_same_view(view, v) for v in views):
                views.append(view)
    return views


def _same_view(a: View, b: View) -> bool:
    big = max(a.size, b.size)
    d = math.hypot(a.x0 + a.size / 2 - b.x0 - b.size / 2, a.y0 + a.size / 2 - b.y0 - b.size / 2)
    return d < 0.25 * big and min(a.size, b.size) > 0.7 * big


class HogPeople:
    """OpenCV's HOG people detector (Dalal-Triggs) on the frame upscaled so 50 px walkers fill its
    128 px window; boxes shrunk from its padding to the body, in frame pixels."""

    def __init__(self, upscale: float = 2.0) -> None:
        self.upscale = upscale
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def __call__(self, image: np.ndarray) -> list[Box]:
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        big = cv2.resize(grey, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_LINEAR)
        rects, _ = self._hog.detectMultiScale(big, winStride=(8, 8), padding=(8, 8), scale=1.05)
        k = 1.0 / self.upscale
        return [
            Box((x + 0.05 * w) * k, (y + 0.04 * h) * k, (x + 0.95 * w) * k, (y + 0.96 * h) * k)
            for x, y, w, h in rects
        ]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -80.0, 80.0)))


def _rotation_matrix(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]], np.float64)


def roi_from_points(centre: np.ndarray, scale: np.ndarray) -> Roi:
    """MediaPipe's ROI from a hip centre and a scale point in pixels (AlignmentPointsRects +
    RectTransformation): side 1.25 x twice their distance, rotated so the body stands upright."""
    dx, dy = float(scale[0] - centre[0]), float(scale[1] - centre[1])
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation -= 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return Roi(float(centre[0]), float(centre[1]), 2.0 * math.hypot(dx, dy) * _ROI_SCALE, rotation)


def roi_matrix(roi: Roi, out: int) -> np.ndarray:
    """The 2 x 3 affine map from ``out`` x ``out`` crop pixels to frame pixels (corners to corners,
    as MediaPipe's ImageToTensorCalculator)."""
    r = _rotation_matrix(roi.rotation) * (roi.size / out)
    t = np.array([roi.cx, roi.cy]) - r @ np.array([out / 2, out / 2])
    return np.hstack([r, t[:, None]])


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, iou: float = _NMS_IOU
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's weighted non-max suppression: each best remaining box absorbs those overlapping it
    by more than ``iou``, its box and keypoints becoming their score-weighted mean."""
    order = np.argsort(-scores)
    boxes, keypoints, scores = boxes[order], keypoints[order], scores[order]
    areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        lo = np.maximum(boxes[i, :2], boxes[:, :2])
        hi = np.minimum(boxes[i, 2:], boxes[:, 2:])
        inter = np.prod(np.clip(hi - lo, 0, None), axis=1)
        group = left & (inter > iou * np.maximum(areas[i] + areas - inter, 1e-9))
        group[i] = True
        left &= ~group
        w = scores[group] / scores[group].sum()
        out.append(
            (
                (boxes[group] * w[:, None]).sum(0),
                (keypoints[group] * w[:, None, None]).sum(0),
                float(scores[i]),
            )
        )
    return out


def merge_views(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, coverage: np.ndarray
) -> list[tuple[np.ndarray, float]]:
    """One detection per person from the views' detections (frame pixels), best first.

    The detector's box scales with its input, so copies of one person from views of other sizes
    overlap too little for IoU; they are grouped when their boxes' centres lie within half a box
    of each other. Of a group, only the copies whose views saw the most of the body are averaged:
    a tile that cuts a tall person guesses their hips.
    """
    order = np.argsort(-scores)
    boxes, keypoints, scores, coverage = boxes[order], keypoints[order], scores[order], coverage[order]
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    sides = (boxes[:, 2:] - boxes[:, :2]).max(axis=1)
    left = np.ones(len(scores), bool)
    out = []
    for i in range(len(scores)):
        if not left[i]:
            continue
        near = np.linalg.norm(centres - centres[i], axis=1) < 0.5 * np.maximum(sides, sides[i])
        group = left & near
        group[i] = True
        left &= ~group
        group &= coverage >= coverage[group].max() - 0.05
        w = scores[group] / scores[group].sum()
        out.append(((keypoints[group] * w[:, None, None]).sum(0), float(scores[i])))
    return out


def body_coverage(keypoints: np.ndarray, view: View) -> np.ndarray:
    """How much of each detection's body circle (hip centre to scale point, (N, 4, 2) keypoints in
    frame pixels) lies inside ``view``: the overlap of their bounding squares, 0..1."""
    centre = keypoints[:, 0]
    r = np.linalg.norm(keypoints[:, 1] - centre, axis=1)[:, None]
    lo = np.maximum(centre - r, [view.x0, view.y0])
    hi = np.minimum(centre + r, [view.x0 + view.size, view.y0 + view.size])
    inside = np.prod(np.clip(hi - lo, 0, None), axis=1)
    return inside / np.maximum(4 * r[:, 0] ** 2, 1e-9)


def refine_from_heatmap(xy: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's RefineLandmarksFromHeatmapCalculator: each point (normalised to the crop) moves to
    the confidence-weighted mean of its 7 x 7 heatmap window, when the window is confident."""
    hh, hw, _ = heatmap.shape
    off = (_HEATMAP_KERNEL - 1) // 2
    col = np.trunc(xy[:, 0] * hw).astype(int)
    row = np.trunc(xy[:, 1] * hh).astype(int)
    inside = (col >= 0) & (col < hw) & (row >= 0) & (row < hh)
    padded = np.pad(heatmap, ((off, off), (off, off), (0, 0)), constant_values=-np.inf)
    k = np.arange(-off, off + 1)
    rr = (np.clip(row, 0, hh - 1)[:, None, None] + off + k[None, :, None]).repeat(len(k), 2)
    cc = (np.clip(col, 0, hw - 1)[:, None, None] + off + k[None, None, :]).repeat(len(k), 1)
    conf = _sigmoid(padded[rr, cc, np.arange(len(xy))[:, None, None]].astype(np.float64))
    total = conf.sum(axis=(1, 2))
    ok = inside & (conf.max(axis=(1, 2)) >= _HEATMAP_MIN_CONFIDENCE) & (total > 0)
    out = xy.copy()
    rows_abs, cols_abs = rr - off, cc - off
    with np.errstate(invalid="ignore", divide="ignore"):
        out[:, 0] = np.where(ok, (conf * cols_abs).sum(axis=(1, 2)) / hw / total, xy[:, 0])
        out[:, 1] = np.where(ok, (conf * rows_abs).sum(axis=(1, 2)) / hh / total, xy[:, 1])
    return out


def _interpreter(path: Path, threads: int):
    if not path.is_file():
        raise ModelBundleError(
            f"expected the BlazePose model {path} inside the mediapipe wheel (mediapipe==0.10.21)"
        )
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # pragma: no cover - depends on the install
        try:
            from tflite_runtime.interpreter import Interpreter
        except ImportError:
            raise ModelBundleError(
                "TwoPassPose needs a TFLite interpreter: pip install ai-edge-litert"
            ) from None
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


@dataclass(slots=True)
class _Person:
    landmarks: np.ndarray  # (33, 4) normalised
    world: np.ndarray  # (33, 3)
    score: float
    mask: np.ndarray | None
    next_roi: Roi
    tracked: bool


_MIN_ROI = 0.1  # of the frame's shorter side
# A new person needs this mean landmark presence: a chair with a shirt on it scores 0.1, a portrait
# cut at the waist 0.45, a whole body 0.9 and more.
_MIN_NEW_SCORE = 0.3
# ... and one no detector vouched for (a part of a moving blob, a HOG box) more: moving props and
# projections make people-like shapes
_MIN_PROPOSED_SCORE = 0.5
_MAX_BLOBS = 6  # moving blobs looked at a frame, the largest first
_MAX_SLOTS = 3  # parts of blobs given to the landmark model a frame
_MAX_CARRY = 3  # frames a person over the landmark budget is carried forward before a refresh


@dataclass(slots=True)
class _Track:
    """A followed person: their last landmarks, next ROI, and motion in pixels a frame."""

    person: _Person
    roi: Roi
    velocity: tuple[float, float] = (0.0, 0.0)
    stale: int = 0  # frames since the landmarks were refreshed

    def box(self, w: int, h: int) -> Box:
        """Around the landmarks the model is sure of, in pixels."""
        lm = self.person.landmarks
        sure = lm[lm[:, 3] >= 0.5] if (lm[:, 3] >= 0.5).sum() >= 4 else lm
        x, y = sure[:, 0] * w, sure[:, 1] * h
        return Box(float(x.min()), float(y.min()), float(x.max()), float(y.max()))

    @classmethod
    def follow(cls, old: _Track | None, person: _Person, w: int, h: int) -> _Track:
        velocity = (0.0, 0.0)
        if old is not None:
            frames = old.stale + 1
            before, now = old.person.landmarks, person.landmarks
            dx = float(np.median(now[:, 0] - before[:, 0])) * w / frames
            dy = float(np.median(now[:, 1] - before[:, 1])) * h / frames
            velocity = (dx, dy)
        return cls(person, person.next_roi, velocity, 0)

    def carried(self, w: int, h: int) -> _Track:
        """One frame on, moved by the track's motion, the landmarks not refreshed."""
        dx, dy = self.velocity
        lm = self.person.landmarks.copy()
        lm[:, 0] += dx / w
        lm[:, 1] += dy / h
        mask = self.person.mask
        if mask is not None and (dx or dy):
            mask = cv2.warpAffine(mask, np.float32([[1, 0, dx], [0, 1, dy]]), (mask.shape[1], mask.shape[0]))
        roi = replace(self.roi, cx=self.roi.cx + dx, cy=self.roi.cy + dy)
        person = replace(self.person, landmarks=lm, mask=mask, next_roi=roi, tracked=True)
        return _Track(person, roi, self.velocity, self.stale + 1)


def unexplained(blob: Box, known: Sequence[Box]) -> list[float]:
    """Where in ``blob`` someone may stand whom nobody in ``known`` explains: the centres (x) of
    person-wide slots (half the blob's height) in the spans no known box covers, at most 3 a span;
    spans narrower than 0.3 of the height hold nobody."""
    spans = sorted((max(k.x0, blob.x0), min(k.x1, blob.x1)) for k in known if blob.overlap(k) > 0.05)
    gaps, x = [], blob.x0
    for a, b in spans:
        gaps.append((x, a))
        x = max(x, b)
    gaps.append((x, blob.x1))
    out = []
    for a, b in gaps:
        if b - a >= 0.3 * blob.h:
            n = min(3, max(1, round((b - a) / (0.5 * blob.h))))
            out += [a + (k + 0.5) * (b - a) / n for k in range(n)]
    return out


def _roi_box(roi: Roi) -> Box:
    """The body an upright ROI holds: about 1.3 times smaller, 0.4 as wide as tall."""
    h = roi.size / 1.3
    return Box(roi.cx - 0.2 * h, roi.cy - h / 2, roi.cx + 0.2 * h, roi.cy + h / 2)


class TwoPassPose(PoseBackend):
    """Up to ``num_poses`` people per frame: multi-scale BlazePose detection, then BlazePose
    landmarks on each person's own ROI at full resolution, tracked between frames.

    ``min_detection_confidence`` is the detector's score threshold, ``min_tracking_confidence`` the
    landmark model's pose-presence threshold below which a person is dropped (and, if tracked,
    counted as lost). ``detect_every``: the detector runs on every n-th frame and on the frame
    after a person is lost; 1 runs it on every frame. ``tile_sizes``: the detector's tiles, each a
    side as a fraction of the frame's shorter side (empty: the whole frame only); ``overlap``: the
    least overlap of neighbouring tiles. ``score`` is the mean presence of the 33 landmarks, as
    :class:`~perform.vision.tasks.TasksPose`.

    ``proposals="motion"`` (a fixed camera): the detector looks where something moves
    (:class:`~perform.vision.motion.MotionMap`), in views sized to the moving blob, plus the whole
    frame; a blob no tracked person explains is looked at on the frame it appears (then not again
    for ``detect_every`` frames if nobody was there); the tiles are used only while the background
    is learnt; ``sweep`` (tile side, tiles a frame) looks at a few fine tiles each frame in turn,
    for people who stand still. ``hog``: OpenCV's HOG people detector (on the frame upscaled 2x,
    about 0.4 s at 768x576) proposes people too, for still images. ``landmark_budget``: at most
    this many landmark runs a frame (0: no limit); people over the budget are refreshed in turns,
    carried forward by their motion between.
    """

    name = "twopass"

    def __init__(
        self,
        num_poses: int = 4,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        masks: bool = False,
        detect_every: int = 10,
        tile_sizes: tuple[float, ...] = (0.6,),
        overlap: float = 0.25,
        threads: int | None = None,
        proposals: Literal["grid", "motion"] = "grid",
        landmark_budget: int = 0,
        sweep: tuple[float, int] = (0.35, 2),
        hog: bool = False,
    ) -> None:
        if num_poses < 1:
            raise ValueError(f"num_poses: expected >= 1, got {num_poses}")
        if detect_every < 1:
            raise ValueError(f"detect_every: expected >= 1, got {detect_every}")
        if not all(0.0 < f <= 1.0 for f in tile_sizes):
            raise ValueError(f"tile_sizes: expected fractions in (0, 1], got {tile_sizes!r}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap: expected 0 <= overlap < 1, got {overlap}")
        import mediapipe as mp

        self.num_poses = num_poses
        self.min_detection_confidence = min_detection_confidence
        self.min_tracking_confidence = min_tracking_confidence
        self.masks = masks
        self.detect_every = detect_every
        self.tile_sizes = tuple(tile_sizes)
        self.overlap = overlap
        threads = threads or min(4, os.cpu_count() or 1)
        mp_dir = Path(mp.__file__).parent
        self._detector = _interpreter(mp_dir / DETECTOR_MODEL, threads)
        self._landmarker = _interpreter(mp_dir / LANDMARK_MODEL, threads)
        self._det_in = self._detector.get_input_details()[0]["index"]
        det_out = {d["name"]: d["index"] for d in self._detector.get_output_details()}
        self._det_boxes, self._det_scores = det_out["Identity"], det_out["Identity_1"]
        self._lm_in = self._landmarker.get_input_details()[0]["index"]
        lm_out = {d["name"]: d["index"] for d in self._landmarker.get_output_details()}
        self._lm_out = [lm_out[f"Identity{s}"] for s in ("", "_1", "_2", "_3", "_4")]
        self._anchors = ssd_anchors()
        self._views: list[View] = []
        self._size: tuple[int, int] | None = None
        self._tracked: list[_Track] = []
        self._frame = 0
        self._lost = False
        self.landmark_budget = landmark_budget
        self.motion = MotionMap() if proposals == "motion" else None
        self._examined: list[tuple[Box, int]] = []  # motion blobs looked at in vain, and when
        self.sweep = sweep
        self.hog = HogPeople() if hog else None
        self._sweep: list[View] = []
        self._sweep_at = 0
        #: Detector runs (views) and landmark runs in the last call, for benchmarks.
        self.last_runs = (0, 0)

    # -- detection pass -------------------------------------------------------------------------

    def detect_rois(self, image: np.ndarray, views: Sequence[View] | None = None) -> list[tuple[Roi, float]]:
        """The detector's people in ``image`` as landmark ROIs (frame pixels), best first; it looks
        at ``views``, by default the whole frame and the tiles."""
        h, w = image.shape[:2]
        if self._size != (w, h):
            self._views = plan_views(w, h, self.tile_sizes, self.overlap)
            self._size = (w, h)
        boxes, kps, scores, coverage = [], [], [], []
        for view in self._views if views is None else views:
            tensor = self._view_tensor(image, view)
            self._detector.set_tensor(self._det_in, tensor[None])
            self._detector.invoke()
            raw = self._detector.get_tensor(self._det_boxes)[0]
            logit = self._detector.get_tensor(self._det_scores)[0, :, 0]
            score = _sigmoid(np.clip(logit, -_SCORE_CLIP, _SCORE_CLIP))
            keep = score >= self.min_detection_confidence
            if not keep.any():
                continue
            raw, anchors = raw[keep] / _DET_SIZE, self._anchors[keep]
            centre = raw[:, 0:2] + anchors
            half = raw[:, 2:4] / 2
            box = np.concatenate([centre - half, centre + half], axis=1)
            kp = raw[:, 4:12].reshape(-1, 4, 2) + anchors[:, None, :]
            origin = np.array([view.x0, view.y0])
            for b, k, sc in weighted_nms(box, kp, score[keep]):
                boxes.append(b * view.size + np.tile(origin, 2))
                kps.append(k * view.size + origin)
                scores.append(sc)
                coverage.append(body_coverage(kps[-1][None], view)[0])
        if not scores:
            return []
        merged = merge_views(np.array(boxes), np.array(kps), np.array(scores), np.array(coverage))
        # an upscaled tile can put the scale point on the hips: such a ROI is grown to hold the
        # smallest person looked for (about 40 px tall)
        least = _MIN_ROI * min(w, h)
        rois = [roi_from_points(kp[0], kp[1]) for kp, _ in merged]
        return [(replace(r, size=max(r.size, least)), s) for r, (_, s) in zip(rois, merged, strict=True)]

    def _view_tensor(self, image: np.ndarray, view: View) -> np.ndarray:
        # As MediaPipe's ImageToTensorCalculator: bilinear, corners to corners, black border.
        s = view.size / _DET_SIZE
        m = np.array([[s, 0.0, view.x0], [0.0, s, view.y0]])
        crop = cv2.warpAffine(
            image,
            m,
            (_DET_SIZE, _DET_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
        )
        return crop.astype(np.float32) * (2.0 / 255.0) - 1.0

    # -- landmark pass --------------------------------------------------------------------------

    def landmarks(self, image: np.ndarray, roi: Roi, want_mask: bool = False) -> _Person | None:
        """BlazePose landmarks of the person in ``roi``, or None when the model sees nobody there."""
        h, w = image.shape[:2]
        m = roi_matrix(roi, _LM_SIZE)
        crop = cv2.warpAffine(
            image,
            m,
            (_LM_SIZE, _LM_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        self._landmarker.set_tensor(self._lm_in, (crop.astype(np.float32) * (1.0 / 255.0))[None])
        self._landmarker.invoke()
        get = self._landmarker.get_tensor
        raw_lm, flag, seg, heat, raw_world = (get(i) for i in self._lm_out)
        if float(flag.reshape(-1)[0]) < self.min_tracking_confidence:
            return None
        raw = raw_lm.reshape(_NUM_MODEL_LANDMARKS, 5)
        xy = refine_from_heatmap(raw[:, :2] / _LM_SIZE, heat[0])
        px = xy * _LM_SIZE @ m[:, :2].T + m[:, 2]
        lm = np.empty((NUM_LANDMARKS, 4), np.float32)
        lm[:, 0] = px[:NUM_LANDMARKS, 0] / w
        lm[:, 1] = px[:NUM_LANDMARKS, 1] / h
        lm[:, 2] = raw[:NUM_LANDMARKS, 2] / _LM_SIZE * (roi.size / w)  # z on the scale of x
        lm[:, 3] = _sigmoid(raw[:NUM_LANDMARKS, 3])
        presence = _sigmoid(raw[:NUM_LANDMARKS, 4])
        world = raw_world.reshape(_NUM_MODEL_LANDMARKS, 3)[:NUM_LANDMARKS]
        rot = _rotation_matrix(roi.rotation)
        world = np.hstack([world[:, :2] @ rot.T, world[:, 2:]]).astype(np.float32)
        mask = None
        if want_mask:
            mask = cv2.warpAffine(
                _sigmoid(seg[0, :, :, 0]).astype(np.float32),
                m,
                (w, h),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=0.0,
            )
        next_roi = roi_from_points(px[_AUX_CENTRE], px[_AUX_SCALE])
        return _Person(lm, world, float(presence.mean()), mask, next_roi, False)

    # -- both, with tracking --------------------------------------------------------------------

    def detect(self, image: np.ndarray, t_capture: float) -> list[Detection]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        h, w = image.shape[:2]
        if self._size != (w, h):
            self._tracked = []  # ROIs of another frame size
            self._views = plan_views(w, h, self.tile_sizes, self.overlap)
            self._sweep = plan_views(w, h, self.sweep[:1], self.overlap)[1:]
            self._size = (w, h)
        frame = self._frame
        self._frame += 1
        fresh = self._look(image, frame)
        # a detection where someone is followed is them again; a slot of a blob (score 0) is asked
        # anyway, the landmarks tell (two people side by side share a place at this size)
        fresh = [r for r in fresh if r[1] == 0.0 or not any(_same_place(r[0], t.roi) for t in self._tracked)]
        # the landmark budget: those carried as long as they may be, new people, then those
        # refreshed longest ago; the landmarks sort out duplicates and non-people
        order = sorted(self._tracked, key=lambda t: -t.stale)
        due = [t for t in order if t.stale >= _MAX_CARRY - 1]
        budget = self.landmark_budget or 2 * self.num_poses + len(order)
        fresh = fresh[: max(1, budget - len(due))]
        room = max(len(due), budget - len(fresh))
        refresh, carry = order[:room], order[room:]
        tracks: list[_Track] = []
        self._lost = False
        runs = 0
        for roi, score, track in [(r, s, None) for r, s in fresh] + [(t.roi, 1.0, t) for t in refresh]:
            runs += 1
            person = self.landmarks(image, roi, self.masks)
            least = _MIN_NEW_SCORE if score > 0 else _MIN_PROPOSED_SCORE
            if person is None or (track is None and person.score < least):
                self._lost |= track is not None
                continue
            if self.masks and self.motion is not None and float(person.mask.max()) < 0.5:
                person.mask = self._moving_silhouette(person, w, h)
            person.tracked = track is not None
            tracks.append(_Track.follow(track, person, w, h))
        tracks += [t.carried(w, h) for t in carry if t.stale < _MAX_CARRY]
        self.last_runs = (self._views_run, runs)
        # Two ROIs can settle on one person (a tracked one and a fresh detection, or two tiles'):
        # keep the tracked copy, then the better one.
        tracks.sort(key=lambda t: (t.person.tracked, t.person.score), reverse=True)
        kept: list[_Track] = []
        for t in tracks:
            if all(not _same_person(t, k, w, h) for k in kept):
                kept.append(t)
        kept.sort(key=lambda t: t.person.score, reverse=True)
        self._tracked = kept[: self.num_poses]
        return [Detection(p.landmarks, p.world, p.score, p.mask) for p in (t.person for t in self._tracked)]

    def _moving_silhouette(self, person: _Person, w: int, h: int) -> np.ndarray | None:
        """Where the model gives a small person no mask: what moves inside their box."""
        fg = self.motion.silhouette(w, h) if self.motion is not None else None
        if fg is None:
            return person.mask
        box = _Track(person, person.next_roi).box(w, h)
        pad = 0.15 * box.h
        x0, y0 = max(0, int(box.x0 - pad)), max(0, int(box.y0 - pad))
        x1, y1 = min(w, int(box.x1 + pad) + 1), min(h, int(box.y1 + pad) + 1)
        out = np.zeros((h, w), np.float32)
        out[y0:y1, x0:x1] = fg[y0:y1, x0:x1]
        return out

    def _look(self, image: np.ndarray, frame: int) -> list[tuple[Roi, float]]:
        """New people, where the detector is due to look this frame."""
        self._views_run = 0
        due = self._lost or not self._tracked or frame % self.detect_every == 0
        if self.motion is None or not self.motion.warm:
            if self.motion is not None:
                self.motion.update(image)
            if not due:
                return []
            self._views_run = len(self._views)
            found = self.detect_rois(image)
            if self.hog is not None:  # a second opinion: the landmark model tells
                found += [
                    (Roi((b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2, 1.2 * b.h, 0.0), 0.0) for b in self.hog(image)
                ]
            return found
        blobs = self.motion.update(image)
        people = [t.box(*image.shape[1::-1]) for t in self._tracked]
        self._examined = [(b, f) for b, f in self._examined if frame - f < self.detect_every]
        look = [
            b
            for b in blobs
            if sum(b.overlap(p) for p in people) < (0.8 if due else 0.4)
            and (due or not any(b.overlap(e) > 0.5 for e, _ in self._examined))
        ][:_MAX_BLOBS]  # the largest: a projection or a moving set must not multiply the cost
        views = views_around(look)
        if due:
            views.insert(0, self._views[0])  # the whole frame: people who stand still
        # and a few fine tiles a frame in turn, sweeping the frame for people who stand still or
        # whom the background took in
        for _ in range(min(self.sweep[1], len(self._sweep))):
            views.append(self._sweep[self._sweep_at % len(self._sweep)])
            self._sweep_at += 1
        if not views:
            return []
        self._views_run = len(views)
        found = self.detect_rois(image, views)
        for b in look:  # looked at in vain: not again until due, unless it moves on
            if not any(b.overlap(_roi_box(roi)) > 0.2 for roi, _ in found):
                self._examined.append((b, frame))
        # the detector misses small people and sees one of two side by side: the landmark model is
        # asked directly about the parts of a blob nobody explains
        known = people + [_roi_box(roi) for roi, _ in found]
        slots = [
            (Roi(x, (b.y0 + b.y1) / 2, 1.2 * b.h, 0.0), 0.0) for b in look for x in unexplained(b, known)
        ]
        return found + slots[:_MAX_SLOTS]

    def reset(self) -> None:
        """Forget tracked people and the background: the next call runs the detector."""
        self._tracked = []
        self._frame = 0
        self._examined = []
        if self.motion is not None:
            self.motion = MotionMap(self.motion.min_height)

    def close(self) -> None:
        self._tracked = []


def _same_person(a: _Track, b: _Track, w: int, h: int) -> bool:
    """Two bodies that are one: alike landmarks, or one box almost on top of the other (a second
    ROI that settled on a person shifted or cut)."""
    if similarity(a.person.landmarks, b.person.landmarks) >= 0.5:
        return True
    p, q = a.box(w, h), b.box(w, h)
    return min(p.overlap(q), q.overlap(p)) > 0.75


def _same_place(a: Roi, b: Roi) -> bool:
    # One person's ROIs from two sources: centres close for the size, sizes alike.
    big = max(a.size, b.size)
    return math.hypot(a.cx - b.cx, a.cy - b.cy) < 0.25 * big and min(a.size, b.size) > 0.6 * big
