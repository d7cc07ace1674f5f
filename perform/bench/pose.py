"""Pose stage cost against a bare MediaPipe loop on the same frames, in the same run.

Frames are a real photograph (the bundled astronaut) on a dark stage, at 640x360 and 1280x720,
alone or three side by side. *ours* is what the pose stage does per frame: the backend (model,
conversion to typed detections) and perception (slots, smoothing, features); *bare* is
MediaPipe's own call with the same settings. The two alternate frame by frame so both see the
same machine load; the ratio ours / bare is the overhead perform adds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from perform.pipeline import LatencyHistogram
from perform.quiet import quiet_stderr
from perform.show.models import Pose
from perform.vision.base import make_backend
from perform.vision.perception import Perception

PHOTO = Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg"


def stage_frame(width: int, height: int, people: int = 1) -> np.ndarray:
    """The bundled photograph, ``people`` times side by side (alternately mirrored), RGB."""
    photo = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    frame = np.full((height, width, 3), 24, np.uint8)
    column = width // people
    side = min(column, int(height * 0.85))
    person = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    for i in range(people):
        x = i * column + (column - side) // 2
        frame[height - side :, x : x + side] = person[:, ::-1] if i % 2 else person
    return frame


def _bare_legacy(masks: bool) -> tuple[Callable[[np.ndarray, float], object], Callable[[], None]]:
    from mediapipe.python.solutions import pose as mp_pose

    with quiet_stderr():
        pose = mp_pose.Pose(
            static_image_mode=False, model_complexity=1, smooth_landmarks=False, enable_segmentation=masks
        )
    return (lambda image, t: pose.process(image)), pose.close


def _bare_tasks(people: int, masks: bool) -> tuple[Callable[[np.ndarray, float], object], Callable[[], None]]:
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    from perform.vision.base import MonotonicMs
    from perform.vision.bundle import build_pose_task

    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(build_pose_task())),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=people,
        output_segmentation_masks=masks,
    )
    with quiet_stderr():
        landmarker = vision.PoseLandmarker.create_from_options(options)
    clock = MonotonicMs()

    def detect(image: np.ndarray, t: float) -> object:
        return landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=image), clock(t))

    return detect, landmarker.close


def _measure(
    config: Pose, bare: tuple[Callable, Callable] | None, frame: np.ndarray, frames: int
) -> dict[str, object]:
    backend = make_backend(config)
    perception = Perception(config)
    ours, reference = LatencyHistogram(), LatencyHistogram()
    found = 0
    h, w = frame.shape[:2]
    try:
        for n in range(frames + 3):  # the first frames load and warm the models
            t = time.monotonic()
            poses = perception(backend(frame, t), n, t, w, h)
            elapsed = time.monotonic() - t
            if n >= 3:
                ours.add(elapsed)
                found = max(found, len(poses.bodies))
            if bare is not None:
                t = time.monotonic()
                bare[0](frame, t)
                if n >= 3:
                    reference.add(time.monotonic() - t)
    finally:
        backend.close()
        if bare is not None:
            bare[1]()
    result: dict[str, object] = {"ours_ms": ours.summary_ms(), "people_found": found}
    if bare is not None:
        result["bare_ms"] = reference.summary_ms()
        result["ratio_p50"] = round(ours.percentile(50) / max(reference.percentile(50), 1e-9), 3)
    return result


def bench_pose(quick: bool = False, frames: int | None = None) -> list[dict[str, object]]:
    """Every pose variant: size, people, masks, backend; ms/frame p50/p95/p99 and the ratio."""
    if frames is None:
        frames = 15 if quick else 60
    rows = []
    for width, height in ((640, 360), (1280, 720)):
        for masks in (False, True):
            config = Pose(max_people=1, backend="legacy", masks=masks)
            frame = stage_frame(width, height, 1)
            row = _measure(config, _bare_legacy(masks), frame, frames)
            rows.append({"variant": "legacy, 1 person", "size": f"{width}x{height}", "masks": masks, **row})
    frame = stage_frame(1280, 720, 3)
    multi = [
        ("tasks, 3 people, whole frame", Pose(max_people=3, backend="tasks", masks=False, tiles=1)),
        (
            "tasks, 3 people, tiles auto (vs bare: whole frame)",
            Pose(max_people=3, backend="tasks", masks=False),
        ),
        (
            "twopass, 3 people (vs bare: tasks whole frame)",
            Pose(max_people=3, backend="twopass", masks=False),
        ),
    ]
    for name, config in multi:
        row = _measure(config, _bare_tasks(3, False), frame, frames)
        rows.append({"variant": name, "size": "1280x720", "masks": False, **row})
    return rows


def markdown(rows: list[dict[str, object]]) -> list[str]:
    lines = [
        "| pose variant | size | masks | people found | ours p50/p95/p99 ms "
        "| bare MediaPipe p50/p95/p99 ms | ours/bare p50 |",
        "|---|---|---|---:|---|---|---:|",
    ]
    for r in rows:
        o = r["ours_ms"]
        b = r.get("bare_ms")
        bare = f"{b['p50']:.1f} / {b['p95']:.1f} / {b['p99']:.1f}" if b else "-"
        lines.append(
            f"| {r['variant']} | {r['size']} | {'yes' if r['masks'] else 'no'} | {r['people_found']} | "
            f"{o['p50']:.1f} / {o['p95']:.1f} / {o['p99']:.1f} | {bare} | {r.get('ratio_p50', '-')} |"
        )
    return lines
