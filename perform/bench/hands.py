"""Hands and face per performer against the body alone and MediaPipe's Holistic, on the same frames.

Scenes are real photographs on a dark 1280x720 stage, fed frame after frame as a video: the
footballer of OpenCV's ``messi5.jpg`` (hands and face visible; when opencv-doc is installed), the
bundled astronaut (face, no hand) alone and three side by side. *body* is the pose stage's work
(backend and perception); *detail* is :class:`~perform.vision.detail.DetailEstimator` on that
frame's bodies for each of :data:`VARIANTS`; *holistic* is ``mediapipe.solutions.holistic`` (one
person's body, hands and face), alternating frame by frame with ours in the same process. The
ratios are of p50s of the same run, so they hold on a busy machine. Goal: hands and face for one
performer add at most 60 % to the body's time on 2 CPU cores (docs/hands-face.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from perform.bench.pose import stage_frame
from perform.quiet import quiet_stderr
from perform.vision.base import make_backend
from perform.vision.config import DetailConfig, PoseConfig
from perform.vision.detail import DetailEstimator
from perform.vision.perception import Perception

FOOTBALLER = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")
SIZE = (1280, 720)
#: Detail options compared: name -> DetailConfig fields.
VARIANTS: dict[str, dict[str, object]] = {
    "hands + face, every frame": {"hands": True, "face": True, "every": 1},
    "hands + face (every 2nd: the default)": {"hands": True, "face": True},
    "face only, every frame": {"face": True, "every": 1},
}


def footballer_frame() -> np.ndarray | None:
    """The footballer on a dark stage, RGB; None without opencv-doc."""
    photo = cv2.imread(str(FOOTBALLER))
    if photo is None:
        return None
    w, h = SIZE
    frame = np.full((h, w, 3), 24, np.uint8)
    scale = h * 0.85 / photo.shape[0]
    person = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ph, pw = person.shape[:2]
    x = (w - pw) // 2
    frame[h - ph :, x : x + pw] = cv2.cvtColor(person, cv2.COLOR_BGR2RGB)
    return frame


def _stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def _holistic() -> tuple[Callable[[np.ndarray], object], Callable[[], None]]:
    import mediapipe as mp

    with quiet_stderr():
        holistic = mp.solutions.holistic.Holistic(model_complexity=1, refine_face_landmarks=False)
    return holistic.process, holistic.close


def bench_scene(name: str, frame: np.ndarray, people: int, frames: int, warmup: int = 5) -> dict:
    """One scene: body, each variant's detail and (one performer) Holistic, p50/p95/p99 ms."""
    # a still frame has no motion for the two-pass backend's motion proposals: it looks on the grid
    config = PoseConfig(max_people=people, masks=False, proposals="grid")
    with quiet_stderr():
        backend = make_backend(config)
        estimators = {v: DetailEstimator(DetailConfig.model_validate(kw)) for v, kw in VARIANTS.items()}
    perception = Perception(config)
    holistic = _holistic() if people == 1 else None
    body_ms: list[float] = []
    detail_ms: dict[str, list[float]] = {v: [] for v in VARIANTS}
    holistic_ms: list[float] = []
    found = [0, 0]  # hands, faces (every frame variant)
    try:
        for k in range(warmup + frames):
            t = k / 30.0
            t0 = time.perf_counter()
            poses = perception(backend(frame, t), k, t, frame.shape[1], frame.shape[0])
            body = (time.perf_counter() - t0) * 1000
            timed = k >= warmup
            if timed:
                body_ms.append(body)
            for v, estimator in estimators.items():
                t0 = time.perf_counter()
                details = estimator(frame, poses.bodies, t)
                if timed:
                    detail_ms[v].append((time.perf_counter() - t0) * 1000)
                    if v == next(iter(VARIANTS)):
                        found[0] += sum(
                            (d.left_hand is not None) + (d.right_hand is not None) for d in details.values()
                        )
                        found[1] += sum(d.face is not None for d in details.values())
            if holistic is not None:
                t0 = time.perf_counter()
                holistic[0](frame)
                if timed:
                    holistic_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        backend.close()
        if holistic is not None:
            holistic[1]()
    out: dict = {
        "scene": name,
        "frames": frames,
        "body_backend": backend.name,
        "hands_per_frame": round(found[0] / frames, 2),
        "faces_per_frame": round(found[1] / frames, 2),
        "body_ms": _stats(body_ms),
        "detail": {},
    }
    for v, ms in detail_ms.items():
        s = _stats(ms)
        out["detail"][v] = {"ms": s, "added_to_body": round(s["p50"] / out["body_ms"]["p50"], 3)}
    if holistic_ms:
        ours = np.asarray(body_ms) + np.asarray(detail_ms[next(iter(VARIANTS))])
        out["holistic_ms"] = _stats(holistic_ms)
        out["ours_over_holistic"] = round(float(np.percentile(ours, 50)) / out["holistic_ms"]["p50"], 3)
    return out


def bench_hands(quick: bool = False, frames: int | None = None) -> dict[str, object]:
    """Every scene; ``--quick``: 10 timed frames each."""
    n = frames if frames is not None else (10 if quick else 60)
    scenes: list[tuple[str, np.ndarray, int]] = []
    footballer = footballer_frame()
    if footballer is not None:
        scenes.append(("1 performer, hands and face visible", footballer, 1))
    scenes.append(("1 performer, no hand visible", stage_frame(*SIZE, people=1), 1))
    scenes.append(("3 performers, no hand visible", stage_frame(*SIZE, people=3), 3))
    result: dict[str, object] = {"scenes": [bench_scene(name, f, p, n) for name, f, p in scenes]}
    if footballer is None:
        result["left_out"] = f"the footballer ({FOOTBALLER} missing: apt-get install opencv-doc)"
    return result


def markdown(result: dict) -> list[str]:
    lines = [
        "| scene (body backend) | body p50/p95/p99 ms | detail | detail p50/p95/p99 ms | added (p50) |",
        "|---|---|---|---|---|",
    ]
    for r in result["scenes"]:
        b = r["body_ms"]
        for i, (v, d) in enumerate(r["detail"].items()):
            s = d["ms"]
            head = (
                f"{r['scene']} ({r['body_backend']}) | {b['p50']}/{b['p95']}/{b['p99']}" if i == 0 else " | "
            )
            lines.append(f"| {head} | {v} | {s['p50']}/{s['p95']}/{s['p99']} | +{d['added_to_body']:.0%} |")
    held = [r for r in result["scenes"] if "holistic_ms" in r]
    if held:
        lines += ["", "| scene | MediaPipe Holistic p50/p95/p99 ms | ours (body + hands + face) / holistic |"]
        lines.append("|---|---|---|")
        for r in held:
            h = r["holistic_ms"]
            lines.append(
                f"| {r['scene']} | {h['p50']}/{h['p95']}/{h['p99']} | {r['ours_over_holistic']:.2f} |"
            )
    if "left_out" in result:
        lines += ["", f"Left out: {result['left_out']}."]
    return lines
