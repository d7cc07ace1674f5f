"""Drawing skeletons, hands, faces and masks onto images (previews, virtual performers, `perform pose`)."""

from __future__ import annotations

import cv2
import numpy as np

from perform.vision.detail import Detail
from perform.vision.face import FACE_ROWS
from perform.vision.hands import HAND_CONNECTIONS
from perform.vision.types import CONNECTIONS, LM

#: One colour per performer slot (RGB), slot 1 first.
SLOT_COLORS = [(255, 96, 80), (80, 220, 120), (90, 150, 255), (255, 200, 60), (220, 90, 255), (60, 220, 220)]


def slot_color(slot: int) -> tuple[int, int, int]:
    return SLOT_COLORS[(slot - 1) % len(SLOT_COLORS)]


def draw_bodies(
    image: np.ndarray, bodies: list[np.ndarray], colors: list[tuple[int, int, int]] | None = None
) -> np.ndarray:
    """Draw skeletons (33x4 normalised landmarks) as thick limbs on an RGB image, in place."""
    h, w = image.shape[:2]
    thickness = max(2, round(h / 60))
    for n, landmarks in enumerate(bodies):
        color = colors[n % len(colors)] if colors else (236, 200, 170)
        pts = np.round(landmarks[:, :2] * (w, h)).astype(int)
        visible = landmarks[:, 3] > 0.5
        for a, b in CONNECTIONS:
            if visible[a] and visible[b]:
                cv2.line(image, tuple(pts[a]), tuple(pts[b]), color, thickness, cv2.LINE_AA)
        if visible[LM["nose"]]:
            cv2.circle(image, tuple(pts[LM["nose"]]), thickness * 2, color, -1, cv2.LINE_AA)
    return image


def draw_details(
    image: np.ndarray, details: list[Detail], colors: list[tuple[int, int, int]] | None = None
) -> np.ndarray:
    """Draw hands (21 joints and their bones) and faces (the named face points) on an RGB image,
    in place; parts not found are left out."""
    h, w = image.shape[:2]
    thickness = max(1, round(h / 240))
    for n, detail in enumerate(details):
        color = colors[n % len(colors)] if colors else (236, 200, 170)
        for hand in (detail.left_hand, detail.right_hand):
            if hand is None:
                continue
            pts = np.round(hand.landmarks[:, :2] * (w, h)).astype(int)
            for a, b in HAND_CONNECTIONS:
                cv2.line(image, tuple(pts[a]), tuple(pts[b]), color, thickness, cv2.LINE_AA)
            for p in pts:
                cv2.circle(image, tuple(p), thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
        if detail.face is not None:
            pts = np.round(detail.face.landmarks[FACE_ROWS, :2] * (w, h)).astype(int)
            for p in pts:
                cv2.circle(image, tuple(p), thickness + 1, color, -1, cv2.LINE_AA)
    return image
