"""Hands and face per performer: which performers, how often, smoothing, and what is handed on.

:class:`DetailEstimator` takes each frame (RGB) and the tracked bodies in it and gives each
chosen performer's :class:`Detail`: their left and right :class:`~perform.vision.hands.Hand` and
their :class:`~perform.vision.face.Face`, each None when it is not found (never zeros). The
models run on the hands' and face's own regions of the full-resolution frame, found from the
body (see :mod:`perform.vision.hands` and :mod:`perform.vision.face`).

``every`` n frames each hand and face is measured once; the jobs (every performer's left hand,
right hand and face) take turns, so each frame costs about the same. A part not found is looked
for again on every third turn only. Between its measurements a
part is carried along by the body's motion (the wrist for a hand, the head for the face) or held
where it was (``between: hold``). A part whose body landmarks are no longer visible is gone at
once. Measured landmarks are smoothed with the body's One Euro filter, in pixels scaled by the
part's size (as :class:`~perform.vision.perception.Perception` smooths bodies).

Two hands of one performer found on one place (hands together, or one hand hidden behind the
other) are one hand: the side whose handedness agrees keeps it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from perform.vision.config import DetailConfig, Smoothing
from perform.vision.face import (
    FACE_POINTS,
    Face,
    FaceFit,
    FaceModel,
    body_face_points,
    face_roi_from_body,
    face_roi_from_landmarks,
)
from perform.vision.filters import OneEuro
from perform.vision.hands import (
    SIDES,
    Hand,
    HandFit,
    HandModel,
    Side,
    body_hand_points,
    hand_roi_from_body,
    hand_roi_from_landmarks,
    points_inside,
)
from perform.vision.twopass import Roi
from perform.vision.types import Body

Part = Literal["left", "right", "face"]
# A part not found is looked for again on every third turn (its body points may be visible while
# it is hidden: a hand behind the back or holding a helmet, a face turned away).
_REST = 2
# Two hand fits this close (mean landmark distance over the hand's size) are one hand.
_SAME_HAND = 0.25


@dataclass(frozen=True, slots=True)
class Detail:
    """One performer's hands and face in one frame; None where not found."""

    slot: int
    left_hand: Hand | None = None
    right_hand: Hand | None = None
    face: Face | None = None

    def hand(self, side: Side) -> Hand | None:
        return self.left_hand if side == "left" else self.right_hand


@dataclass(slots=True)
class _Track:
    """One part of one performer: its last measurement and where the body was then."""

    pixels: np.ndarray | None = None  # last measured landmarks, frame pixels (smoothed)
    anchor: np.ndarray | None = None  # the body's point it moves with, pixels, when measured
    roi: Roi | None = None  # the ROI its landmarks give, for the next measurement
    score: float = 0.0
    handedness: float = 0.0
    world: np.ndarray | None = None
    t: float = 0.0
    rest: int = 0  # turns to skip before looking again for a part not found
    image: OneEuro = field(default_factory=OneEuro)
    metric: OneEuro = field(default_factory=OneEuro)

    def clear(self) -> None:
        self.pixels = self.anchor = self.roi = self.world = None
        self.image.reset()
        self.metric.reset()


class DetailEstimator:
    """Hands and faces of tracked performers (:class:`DetailConfig`). One thread.

    Call it with each frame (H x W x 3 uint8 RGB), its bodies (landmarks normalised, as
    :class:`~perform.vision.types.Body`) and its capture time.
    """

    def __init__(self, config: DetailConfig | None = None) -> None:
        self.config = config if config is not None else DetailConfig()
        c = self.config
        self._hands = HandModel(c.hand_model) if c.hands else None
        self._face = FaceModel() if c.face else None
        self._tracks: dict[tuple[int, Part], _Track] = {}
        self._frame = 0
        #: Model runs in the last call (re-crop, hand and face landmarks), for benchmarks.
        self.last_runs = 0

    def _parts(self) -> list[Part]:
        parts: list[Part] = list(SIDES) if self.config.hands else []
        return parts + (["face"] if self.config.face else [])

    def __call__(self, image: np.ndarray, bodies: Sequence[Body], t: float) -> dict[int, Detail]:
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB image, got {image.shape} {image.dtype}")
        c = self.config
        chosen = [b for b in bodies if c.slots is None or not c.slots or b.slot in c.slots]
        present = {(b.slot, p) for b in chosen for p in self._parts()}
        for key in [k for k in self._tracks if k not in present]:
            del self._tracks[key]
        self.last_runs = 0
        out: dict[int, Detail] = {}
        job = 0
        for body in sorted(chosen, key=lambda b: b.slot):
            found: dict[Part, Hand | Face | None] = {}
            for part in self._parts():
                track = self._tracks.get((body.slot, part))
                if track is None:
                    track = self._tracks[(body.slot, part)] = _new_track(c.smoothing)
                due = (self._frame + job) % c.every == 0
                job += 1
                found[part] = self._update(image, body, part, track, due, t)
            self._one_hand(body.slot, found)
            out[body.slot] = Detail(body.slot, found.get("left"), found.get("right"), found.get("face"))
        self._frame += 1
        return out

    def _update(
        self, image: np.ndarray, body: Body, part: Part, track: _Track, due: bool, t: float
    ) -> Hand | Face | None:
        h, w = image.shape[:2]
        if part == "face":
            points = body_face_points(body.landmarks, w, h)
            anchor = None if points is None else points.mean(axis=0)
        else:
            points = body_hand_points(body.landmarks, part, w, h)
            anchor = None if points is None else points[0]
        if points is None or anchor is None:
            track.clear()
            return None
        if due and track.rest > 0:  # not found lately: look again every few turns
            track.rest -= 1
            return None
        if due:
            fit = self._measure(image, part, points, track, anchor)
            if fit is None:
                track.clear()
                track.rest = _REST
                return None
            self._smooth(track, fit, anchor, t)
        elif track.pixels is None or track.anchor is None:
            return None
        elif self.config.between == "carry":
            shift = anchor - track.anchor
            track.pixels = track.pixels + np.array([shift[0], shift[1], 0.0])
            if track.roi is not None:
                track.roi = replace(track.roi, cx=track.roi.cx + shift[0], cy=track.roi.cy + shift[1])
            track.anchor = anchor
        return self._result(part, track, w, h)

    def _measure(
        self, image: np.ndarray, part: Part, points: np.ndarray, track: _Track, anchor: np.ndarray
    ) -> HandFit | FaceFit | None:
        """This frame's landmarks of one part: from its last ROI moved with the body when the
        body's points are still inside it, else afresh from the body (twice: the second on the
        ROI the first landmarks give)."""
        model = self._face if part == "face" else self._hands
        assert model is not None
        least = self.config.min_presence
        search = face_roi_from_body(points) if part == "face" else hand_roi_from_body(*points)
        if track.roi is not None and track.anchor is not None:
            dx, dy = anchor - track.anchor
            roi = replace(track.roi, cx=track.roi.cx + dx, cy=track.roi.cy + dy)
            if points_inside(points if part != "face" else points[:1], roi):
                fit = model.fit(image, roi)
                self.last_runs += 1
                if fit.presence >= least and _inside(fit, search):
                    return fit
        if isinstance(model, HandModel):
            roi = model.recrop(image, search)
            self.last_runs += 1
        else:
            roi = search
        fit = model.fit(image, roi)
        self.last_runs += 1
        if fit.presence < least:
            return None
        again = model.fit(image, _roi_from(fit))
        self.last_runs += 1
        best = again if again.presence >= least else fit
        return best if _inside(best, search) else None

    def _smooth(self, track: _Track, fit: HandFit | FaceFit, anchor: np.ndarray, t: float) -> None:
        """Keep a measurement, smoothed (a track lost and found again starts its filters afresh)."""
        pixels = fit.pixels
        world = fit.world if isinstance(fit, HandFit) else None
        if self.config.smoothing.enabled:
            extent = pixels[:, :2].max(axis=0) - pixels[:, :2].min(axis=0)
            pixels = track.image(pixels, t, float(extent.mean()))
            if world is not None:
                world = track.metric(world, t, 1.0)
        track.pixels, track.world, track.anchor = pixels, world, anchor
        track.roi = _roi_from(replace(fit, pixels=pixels))
        track.score, track.t = fit.presence, t
        if isinstance(fit, HandFit):
            track.handedness = fit.right

    @staticmethod
    def _result(part: Part, track: _Track, w: int, h: int) -> Hand | Face | None:
        if track.pixels is None:
            return None
        lm = (track.pixels / np.array([w, h, w])).astype(np.float32)
        if part == "face":
            return Face(lm, track.score, track.t)
        assert track.world is not None
        agree = track.handedness if part == "right" else 1.0 - track.handedness
        return Hand(part, lm, track.world.astype(np.float32), track.score, agree, track.t)

    def _one_hand(self, slot: int, found: dict[Part, Hand | Face | None]) -> None:
        """Both hands on one place: the side whose handedness agrees keeps it."""
        left, right = found.get("left"), found.get("right")
        if not isinstance(left, Hand) or not isinstance(right, Hand):
            return
        a, b = self._tracks[(slot, "left")].pixels, self._tracks[(slot, "right")].pixels
        assert a is not None and b is not None
        size = float(np.linalg.norm(a[0, :2] - a[9, :2])) or 1e-9
        if float(np.linalg.norm(a[:, :2] - b[:, :2], axis=1).mean()) > _SAME_HAND * size:
            return
        loser: Side = "right" if left.handedness >= right.handedness else "left"
        found[loser] = None
        self._tracks[(slot, loser)].clear()

    def reset(self) -> None:
        """Forget every track: the next call measures every part afresh."""
        self._tracks.clear()
        self._frame = 0

    def close(self) -> None:
        self._tracks.clear()


def _new_track(s: Smoothing) -> _Track:
    return _Track(
        image=OneEuro(s.min_cutoff, s.beta, s.d_cutoff), metric=OneEuro(s.min_cutoff, s.beta, s.d_cutoff)
    )


def _roi_from(fit: HandFit | FaceFit) -> Roi:
    return (
        hand_roi_from_landmarks(fit.pixels)
        if isinstance(fit, HandFit)
        else face_roi_from_landmarks(fit.pixels)
    )


def _inside(fit: HandFit | FaceFit, search: Roi) -> bool:
    """The hand's wrist, or the face's nose tip, inside the square the body says to look in (a
    hand or face found outside it is someone else's, or the performer's other hand)."""
    point = fit.pixels[0 if isinstance(fit, HandFit) else FACE_POINTS["nose_tip"], :2][None]
    return points_inside(point, search, margin=0.0)
