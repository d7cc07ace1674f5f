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
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
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
    config: PoseConfig, bare: tuple[Callable, Callable] | None, frame: np.ndarray, frames: int
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
            config = PoseConfig(max_people=1, backend="legacy", masks=masks)
            frame = stage_frame(width, height, 1)
            row = _measure(config, _bare_legacy(masks), frame, frames)
            rows.append({"variant": "legacy, 1 person", "size": f"{width}x{height}", "masks": masks, **row})
    frame = stage_frame(1280, 720, 3)
    multi = [
        ("tasks, 3 people, whole frame", PoseConfig(max_people=3, backend="tasks", masks=False, tiles=1)),
        (
            "tasks, 3 people, tiles auto (vs bare: whole frame)",
            PoseConfig(max_people=3, backend="tasks", masks=False),
        ),
        (
            "twopass, 3 people (vs bare: tasks whole frame)",
            PoseConfig(max_people=3, backend="twopass", masks=False),
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


#: Real footage of people at a distance: OpenCV's sample video (Debian package opencv-doc).
VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
#: Stretches of it (first frame, frames) where about 2, 3 and 6 people walk; it has none with one.
DISTANCE_SEGMENTS = {2: (405, 15), 3: (425, 35), 6: (250, 40)}
_WARM = 30  # frames the stage watches first, untimed: the background is learnt, people found


def _video(path: Path, start: int, count: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, start)
    out = []
    while len(out) < count:
        ok, bgr = cap.read()
        if not ok:
            break
        out.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return out


def bench_pose_distance(quick: bool = False, video: Path = VTEST) -> list[dict[str, object]] | dict[str, str]:
    """People at a distance in real footage (768x576, 50-145 px tall): the pose stage (backend and
    perception) with the show's defaults, and the old fixed tiles, against the bare models on the
    same frames: the detector once on the whole frame and the landmark model once per person the
    stage hands on, which is what refreshing everyone every frame costs at the least.
    """
    if not video.is_file():
        return {"skipped": f"no {video} (apt-get install opencv-doc: real footage of pedestrians)"}
    from perform.vision.twopass import Roi, TwoPassPose

    variants = [("twopass motion, budget 4 (show default)", PoseConfig(masks=False))]
    if not quick:
        variants.append(
            ("twopass tiles 0.6 (old default)", PoseConfig(masks=False, proposals="grid", landmark_budget=0))
        )
    bare = TwoPassPose(num_poses=1, masks=False, tile_sizes=())  # the whole frame only
    rows = []
    for people, (start, count) in DISTANCE_SEGMENTS.items():
        count = min(count, 10) if quick else count
        frames = _video(video, start - _WARM, _WARM + count)
        for name, config in variants:
            backend, perception = make_backend(config), Perception(config)
            ours, reference = LatencyHistogram(), LatencyHistogram()
            found = []
            try:
                for n, image in enumerate(frames):
                    h, w = image.shape[:2]
                    t = (start - _WARM + n) / 10.0
                    t0 = time.perf_counter()
                    poses = perception(backend(image, t), n, t, w, h)
                    elapsed = time.perf_counter() - t0
                    if n < _WARM:
                        continue
                    ours.add(elapsed)
                    found.append(len(poses.bodies))
                    t0 = time.perf_counter()
                    bare.detect_rois(image)
                    for b in poses.bodies:
                        x, y = b.landmarks[:, 0] * w, b.landmarks[:, 1] * h
                        side = 1.5 * float(y.max() - y.min())
                        bare.landmarks(image, Roi(float(x.mean()), float(y.mean()), side, 0.0))
                    reference.add(time.perf_counter() - t0)
            finally:
                backend.close()
            rows.append(
                {
                    "variant": name,
                    "people": people,
                    "frames": f"{start}-{start + count - 1}",
                    "people_found_mean": round(float(np.mean(found)), 2) if found else 0.0,
                    "ours_ms": ours.summary_ms(),
                    "bare_ms": reference.summary_ms(),
                    "ratio_p50": round(ours.percentile(50) / max(reference.percentile(50), 1e-9), 3),
                }
            )
    bare.close()
    return rows


def distance_markdown(rows: list[dict[str, object]] | dict[str, str]) -> list[str]:
    if isinstance(rows, dict):
        return [f"Skipped: {rows['skipped']}"]
    lines = [
        "OpenCV's vtest.avi (768x576, 10 fps, walkers 50-145 px tall); ours = backend + perception; bare = "
        "the detector on the whole frame + the landmark model once per person found, on the same frames.",
        "",
        "| variant | people | frames | found (mean) | ours p50/p95/p99 ms | bare p50/p95/p99 ms "
        "| ours/bare p50 |",
        "|---|---:|---|---:|---|---|---:|",
    ]
    for r in rows:
        o, b = r["ours_ms"], r["bare_ms"]
        lines.append(
            f"| {r['variant']} | {r['people']} | {r['frames']} | {r['people_found_mean']} | "
            f"{o['p50']:.1f} / {o['p95']:.1f} / {o['p99']:.1f} | {b['p50']:.1f} / {b['p95']:.1f} / "
            f"{b['p99']:.1f} | {r['ratio_p50']} |"
        )
    return lines
