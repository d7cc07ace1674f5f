"""A virtual camera through ``pyvirtualcam``: v4l2loopback on Linux, OBS's camera on Windows and
macOS, for software that only takes a webcam."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from perform.errors import StageError
from perform.share.base import VideoSink


class VirtualCamera(VideoSink):
    """The stage picture as a webcam (RGB; a camera has no alpha)."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.width, self.height, self.fps = width, height, fps
        self.name = f"virtual camera {width}x{height}"
        self._camera: Any = None

    def open(self) -> None:
        try:
            import pyvirtualcam
        except Exception as exc:
            raise StageError(f"the virtual camera is unavailable ({exc}); pip install pyvirtualcam") from None
        try:
            self._camera = pyvirtualcam.Camera(self.width, self.height, self.fps)
        except Exception as exc:  # no v4l2loopback device, no OBS camera installed
            raise StageError(f"the virtual camera is unavailable: {exc}") from None
        self.name = f"virtual camera {self._camera.device}"

    def send(self, pixels: np.ndarray, t_capture: float) -> None:
        self._camera.send(cv2.cvtColor(pixels, cv2.COLOR_RGBA2RGB))

    def close(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            camera.close()
