"""Real footage with people annotated by hand (tests/data/footage), and scoring detections against it.

A detection is the box around its visible landmarks. It matches an annotated person when their
boxes overlap by IoU 0.25 or more (greedy, best overlap first; small far people's landmark boxes
are loose). Matches to people marked ``ignore`` (under 40 px, mostly hidden) count neither way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tests.tools import VTEST

FOOTAGE = Path(__file__).resolve().parent / "data" / "footage"
MIN_IOU = 0.25


@dataclass(frozen=True)
class Person:
    box: tuple[float, float, float, float]
    ignore: bool = False


@dataclass(frozen=True)
class AnnotatedFrame:
    frame: int
    path: Path
    people: tuple[Person, ...]

    def image(self) -> np.ndarray:
        """RGB uint8."""
        return cv2.cvtColor(cv2.imread(str(self.path)), cv2.COLOR_BGR2RGB)


def annotated_frames() -> list[AnnotatedFrame]:
    data = json.loads((FOOTAGE / "vtest_people.json").read_text())
    frames = data["frames"] if isinstance(data, dict) else data
    return [
        AnnotatedFrame(
            f["frame"],
            FOOTAGE / f["file"],
            tuple(Person(tuple(p["box"]), bool(p.get("ignore", False))) for p in f["people"]),
        )
        for f in frames
    ]


def landmark_box(landmarks: np.ndarray, width: int, height: int, visible: float = 0.3) -> tuple[float, ...]:
    """The box around a detection's landmarks (those visible enough, else all) in pixels."""
    seen = landmarks[landmarks[:, 3] >= visible] if (landmarks[:, 3] >= visible).sum() >= 4 else landmarks
    x, y = seen[:, 0] * width, seen[:, 1] * height
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Score:
    found: int = 0
    missed: int = 0
    false: int = 0

    def add(self, other: Score) -> None:
        self.found += other.found
        self.missed += other.missed
        self.false += other.false

    @property
    def recall(self) -> float:
        return self.found / max(self.found + self.missed, 1)

    @property
    def precision(self) -> float:
        return self.found / max(self.found + self.false, 1)


def score(boxes: list[tuple[float, ...]], people: tuple[Person, ...]) -> Score:
    """Greedy matching of detected boxes to annotated people, best IoU first."""
    pairs = sorted(
        ((iou(d, p.box), i, j) for i, d in enumerate(boxes) for j, p in enumerate(people)), reverse=True
    )
    used_d: set[int] = set()
    used_p: set[int] = set()
    out = Score()
    for overlap, i, j in pairs:
        if overlap < MIN_IOU or i in used_d or j in used_p:
            continue
        used_d.add(i)
        used_p.add(j)
        if not people[j].ignore:
            out.found += 1
    out.false = len(boxes) - len(used_d)
    out.missed = sum(1 for j, p in enumerate(people) if j not in used_p and not p.ignore)
    return out


def video_frames(start: int, stop: int, path: Path = VTEST):
    """(index, RGB frame) from ``start`` to ``stop`` (exclusive) of a video file."""
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    try:
        for i in range(start, stop):
            ok, bgr = cap.read()
            if not ok:
                return
            yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


@dataclass(frozen=True)
class Tracks:
    """People followed by hand through a clip: their boxes every ``step`` frames from ``start``."""

    start: int
    end: int
    step: int
    boxes: dict[int, dict[int, Person]]  # frame -> person id -> box


def annotated_tracks() -> Tracks:
    data = json.loads((FOOTAGE / "vtest_tracks.json").read_text())
    boxes: dict[int, dict[int, Person]] = {}
    for track in data["tracks"]:
        ignore = {int(k): bool(v) for k, v in track.get("ignore", {}).items()}
        for frame, box in track["boxes"].items():
            boxes.setdefault(int(frame), {})[track["id"]] = Person(tuple(box), ignore.get(int(frame), False))
    return Tracks(data["start"], data["end"], data["step"], boxes)


@dataclass
class Identity:
    """Slots against annotated people over a clip: matches, and how often a person changed slot."""

    matched: int = 0
    missed: int = 0
    switches: int = 0


def identity(per_frame: dict[int, dict[int, tuple[float, ...]]], tracks: Tracks) -> Identity:
    """``per_frame``: frame -> slot -> box. A switch is an annotated person matched to another slot
    than at their last match (the CLEAR-MOT count)."""
    out = Identity()
    last: dict[int, int] = {}
    for frame in sorted(tracks.boxes):
        people = tracks.boxes[frame]
        slots = per_frame.get(frame, {})
        pairs = sorted(
            ((iou(box, p.box), slot, pid) for slot, box in slots.items() for pid, p in people.items()),
            reverse=True,
        )
        used_s: set[int] = set()
        used_p: set[int] = set()
        for overlap, slot, pid in pairs:
            if overlap < MIN_IOU or slot in used_s or pid in used_p:
                continue
            used_s.add(slot)
            used_p.add(pid)
            if people[pid].ignore:
                continue
            out.matched += 1
            if pid in last and last[pid] != slot:
                out.switches += 1
            last[pid] = slot
        out.missed += sum(1 for pid, p in people.items() if pid not in used_p and not p.ignore)
    return out
