"""Recall and cost of pose backend variants on composed multi-person frames (docs/multi-person.md).

Run from the repository root: ``python -m benchmarks.multi_person [--layouts 4] [--frames 4]``.
Each layout is fed ``--frames`` times as a still video; recall is counted on the first frame
(detection only) and the last (after tracking), ms/frame is the mean over the frames after the
first, "first ms" the mean over first frames. Variants are TasksPose options (:data:`VARIANTS`) or
TwoPassPose options (:data:`TWOPASS_VARIANTS`).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from perform.vision.base import PoseBackend
from perform.vision.tasks import TasksPose
from tests.people import available_sources, compose, found, source

VARIANTS: dict[str, dict] = {
    "plain": dict(tiles=1),
    "plain, det 0.3 nms 0.3": dict(tiles=1, min_detection_confidence=0.3, min_suppression_threshold=0.3),
    "2 strips": dict(tiles=2),
    "3 strips": dict(tiles=3),
    "2x2 grid": dict(tiles=(2, 2)),
    "3x2 grid": dict(tiles=(3, 2)),
    "2 strips, det 0.3 nms 0.3": dict(tiles=2, min_detection_confidence=0.3, min_suppression_threshold=0.3),
}

TWOPASS_VARIANTS: dict[str, dict] = {
    "two-pass (tiles 0.6)": dict(),
    "two-pass, tiles 0.6, detect every frame": dict(detect_every=1),
    "two-pass, tiles 1.0 + 0.5": dict(tile_sizes=(1.0, 0.5)),
    "two-pass, tiles 1.0 + 0.5, detect every frame": dict(tile_sizes=(1.0, 0.5), detect_every=1),
    "two-pass, whole frame only": dict(tile_sizes=()),
}


def make(variant: str, num_poses: int = 6) -> PoseBackend:
    if variant in TWOPASS_VARIANTS:
        from perform.vision.twopass import TwoPassPose

        return TwoPassPose(num_poses=num_poses, **TWOPASS_VARIANTS[variant])
    return TasksPose(num_poses=num_poses, **VARIANTS[variant])


def references() -> dict[str, np.ndarray]:
    out = {}
    for name in available_sources():
        backend = TasksPose(num_poses=1, tiles=1)
        dets = backend.detect(source(name), 0.0)
        backend.close()
        assert dets, f"no person found in the source {name} alone"
        out[name] = dets[0].landmarks
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layouts", type=int, default=4)
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--people", type=int, nargs="+", default=[1, 2, 3, 4, 6])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS) + list(TWOPASS_VARIANTS))
    args = ap.parse_args()
    refs = references()
    print("| variant | " + " | ".join(f"{n} people" for n in args.people) + " | all | ms/frame | first ms |")
    print("|---" * (len(args.people) + 4) + "|")
    for vname in args.variants:
        cells, hits_all, total_all, times, firsts = [], 0, 0, [], []
        for n in args.people:
            first = last = total = 0
            for seed in range(args.layouts):
                frame, places = compose(n, seed=seed)
                backend = make(vname)
                for f in range(args.frames):
                    t0 = time.perf_counter()
                    dets = backend.detect(frame, f / 30.0)
                    dt = time.perf_counter() - t0
                    (times if f > 0 else firsts).append(dt)
                    hit = found([d.landmarks for d in dets], places, refs, 1280, 720)
                    if f == 0:
                        first += sum(hit)
                    if f == args.frames - 1:
                        last += sum(hit)
                backend.close()
                total += n
            cells.append(f"{first / total:.2f} / {last / total:.2f}")
            hits_all += last
            total_all += total
        ms, first_ms = 1000 * float(np.mean(times)), 1000 * float(np.mean(firsts))
        recall = hits_all / total_all
        print(
            f"| {vname} | " + " | ".join(cells) + f" | {recall:.2f} | {ms:.0f} | {first_ms:.0f} |", flush=True
        )


if __name__ == "__main__":
    main()
