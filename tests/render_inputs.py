"""What a render test draws from: a real photograph as the camera, plausible performers, a mask.

The camera image is scikit-image's ``astronaut`` (a photograph); the performers are two virtual
people (:mod:`perform.vision.virtual`) at a moment when both are fully on stage, so their
landmarks are what a detector reports for real bodies; the mask is their limbs drawn thick.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np

from perform.audio.analysis import AudioFeatures
from perform.pipeline import Frame
from perform.render.bindings import Inputs
from perform.style.stage import Styled
from perform.vision.features import FEATURES, PERSON_FEATURES
from perform.vision.types import CONNECTIONS, LM, NUM_LANDMARKS, Body, Poses
from perform.vision.virtual import VirtualTroupe

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "render"

CAMERA_SIZE = (640, 360)
#: A moment of VirtualTroupe(2, seed=0) when both performers are fully in view.
BOTH_ON_STAGE_S = 2.5


@cache
def photograph() -> np.ndarray:
    """The camera image: the astronaut photograph at the camera's size, read-only."""
    from skimage import data

    image = cv2.resize(data.astronaut(), CAMERA_SIZE, interpolation=cv2.INTER_AREA)
    image.flags.writeable = False
    return image


@cache
def _styled_image() -> np.ndarray:
    image = cv2.applyColorMap(cv2.cvtColor(photograph(), cv2.COLOR_RGB2GRAY), cv2.COLORMAP_MAGMA)
    image.flags.writeable = False
    return image


def performers(t: float = BOTH_ON_STAGE_S) -> tuple[Body, ...]:
    """Two virtual performers (slots 1 and 2) as the pose stage hands them on."""
    w, h = CAMERA_SIZE
    found = VirtualTroupe(2, seed=0).detections(t, w, h)
    assert len(found) == 2, f"expected both virtual performers on stage at {t} s, got {len(found)}"
    return tuple(Body(slot=ident, landmarks=d.landmarks, world=d.world, score=d.score) for ident, d in found)


def mask_of(bodies: tuple[Body, ...]) -> np.ndarray:
    """A person mask (H, W) float32 0..1: every bone drawn thick and softened, heads as discs."""
    w, h = CAMERA_SIZE
    mask = np.zeros((h, w), np.float32)
    for body in bodies:
        px = (body.landmarks[:, :2] * (w, h)).astype(int)
        for a, b in CONNECTIONS:
            cv2.line(mask, tuple(map(int, px[a])), tuple(map(int, px[b])), 1.0, thickness=h // 18)
        cv2.circle(mask, tuple(map(int, px[LM["nose"]])), h // 22, 1.0, thickness=-1)
    return cv2.GaussianBlur(mask, (0, 0), 2.0)


def features(bodies: tuple[Body, ...]) -> dict[str, float]:
    """Every registered feature of every performer at 60 % of its documented range."""
    out = {"people": float(len(bodies))}
    for name, info in FEATURES.items():
        value = info.lo + 0.6 * (info.hi - info.lo)
        if name in PERSON_FEATURES:
            out.update({f"p{b.slot}.{name}": value for b in bodies})
        elif name != "people":
            out[name] = value
    return out


def audio(seq: int, t_capture: float) -> AudioFeatures:
    return AudioFeatures(
        t=t_capture,
        rms_db=-12.0,
        peak_db=-6.0,
        level=0.6,
        peak=0.8,
        bands=(0.8, 0.7, 0.6, 0.5, 0.5, 0.4, 0.3, 0.2),
        onset=seq % 8 == 0,
        onset_strength=0.5,
        tempo_bpm=120.0,
        beat_phase=(seq % 15) / 15.0,
        beat=seq % 15 == 0,
        seq=seq,
        t_capture=t_capture,
    )


def stage_inputs(i: int, fps: float = 30.0, t0: float = 100.0) -> Inputs:
    """Frame ``i`` of a show running at ``fps``: camera, styled, two performers moving, mask, audio."""
    now = t0 + i / fps
    bodies = performers(BOTH_ON_STAGE_S + i / fps)
    frame = Frame(photograph(), seq=i, t_capture=now, source="astronaut")
    w, h = CAMERA_SIZE
    feats = features(bodies)
    poses = Poses(i, now, w, h, bodies, feats, mask=mask_of(bodies), frame=frame)
    sound = audio(i, now)
    feats.update(sound.features_dict())
    return Inputs(
        now=now,
        show_time=now - t0,
        frame=frame,
        poses=poses,
        styled=Styled(i, now, _styled_image(), 0.5, "magma"),
        audio=sound,
        features=feats,
        params={"strength": 0.7},
        fired={"jump", "p1/jump"} if i % 10 == 5 else set(),
    )


def wrist_poses(x: float, y: float, t_capture: float, seq: int = 0, only_wrist: bool = False) -> Poses:
    """Performer 1 standing, right wrist at image (x, y) (0..1, y down); with ``only_wrist`` no
    other joint is visible."""
    landmarks = performers()[0].landmarks.copy()
    if only_wrist:
        landmarks[:, 3] = 0.0
    landmarks[LM["right_wrist"]] = (x, y, 0.0, 0.99)
    body = Body(slot=1, landmarks=landmarks, world=np.zeros((NUM_LANDMARKS, 3), np.float32))
    return Poses(seq, t_capture, *CAMERA_SIZE, (body,), {})


def one_wrist(x: float, y: float, now: float, seq: int = 0, only_wrist: bool = False) -> Inputs:
    """Inputs holding only :func:`wrist_poses`."""
    return Inputs(now=now, show_time=now, poses=wrist_poses(x, y, now, seq, only_wrist))
