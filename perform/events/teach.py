"""Poses taught by example: a library file of named example skeletons, a classifier, and events.

A skeleton is reduced to 13 joints (nose, shoulders, elbows, wrists, hips, knees, ankles) seen
from the front: world x, y (metres, y down) when the backend gives world landmarks, else image x
(times the aspect ratio) and y. It is then normalised for position (origin at the hip centre) and
scale (unit: the torso, shoulder centre to hip centre). Depth is left out: it is the noisiest
coordinate, and front views taught from world and image landmarks stay comparable. Which side is
which does not matter: a pose matches its mirror image (the same pose with the other arm), the
same pose seen from behind (x flipped, sides kept) and its copy with left and right labels swapped
(as pose models often report a performer who turns their back).

The distance between two skeletons is the root mean square of their joints' distances over the
joints visible in both (at least 9). A pose's distance is that to its nearest example. Each pose's
*threshold* is learned from its examples' own spread (three times the 95th percentile of their
distances to their mean, at least 0.25 and at most 0.6 torso lengths); a skeleton farther than
every threshold is no taught pose. Confidence is ``1 - (distance / threshold)^2``.

Hand shapes are taught the same way (``perform teach NAME --hand left``): each example is the
hand's :func:`~perform.vision.gestures.shape_vector` (21 points in the palm's own axes, in hand
sizes, the same for either hand), the distance the RMS of the points' distances, the threshold
three times the examples' 95th percentile spread (0.1 .. 0.35 hand sizes). ``hand.NAME`` starts
when either hand of a performer takes the shape; a hand not found matches nothing.

The library is JSON (see ``docs/events.md``)::

    {"format": "perform-poses", "version": 1,
     "joints": ["nose", "left_shoulder", ...],
     "poses": {"star": {"examples": [[[x, y] or null, ... 13 joints], ...],
                        "threshold": null, "taught": "2025-01-01T20:00:00", "source": "camera:0"}},
     "hands": {"fist": {"examples": [[[x, y, z], ... 21 points], ...], "threshold": null, ...}}}

(``hands`` only when a hand shape has been taught.)
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from perform.errors import ConfigError, PerformError
from perform.events.types import Event
from perform.vision.gestures import shape_vector
from perform.vision.hands import NUM_HAND_LANDMARKS, SIDES, Side
from perform.vision.types import LM, Body, Poses

FORMAT = "perform-poses"
VERSION = 1
#: The joints a taught pose is made of, in the library's order.
JOINTS: tuple[str, ...] = (
    "nose",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
_IDX = np.array([LM[n] for n in JOINTS])
_J = {n: i for i, n in enumerate(JOINTS)}


def _other_side(name: str) -> str:
    if name.startswith("left_"):
        return "right_" + name[5:]
    if name.startswith("right_"):
        return "left_" + name[6:]
    return name


#: Joint order of the mirror image (left and right swapped).
MIRROR = np.array([_J[_other_side(n)] for n in JOINTS])
_LS, _RS, _LH, _RH = _J["left_shoulder"], _J["right_shoulder"], _J["left_hip"], _J["right_hip"]
_VISIBLE = 0.5
MIN_JOINTS = 9
MIN_THRESHOLD, MAX_THRESHOLD, SPREAD_FACTOR = 0.25, 0.6, 3.0
#: Most examples kept for one pose.
MAX_EXAMPLES = 120
_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: A hand shape's threshold bounds, in hand sizes (wrist to middle knuckle).
MIN_HAND_THRESHOLD, MAX_HAND_THRESHOLD = 0.1, 0.35


def normalise(landmarks: np.ndarray, world: np.ndarray, aspect: float) -> np.ndarray:
    """(N, 13, 2) normalised skeletons from (N, 33, 4) landmarks and (N, 33, 3) world points;
    invisible joints are NaN, and a skeleton without visible hips and shoulders is all NaN."""
    lm = np.asarray(landmarks, np.float64)
    wd = np.asarray(world, np.float64)
    ok = np.isfinite(lm[:, _IDX]).all(axis=2) & (np.nan_to_num(lm[:, _IDX, 3]) >= _VISIBLE)
    has_world = np.isfinite(wd).all(axis=(1, 2)) & (np.abs(np.nan_to_num(wd)).max(axis=(1, 2)) > 1e-6)
    img = lm[:, _IDX, :2] * np.array([aspect, 1.0])
    p = np.where(has_world[:, None, None], np.nan_to_num(wd[:, _IDX, :2]), np.nan_to_num(img))
    hips = (p[:, _LH] + p[:, _RH]) / 2
    torso = np.linalg.norm((p[:, _LS] + p[:, _RS]) / 2 - hips, axis=1)
    good = ok[:, [_LS, _RS, _LH, _RH]].all(axis=1) & (torso > 1e-6)
    out = (p - hips[:, None]) / np.where(good, torso, 1.0)[:, None, None]
    out[~ok] = np.nan
    out[~good] = np.nan
    return out


def normalise_bodies(bodies: Iterable[Body], aspect: float) -> np.ndarray:
    """:func:`normalise` for bodies; (0, 13, 2) for none."""
    bodies = list(bodies)
    if not bodies:
        return np.empty((0, len(JOINTS), 2))
    lm = np.stack([b.landmarks for b in bodies])
    world = np.stack([b.world for b in bodies])
    return normalise(lm, world, aspect)


def mirror(skeletons: np.ndarray) -> np.ndarray:
    """Mirror images of (..., 13, 2) normalised skeletons: x flipped and left and right swapped."""
    return skeletons[..., MIRROR, :] * np.array([-1.0, 1.0])


def variants(skeletons: np.ndarray) -> np.ndarray:
    """(4, ...) the skeletons, their mirror images, seen from behind (x flipped), sides swapped."""
    flip = np.array([-1.0, 1.0])
    return np.stack([skeletons, mirror(skeletons), skeletons * flip, skeletons[..., MIRROR, :]])


def _prepare(skeletons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask (N, 13), zero-filled (N, 26), squared norms (N, 13)) for :func:`_distances`."""
    mask = np.isfinite(skeletons).all(axis=-1)
    filled = np.where(mask[..., None], skeletons, 0.0)
    return mask.astype(np.float64), filled.reshape(len(filled), -1), (filled * filled).sum(axis=-1)


def _distances(
    a: tuple[np.ndarray, np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> np.ndarray:
    ma, fa, sa = a
    mb, fb, sb = b
    # over the shared joints, |s - e|^2 = |s|^2 + |e|^2 - 2 s.e: three matrix products
    d2 = sa @ mb.T + ma @ sb.T - 2.0 * fa @ fb.T
    n = ma @ mb.T
    return np.where(n >= MIN_JOINTS, np.sqrt(np.maximum(d2, 0.0) / np.maximum(n, 1.0)), np.inf)


def distances(samples: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """(N, M) RMS joint distance between (N, 13, 2) samples and (M, 13, 2) examples over the
    joints visible in both; inf where fewer than :data:`MIN_JOINTS` are."""
    return _distances(_prepare(samples), _prepare(examples))


def learned_threshold(examples: np.ndarray) -> float:
    """A pose's distance threshold from its examples' spread around their mean."""
    seen = np.isfinite(examples)
    count = seen.sum(axis=0)
    mean = np.where(count > 0, np.where(seen, examples, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan)
    d = distances(examples, mean[None])[:, 0]
    d = d[np.isfinite(d)]
    spread = float(np.percentile(d, 95)) if len(d) else 0.0
    return float(min(MAX_THRESHOLD, max(MIN_THRESHOLD, SPREAD_FACTOR * spread)))


def hand_distances(samples: np.ndarray, examples: np.ndarray) -> np.ndarray:
    """(N, M) RMS point distance (hand sizes) between (N, 21, 3) and (M, 21, 3) hand shapes."""
    a, b = samples.reshape(len(samples), -1), examples.reshape(len(examples), -1)
    d2 = (a * a).sum(axis=1)[:, None] + (b * b).sum(axis=1)[None] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0) / NUM_HAND_LANDMARKS)


def hand_threshold(examples: np.ndarray) -> float:
    """A hand shape's distance threshold from its examples' spread around their mean."""
    d = hand_distances(examples, examples.mean(axis=0)[None])[:, 0]
    spread = float(np.percentile(d, 95)) if len(d) else 0.0
    return float(min(MAX_HAND_THRESHOLD, max(MIN_HAND_THRESHOLD, SPREAD_FACTOR * spread)))


@dataclass
class Taught(ABC):
    """One named shape taught by example: its examples and a distance threshold (a pose or a hand)."""

    name: str
    examples: np.ndarray
    threshold: float | None = None  # None: learned from the examples
    taught: str = ""
    source: str = ""

    @property
    def effective_threshold(self) -> float:
        return self.threshold if self.threshold is not None else self.learned_threshold()

    @abstractmethod
    def learned_threshold(self) -> float:
        """The threshold learned from the examples' spread."""


class TaughtHand(Taught):
    """One named hand shape: its examples (K, 21, 3), shape vectors in hand sizes."""

    def learned_threshold(self) -> float:
        return hand_threshold(self.examples)


class TaughtPose(Taught):
    """One named pose: its normalised examples (K, 13, 2), NaN for unseen joints."""

    def learned_threshold(self) -> float:
        return learned_threshold(self.examples)


@dataclass
class PoseLibrary:
    """Named poses, read from and written to a JSON file."""

    poses: dict[str, TaughtPose] = field(default_factory=dict)
    hands: dict[str, TaughtHand] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> PoseLibrary:
        """Read and check a library; raises :class:`ConfigError` naming the file and the problem."""
        path = Path(path)
        try:
            text = path.read_text("utf-8")
        except FileNotFoundError:
            raise ConfigError(
                "no such pose library; teach one with `perform teach NAME --source SRC`", path
            ) from None
        except UnicodeDecodeError:
            raise ConfigError("is not UTF-8 text; expected a JSON pose library", path) from None
        except OSError as exc:
            raise ConfigError(f"cannot be read: {exc.strerror}", path) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"is not valid JSON: {exc.msg}", path, exc.lineno) from None
        try:
            return cls.from_json(data)
        except ValueError as exc:
            raise ConfigError(str(exc), path) from None

    @classmethod
    def from_json(cls, data: object) -> PoseLibrary:
        """Check a parsed library; raises ``ValueError`` saying what was expected and what came."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object with format, version, joints, poses; got {_kind(data)}")
        if data.get("format") != FORMAT:
            raise ValueError(f"format: expected {FORMAT!r}, got {data.get('format')!r}")
        if data.get("version") != VERSION:
            raise ValueError(
                f"version: expected {VERSION}, got {data.get('version')!r} (written by another perform?)"
            )
        if data.get("joints") != list(JOINTS):
            raise ValueError(
                f"joints: expected the 13 joint names {list(JOINTS)}, got {data.get('joints')!r}"
            )
        unknown = set(data) - {"format", "version", "joints", "poses", "hands"}
        if unknown:
            raise ValueError(
                f"unknown key {sorted(unknown)[0]!r}; expected format, version, joints, poses, hands"
            )
        poses = data.get("poses")
        if not isinstance(poses, dict):
            raise ValueError(f"poses: expected an object of named poses, got {_kind(poses)}")
        library = cls()
        for name, entry in poses.items():
            library.poses[name] = _parse_pose(name, entry)
        hands = data.get("hands", {})
        if not isinstance(hands, dict):
            raise ValueError(f"hands: expected an object of named hand shapes, got {_kind(hands)}")
        for name, entry in hands.items():
            library.hands[name] = _parse_hand(name, entry)
        return library

    def to_json(self) -> dict[str, object]:
        hands = {
            h.name: {
                "examples": np.round(h.examples, 4).tolist(),
                "threshold": h.threshold,
                "taught": h.taught,
                "source": h.source,
            }
            for h in self.hands.values()
        }
        return {
            "format": FORMAT,
            "version": VERSION,
            "joints": list(JOINTS),
            "poses": {
                p.name: {
                    "examples": [
                        [
                            None
                            if not np.isfinite(j).all()
                            else [round(float(j[0]), 4), round(float(j[1]), 4)]
                            for j in ex
                        ]
                        for ex in p.examples
                    ],
                    "threshold": p.threshold,
                    "taught": p.taught,
                    "source": p.source,
                }
                for p in self.poses.values()
            },
            **({"hands": hands} if hands else {}),
        }

    def save(self, path: str | Path) -> None:
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except OSError as exc:
            raise ConfigError(f"cannot write the pose library: {exc.strerror}", path) from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.to_json(), f, indent=1)
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def add(self, item: Taught, replace: bool = True) -> Taught:
        """Add a pose or hand shape; with ``replace`` False its examples join an existing one's
        (newest kept)."""
        table: dict[str, Taught] = self.hands if isinstance(item, TaughtHand) else self.poses  # type: ignore[assignment]
        old = table.get(item.name)
        if old is not None and not replace:
            examples = np.concatenate([old.examples, item.examples])[-MAX_EXAMPLES:]
            item = type(item)(item.name, examples, old.threshold, item.taught, item.source)
        table[item.name] = item
        return item


def _kind(v: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(v), type(v).__name__
    )


def _entry(where: str, noun: str, name: object, entry: object) -> dict:
    """A library entry's name and keys checked: the entry, as a dict."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"{where}: {noun} names are lower case letters, digits and _, got {name!r}")
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object with examples, got {_kind(entry)}")
    unknown = set(entry) - {"examples", "threshold", "taught", "source"}
    if unknown:
        raise ValueError(
            f"{where}: unknown key {sorted(unknown)[0]!r}; expected examples, threshold, taught, source"
        )
    return entry


def _meta(where: str, entry: dict, unit: str) -> tuple[float | None, str, str]:
    """An entry's threshold (a distance in 0..10 ``unit``, or null), taught and source."""
    threshold = entry.get("threshold")
    if threshold is not None and (
        not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 < threshold <= 10
    ):
        raise ValueError(f"{where}.threshold: expected null or a distance in 0..10 {unit}, got {threshold!r}")
    taught, source = entry.get("taught", ""), entry.get("source", "")
    if not isinstance(taught, str) or not isinstance(source, str):
        raise ValueError(f"{where}: taught and source must be strings")
    return None if threshold is None else float(threshold), taught, source


def _parse_pose(name: object, entry: object) -> TaughtPose:
    where = f"poses.{name}"
    entry = _entry(where, "pose", name, entry)
    examples = entry.get("examples")
    if not isinstance(examples, list) or not examples:
        raise ValueError(f"{where}.examples: expected a non-empty list of skeletons, got {_kind(examples)}")
    if len(examples) > MAX_EXAMPLES:
        raise ValueError(f"{where}.examples: at most {MAX_EXAMPLES} examples, got {len(examples)}")
    arr = np.full((len(examples), len(JOINTS), 2), np.nan)
    for k, ex in enumerate(examples):
        if not isinstance(ex, list) or len(ex) != len(JOINTS):
            got = f"{len(ex)} entries" if isinstance(ex, list) else _kind(ex)
            raise ValueError(f"{where}.examples[{k}]: expected {len(JOINTS)} joints, got {got}")
        for i, joint in enumerate(ex):
            if joint is None:
                continue
            if (
                not isinstance(joint, list)
                or len(joint) != 2
                or not all(
                    isinstance(c, int | float) and not isinstance(c, bool) and math.isfinite(c) for c in joint
                )
            ):
                raise ValueError(
                    f"{where}.examples[{k}][{i}] ({JOINTS[i]}): expected [x, y] or null, got {joint!r}"
                )
            arr[k, i] = joint
        if np.isfinite(arr[k]).all(axis=1).sum() < MIN_JOINTS:
            raise ValueError(f"{where}.examples[{k}]: expected at least {MIN_JOINTS} visible joints")
    return TaughtPose(name, arr, *_meta(where, entry, "torso lengths"))


def _parse_hand(name: object, entry: object) -> TaughtHand:
    where = f"hands.{name}"
    entry = _entry(where, "hand shape", name, entry)
    examples = entry.get("examples")
    if not isinstance(examples, list) or not examples or len(examples) > MAX_EXAMPLES:
        raise ValueError(f"{where}.examples: expected 1 to {MAX_EXAMPLES} hand shapes, got {_kind(examples)}")
    try:
        arr = np.array(examples, dtype=np.float64)
    except (TypeError, ValueError):
        arr = np.empty(0)
    if arr.shape != (len(examples), NUM_HAND_LANDMARKS, 3) or not np.isfinite(arr).all():
        raise ValueError(
            f"{where}.examples: expected lists of {NUM_HAND_LANDMARKS} [x, y, z] points (numbers)"
        )
    return TaughtHand(name, arr, *_meta(where, entry, "hand sizes"))


class PoseClassifier:
    """Which taught pose a body is in, if any; vectorised over bodies and examples."""

    def __init__(self, library: PoseLibrary) -> None:
        poses = list(library.poses.values())
        self.names: tuple[str, ...] = tuple(p.name for p in poses)
        self.thresholds = np.array([p.effective_threshold for p in poses])
        # every example in its four variants, grouped by pose, for one matrix product per frame
        groups = [variants(p.examples).reshape(-1, len(JOINTS), 2) for p in poses]
        self._starts = np.cumsum([0] + [len(g) for g in groups[:-1]])
        self._examples = _prepare(np.concatenate(groups) if groups else np.empty((0, len(JOINTS), 2)))

    def confidences(self, samples: np.ndarray) -> np.ndarray:
        """(N, P) confidence 0..1 of each pose for (N, 13, 2) normalised samples; NaN for a sample
        that cannot be classified (too few visible joints)."""
        n, p = len(samples), len(self.names)
        if p == 0 or n == 0:
            return np.zeros((n, p))
        prepared = _prepare(samples)
        best = np.minimum.reduceat(_distances(prepared, self._examples), self._starts, axis=1)
        visible = prepared[0].sum(axis=1) >= MIN_JOINTS
        conf = np.clip(1.0 - (best / self.thresholds) ** 2, 0.0, 1.0)
        return np.where(visible[:, None], conf, np.nan)

    def classify(self, body: Body, aspect: float = 16 / 9) -> tuple[str, float] | None:
        """(pose name, confidence) of the nearest pose within its threshold, or None."""
        conf = self.confidences(normalise_bodies([body], aspect))
        if conf.size == 0 or not np.isfinite(conf).all() or conf.max() <= 0:
            return None
        i = int(conf[0].argmax())
        return self.names[i], float(conf[0, i])


@dataclass(slots=True)
class _Holding:
    active: int | None = None
    candidate: int | None = None
    since: float = 0.0


class PoseEvents:
    """``pose.NAME`` start/end events per performer (value: the confidence), without flicker.

    A pose starts once it has been the most confident pose, at ``min_confidence`` or more, for
    ``hold_s``; it ends when its confidence falls below ``release``, when another pose starts for
    that performer, or when the performer leaves. A frame in which the body cannot be classified
    (too few visible joints) changes nothing.
    """

    def __init__(
        self, library: PoseLibrary, min_confidence: float = 0.5, release: float = 0.3, hold_s: float = 0.2
    ) -> None:
        self.classifier = PoseClassifier(library)
        self.min_confidence, self.release, self.hold_s = min_confidence, release, hold_s
        self._names = [f"pose.{n}" for n in self.classifier.names]
        self._state: dict[int, _Holding] = {}

    def reset(self) -> None:
        self._state.clear()

    def update(self, poses: Poses) -> list[Event]:
        t = poses.t_capture
        out: list[Event] = []
        present = {b.slot for b in poses.bodies}
        for slot in [s for s in self._state if s not in present]:
            st = self._state.pop(slot)
            if st.active is not None:
                out.append(Event(self._names[st.active], slot, False, t, 0.0))
        if not poses.bodies or not self._names:
            return out
        aspect = poses.width / poses.height if poses.height else 16 / 9
        conf = self.classifier.confidences(normalise_bodies(poses.bodies, aspect))
        for body, c in zip(poses.bodies, conf, strict=True):
            if not np.isfinite(c).all():
                continue
            st = self._state.setdefault(body.slot, _Holding())
            _step(st, c, self._names, body.slot, t, self.min_confidence, self.release, self.hold_s, out)
        return out

    def active(self) -> set[tuple[str, int]]:
        return {(self._names[s.active], slot) for slot, s in self._state.items() if s.active is not None}


def _step(
    st: _Holding,
    c: np.ndarray,
    names: list[str],
    slot: int,
    t: float,
    min_confidence: float,
    release: float,
    hold_s: float,
    out: list[Event],
) -> None:
    """One performer's frame: ``c`` is each taught pose's confidence."""
    if st.active is not None and c[st.active] < release:
        out.append(Event(names[st.active], slot, False, t, float(c[st.active])))
        st.active = None
    best = int(c.argmax())
    if c[best] >= min_confidence and best != st.active:
        if st.candidate != best:
            st.candidate, st.since = best, t
        if t - st.since >= hold_s - 1e-9:
            if st.active is not None:
                out.append(Event(names[st.active], slot, False, t, float(c[st.active])))
            st.active, st.candidate = best, None
            out.append(Event(names[best], slot, True, t, float(c[best])))
    else:
        st.candidate = None


class HandShapeEvents:
    """``hand.NAME`` start/end events per performer (value: the confidence), as :class:`PoseEvents`:
    a performer's confidence in a shape is that of their hand nearer it; with no hand found every
    confidence is 0 (an active shape ends)."""

    def __init__(
        self, library: PoseLibrary, min_confidence: float = 0.5, release: float = 0.3, hold_s: float = 0.2
    ) -> None:
        hands = list(library.hands.values())
        self._names = [f"hand.{h.name}" for h in hands]
        self.thresholds = np.array([h.effective_threshold for h in hands])
        # every shape's examples in one array; each shape's first row, for a minimum per shape
        self._examples = np.concatenate([h.examples for h in hands]) if hands else np.empty((0,))
        self._starts = np.cumsum([0] + [len(h.examples) for h in hands[:-1]])
        self.min_confidence, self.release, self.hold_s = min_confidence, release, hold_s
        self._state: dict[int, _Holding] = {}

    def reset(self) -> None:
        self._state.clear()

    def confidences(self, shapes: np.ndarray) -> np.ndarray:
        """(N, P) confidence 0..1 of each taught shape for (N, 21, 3) shape vectors."""
        if not len(shapes) or not self._names:
            return np.zeros((len(shapes), len(self._names)))
        best = np.minimum.reduceat(hand_distances(shapes, self._examples), self._starts, axis=1)
        return np.clip(1.0 - (best / self.thresholds) ** 2, 0.0, 1.0)

    def update(self, poses: Poses) -> list[Event]:
        t = poses.t_capture
        out: list[Event] = []
        for slot in [s for s in self._state if s not in poses.details]:
            st = self._state.pop(slot)
            if st.active is not None:
                out.append(Event(self._names[st.active], slot, False, t, 0.0))
        for slot, detail in poses.details.items():
            found = [h for h in (detail.left_hand, detail.right_hand) if h is not None]
            shapes = (
                np.stack([shape_vector(h) for h in found]) if found else np.empty((0, NUM_HAND_LANDMARKS, 3))
            )
            c = self.confidences(shapes).max(axis=0) if found else np.zeros(len(self._names))
            st = self._state.setdefault(slot, _Holding())
            _step(st, c, self._names, slot, t, self.min_confidence, self.release, self.hold_s, out)
        return out

    def active(self) -> set[tuple[str, int]]:
        return {(self._names[s.active], slot) for slot, s in self._state.items() if s.active is not None}


def record_examples(
    poses_stream: Iterable[Poses],
    name: str,
    seconds: float,
    slot: int | None = None,
    source: str = "",
    max_examples: int = 30,
) -> TaughtPose:
    """A pose from ``seconds`` of a held pose: from the first frame with a usable performer
    (``slot``, or the largest in the image) until ``seconds`` of capture time have passed.
    Keeps up to ``max_examples`` examples spread evenly over the time.

    Raises :class:`PerformError` if no performer was seen, ``ValueError`` for a bad name.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"pose name {name!r}: expected lower case letters, digits and _, e.g. star")
    if not seconds > 0:
        raise ValueError(f"seconds: expected > 0, got {seconds}")
    frames: list[np.ndarray] = []
    t0: float | None = None
    for poses in poses_stream:
        if t0 is not None and poses.t_capture - t0 >= seconds:
            break
        bodies = [b for b in poses.bodies if slot is None or b.slot == slot]
        if not bodies:
            continue
        aspect = poses.width / poses.height if poses.height else 16 / 9
        skeletons = normalise_bodies(bodies, aspect)
        usable = np.isfinite(skeletons).all(axis=2).sum(axis=1) >= MIN_JOINTS
        if not usable.any():
            continue
        if slot is None:  # the performer nearest the camera: the tallest in the image
            extent = [np.ptp(b.landmarks[:, 1]) if ok else -1.0 for b, ok in zip(bodies, usable, strict=True)]
            pick = int(np.argmax(extent))
            slot = bodies[pick].slot
        else:
            pick = 0
            if not usable[pick]:
                continue
        if t0 is None:
            t0 = poses.t_capture
        frames.append(skeletons[pick])
    if not frames:
        who = "no performer" if slot is None else f"performer {slot} never"
        raise PerformError(f"teach {name!r}: {who} seen with hips and shoulders visible; nothing recorded")
    keep = np.unique(np.linspace(0, len(frames) - 1, min(max_examples, len(frames))).round().astype(int))
    taught = time.strftime("%Y-%m-%dT%H:%M:%S")
    return TaughtPose(name, np.stack([frames[i] for i in keep]), None, taught, source)


def record_hand_examples(
    poses_stream: Iterable[Poses],
    name: str,
    seconds: float,
    side: Side,
    slot: int | None = None,
    source: str = "",
    max_examples: int = 30,
) -> TaughtHand:
    """A hand shape from ``seconds`` of performer ``slot``'s (default: the first found) ``side``
    hand, from the first frame it is found; up to ``max_examples`` examples spread over the time.

    Raises :class:`PerformError` if the hand was never found, ``ValueError`` for a bad name.
    """
    if not _NAME.fullmatch(name):
        raise ValueError(f"hand shape name {name!r}: expected lower case letters, digits and _, e.g. fist")
    if side not in SIDES:
        raise ValueError(f"hand: expected left or right, got {side!r}")
    shapes: list[np.ndarray] = []
    t0: float | None = None
    for poses in poses_stream:
        if t0 is not None and poses.t_capture - t0 >= seconds:
            break
        details = [d for s, d in sorted(poses.details.items()) if slot is None or s == slot]
        hand = next((h for h in (d.hand(side) for d in details) if h is not None), None)
        if hand is None:
            continue
        if slot is None:
            slot = next(d.slot for d in details if d.hand(side) is hand)
        t0 = poses.t_capture if t0 is None else t0
        shapes.append(shape_vector(hand))
    if not shapes:
        who = "no performer's" if slot is None else f"performer {slot}'s"
        raise PerformError(f"teach {name!r}: {who} {side} hand was never found; nothing recorded")
    keep = np.unique(np.linspace(0, len(shapes) - 1, min(max_examples, len(shapes))).round().astype(int))
    taught = time.strftime("%Y-%m-%dT%H:%M:%S")
    return TaughtHand(name, np.stack([shapes[i] for i in keep]), None, taught, source)


def teach(library_path: str | Path, pose: TaughtPose | TaughtHand, replace: bool = True) -> PoseLibrary:
    """Add a pose or hand shape to the library file (created if missing), written atomically;
    returns the library."""
    path = Path(library_path)
    library = PoseLibrary.load(path) if path.exists() else PoseLibrary()
    library.add(pose, replace)
    library.save(path)
    return library
