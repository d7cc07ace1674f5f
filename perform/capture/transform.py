"""Mirror, rotate and crop, applied to every image before any stage sees it."""

from __future__ import annotations

import cv2
import numpy as np

from perform.schema import Crop, SourceBase

_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class Transform:
    """The fixed image operations of a source config, in the order mirror, rotate, crop."""

    def __init__(self, mirror: bool = False, rotate: int = 0, crop: Crop | None = None) -> None:
        self.mirror = mirror
        self.rotate = rotate
        self.crop = crop if crop is not None and not crop.is_identity else None

    @classmethod
    def of(cls, config: SourceBase) -> Transform:
        return cls(config.mirror, config.rotate, config.crop)

    @property
    def is_identity(self) -> bool:
        return not self.mirror and self.rotate == 0 and self.crop is None

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.mirror:
            image = cv2.flip(image, 1)
        if self.rotate:
            image = cv2.rotate(image, _ROTATIONS[self.rotate])
        if self.crop is not None:
            h, w = image.shape[:2]
            c = self.crop
            x0, x1 = round(w * c.left), w - round(w * c.right)
            y0, y1 = round(h * c.top), h - round(h * c.bottom)
            image = np.ascontiguousarray(image[y0:y1, x0:x1])
        return image
