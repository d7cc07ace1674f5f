"""Ready-to-use events. Where features suffice they are rules of the engine; where landmarks are
needed (a jump, a clap, a spin) they are small detectors over the bodies.

State events (start when it begins, end when it stops), per performer:

- ``hands_up``: both wrists above 0.85 of the way from the hips to the top of the head
  (features ``left_hand_height``/``right_hand_height``), ending below 0.7; held 0.1 s.
- ``t_pose``: both arms out sideways (shoulder angles 78..102 degrees, ending outside 72..108)
  with straight elbows (above 150 degrees, ending below 140); held 0.5 s.
- ``crouch``: both knees bent below 100 degrees (ending above 115); held 0.2 s.
- ``stillness``: ``energy_level`` below 0.04 (ending above 0.08) for 2 s.

Instant events (a start only):

- ``jump`` (per performer): the lower ankle rises more than 0.07 body heights above the floor
  level (the ankles' recent lowest point, which follows slow changes with a 0.25 s time
  constant) while the hips are at least 0.45 body heights above that floor (legs near straight:
  not a crouch that lifts the heels); the next jump needs the feet back within 0.02 body heights
  of the floor (or 1.5 s, after which the floor is measured afresh).
- ``clap`` (per performer): the hands (wrist, index and pinky centres) come within 0.08 body
  heights of each other, having been more than 0.25 body heights apart within the last second.
- ``spin`` (per performer): the shoulders' direction in world coordinates turns through 330
  degrees or more in one direction within 3 s. Needs world landmarks.
- ``enter`` / ``leave`` (per performer): the tracker's :class:`~perform.vision.types.PersonEvent`.
- ``people_changed`` (stage): the number of performers changed; ``value`` is the new count.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from perform.events.config import BUILTIN_NAMES, Condition, Rule
from perform.events.rules import RuleEngine
from perform.events.types import Event
from perform.vision.types import LM, Poses

_VISIBLE = 0.5
_TORSO_FRACTION = 0.288  # shoulders to hips, as a fraction of standing height

HANDS_UP, HANDS_UP_RELEASE = 0.85, 0.7
JUMP_RISE, JUMP_LAND, JUMP_HIPS, FLOOR_TAU_S, JUMP_MAX_S = 0.07, 0.02, 0.45, 0.25, 1.5
CLAP_TOGETHER, CLAP_APART, CLAP_WINDOW_S = 0.08, 0.25, 1.0
SPIN_DEGREES, SPIN_WINDOW_S = 330.0, 3.0
_SPIN_MAX_STEP = math.radians(100.0)  # a bigger turn between two frames is a left/right flip


def _c(feature: str, above: float | None = None, below: float | None = None, release: float | None = None):
    return Condition(feature=feature, above=above, below=below, release=release)


def _arm_out(side: str) -> list[Condition]:
    return [
        _c(f"{side}_shoulder_angle", above=78, release=72),
        _c(f"{side}_shoulder_angle", below=102, release=108),
        _c(f"{side}_elbow_angle", above=150, release=140),
    ]


#: The built-ins that are rules of the engine.
BUILTIN_RULES: dict[str, Rule] = {
    "hands_up": Rule(
        name="hands_up",
        all=[
            _c("left_hand_height", above=HANDS_UP, release=HANDS_UP_RELEASE),
            _c("right_hand_height", above=HANDS_UP, release=HANDS_UP_RELEASE),
        ],
        hold_s=0.1,
    ),
    "t_pose": Rule(name="t_pose", all=_arm_out("left") + _arm_out("right"), hold_s=0.5),
    "crouch": Rule(
        name="crouch",
        all=[_c("left_knee_angle", below=100, release=115), _c("right_knee_angle", below=100, release=115)],
        hold_s=0.2,
    ),
    "stillness": Rule(name="stillness", feature="energy_level", below=0.04, release=0.08, hold_s=2.0),
}
#: Built-ins with a start edge only.
INSTANT: frozenset[str] = frozenset({"jump", "clap", "spin", "enter", "leave", "people_changed"})

_LS, _RS, _LH, _RH = LM["left_shoulder"], LM["right_shoulder"], LM["left_hip"], LM["right_hip"]
_ANKLES = np.array([LM["left_ankle"], LM["right_ankle"]])
_HANDS = np.array(
    [
        [LM["left_wrist"], LM["left_index"], LM["left_pinky"]],
        [LM["right_wrist"], LM["right_index"], LM["right_pinky"]],
    ]
)


@dataclass
class _Person:
    """What the detectors remember of one performer."""

    t: float = math.nan
    floor: float = math.nan  # image y of the floor under the feet
    airborne: bool = False
    took_off: float = 0.0
    together: bool = False
    apart_t: float = -math.inf
    angle: float = math.nan
    turned: float = 0.0  # cumulative shoulder rotation, radians
    lows: deque[tuple[float, float]] = field(default_factory=deque)  # (t, turned), increasing
    highs: deque[tuple[float, float]] = field(default_factory=deque)  # (t, turned), decreasing


class BodyDetectors:
    """``jump``, ``clap`` and ``spin`` from landmarks; one instance per stream, one thread."""

    def __init__(self, enabled: Sequence[str] = ("jump", "clap", "spin")) -> None:
        self.enabled = frozenset(enabled) & {"jump", "clap", "spin"}
        self._people: dict[int, _Person] = {}

    def reset(self) -> None:
        self._people.clear()

    def update(self, poses: Poses) -> list[Event]:
        bodies = poses.bodies
        present = {b.slot for b in bodies}
        for slot in [s for s in self._people if s not in present]:
            del self._people[slot]
        if not bodies or not self.enabled:
            return []
        t = poses.t_capture
        aspect = poses.width / poses.height if poses.height else 1.0
        lm = np.stack([b.landmarks for b in bodies]).astype(np.float64)
        world = np.stack([b.world for b in bodies]).astype(np.float64)
        ok = np.isfinite(lm).all(axis=2) & (np.nan_to_num(lm[..., 3]) >= _VISIBLE)
        lm = np.nan_to_num(lm)
        img = lm[..., :2] * np.array([aspect, 1.0])  # image heights both ways
        has_world = np.isfinite(world).all(axis=(1, 2)) & (
            np.abs(np.nan_to_num(world)).max(axis=(1, 2)) > 1e-6
        )
        world = np.nan_to_num(world)
        shape = np.where(
            has_world[:, None, None], world, np.concatenate([img, np.zeros_like(img[..., :1])], 2)
        )

        torso_ok = ok[:, [_LS, _RS, _LH, _RH]].all(axis=1)
        height_img = _torso(img) / _TORSO_FRACTION
        height_shape = _torso(shape) / _TORSO_FRACTION
        # jump: the lower ankle's image y (y down: the larger one)
        feet_ok = ok[:, _ANKLES].all(axis=1) & torso_ok & (height_img > 1e-6)
        foot_y = img[:, _ANKLES, 1].max(axis=1)
        hip_y = (img[:, _LH, 1] + img[:, _RH, 1]) / 2
        # clap: distance between the hand centres, in body heights
        hands_ok = ok[:, _HANDS].all(axis=(1, 2)) & torso_ok & (height_shape > 1e-9)
        centres = shape[:, _HANDS].mean(axis=2)
        hands_d = np.linalg.norm(centres[:, 0] - centres[:, 1], axis=1) / np.maximum(height_shape, 1e-9)
        # spin: direction of the right-to-left shoulder vector on the floor plane (x, z)
        across = world[:, _LS] - world[:, _RS]
        spin_ok = has_world & ok[:, [_LS, _RS]].all(axis=1) & (np.hypot(across[:, 0], across[:, 2]) > 1e-3)
        angles = np.arctan2(across[:, 2], across[:, 0])

        out: list[Event] = []
        for j, body in enumerate(bodies):
            p = self._people.get(body.slot)
            if p is None:
                p = self._people[body.slot] = _Person()
            dt = t - p.t if math.isfinite(p.t) else math.nan
            if dt < 0:  # time went back (a replay looped): start afresh
                p = self._people[body.slot] = _Person()
                dt = math.nan
            p.t = t
            if (
                "jump" in self.enabled
                and feet_ok[j]
                and self._jump(p, float(foot_y[j]), float(hip_y[j]), float(height_img[j]), dt)
            ):
                out.append(Event("jump", body.slot, True, t))
            if "clap" in self.enabled and hands_ok[j] and self._clap(p, float(hands_d[j]), t):
                out.append(Event("clap", body.slot, True, t))
            if "spin" in self.enabled and spin_ok[j] and self._spin(p, float(angles[j]), t):
                out.append(Event("spin", body.slot, True, t))
        return out

    @staticmethod
    def _jump(p: _Person, y: float, hip_y: float, height: float, dt: float) -> bool:
        if not math.isfinite(p.floor):
            p.floor = y
            return False
        rise = (p.floor - y) / height
        if p.airborne:
            if p.t - p.took_off > JUMP_MAX_S:  # no jump lasts this long: the floor moved
                p.airborne = False
                p.floor = y
            elif rise < JUMP_LAND:
                p.airborne = False
                p.floor = max(p.floor, y)
            return False
        if rise > JUMP_RISE and (p.floor - hip_y) / height >= JUMP_HIPS:
            p.airborne, p.took_off = True, p.t
            return True
        if y > p.floor or not dt > 0:
            p.floor = max(p.floor, y)
        else:  # feet higher in the image: follow slowly (walking away from the camera)
            p.floor += (y - p.floor) * (1.0 - math.exp(-dt / FLOOR_TAU_S))
        return False

    @staticmethod
    def _clap(p: _Person, d: float, t: float) -> bool:
        if d > CLAP_APART:
            p.apart_t = t
        if p.together:
            if d > CLAP_TOGETHER * 1.5:
                p.together = False
            return False
        if d < CLAP_TOGETHER:
            p.together = True
            return t - p.apart_t <= CLAP_WINDOW_S
        return False

    @staticmethod
    def _spin(p: _Person, angle: float, t: float) -> bool:
        if math.isfinite(p.angle):
            step = (angle - p.angle + math.pi) % (2 * math.pi) - math.pi
            if abs(step) > _SPIN_MAX_STEP:  # a flip, not a turn: start counting again
                p.lows.clear()
                p.highs.clear()
            else:
                p.turned += step
        p.angle = angle
        a = p.turned
        # sliding-window minimum and maximum of the cumulative turn (monotonic queues)
        for q, worse in ((p.lows, lambda old: old >= a), (p.highs, lambda old: old <= a)):
            while q and worse(q[-1][1]):
                q.pop()
            q.append((t, a))
            while q[0][0] < t - SPIN_WINDOW_S:
                q.popleft()
        if max(a - p.lows[0][1], p.highs[0][1] - a) >= math.radians(SPIN_DEGREES):
            p.lows.clear()
            p.highs.clear()
            p.lows.append((t, a))
            p.highs.append((t, a))
            return True
        return False


def _torso(p: np.ndarray) -> np.ndarray:
    """Shoulder centre to hip centre distance (N,)."""
    return np.linalg.norm((p[:, _LS] + p[:, _RS] - p[:, _LH] - p[:, _RH]) / 2, axis=1)


class TrackingEvents:
    """``enter``, ``leave`` from the tracker's person events and ``people_changed`` from the count."""

    def __init__(self, enabled: Sequence[str] = ("enter", "leave", "people_changed")) -> None:
        self.enabled = frozenset(enabled)
        self._count = 0

    def reset(self) -> None:
        self._count = 0

    def update(self, poses: Poses) -> list[Event]:
        out = [
            Event(e.kind, e.slot, True, poses.t_capture)
            for e in poses.events
            if e.kind in ("enter", "leave") and e.kind in self.enabled
        ]
        count = len(poses.bodies)
        if count != self._count:
            self._count = count
            if "people_changed" in self.enabled:
                out.append(Event("people_changed", None, True, poses.t_capture, float(count)))
        return out


class Builtins:
    """Every enabled built-in event, from each frame's :class:`Poses`."""

    def __init__(self, enabled: Sequence[str] = BUILTIN_NAMES) -> None:
        unknown = [n for n in enabled if n not in BUILTIN_NAMES]
        if unknown:
            raise ValueError(
                f"unknown built-in event {unknown[0]!r}; expected one of {', '.join(BUILTIN_NAMES)}"
            )
        self.enabled = tuple(enabled)
        self.rules = RuleEngine([BUILTIN_RULES[n] for n in enabled if n in BUILTIN_RULES])
        self.detectors = BodyDetectors(enabled)
        self.tracking = TrackingEvents(enabled)

    def reset(self) -> None:
        self.rules.reset()
        self.detectors.reset()
        self.tracking.reset()

    def update(self, poses: Poses) -> list[Event]:
        return self.tracking.update(poses) + self.rules.update(poses) + self.detectors.update(poses)
