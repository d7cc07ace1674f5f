"""``perform pose IMAGE``: the people in one still image."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from perform.capture.files import read_image
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.draw import draw_bodies, slot_color
from perform.vision.types import LANDMARK_NAMES, Detection


def detect_image(
    path: Path, max_people: int = 10, min_confidence: float = 0.5, masks: bool = True
) -> tuple[np.ndarray, list[Detection]]:
    """The image (RGB) and the people found in it, best first."""
    image = read_image(path)
    config = PoseConfig(max_people=max_people, min_detection_confidence=min_confidence, masks=masks)
    backend = make_backend(config, static_images=True)
    try:
        return image, backend(image, 0.0)
    finally:
        backend.close()


def as_json(path: Path, image: np.ndarray, people: list[Detection]) -> dict:
    """Landmarks by name: x, y normalised; px, py in pixels; z; visibility; world metres."""
    h, w = image.shape[:2]
    out = []
    for n, person in enumerate(people, start=1):
        landmarks = {}
        for i, name in enumerate(LANDMARK_NAMES):
            x, y, z, v = (float(a) for a in person.landmarks[i])
            wx, wy, wz = (float(a) for a in person.world[i])
            landmarks[name] = {
                "x": round(x, 5),
                "y": round(y, 5),
                "z": round(z, 5),
                "visibility": round(v, 4),
                "px": round(x * w, 1),
                "py": round(y * h, 1),
                "world": [round(wx, 4), round(wy, 4), round(wz, 4)],
            }
        out.append({"person": n, "score": round(float(person.score), 4), "landmarks": landmarks})
    return {"image": str(path), "width": w, "height": h, "people": out}


def draw(image: np.ndarray, people: list[Detection]) -> np.ndarray:
    """The image with each person's mask tinted and skeleton drawn, RGB."""
    out = image.copy()
    for n, person in enumerate(people):
        color = np.array(slot_color(n + 1), np.float32)
        if person.mask is not None:
            alpha = np.clip(person.mask, 0, 1)[..., None] * 0.35
            out = (out * (1 - alpha) + color * alpha).astype(np.uint8)
    colors = [slot_color(n + 1) for n in range(len(people))]
    return draw_bodies(out, [p.landmarks for p in people], colors)


def write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        from perform.errors import PerformError

        raise PerformError(f"{path}: cannot write the image (is the extension .png or .jpg?)")
