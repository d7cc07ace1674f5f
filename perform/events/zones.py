"""Where performers stand on the stage floor, and named floor zones they enter, stay in and leave.

Calibration: four points on the floor as seen in the image (normalised 0..1) and the same four
points on stage in metres give a homography (a perspective map of the floor plane). Each
performer's feet (the midpoint of the visible ankles and heels) map through it to stage metres.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from perform.events.config import Floor, Zone
from perform.events.types import Event
from perform.vision.types import LM, Poses

_VISIBLE = 0.5
_FEET = np.array([LM["left_ankle"], LM["right_ankle"], LM["left_heel"], LM["right_heel"]])


class FloorMap:
    """The homography from normalised image points to stage metres."""

    def __init__(self, floor: Floor) -> None:
        src = np.array(floor.image, np.float32)
        dst = np.array(floor.stage, np.float32)
        self.matrix = cv2.getPerspectiveTransform(src, dst).astype(np.float64)

    def to_stage(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) normalised image points -> (N, 2) stage metres."""
        p = np.asarray(points, np.float64).reshape(-1, 2)
        h = np.concatenate([p, np.ones((len(p), 1))], axis=1) @ self.matrix.T
        return h[:, :2] / h[:, 2:3]

    def feet(self, poses: Poses) -> dict[int, tuple[float, float]]:
        """Stage position (x, y metres) of every performer whose ankles or heels are visible."""
        if not poses.bodies:
            return {}
        lm = np.stack([b.landmarks[_FEET] for b in poses.bodies]).astype(np.float64)  # (N, 4, 4)
        w = (np.nan_to_num(lm[..., 3]) >= _VISIBLE) & np.isfinite(lm[..., :2]).all(axis=2)
        n = w.sum(axis=1)
        mid = (np.nan_to_num(lm[..., :2]) * w[..., None]).sum(axis=1) / np.maximum(n, 1)[:, None]
        stage = self.to_stage(mid)
        return {
            b.slot: (float(stage[j, 0]), float(stage[j, 1]))
            for j, b in enumerate(poses.bodies)
            if n[j] > 0 and np.isfinite(stage[j]).all()
        }


def _inside(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) whether each of (N, 2) points is inside the polygon of edges ``a[k] -> b[k]`` (even-odd)."""
    x, y = points[:, 0:1], points[:, 1:2]
    crosses = (a[:, 1] > y) != (b[:, 1] > y)
    dy = np.where(b[:, 1] == a[:, 1], 1e-300, b[:, 1] - a[:, 1])
    x_cross = a[:, 0] + (y - a[:, 1]) * (b[:, 0] - a[:, 0]) / dy
    return (crosses & (x < x_cross)).sum(axis=1) % 2 == 1


def _distance(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) distance from each point to the outline of edges ``a[k] -> b[k]``."""
    ab = b - a
    ap = points[:, None, :] - a[None]
    u = np.clip((ap * ab).sum(axis=2) / np.maximum((ab * ab).sum(axis=1), 1e-12), 0.0, 1.0)
    return np.linalg.norm(ap - u[..., None] * ab, axis=2).min(axis=1)


@dataclass(slots=True)
class _Stay:
    since: float
    dwells: int = 0


class ZoneTracker:
    """``zone.NAME`` start/end and ``zone.NAME.dwell`` events per performer; one thread.

    A performer enters when their feet are inside the polygon and leaves once they are more than
    the zone's ``margin_m`` outside it (or leave the stage). The end event's value is the seconds
    spent inside. While inside, ``zone.NAME.dwell`` fires every ``dwell_s`` seconds with the
    seconds inside as its value. A performer whose feet are not visible keeps their zones.
    """

    def __init__(self, floor: Floor, zones: Sequence[Zone]) -> None:
        self.floor = FloorMap(floor)
        self.zones = list(zones)
        polys = [np.array(z.polygon, np.float64) for z in self.zones]
        self._edges = [(p, np.roll(p, -1, axis=0)) for p in polys]
        self._inside: list[dict[int, _Stay]] = [{} for _ in self.zones]

    def reset(self) -> None:
        for stays in self._inside:
            stays.clear()

    def update(self, poses: Poses) -> tuple[list[Event], dict[int, tuple[float, float]]]:
        """This frame's zone events and every visible performer's stage position (x, y metres)."""
        t = poses.t_capture
        positions = self.floor.feet(poses)
        present = {b.slot for b in poses.bodies}
        slots = list(positions)
        pts = np.array([positions[s] for s in slots], np.float64).reshape(-1, 2)
        out: list[Event] = []
        for zone, (a, b), stays in zip(self.zones, self._edges, self._inside, strict=True):
            name = f"zone.{zone.name}"
            for slot in [s for s in stays if s not in present]:
                out.append(Event(name, slot, False, t, max(0.0, t - stays.pop(slot).since)))
            if not slots:
                continue
            inside = _inside(pts, a, b)
            far = ~inside & (_distance(pts, a, b) > zone.margin_m)
            for j, slot in enumerate(slots):
                stay = stays.get(slot)
                if stay is None:
                    if inside[j]:
                        stays[slot] = _Stay(t)
                        out.append(Event(name, slot, True, t))
                    continue
                if far[j]:
                    del stays[slot]
                    out.append(Event(name, slot, False, t, max(0.0, t - stay.since)))
                    continue
                if zone.dwell_s is not None:
                    spent = t - stay.since
                    if spent >= (stay.dwells + 1) * zone.dwell_s - 1e-9:
                        stay.dwells = int((spent + 1e-9) // zone.dwell_s)
                        out.append(Event(f"{name}.dwell", slot, True, t, spent))
        return out, positions
