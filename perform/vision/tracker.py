"""Performer slots: people keep their number across frames, crossings and short exits.

Detections are matched to tracks by an assignment (Hungarian) on a cost that combines where a
track is expected to be (its last position moved by its velocity), its size, and the shape of
its skeleton (bone-length ratios, which differ between people and do not change as they move).
A track that is not seen keeps its slot for ``grace_s``; a new person gets a slot after being
seen ``confirm_frames`` times in a row, so a one-frame false detection never enters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

from perform.vision.types import LM, Detection, PersonEvent

SlotPolicy = Literal["first", "leftmost", "nearest"]

_TORSO = [LM["left_shoulder"], LM["right_shoulder"], LM["left_hip"], LM["right_hip"]]
_BONES = np.array(
    [
        (LM["left_shoulder"], LM["right_shoulder"]),
        (LM["left_hip"], LM["right_hip"]),
        (LM["left_shoulder"], LM["left_hip"]),
        (LM["right_shoulder"], LM["right_hip"]),
        (LM["left_shoulder"], LM["left_elbow"]),
        (LM["right_shoulder"], LM["right_elbow"]),
        (LM["left_elbow"], LM["left_wrist"]),
        (LM["right_elbow"], LM["right_wrist"]),
        (LM["left_hip"], LM["left_knee"]),
        (LM["right_hip"], LM["right_knee"]),
        (LM["left_knee"], LM["left_ankle"]),
        (LM["right_knee"], LM["right_ankle"]),
    ]
)
_UNMATCHED = 1e6


def body_centre(landmarks: np.ndarray) -> np.ndarray:
    """Torso centre (x, y), normalised."""
    return landmarks[_TORSO, :2].mean(axis=0)


def body_size(landmarks: np.ndarray) -> float:
    """Shoulder-to-hip length (normalised image units): a size that survives arm and leg movement."""
    shoulders = landmarks[[LM["left_shoulder"], LM["right_shoulder"]], :2].mean(axis=0)
    hips = landmarks[[LM["left_hip"], LM["right_hip"]], :2].mean(axis=0)
    return float(max(np.linalg.norm(shoulders - hips), 1e-3))


def skeleton_shape(world: np.ndarray) -> np.ndarray:
    """Bone lengths in world metres divided by their mean: a signature of a person's build."""
    lengths = np.linalg.norm(world[_BONES[:, 0]] - world[_BONES[:, 1]], axis=1)
    return lengths / max(float(lengths.mean()), 1e-6)


@dataclass
class Track:
    """One person followed over time."""

    id: int
    detection: Detection
    centre: np.ndarray
    size: float
    shape: np.ndarray
    t_first: float
    t_last: float
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    hits: int = 1
    slot: int = 0  # 0 until confirmed

    def expected_centre(self, t: float) -> np.ndarray:
        return self.centre + self.velocity * min(t - self.t_last, 0.5)


class SlotTracker:
    """Assigns stable slot numbers (1, 2, ...) to detections, frame after frame."""

    def __init__(
        self,
        max_people: int = 6,
        grace_s: float = 1.0,
        confirm_frames: int = 3,
        policy: SlotPolicy = "first",
        max_jump: float = 2.5,
    ) -> None:
        self.max_people = max_people
        self.grace_s = grace_s
        self.confirm_frames = confirm_frames
        self.policy = policy
        self.max_jump = max_jump  # in body sizes: farther than this is a different person
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks = []

    def update(self, detections: list[Detection], t: float) -> tuple[list[Track], list[PersonEvent]]:
        """Match this frame's detections; returns the confirmed tracks seen now, and events."""
        events: list[PersonEvent] = []
        centres = [body_centre(d.landmarks) for d in detections]
        sizes = [body_size(d.landmarks) for d in detections]
        shapes = [skeleton_shape(d.world) for d in detections]
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if self.tracks and detections:
            cost = np.full((len(self.tracks), len(detections)), _UNMATCHED)
            for i, track in enumerate(self.tracks):
                expected = track.expected_centre(t)
                for j in range(len(detections)):
                    scale = max(track.size, sizes[j])
                    distance = float(np.linalg.norm(centres[j] - expected)) / scale
                    if distance > self.max_jump:
                        continue
                    size_change = abs(np.log(sizes[j] / track.size))
                    shape_change = float(np.abs(shapes[j] - track.shape).mean())
                    cost[i, j] = distance + 2.0 * size_change + 4.0 * shape_change
            rows, cols = linear_sum_assignment(cost)
            for i, j in zip(rows, cols, strict=True):
                if cost[i, j] >= _UNMATCHED:
                    continue
                self._refresh(self.tracks[i], detections[j], centres[j], sizes[j], shapes[j], t)
                matched_tracks.add(i)
                matched_dets.add(j)
        for j, detection in enumerate(detections):
            if j not in matched_dets and len(self.tracks) < 2 * self.max_people:
                self.tracks.append(
                    Track(self._next_id, detection, centres[j], sizes[j], shapes[j], t_first=t, t_last=t)
                )
                self._next_id += 1
        # unconfirmed tracks must be seen in consecutive frames; confirmed ones live for grace_s
        kept = []
        for track in self.tracks:
            if track.slot == 0 and track.t_last != t:
                continue
            if track.slot and t - track.t_last > self.grace_s:
                events.append(PersonEvent("leave", track.slot, t))
                continue
            kept.append(track)
        self.tracks = kept
        for track in self.tracks:
            if track.slot == 0 and track.hits >= self.confirm_frames:
                free = self._free_slot()
                if free:
                    track.slot = free
                    events.append(PersonEvent("enter", track.slot, t))
        if self.policy != "first":
            self._reorder()
        visible = [tr for tr in self.tracks if tr.slot and tr.t_last == t]
        return sorted(visible, key=lambda tr: tr.slot), events

    def _refresh(
        self, track: Track, det: Detection, centre: np.ndarray, size: float, shape: np.ndarray, t: float
    ) -> None:
        dt = t - track.t_last
        if dt > 0:
            velocity = (centre - track.centre) / dt
            track.velocity = 0.5 * track.velocity + 0.5 * velocity
        track.detection, track.centre = det, centre
        track.size = 0.7 * track.size + 0.3 * size
        track.shape = 0.9 * track.shape + 0.1 * shape
        track.t_last = t
        track.hits += 1

    def _free_slot(self) -> int:
        used = {tr.slot for tr in self.tracks}
        return next((s for s in range(1, self.max_people + 1) if s not in used), 0)

    def _reorder(self) -> None:
        """Renumber confirmed tracks by position (leftmost) or size (nearest), with hysteresis."""
        confirmed = [tr for tr in self.tracks if tr.slot]
        if len(confirmed) < 2:
            return
        if self.policy == "leftmost":
            key = [float(tr.centre[0]) for tr in confirmed]
            margin = 0.03
        else:  # nearest: the largest body is nearest the camera
            key = [-tr.size for tr in confirmed]
            margin = 0.1 * max(tr.size for tr in confirmed)
        by_slot = sorted(range(len(confirmed)), key=lambda k: confirmed[k].slot)
        # bubble pass: swap neighbours only when their order is clearly wrong
        order = list(by_slot)
        changed = True
        while changed:
            changed = False
            for a in range(len(order) - 1):
                if key[order[a]] - key[order[a + 1]] > margin:
                    order[a], order[a + 1] = order[a + 1], order[a]
                    changed = True
        slots = sorted(tr.slot for tr in confirmed)
        for rank, k in enumerate(order):
            confirmed[k].slot = slots[rank]
