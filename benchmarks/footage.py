"""Recall, precision and cost of pose variants on real wide-shot footage (docs/multi-person.md).

Run from the repository root: ``python -m benchmarks.footage [--warm 30] [--variants a,b]``.
For each hand-annotated frame N of OpenCV's vtest.avi (tests/data/footage), a fresh backend
watches frames N-warm..N as a show would (detection on some frames, tracking between, the
background learnt), and its people on frame N are scored against the annotations. ms a frame
are over the frames after the background model's warm-up.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from perform.pipeline import LatencyHistogram
from perform.vision.twopass import TwoPassPose
from tests.footage import Score, annotated_frames, landmark_box, score, video_frames

VARIANTS: dict[str, dict] = {
    "tiles 0.6 (old default)": dict(tile_sizes=(0.6,)),
    "tiles 0.5 + 0.3, detect every frame": dict(tile_sizes=(0.5, 0.3), detect_every=1),
    "motion": dict(proposals="motion", detect_every=5),
    "motion, budget 3": dict(proposals="motion", detect_every=5, landmark_budget=3),
    "motion, budget 4": dict(proposals="motion", detect_every=5, landmark_budget=4),
}


def run(variant: str, warm: int, max_people: int = 10) -> dict[str, object]:
    total = Score()
    ms = LatencyHistogram()
    people, views, runs = [], [], []
    for ann in annotated_frames():
        backend = TwoPassPose(num_poses=max_people, masks=False, **VARIANTS[variant])
        t = 0.0
        for i, image in video_frames(max(0, ann.frame - warm), ann.frame + 1):
            t0 = time.perf_counter()
            dets = backend(image, t)
            if i >= ann.frame - warm + 15:
                ms.add(time.perf_counter() - t0)
            people.append(len(dets))
            views.append(backend.last_runs[0])
            runs.append(backend.last_runs[1])
            t += 0.1
        h, w = image.shape[:2]
        total.add(score([landmark_box(d.landmarks, w, h) for d in dets], ann.people))
        backend.close()
    return {
        "recall": round(total.recall, 3),
        "precision": round(total.precision, 3),
        "found": total.found,
        "missed": total.missed,
        "false": total.false,
        "ms": ms.summary_ms(),
        "views_mean": round(float(np.mean(views)), 2),
        "landmark_runs_mean": round(float(np.mean(runs)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warm", type=int, default=30, help="frames watched before each annotated frame")
    ap.add_argument("--variants", help="comma-separated names (default: all)")
    args = ap.parse_args()
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    print("| variant | recall | precision | found / missed / false | p50 / p95 / p99 ms | views | landmarks |")
    print("|---|---:|---:|---|---|---:|---:|")
    for name in names:
        r = run(name, args.warm)
        m = r["ms"]
        print(
            f"| {name} | {r['recall']:.2f} | {r['precision']:.2f} | {r['found']} / {r['missed']} / {r['false']} "
            f"| {m['p50']:.0f} / {m['p95']:.0f} / {m['p99']:.0f} | {r['views_mean']} | {r['landmark_runs_mean']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
