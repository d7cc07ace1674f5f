"""Recall, precision, identity and cost of pose variants on real wide-shot footage.

Run from the repository root: ``python -m benchmarks.footage [--variants a,b]``.
One pose stage (backend and perception: slots, smoothing) watches OpenCV's vtest.avi from its
first frame as a running show would (detection on some frames, tracking between, the background
learnt); the bodies it hands on at the hand-annotated frames (tests/data/footage) are scored
against the annotations, and over the annotated clip (frames 100-199) it is counted how often an
annotated person changes slot. ms a frame are the backend and perception together, after the
first frames' warm-up. docs/multi-person.md has the results.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from perform.pipeline import LatencyHistogram
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from tests.footage import (
    Identity,
    Score,
    annotated_frames,
    annotated_tracks,
    identity,
    landmark_box,
    score,
    video_frames,
)

#: Pose stage settings (``pose:`` in a show file) over the show's defaults; max 10 people, no masks.
VARIANTS: dict[str, dict] = {
    "tiles 0.6 (old default)": dict(proposals="grid", landmark_budget=0),
    "motion": dict(landmark_budget=0),
    "motion budget 4 (default)": dict(),
    "motion budget 3": dict(landmark_budget=3),
    "motion budget 4 detect every 5": dict(detect_every=5),
}
WARMUP = 15  # frames not timed: the models load, the background is learnt


class Watch:
    """One pose stage over a stretch of video: bodies (slot -> box) per frame, ms per frame."""

    def __init__(self, variant: str, ms: LatencyHistogram, max_people: int = 10) -> None:
        config = PoseConfig(max_people=max_people, masks=False, **VARIANTS[variant])
        self.backend = make_backend(config)
        self.perception = Perception(config)
        self.ms = ms
        self.people: list[int] = []

    def run(self, start: int, stop: int) -> dict[int, dict[int, tuple[float, ...]]]:
        out = {}
        for i, image in video_frames(start, stop):
            h, w = image.shape[:2]
            t = i / 10.0  # the video's own clock: 10 fps
            t0 = time.perf_counter()
            poses = self.perception(self.backend(image, t), i, t, w, h)
            if i >= start + WARMUP:
                self.ms.add(time.perf_counter() - t0)
            self.people.append(len(poses.bodies))
            out[i] = {b.slot: landmark_box(b.landmarks, w, h) for b in poses.bodies}
        self.backend.close()
        return out


def measure(variant: str) -> dict[str, object]:
    """One pose stage over the video from its first frame, as a show that has been running."""
    ms = LatencyHistogram()
    frames, tracks = annotated_frames(), annotated_tracks()
    watch = Watch(variant, ms)
    boxes = watch.run(0, max(max(a.frame for a in frames), tracks.end) + 1)
    total = Score()
    for ann in frames:
        total.add(score(list(boxes[ann.frame].values()), ann.people))
    ident: Identity = identity(boxes, tracks)
    return {
        "recall": round(total.recall, 3),
        "precision": round(total.precision, 3),
        "found": total.found,
        "missed": total.missed,
        "false": total.false,
        "ms": ms.summary_ms(),
        "frames": ms.count,
        "identity": {"matched": ident.matched, "missed": ident.missed, "switches": ident.switches},
        "people_mean": round(float(np.mean(watch.people)), 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", help="comma-separated names (default: all)")
    args = ap.parse_args()
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    print("| variant | recall | precision | found / missed / false | p50 / p95 / p99 ms | clip: switches |")
    print("|---|---:|---:|---|---|---|")
    for name in names:
        r = measure(name)
        m, ident = r["ms"], r["identity"]
        counts = f"{r['found']} / {r['missed']} / {r['false']}"
        cost = f"{m['p50']:.0f} / {m['p95']:.0f} / {m['p99']:.0f}"
        print(
            f"| {name} | {r['recall']:.2f} | {r['precision']:.2f} | {counts} | {cost} "
            f"| {ident['switches']} in {ident['matched']} matches ({ident['missed']} missed) |",
            flush=True,
        )


if __name__ == "__main__":
    main()
