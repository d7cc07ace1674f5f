"""From detections to what later stages use: slots, smoothing, prediction, masks, features."""

from __future__ import annotations

import time

import cv2
import numpy as np

from perform.pipeline import EventLog, Frame
from perform.vision.config import PoseConfig
from perform.vision.detail import Detail, DetailEstimator
from perform.vision.features import FeatureExtractor
from perform.vision.filters import OneEuro
from perform.vision.gestures import DetailFeatures
from perform.vision.tracker import SlotTracker
from perform.vision.types import Body, Detection, PersonEvent, Poses


class Perception:
    """Turns each frame's detections into :class:`Poses`; one instance per stream, one thread."""

    def __init__(self, config: PoseConfig | None = None, events: EventLog[PersonEvent] | None = None) -> None:
        self.config = config if config is not None else PoseConfig()
        self.events = events
        c = self.config
        self.tracker = SlotTracker(
            max_people=c.max_people,
            grace_s=c.tracking.grace_s,
            confirm_frames=c.tracking.confirm_frames,
            policy=c.tracking.slot_order,
        )
        self.features = FeatureExtractor(window_s=c.features_window_s)
        # hands and face only when the show asks for them (pose.detail); their models load on the
        # first frame, on the stage's own thread, as the body's do
        self.detail: DetailEstimator | None = None
        self.detail_features = DetailFeatures()
        self._filters: dict[int, tuple[OneEuro, OneEuro]] = {}
        self._entered: dict[int, float] = {}
        self._mask: tuple[np.ndarray | None, float] = (None, 0.0)

    def _filters_for(self, track_id: int) -> tuple[OneEuro, OneEuro]:
        if track_id not in self._filters:
            s = self.config.smoothing
            self._filters[track_id] = (
                OneEuro(s.min_cutoff, s.beta, s.d_cutoff),
                OneEuro(s.min_cutoff, s.beta, s.d_cutoff),
            )
        return self._filters[track_id]

    def __call__(
        self,
        detections: list[Detection],
        seq: int,
        t_capture: float,
        width: int,
        height: int,
        frame: Frame | None = None,
    ) -> Poses:
        tracks, events = self.tracker.update(detections, t_capture)
        # filters and entrance times follow the person (track), not the slot number, which
        # slot_order leftmost/nearest can hand from one person to another
        alive = {tr.id for tr in self.tracker.tracks}
        for gone in [k for k in self._filters if k not in alive]:
            del self._filters[gone]
        for gone in [k for k in self._entered if k not in alive]:
            del self._entered[gone]
        smoothing = self.config.smoothing
        ahead = time.monotonic() - t_capture if smoothing.predict else 0.0
        bodies = []
        for track in tracks:
            det = track.detection
            landmarks, world = det.landmarks, det.world
            if smoothing.enabled:
                # filtered in pixels, scaled by the body's size, as MediaPipe does
                f_image, f_world = self._filters_for(track.id)
                pixels = np.array((width, height, width), np.float32)
                xyz_px = landmarks[:, :3] * pixels
                extent = xyz_px[:, :2].max(axis=0) - xyz_px[:, :2].min(axis=0)
                xyz_px = f_image(xyz_px, t_capture, float(extent.mean()))
                world_xyz = f_world(world, t_capture, 1.0)
                if ahead > 0:
                    xyz_px, world_xyz = f_image.predict(ahead), f_world.predict(ahead)
                landmarks = np.concatenate([xyz_px / pixels, landmarks[:, 3:]], axis=1).astype(np.float32)
                world = world_xyz.astype(np.float32)
            age = t_capture - self._entered.setdefault(track.id, t_capture)
            bodies.append(Body(track.slot, landmarks, world, det.score, det.mask, age))
        return self.finish(bodies, seq, t_capture, width, height, tuple(events), frame)

    def finish(
        self,
        bodies: list[Body],
        seq: int,
        t_capture: float,
        width: int,
        height: int,
        events: tuple[PersonEvent, ...] = (),
        frame: Frame | None = None,
        t_features: float | None = None,
    ) -> Poses:
        """Add the combined mask, hands and face (on the frame, when there is one) and the
        features to bodies that are already tracked."""
        mask = self._union_mask([b.mask for b in bodies if b.mask is not None], t_capture, width, height)
        t = t_capture if t_features is None else t_features
        features = self.features.update(bodies, t, aspect=width / height)
        details: dict[int, Detail] = {}
        d = self.config.detail
        if (d.hands or d.face) and frame is not None:
            if self.detail is None:
                self.detail = DetailEstimator(d)
            details = self.detail(frame.image, bodies, t_capture)
            features.update(self.detail_features.update(details, t, width / height))
        if self.events is not None:
            for event in events:
                self.events.publish(event)
        return Poses(seq, t_capture, width, height, tuple(bodies), features, events, mask, frame, details)

    def _union_mask(self, masks: list[np.ndarray], t: float, width: int, height: int) -> np.ndarray | None:
        """Everyone's mask in one, smoothed over time (``mask_smoothing_s``) so edges do not flicker."""
        union = None
        if masks:
            union = masks[0] if len(masks) == 1 else np.maximum.reduce(masks)
        tau = self.config.mask_smoothing_s
        if tau <= 0:
            return union
        last, t_last = self._mask
        if last is None or last.shape != (height, width) or not t > t_last:
            # only read from here on (blending makes new arrays): no copy
            self._mask = (None if union is None else union.astype(np.float32, copy=False), t)
            return union
        keep = float(np.exp(-(t - t_last) / tau))
        if union is None:
            smooth = last * keep
            if float(smooth.max()) < 0.02:  # faded out
                self._mask = (None, t)
                return None
        else:
            smooth = cv2.addWeighted(last, keep, union.astype(np.float32, copy=False), 1.0 - keep, 0.0)
        self._mask = (smooth, t)
        return smooth

    def reset(self) -> None:
        self.tracker.reset()
        self.features.reset()
        self.detail_features.reset()
        if self.detail is not None:
            self.detail.reset()
        self._filters.clear()
        self._entered.clear()
        self._mask = (None, 0.0)
