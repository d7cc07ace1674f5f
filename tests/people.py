"""Stage-like frames with several real people, composed from packaged photographs.

Sources: scikit-image's ``astronaut`` and ``camera`` and, when Debian's ``opencv-doc`` is
installed, OpenCV's ``basketball1.png`` and ``messi5.jpg`` (photographs of real people). Each
person is a crop of one photo, maybe mirrored, scaled and pasted side by side into a dark
1280 x 720 frame at its own height and size, as a stage camera sees a row of performers.

Ground truth for a person is where the landmarks of their source photo, found alone, land in the
composed frame (see :func:`expected_landmarks`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import cv2
import numpy as np

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")


def _astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def _camera() -> np.ndarray:
    from skimage import data

    return np.repeat(data.camera()[:, :, None], 3, axis=2)


def _opencv(name: str) -> np.ndarray:
    path = OPENCV_DATA / name
    image = cv2.imread(str(path)) if path.is_file() else None
    if image is None:
        raise FileNotFoundError(f"{path} (apt-get install opencv-doc)")
    return np.ascontiguousarray(image[:, :, ::-1])


def _basketball() -> np.ndarray:
    # The man on the left, whole body, catching a ball.
    return _opencv("basketball1.png")[40:480, 0:200]


def _messi() -> np.ndarray:
    # A footballer mid-kick, arms wide.
    return _opencv("messi5.jpg")[40:342, 50:470]


#: Person name -> RGB crop of a photograph showing that one person.
SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _astronaut,
    "camera": _camera,
    "basketball": _basketball,
    "messi": _messi,
}


def available_sources() -> list[str]:
    out = []
    for name, load in SOURCES.items():
        try:
            load()
        except (FileNotFoundError, ImportError):
            continue
        out.append(name)
    return out


@cache
def source(name: str, flip: bool = False) -> np.ndarray:
    image = SOURCES[name]()
    return np.ascontiguousarray(image[:, ::-1] if flip else image)


@dataclass(frozen=True, slots=True)
class Placement:
    """One person in a composed frame: ``source(name, flip)`` resized into the box x0:x1, y0:y1."""

    name: str
    flip: bool
    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1


def compose(
    people: int, width: int = 1280, height: int = 720, seed: int = 0, names: list[str] | None = None
) -> tuple[np.ndarray, list[Placement]]:
    """A ``height`` x ``width`` RGB frame with ``people`` people side by side, and where each is.

    People get equal columns; within its column each is scaled to 45..95% of the frame height
    (less where the column is too narrow) and stands at a random height.
    """
    rng = np.random.default_rng(seed)
    names = names or available_sources()
    frame = np.full((height, width, 3), 40, np.uint8)
    col = width / people
    placements = []
    order = [names[int(k)] for k in rng.permutation(len(names))]
    flips = rng.integers(0, 2, people).astype(bool)
    for i in range(people):
        name, flip = order[i % len(order)], bool(flips[i])
        img = source(name, flip)
        ih, iw = img.shape[:2]
        scale = min(rng.uniform(0.45, 0.95) * height / ih, 0.96 * col / iw)
        w, h = round(iw * scale), round(ih * scale)
        x0 = round(i * col + rng.uniform(0.02, 0.98) * (col - w))
        y0 = round(rng.uniform(0.0, 1.0) * (height - h))
        frame[y0 : y0 + h, x0 : x0 + w] = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
        placements.append(Placement(name, flip, x0, y0, x0 + w, y0 + h))
    return frame, placements


def expected_landmarks(reference: np.ndarray, p: Placement, width: int, height: int) -> np.ndarray:
    """Map ``reference`` (33, >=2) normalised landmarks of the unflipped source into the frame."""
    xy = reference[:, :2].astype(np.float64).copy()
    if p.flip:
        xy[:, 0] = 1.0 - xy[:, 0]
    out = np.empty_like(xy)
    out[:, 0] = (p.x0 + xy[:, 0] * (p.x1 - p.x0)) / width
    out[:, 1] = (p.y0 + xy[:, 1] * (p.y1 - p.y0)) / height
    return out


# Body landmarks to compare against the reference: nose, shoulders, elbows, wrists, hips.
_CHECK = np.array([0, 11, 12, 13, 14, 15, 16, 23, 24])
# Mirroring swaps left and right.
_MIRROR = np.array([0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21,
                    24, 23, 26, 25, 28, 27, 30, 29, 32, 31])  # fmt: skip


def found(
    detections_landmarks: list[np.ndarray],
    placements: list[Placement],
    references: dict[str, np.ndarray],
    width: int,
    height: int,
    tolerance: float = 0.15,
) -> list[bool]:
    """Which people were found: a detection whose (visible) landmarks' box centre lies in the
    person's box and
    whose nose, shoulders, elbows, wrists and hips (those visible in the reference) lie on average
    within ``tolerance`` x the box's larger side of where the reference puts them."""
    out = []
    for p in placements:
        ref = references[p.name]
        want = expected_landmarks(ref, p, width, height)
        if p.flip:
            want = want[_MIRROR]
            vis = ref[_MIRROR, 3]
        else:
            vis = ref[:, 3]
        rows = _CHECK[vis[_CHECK] > 0.5]
        size = max(p.x1 - p.x0, p.y1 - p.y0)
        hit = False
        for lm in detections_landmarks:
            px = lm[:, :2] * (width, height)
            # The box of the landmarks the model sees: those of a half-visible body it guesses
            # (knees and ankles of a portrait) can lie far outside the picture.
            seen = px[lm[:, 3] > 0.5] if lm.shape[1] > 3 and (lm[:, 3] > 0.5).sum() >= 3 else px
            lo, hi = seen.min(axis=0), seen.max(axis=0)
            cx, cy = (lo + hi) / 2
            if not (p.x0 <= cx <= p.x1 and p.y0 <= cy <= p.y1):
                continue
            err = np.linalg.norm(px[rows] - want[rows] * (width, height), axis=1).mean()
            if err <= tolerance * size:
                hit = True
                break
        out.append(hit)
    return out
