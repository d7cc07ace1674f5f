"""The multi-person pose backend: MediaPipe Tasks' PoseLandmarker, optionally over tiles.

PoseLandmarker letterboxes the whole frame into its detector's 224 x 224 input, so in a wide
stage frame each performer is small there and some are not found (see docs/multi-person.md).
With ``tiles`` the frame is cut into overlapping tiles, one landmarker tracks each tile,
landmarks are mapped back to the whole frame, and people seen in two tiles are merged by
keypoint similarity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from perform.errors import StageError
from perform.vision.base import MonotonicMs, PoseBackend
from perform.vision.bundle import build_pose_task
from perform.vision.types import NUM_LANDMARKS, Detection

#: Landmarks used to compare two detections of one person (shoulders to ankles, nose).
_BODY = np.array([0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])


@dataclass(frozen=True, slots=True)
class Tile:
    """One tile: the frame's columns ``x0:x1`` and rows ``y0:y1``."""

    x0: int
    y0: int
    x1: int
    y1: int


def _spans(length: int, n: int, overlap: float) -> list[tuple[int, int]]:
    if n <= 1:
        return [(0, length)]
    # n spans of size s, neighbours sharing overlap * s: n*s - (n-1)*overlap*s = length.
    s = min(length, math.ceil(length / (n - (n - 1) * overlap)))
    step = (length - s) / (n - 1)
    return [(round(i * step), round(i * step) + s) for i in range(n)]


def plan_tiles(width: int, height: int, cols: int, rows: int = 1, overlap: float = 0.25) -> list[Tile]:
    """``cols`` x ``rows`` tiles covering the frame, neighbours overlapping by ``overlap`` of a tile.

    The overlap lets a performer who stands on a seam be whole in at least one tile, as long as
    they are narrower than the overlap.
    """
    return [
        Tile(x0, y0, x1, y1)
        for y0, y1 in _spans(height, rows, overlap)
        for x0, x1 in _spans(width, cols, overlap)
    ]


def auto_tiles(width: int, height: int) -> tuple[int, int]:
    """Tiles for ``tiles="auto"``: one strip per square of frame height (16:9 gets 2, 4:3 gets 1).

    Strips narrower than the frame is high do not enlarge people in the detector's square input,
    and each strip costs another detector and landmark run (docs/multi-person.md).
    """
    return max(1, round(width / height)), 1


class TasksPose(PoseBackend):
    """Up to ``num_poses`` people per frame with MediaPipe Tasks' PoseLandmarker (VIDEO mode).

    ``score`` of a detection is the mean of its 33 landmarks' presence (the model's estimate that
    each landmark lies inside the image), so a person cut off by the frame edge scores lower.
    ``masks`` adds each person's segmentation at the image's size.

    ``tiles``: 1 looks at the whole frame at once; ``n`` cuts it into ``n`` overlapping vertical
    strips, ``(cols, rows)`` into a grid; ``"auto"`` picks by the frame's shape
    (:func:`auto_tiles`). Each tile looks for up to ``num_poses`` people; the merged result keeps
    the best ``num_poses``. ``min_suppression_threshold`` is the detector's non-max-suppression
    IoU (MediaPipe's default 0.5 is not among its Python options).
    """

    name = "tasks"

    def __init__(
        self,
        num_poses: int = 4,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        masks: bool = False,
        tiles: int | tuple[int, int] | Literal["auto"] = "auto",
        overlap: float = 0.25,
        min_suppression_threshold: float = 0.5,
        model: Path | None = None,
    ) -> None:
        if num_poses < 1:
            raise ValueError(f"num_poses: expected >= 1, got {num_poses}")
        grid = (tiles, 1) if isinstance(tiles, int) else tiles
        if tiles != "auto" and not (len(grid) == 2 and all(isinstance(n, int) and n >= 1 for n in grid)):
            raise ValueError(f"tiles: expected an int >= 1, (cols, rows) or 'auto', got {tiles!r}")
        if not 0.0 <= overlap < 1.0:
            raise ValueError(f"overlap: expected 0 <= overlap < 1, got {overlap}")
        self.num_poses = num_poses
        self.masks = masks
        self.tiles = tiles
        self.overlap = overlap
        self._grid: tuple[int, int] | None = None if tiles == "auto" else grid
        self._model = str(model if model is not None else build_pose_task())
        self._confidences = (min_detection_confidence, min_tracking_confidence, min_presence_confidence)
        self._nms = min_suppression_threshold
        self._clock = MonotonicMs()
        # One landmarker per tile: VIDEO mode tracks people from frame to frame, so each tile
        # needs its own. Built on the first frame, when the image size is known.
        self._size: tuple[int, int] | None = None
        self._tiles: list[Tile] = []
        self._landmarkers: list = []

    def detect(self, image: np.ndarray, t_capture: float) -> list[Detection]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        import mediapipe as mp

        h, w = image.shape[:2]
        if self._size != (w, h):
            self._open(w, h)
        ms = self._clock(t_capture)
        found: list[tuple[Detection, float]] = []
        for tile, landmarker in zip(self._tiles, self._landmarkers, strict=True):
            crop = np.ascontiguousarray(image[tile.y0 : tile.y1, tile.x0 : tile.x1])
            result = landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop), ms)
            for i, pose in enumerate(result.pose_landmarks):
                world = result.pose_world_landmarks[i]
                mask = result.segmentation_masks[i].numpy_view() if result.segmentation_masks else None
                found.append(_to_detection(pose, world, mask, tile, w, h))
        merged = _merge(found) if len(self._tiles) > 1 else [d for d, _ in found]
        merged.sort(key=lambda d: d.score, reverse=True)
        return merged[: self.num_poses]

    def close(self) -> None:
        for landmarker in self._landmarkers:
            landmarker.close()
        self._landmarkers = []
        self._size = None

    def _open(self, width: int, height: int) -> None:
        self.close()
        cols, rows = self._grid or auto_tiles(width, height)
        self._tiles = plan_tiles(width, height, cols, rows, self.overlap)
        self._landmarkers = [self._landmarker() for _ in self._tiles]
        self._size = (width, height)

    def _landmarker(self):
        from mediapipe.tasks.python import BaseOptions, vision

        nms = self._nms

        class _Options(vision.PoseLandmarkerOptions):
            def to_pb2(self):
                proto = super().to_pb2()
                proto.pose_detector_graph_options.min_suppression_threshold = nms
                return proto

        det, track, presence = self._confidences
        options = _Options(
            base_options=BaseOptions(model_asset_path=self._model),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=self.num_poses,
            min_pose_detection_confidence=det,
            min_pose_presence_confidence=presence,
            min_tracking_confidence=track,
            output_segmentation_masks=self.masks,
        )
        try:
            return vision.PoseLandmarker.create_from_options(options)
        except RuntimeError as e:
            raise StageError(f"MediaPipe could not load the pose bundle {self._model}: {e}") from e


def _to_detection(pose, world, mask, tile: Tile, w: int, h: int) -> tuple[Detection, float]:
    """A Detection in whole-frame coordinates, and how far it keeps from the tile's inner seams."""
    a = np.array([(p.x, p.y, p.z, p.visibility, p.presence) for p in pose], dtype=np.float32)
    tw, th = tile.x1 - tile.x0, tile.y1 - tile.y0
    lm = np.empty((NUM_LANDMARKS, 4), np.float32)
    lm[:, 0] = (a[:, 0] * tw + tile.x0) / w
    lm[:, 1] = (a[:, 1] * th + tile.y0) / h
    lm[:, 2] = a[:, 2] * (tw / w)  # z is on the scale of x
    lm[:, 3] = a[:, 3]
    wl = np.array([(p.x, p.y, p.z) for p in world], dtype=np.float32)
    full_mask = None
    if mask is not None:
        m = np.asarray(mask, np.float32).reshape(th, tw)
        if (tw, th) == (w, h):
            full_mask = m.copy()
        else:
            full_mask = np.zeros((h, w), np.float32)
            full_mask[tile.y0 : tile.y1, tile.x0 : tile.x1] = m
    # Of two copies of one person from neighbouring tiles, the one further from a seam is the
    # whole one; a body cut by a seam has its far side guessed.
    xy = a[_BODY, :2]
    margin = 1.0
    for inner, dist in (
        (tile.x0 > 0, xy[:, 0].min()),
        (tile.x1 < w, 1.0 - xy[:, 0].max()),
        (tile.y0 > 0, xy[:, 1].min()),
        (tile.y1 < h, 1.0 - xy[:, 1].max()),
    ):
        if inner:
            margin = min(margin, float(dist))
    return Detection(lm, wl, float(a[:, 4].mean()), full_mask), margin


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Keypoint similarity of two (33, >=2) landmark arrays, 0..1 (1: the same points).

    An OKS-like score over the body landmarks, scaled by the size of the larger body's box.
    """
    pa, pb = a[_BODY, :2], b[_BODY, :2]
    span = max(float(np.ptp(pa, axis=0).max()), float(np.ptp(pb, axis=0).max()), 1e-6)
    d2 = np.sum((pa - pb) ** 2, axis=1) / (span * span)
    return float(np.mean(np.exp(-d2 / (2 * 0.1**2))))


def _merge(found: list[tuple[Detection, float]], threshold: float = 0.5) -> list[Detection]:
    # Greedy: the copy furthest from a seam (then the higher score) wins; copies like it go.
    order = sorted(found, key=lambda f: (min(f[1], 0.1), f[0].score), reverse=True)
    kept: list[Detection] = []
    for det, _ in order:
        if all(similarity(det.landmarks, k.landmarks) < threshold for k in kept):
            kept.append(det)
    return kept
