"""``perform pose IMAGE``: the people in one still image, with their hands and face when asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from perform.capture.files import read_image
from perform.vision.base import make_backend
from perform.vision.config import DetailConfig, PoseConfig
from perform.vision.detail import Detail, DetailEstimator
from perform.vision.draw import draw_bodies, draw_details, slot_color
from perform.vision.face import FACE_POINTS, Face
from perform.vision.gestures import face_features, hand_features
from perform.vision.hands import HL, SIDES, Hand
from perform.vision.types import LANDMARK_NAMES, Body, Detection


@dataclass(frozen=True, slots=True)
class Person(Detection):
    """A person in a still image; ``detail`` holds their hands and face when they were asked for."""

    detail: Detail | None = None


def detect_image(
    path: Path,
    max_people: int = 10,
    min_confidence: float = 0.5,
    masks: bool = True,
    hands: bool = False,
    face: bool = False,
) -> tuple[np.ndarray, list[Person]]:
    """The image (RGB) and the people found in it, best first, with their hands and face when asked."""
    image = read_image(path)
    config = PoseConfig(max_people=max_people, min_detection_confidence=min_confidence, masks=masks)
    backend = make_backend(config, static_images=True)
    try:
        people = backend(image, 0.0)
    finally:
        backend.close()
    details: dict[int, Detail] = {}
    if hands or face:
        estimator = DetailEstimator(DetailConfig(hands=hands, face=face, every=1))
        bodies = [Body(n, p.landmarks, p.world, p.score) for n, p in enumerate(people, start=1)]
        details = estimator(image, bodies, 0.0)
        estimator.close()
    return image, [
        Person(p.landmarks, p.world, p.score, p.mask, details.get(n)) for n, p in enumerate(people, start=1)
    ]


def _points(landmarks: np.ndarray, names: dict[str, int]) -> dict[str, dict[str, float]]:
    return {
        name: {"x": round(float(x), 5), "y": round(float(y), 5), "z": round(float(z), 5)}
        for name, (x, y, z) in ((n, landmarks[i, :3]) for n, i in names.items())
    }


def _hand_json(hand: Hand | None, aspect: float) -> dict | None:
    if hand is None:
        return None
    return {
        "landmarks": _points(hand.landmarks, HL),
        "score": round(float(hand.score), 4),
        "handedness": round(float(hand.handedness), 4),
        "features": {k: round(v, 4) for k, v in hand_features(hand, aspect).items()},
    }


def _face_json(face: Face | None, aspect: float) -> dict | None:
    if face is None:
        return None
    return {
        "landmarks": _points(face.landmarks, FACE_POINTS),
        "score": round(float(face.score), 4),
        "features": {k: round(v, 4) for k, v in face_features(face, aspect).items()},
    }


def as_json(
    path: Path, image: np.ndarray, people: list[Detection], hands: bool = False, face: bool = False
) -> dict:
    """Landmarks by name: x, y normalised; px, py in pixels; z; visibility; world metres. With
    ``hands``/``face``: each person's ``hands`` (``left``, ``right``) and ``face``, each with
    named landmarks (x, y normalised, z), score and features; null where not found."""
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
        entry: dict = {"person": n, "score": round(float(person.score), 4), "landmarks": landmarks}
        detail = getattr(person, "detail", None) or Detail(n)
        if hands:
            entry["hands"] = {side: _hand_json(detail.hand(side), w / h) for side in SIDES}
        if face:
            entry["face"] = _face_json(detail.face, w / h)
        out.append(entry)
    return {"image": str(path), "width": w, "height": h, "people": out}


def detail_lines(person: Detection, width: int, height: int, hands: bool, face: bool) -> list[str]:
    """``perform pose``'s text for one person's hands and face: where each is and its features."""
    detail = getattr(person, "detail", None) or Detail(0)
    lines = []
    parts: list[tuple[str, Hand | Face | None]] = (
        [(f"{side} hand", detail.hand(side)) for side in SIDES] if hands else []
    )
    parts += [("face", detail.face)] if face else []
    for label, part in parts:
        if part is None:
            lines.append(f"  {label}: not found")
            continue
        anchor = part.landmarks[0 if isinstance(part, Hand) else FACE_POINTS["nose_tip"]]
        values = (
            hand_features(part, width / height)
            if isinstance(part, Hand)
            else face_features(part, width / height)
        )
        where = "wrist" if isinstance(part, Hand) else "nose tip"
        lines.append(
            f"  {label}: {where} ({anchor[0] * width:.0f}, {anchor[1] * height:.0f}) px, "
            f"score {part.score:.2f}; " + ", ".join(f"{k} {v:.2f}" for k, v in values.items())
        )
    return lines


def draw(image: np.ndarray, people: list[Detection]) -> np.ndarray:
    """The image with each person's mask tinted, skeleton, and hands and face (when found) drawn, RGB."""
    out = image.copy()
    for n, person in enumerate(people):
        color = np.array(slot_color(n + 1), np.float32)
        if person.mask is not None:
            alpha = np.clip(person.mask, 0, 1)[..., None] * 0.35
            out = (out * (1 - alpha) + color * alpha).astype(np.uint8)
    colors = [slot_color(n + 1) for n in range(len(people))]
    draw_bodies(out, [p.landmarks for p in people], colors)
    details = [getattr(p, "detail", None) or Detail(n + 1) for n, p in enumerate(people)]
    return draw_details(out, details, colors)


def write_image(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        from perform.errors import PerformError

        raise PerformError(f"{path}: cannot write the image (is the extension .png or .jpg?)")
