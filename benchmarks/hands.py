"""Cost of hands and face per performer (docs/hands-face.md): body alone, body + hands + face, and
MediaPipe's own Holistic solution, on the same real frames.

Run from the repository root: ``python -m benchmarks.hands [--frames 60] [--json FILE]``.

Scenes (each fed frame after frame as a video; the first ``--warmup`` frames are not timed):

- ``1 performer``: the footballer of OpenCV's ``messi5.jpg`` (hands and face visible) on a dark
  1280x720 stage (tests/people.py);
- ``1 performer, no hands``: scikit-image's astronaut (face visible, no hand): the cost of
  looking for hands that are not there;
- ``3 performers``: the footballer, the basketball player and the astronaut side by side;
- ``vtest.avi``: OpenCV's street footage, 768x576, walkers 50..150 px tall (hands of a few pixels).

*body* is the pose stage's work (the model as the show picks it, then slots and smoothing);
*detail* is :class:`~perform.vision.detail.DetailEstimator` on that frame's bodies, with each
option set of :data:`VARIANTS`; *holistic* is ``mediapipe.solutions.holistic`` (one person, body,
hands and face) on the same frames, alternating frame by frame in the same process. Ratios are of
p50s measured in the same run, so they stay meaningful on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from perform.quiet import quiet_stderr
from perform.vision.base import make_backend
from perform.vision.config import DetailConfig, PoseConfig
from perform.vision.detail import DetailEstimator
from perform.vision.perception import Perception

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")

#: Detail options compared: name -> DetailConfig fields.
VARIANTS: dict[str, dict] = {
    "hands + face": dict(hands=True, face=True, every=1),
    "hands + face, every 2nd frame": dict(hands=True, face=True, every=2),
    "hands + face, full hand model": dict(hands=True, face=True, hand_model="full", every=1),
    "hands + face, full, every 2nd": dict(hands=True, face=True, hand_model="full", every=2),
    "face only": dict(face=True, every=1),
}


def still(names: list[str]) -> Iterator[np.ndarray]:
    from tests.people import compose

    frame, _ = compose(len(names), seed=1, names=names)
    while True:
        yield frame


def video(path: Path) -> Iterator[np.ndarray]:
    while True:
        cap = cv2.VideoCapture(str(path))
        ok, frame = cap.read()
        if not ok:
            raise FileNotFoundError(f"{path}: cannot read (apt-get install opencv-doc)")
        while ok:
            yield np.ascontiguousarray(frame[:, :, ::-1])
            ok, frame = cap.read()
        cap.release()


def stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    return {f"p{q}": round(float(np.percentile(a, q)), 2) for q in (50, 95, 99)}


def run_scene(
    name: str, frames: Iterator[np.ndarray], people: int, n: int, warmup: int, backend: str, moving: bool
) -> dict:
    # a still frame has no motion for the two-pass backend's motion proposals: it looks on the grid
    proposals = "motion" if moving else "grid"
    config = PoseConfig(max_people=people, masks=False, backend=backend, proposals=proposals)  # type: ignore[arg-type]
    with quiet_stderr():
        body_model = make_backend(config)
        perception = Perception(config)
        estimators = {v: DetailEstimator(DetailConfig(**kw)) for v, kw in VARIANTS.items()}
        holistic = None
        if people == 1:
            import mediapipe as mp

            holistic = mp.solutions.holistic.Holistic(model_complexity=1, refine_face_landmarks=False)
    body_ms: list[float] = []
    detail_ms: dict[str, list[float]] = {v: [] for v in VARIANTS}
    runs: dict[str, list[int]] = {v: [] for v in VARIANTS}
    holistic_ms: list[float] = []
    found = {"bodies": 0, "hands": 0, "faces": 0}
    for k in range(warmup + n):
        image = next(frames)
        t = k / 30.0
        t0 = time.perf_counter()
        poses = perception(body_model(image, t), k, t, image.shape[1], image.shape[0])
        t1 = time.perf_counter()
        timed = k >= warmup
        if timed:
            body_ms.append((t1 - t0) * 1000)
        for v, estimator in estimators.items():
            t0 = time.perf_counter()
            details = estimator(image, poses.bodies, t)
            dt = time.perf_counter() - t0
            if timed:
                detail_ms[v].append(dt * 1000)
                runs[v].append(estimator.last_runs)
            if timed and v == "hands + face":
                found["bodies"] += len(details)
                found["hands"] += sum(
                    (d.left_hand is not None) + (d.right_hand is not None) for d in details.values()
                )
                found["faces"] += sum(d.face is not None for d in details.values())
        if holistic is not None:
            t0 = time.perf_counter()
            holistic.process(image)
            if timed:
                holistic_ms.append((time.perf_counter() - t0) * 1000)
    body_model.close()
    if holistic is not None:
        holistic.close()
    body = stats(body_ms)
    out: dict = {
        "scene": name,
        "size": f"{image.shape[1]}x{image.shape[0]}",
        "body_backend": body_model.name,
        "frames": n,
        "found_per_frame": {k: round(v / n, 2) for k, v in found.items()},  # with the defaults
        "body_ms": body,
        "detail": {},
    }
    for v in VARIANTS:
        s = stats(detail_ms[v])
        out["detail"][v] = {
            "ms": s,
            "model_runs_per_frame": round(float(np.mean(runs[v])), 2),
            "added_to_body": round(s["p50"] / body["p50"], 3),
        }
    if holistic_ms:
        h = stats(holistic_ms)
        ours = np.asarray(body_ms) + np.asarray(detail_ms["hands + face"])
        out["holistic_ms"] = h
        out["ours_body_plus_detail_ms"] = stats(list(ours))
        out["ours_over_holistic"] = round(float(np.percentile(ours, 50)) / h["p50"], 3)
    return out


def markdown(results: list[dict]) -> str:
    lines = [
        "| scene | body (backend) p50/p95/p99 ms | detail variant | detail p50/p95/p99 ms | runs/frame | "
        "added to body (p50) |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        b = r["body_ms"]
        for i, (v, d) in enumerate(r["detail"].items()):
            s = d["ms"]
            head = (
                f"{r['scene']} ({r['size']}) | {b['p50']}/{b['p95']}/{b['p99']} ({r['body_backend']})"
                if i == 0
                else " | "
            )
            lines.append(
                f"| {head} | {v} | {s['p50']}/{s['p95']}/{s['p99']} | {d['model_runs_per_frame']} | "
                f"{d['added_to_body']:.0%} |"
            )
    lines += [
        "",
        "| scene | holistic p50/p95/p99 ms | ours (body + hands + face) p50/p95/p99 ms | ours / holistic |",
    ]
    lines.append("|---|---|---|---|")
    for r in results:
        if "holistic_ms" in r:
            h, o = r["holistic_ms"], r["ours_body_plus_detail_ms"]
            lines.append(
                f"| {r['scene']} ({r['body_backend']}) | {h['p50']}/{h['p95']}/{h['p99']} | "
                f"{o['p50']}/{o['p95']}/{o['p99']} | {r['ours_over_holistic']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=60, help="timed frames per scene")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--scenes", nargs="+", default=["1", "1-nohands", "3", "vtest"])
    args = ap.parse_args()
    scenes = {
        "1": ("1 performer", lambda: still(["messi"]), 1, ["legacy"], False),
        "1-nohands": ("1 performer, no hands", lambda: still(["astronaut"]), 1, ["legacy", "twopass"], False),
        "3": ("3 performers", lambda: still(["messi", "basketball", "astronaut"]), 3, ["twopass"], False),
        "vtest": ("vtest.avi", lambda: video(VTEST), 3, ["twopass"], True),
    }
    results = []
    for key in args.scenes:
        name, frames, people, backends, moving = scenes[key]
        for backend in backends:
            results.append(run_scene(name, frames(), people, args.frames, args.warmup, backend, moving))
            print(f"{name} ({backend}): done", flush=True)
    machine = {"cpus": os.cpu_count(), "load": os.getloadavg()}
    print(f"\nmachine: {machine}\n")
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
