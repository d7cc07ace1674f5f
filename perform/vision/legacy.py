"""One person through MediaPipe's legacy ``solutions.pose`` API (models inside the wheel)."""

from __future__ import annotations

import numpy as np

from perform.errors import PerformError
from perform.vision.base import PoseBackend
from perform.vision.types import NUM_LANDMARKS, Detection


class LegacyPose(PoseBackend):
    """BlazePose full model with MediaPipe's own tracking between frames; at most one person.

    MediaPipe's own landmark smoothing is off: perform smooths after slot assignment.
    """

    name = "mediapipe legacy (1 person)"

    def __init__(
        self,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        masks: bool = True,
        static_images: bool = False,
    ) -> None:
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise PerformError(f"mediapipe is not installed correctly: {exc}") from None
        self.masks = masks
        self._pose = mp_pose.Pose(
            static_image_mode=static_images,
            model_complexity=1,  # the full model: the only one inside the wheel
            smooth_landmarks=False,
            enable_segmentation=masks,
            smooth_segmentation=masks and not static_images,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )

    def detect(self, image: np.ndarray, t_capture: float) -> list[Detection]:
        result = self._pose.process(image)
        if result.pose_landmarks is None:
            return []
        landmarks = np.array(
            [(p.x, p.y, p.z, p.visibility) for p in result.pose_landmarks.landmark], dtype=np.float32
        )
        if result.pose_world_landmarks is not None:
            world = np.array(
                [(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark], dtype=np.float32
            )
        else:
            world = np.zeros((NUM_LANDMARKS, 3), np.float32)
        mask = None
        if self.masks and result.segmentation_mask is not None:
            mask = np.asarray(result.segmentation_mask, dtype=np.float32)
        score = float(landmarks[:, 3].mean())
        return [Detection(landmarks, world, score, mask)]

    def close(self) -> None:
        self._pose.close()
