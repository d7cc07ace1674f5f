"""Live cameras through OpenCV."""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np

from perform.capture.base import Source
from perform.capture.config import CameraSource
from perform.errors import SourceError


class Camera(Source):
    """A camera by index or device path, asking for size, rate and MJPG.

    The driver's buffer is set to one frame and the capture stage reads on a dedicated thread
    as fast as the camera delivers, so the frame handed on is never an old one from a queue.
    The capture time is taken when ``grab`` returns, before the image is decoded.
    """

    live = True

    def __init__(self, config: CameraSource) -> None:
        self.config = config
        self.name = f"camera {config.device}"
        self._cap: cv2.VideoCapture | None = None

    def open(self) -> None:
        cv2.setLogLevel(2)  # errors only: a missing camera is reported by us, once
        c = self.config
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(c.device, backend)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"camera {c.device!r} could not be opened (is it connected and free?)")
        if c.mjpg:
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, c.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, c.height)
        cap.set(cv2.CAP_PROP_FPS, c.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.name = f"camera {c.device} {w}x{h}@{cap.get(cv2.CAP_PROP_FPS):g}"

    def read(self) -> tuple[np.ndarray, float] | None:
        cap = self._cap
        if cap is None:
            raise SourceError(f"{self.name} is not open")
        if not cap.grab():
            raise SourceError(f"{self.name} delivered no frame (unplugged?)")
        t_capture = time.monotonic()
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            raise SourceError(f"{self.name} could not decode its frame")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t_capture

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
