"""Ready-to-use events. Where features suffice they are rules of the engine; where landmarks are
needed (a jump, a clap, a spin) they are small detectors over the bodies.

Every built-in judges a performer only when they are big and clear enough (:class:`BodyFloor`):
standing height at least ``min_body_height`` of the image height and 40 pixels, the torso's
landmarks at visibility ``min_confidence`` or more, and 0.5 s since they entered or were found
again after 0.25 s unseen (``stillness`` needs no settling). Each event also reads only its own
landmarks at that visibility. Far, small people's landmarks jump by a tenth of their height from
frame to frame; that is what this keeps out. ``enter``, ``leave`` and ``people_changed`` count
everyone.

State events (start when it begins, end when it stops), per performer:

- ``hands_up``: both wrists above 0.85 of the way from the hips to the top of the head
  (features ``left_hand_height``/``right_hand_height``), ending below 0.7; held 0.1 s.
- ``t_pose``: both arms out sideways (shoulder angles 78..102 degrees, ending outside 72..108)
  with straight elbows (above 150 degrees, ending below 140); held 0.5 s.
- ``crouch``: both knees bent below 100 degrees (ending above 115); held 0.2 s.
- ``stillness``: ``energy_level`` below 0.04 (ending above 0.08) for 2 s.

Instant events (a start only):

- ``jump`` (per performer): the whole body goes up: the lower ankle rises more than 0.07 body
  heights above the floor level (the ankles' recent lowest point, which follows slow changes
  with a 0.25 s time constant), the hips and the shoulders more than 0.8 of that above their own
  recent lowest points, and the hips stay at least 0.45 body heights above the floor (legs near
  straight: not a crouch that lifts the heels), on two frames in a row and for 0.05 s. The 0.07
  is 8 pixels for a body under 114 pixels (the landmarks' jitter). The levels move with the
  body's steady drift up the image (walking away from the camera, 0.5 s time constant); a body
  that goes up faster than 3 body heights a second was swapped or glitched, not jumping, and is
  measured afresh; the feet must have been seen for 0.8 s (floor and drift learnt). The next jump
  needs the feet back within 0.02 body heights (the same share of the threshold) of the floor,
  or 1.5 s.
- ``clap`` (per performer): the hands (wrist, index and pinky centres) come within 0.08 body
  heights of each other, closing in on at least two frames in a row (a flicker jumps there in
  one), having been more than 0.25 body heights apart on two frames in a row within the last
  second.
- ``spin`` (per performer): the shoulders' direction in world coordinates turns through 330
  degrees or more in one direction within 3 s. Needs world landmarks and a body 100 pixels tall
  (the world landmarks of smaller people are noise).
- ``enter`` / ``leave`` (per performer): the tracker's :class:`~perform.vision.types.PersonEvent`.
- ``people_changed`` (stage): the number of performers changed; ``value`` is the new count.

Hand gestures (state events per performer and hand, with ``pose.detail.hands`` on):
``left_hand_open_palm``, ``left_hand_fist``, ``left_hand_pinch``, ``left_hand_point``,
``left_hand_thumbs_up``, ``left_hand_victory`` and the same for ``right_hand_``: a gesture's score
(:func:`~perform.vision.gestures.gesture_scores`) above 0.6 for 0.15 s starts it, under 0.35 ends
it; a hand lost for 0.2 s ends its gestures (:class:`~perform.vision.gestures.GestureTracker`).
They read the hand, not the body: the body floor does not apply.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from perform.events.config import BUILTIN_NAMES, MIN_BODY_HEIGHT, MIN_CONFIDENCE, Condition, Rule
from perform.events.rules import RuleEngine
from perform.events.types import Event
from perform.vision.gestures import GestureTracker
from perform.vision.types import LM, Poses

_TORSO_FRACTION = 0.288  # shoulders to hips, as a fraction of standing height
_LEG_FRACTION = 0.491  # hip to knee plus knee to ankle

MIN_BODY_PX = 40.0  # below this BlazePose cannot place a limb to within a tenth of the body
FLOOR_RELEASE = 0.85  # a judged performer stays judged down to this share of the size floor
SETTLE_S = 0.5  # after entering or being found again the landmarks settle; nothing fires
GAP_S = 0.25  # a performer unseen this long is found again, not followed: their baselines restart

HANDS_UP, HANDS_UP_RELEASE = 0.85, 0.7
JUMP_RISE, JUMP_LAND, JUMP_HIPS, FLOOR_TAU_S, JUMP_MAX_S = 0.07, 0.02, 0.45, 0.25, 1.5
JUMP_BODY_RISE = 0.8  # the hips and shoulders must rise this share of the threshold too
DRIFT_TAU_S = 0.5  # time constant of the body's steady drift up the image
JUMP_WARMUP_S = 0.8  # the feet seen this long before a jump counts (floor and drift learnt)
JUMP_MAX_SPEED = 3.0  # body heights per second: no one takes off faster (a 0.5 m jump: 1.8)
JUMP_NOISE_PX = 8.0  # a rise smaller than this many pixels is the landmarks' jitter
JUMP_FRAMES, JUMP_HOLD_S = 2, 0.05  # the rise must persist (a one-frame flicker is no jump)
CLAP_TOGETHER, CLAP_APART, CLAP_WINDOW_S, CLAP_FRAMES = 0.08, 0.25, 1.0, 2
SPIN_DEGREES, SPIN_WINDOW_S, SPIN_MIN_PX = 330.0, 3.0, 100.0
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
_TORSO = np.array([_LS, _RS, _LH, _RH])
_HIPS = np.array([_LH, _RH])
_KNEES = np.array([LM["left_knee"], LM["right_knee"]])
_ANKLES = np.array([LM["left_ankle"], LM["right_ankle"]])
_WRISTS = np.array([LM["left_wrist"], LM["right_wrist"]])
_ELBOWS = np.array([LM["left_elbow"], LM["right_elbow"]])
_HANDS = np.array(
    [
        [LM["left_wrist"], LM["left_index"], LM["left_pinky"]],
        [LM["right_wrist"], LM["right_index"], LM["right_pinky"]],
    ]
)
#: Landmarks (besides the torso) a rule-based built-in reads: it judges a performer only while
#: these are visible.
RULE_LANDMARKS: dict[str, np.ndarray] = {
    "hands_up": _WRISTS,
    "t_pose": np.concatenate([_ELBOWS, _WRISTS]),
    "crouch": np.concatenate([_KNEES, _ANKLES]),
    "stillness": np.array([], int),
}


def body_heights(lm: np.ndarray, ok: np.ndarray, aspect: float) -> np.ndarray:
    """Standing heights (N,) in image heights from landmarks (N, 33, >=2) and their visibility
    ``ok`` (N, 33): the torso's estimate or the longer leg's, whichever is larger; NaN where
    neither is visible."""
    p = lm[..., :2] * np.array([aspect, 1.0])
    torso = np.linalg.norm((p[:, _LS] + p[:, _RS] - p[:, _LH] - p[:, _RH]) / 2, axis=1) / _TORSO_FRACTION
    legs = (
        np.linalg.norm(p[:, _HIPS] - p[:, _KNEES], axis=2)
        + np.linalg.norm(p[:, _KNEES] - p[:, _ANKLES], axis=2)
    ) / _LEG_FRACTION
    est = np.concatenate([torso[:, None], legs], axis=1)
    est_ok = np.concatenate(
        [ok[:, _TORSO].all(axis=1)[:, None], ok[:, _HIPS] & ok[:, _KNEES] & ok[:, _ANKLES]], axis=1
    )
    est = np.where(est_ok & (est > 1e-9), est, np.nan)
    out = np.full(len(lm), np.nan)
    some = np.isfinite(est).any(axis=1)
    out[some] = np.nanmax(est[some], axis=1)
    return out


@dataclass
class _Seen:
    since: float  # when this performer was (re)acquired
    last: float
    big: bool = False  # over the size floor (with hysteresis)


class BodyFloor:
    """Which performers the built-ins judge: big enough, torso clearly seen, settled.

    A performer is judged once their standing height is at least ``min_body_height`` image
    heights and :data:`MIN_BODY_PX` pixels, with the torso's four landmarks at visibility
    ``min_confidence`` or more, and :data:`SETTLE_S` has passed since they entered or were seen
    again after :data:`GAP_S` unseen. They stay judged down to :data:`FLOOR_RELEASE` of that
    height (no flicker at the edge).
    """

    def __init__(
        self, min_body_height: float = MIN_BODY_HEIGHT, min_confidence: float = MIN_CONFIDENCE
    ) -> None:
        self.min_body_height = min_body_height
        self.min_confidence = min_confidence
        self._seen: dict[int, _Seen] = {}

    def reset(self) -> None:
        self._seen.clear()

    def visible(self, landmarks: np.ndarray) -> np.ndarray:
        """(N, 33) whether each landmark of ``landmarks`` (N, 33, 4) is finite and visible enough."""
        return np.isfinite(landmarks).all(axis=2) & (np.nan_to_num(landmarks[..., 3]) >= self.min_confidence)

    def update(self, poses: Poses, landmarks: np.ndarray, ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Whether each of ``poses.bodies`` is big and clear enough (N,), and whether it is also
        settled (N,), from their ``landmarks`` (N, 33, 4, NaN-free) and which are ``visible``."""
        bodies = poses.bodies
        present = {b.slot for b in bodies}
        for slot in [s for s in self._seen if s not in present]:
            del self._seen[slot]
        t = poses.t_capture
        aspect = poses.width / poses.height if poses.height else 1.0
        pixels = body_heights(landmarks, ok, aspect) * poses.height
        floor_px = max(self.min_body_height * poses.height, MIN_BODY_PX)
        torso_ok = ok[:, _TORSO].all(axis=1)
        big = np.zeros(len(bodies), bool)
        settled = np.zeros(len(bodies), bool)
        for j, body in enumerate(bodies):
            seen = self._seen.get(body.slot)
            if seen is None or not 0.0 <= t - seen.last <= GAP_S:  # new, found again, or a replay looped
                seen = self._seen[body.slot] = _Seen(t if seen is not None else t - body.age_s, t)
            seen.since = max(seen.since, t - body.age_s)  # the slot went to someone who just entered
            seen.last = t
            size = floor_px * (FLOOR_RELEASE if seen.big else 1.0)
            big[j] = seen.big = bool(torso_ok[j] and pixels[j] >= size)
            settled[j] = t - seen.since >= SETTLE_S - 1e-9
        return big, big & settled


@dataclass
class _Person:
    """What the detectors remember of one performer."""

    t: float = math.nan
    floor: float = math.nan  # image y of the floor under the feet
    hips: float = math.nan  # image y of the hips' recent lowest point
    shoulders: float = math.nan  # image y of the shoulders' recent lowest point
    drift: float = 0.0  # the body's steady upward image velocity (image heights per second, < 0)
    drift_y: float = math.nan  # hips' image y that the drift is measured from
    jump_t: float = math.nan  # when the jump detector last saw the feet
    feet_since: float = math.nan  # since when it has seen them
    rising: int = 0  # frames in a row the whole body has been up
    rose_t: float = math.nan
    airborne: bool = False
    took_off: float = 0.0
    together: bool = False
    apart: int = 0  # frames in a row the hands have been apart
    apart_t: float = -math.inf
    closing: int = 0  # frames in a row the hands have come closer
    hands_d: float = math.nan
    angle: float = math.nan
    turned: float = 0.0  # cumulative shoulder rotation, radians
    lows: deque[tuple[float, float]] = field(default_factory=deque)  # (t, turned), increasing
    highs: deque[tuple[float, float]] = field(default_factory=deque)  # (t, turned), decreasing


class BodyDetectors:
    """``jump``, ``clap`` and ``spin`` from landmarks; one instance per stream, one thread.

    Each reads only landmarks at visibility ``min_confidence`` or more; a performer unseen for
    :data:`GAP_S` starts afresh.
    """

    def __init__(
        self, enabled: Sequence[str] = ("jump", "clap", "spin"), min_confidence: float = MIN_CONFIDENCE
    ) -> None:
        self.enabled = frozenset(enabled) & {"jump", "clap", "spin"}
        self.min_confidence = min_confidence
        self._people: dict[int, _Person] = {}

    def reset(self) -> None:
        self._people.clear()

    def update(self, poses: Poses, judged: np.ndarray | None = None) -> list[Event]:
        """This frame's events of the bodies ``judged`` (N,; default all); the others only update
        what the detectors remember of them."""
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
        ok = np.isfinite(lm).all(axis=2) & (np.nan_to_num(lm[..., 3]) >= self.min_confidence)
        lm = np.nan_to_num(lm)
        img = lm[..., :2] * np.array([aspect, 1.0])  # image heights both ways
        has_world = np.isfinite(world).all(axis=(1, 2)) & (
            np.abs(np.nan_to_num(world)).max(axis=(1, 2)) > 1e-6
        )
        world = np.nan_to_num(world)
        shape = np.where(
            has_world[:, None, None], world, np.concatenate([img, np.zeros_like(img[..., :1])], 2)
        )

        torso_ok = ok[:, _TORSO].all(axis=1)
        height_img = np.nan_to_num(body_heights(lm, ok, aspect))
        pixels = height_img * poses.height
        height_shape = _torso(shape) / _TORSO_FRACTION
        # jump: both ankles' image y (y down: the lower ankle is the larger y), the hips'
        feet_ok = ok[:, _ANKLES].all(axis=1) & ok[:, _HIPS].all(axis=1) & torso_ok & (pixels > 1.0)
        foot_y = img[:, _ANKLES, 1].max(axis=1)
        hip_y = img[:, _HIPS, 1].mean(axis=1)
        shoulder_y = img[:, [_LS, _RS], 1].mean(axis=1)
        # clap: distance between the hand centres, in body heights
        hands_ok = ok[:, _HANDS].all(axis=(1, 2)) & torso_ok & (height_shape > 1e-9)
        centres = shape[:, _HANDS].mean(axis=2)
        hands_d = np.linalg.norm(centres[:, 0] - centres[:, 1], axis=1) / np.maximum(height_shape, 1e-9)
        # spin: direction of the right-to-left shoulder vector on the floor plane (x, z)
        across = world[:, _LS] - world[:, _RS]
        spin_ok = (
            has_world
            & ok[:, [_LS, _RS]].all(axis=1)
            & (np.hypot(across[:, 0], across[:, 2]) > 1e-3)
            & (pixels >= SPIN_MIN_PX)
        )
        angles = np.arctan2(across[:, 2], across[:, 0])

        out: list[Event] = []
        for j, body in enumerate(bodies):
            p = self._people.get(body.slot)
            if p is None or not 0.0 <= t - p.t <= GAP_S:  # new, found again, or a replay looped
                p = self._people[body.slot] = _Person()
            p.t = t
            fire = judged is None or bool(judged[j])
            if "jump" in self.enabled:
                if not feet_ok[j]:
                    p.rising = 0
                elif (
                    self._jump(p, (foot_y[j], hip_y[j], shoulder_y[j]), float(height_img[j]), pixels[j])
                    and fire
                ):
                    out.append(Event("jump", body.slot, True, t))
            if "clap" in self.enabled:
                if not hands_ok[j]:
                    p.closing, p.apart, p.hands_d = 0, 0, math.nan
                elif self._clap(p, float(hands_d[j]), t) and fire:
                    out.append(Event("clap", body.slot, True, t))
            if "spin" in self.enabled and spin_ok[j] and self._spin(p, float(angles[j]), t) and fire:
                out.append(Event("spin", body.slot, True, t))
        return out

    @staticmethod
    def _jump(p: _Person, ys: tuple[float, float, float], height: float, pixels: float) -> bool:
        """``ys``: image y of the lower ankle, the hips and the shoulders at time ``p.t``."""
        y, hip_y, shoulder_y = (float(v) for v in ys)
        dt = p.t - p.jump_t if math.isfinite(p.jump_t) else math.nan
        p.jump_t = p.t
        if not dt <= GAP_S:  # the first sight of the feet, or the first for a while
            p.floor, p.hips, p.shoulders, p.drift_y = y, hip_y, shoulder_y, hip_y
            p.drift, p.rising, p.airborne, p.feet_since = 0.0, 0, False, p.t
            return False
        if dt > 0 and (p.drift_y - hip_y) / height > JUMP_MAX_SPEED * dt:
            # faster than anyone takes off: another person took this slot, or a glitch
            p.floor, p.hips, p.shoulders, p.drift_y = y, hip_y, shoulder_y, hip_y
            p.drift, p.rising, p.airborne, p.feet_since = 0.0, 0, False, p.t
            return False
        if dt > 0:  # the baselines move with the body's steady drift up the image
            shift = p.drift * dt
            p.floor, p.hips, p.shoulders = p.floor + shift, p.hips + shift, p.shoulders + shift
        rise_min = max(JUMP_RISE, JUMP_NOISE_PX / pixels)
        rise = (p.floor - y) / height
        if p.airborne:
            if p.t - p.took_off > JUMP_MAX_S:  # no jump lasts this long: the floor moved
                p.airborne = False
                p.floor, p.hips, p.shoulders = y, hip_y, shoulder_y
            elif rise < rise_min * (JUMP_LAND / JUMP_RISE):
                p.airborne = False
                p.floor, p.hips, p.shoulders = (
                    max(p.floor, y),
                    max(p.hips, hip_y),
                    max(p.shoulders, shoulder_y),
                )
            p.drift_y = hip_y
            return False
        # the whole body goes up, not just a foot (or a landmark that flickered)
        up = (
            p.t - p.feet_since >= JUMP_WARMUP_S - 1e-9  # before that, only learn
            and rise > rise_min
            and (p.hips - hip_y) / height > JUMP_BODY_RISE * rise_min
            and (p.shoulders - shoulder_y) / height > JUMP_BODY_RISE * rise_min
            and (p.floor - hip_y) / height >= JUMP_HIPS
        )
        if up:  # the baselines and the drift wait while the body is up
            p.drift_y = hip_y
            if p.rising == 0:
                p.rose_t = p.t
            p.rising += 1
            if p.rising >= JUMP_FRAMES and p.t - p.rose_t >= JUMP_HOLD_S - 1e-9:
                p.airborne, p.took_off, p.rising = True, p.t, 0
                return True
            return False
        p.rising = 0
        if dt > 0:
            # walking away from the camera lifts the whole body in the image, steadily: the
            # baselines drift with it, so that only a rise on top of the drift counts
            v = min((hip_y - p.drift_y) / dt, 0.0)
            # the mean so far at first (someone who enters walking away), then the recent mean
            weight = max(1.0 - math.exp(-dt / DRIFT_TAU_S), dt / (p.t - p.feet_since))
            p.drift += (v - p.drift) * weight
        p.drift_y = hip_y
        for name, v in (("floor", y), ("hips", hip_y), ("shoulders", shoulder_y)):
            base = getattr(p, name)
            if v > base or not dt > 0:
                setattr(p, name, max(base, v))
            else:  # higher in the image: follow slowly (walking away from the camera)
                setattr(p, name, base + (v - base) * (1.0 - math.exp(-dt / FLOOR_TAU_S)))
        return False

    @staticmethod
    def _clap(p: _Person, d: float, t: float) -> bool:
        p.closing = p.closing + 1 if d < p.hands_d else 0
        p.hands_d = d
        if d > CLAP_APART:
            p.apart += 1
            if p.apart >= CLAP_FRAMES:
                p.apart_t = t
        else:
            p.apart = 0
        if p.together:
            if d > CLAP_TOGETHER * 1.5:
                p.together = False
            return False
        if d < CLAP_TOGETHER:
            p.together = True
            return t - p.apart_t <= CLAP_WINDOW_S and p.closing >= CLAP_FRAMES
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


class GestureEvents:
    """The enabled hand gestures, from each frame's hands (:attr:`Poses.details`)."""

    def __init__(self, enabled: Sequence[str]) -> None:
        self.enabled = frozenset(n for n in enabled if "_hand_" in n)
        self.tracker = GestureTracker()

    def reset(self) -> None:
        self.tracker.reset()

    def update(self, poses: Poses) -> list[Event]:
        if not self.enabled:
            return []
        aspect = poses.width / poses.height if poses.height else 1.0
        return [
            Event(e.name, e.slot, e.active, e.t, e.value)
            for e in self.tracker.update(poses.details, poses.t_capture, aspect)
            if e.name in self.enabled
        ]


class Builtins:
    """Every enabled built-in event, from each frame's :class:`Poses`, for the performers the
    :class:`BodyFloor` judges (``enter``, ``leave`` and ``people_changed``: everyone)."""

    def __init__(
        self,
        enabled: Sequence[str] = BUILTIN_NAMES,
        min_body_height: float = MIN_BODY_HEIGHT,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        unknown = [n for n in enabled if n not in BUILTIN_NAMES]
        if unknown:
            raise ValueError(
                f"unknown built-in event {unknown[0]!r}; expected one of {', '.join(BUILTIN_NAMES)}"
            )
        self.enabled = tuple(enabled)
        self.floor = BodyFloor(min_body_height, min_confidence)
        # one engine per rule: each judges only the performers whose landmarks it reads are visible
        self.rules = {n: RuleEngine([BUILTIN_RULES[n]]) for n in enabled if n in BUILTIN_RULES}
        self.detectors = BodyDetectors(enabled, min_confidence)
        self.tracking = TrackingEvents(enabled)
        self.gestures = GestureEvents(enabled)

    def reset(self) -> None:
        self.floor.reset()
        for engine in self.rules.values():
            engine.reset()
        self.detectors.reset()
        self.tracking.reset()
        self.gestures.reset()

    def update(self, poses: Poses) -> list[Event]:
        events = self.tracking.update(poses)
        bodies = poses.bodies
        lm = (
            np.stack([b.landmarks for b in bodies]).astype(np.float64)
            if bodies
            else np.zeros((0, len(LM), 4))
        )
        ok = self.floor.visible(lm)
        big, judged = self.floor.update(poses, np.nan_to_num(lm), ok)
        for name, engine in self.rules.items():
            # settling landmarks look like movement, never like stillness: it needs no settling
            who = big if name == "stillness" else judged
            needs = RULE_LANDMARKS[name]
            slots = [b.slot for j, b in enumerate(bodies) if who[j] and ok[j, needs].all()]
            events += engine.step(poses.t_capture, poses.features, slots)
        return events + self.detectors.update(poses, judged) + self.gestures.update(poses)
