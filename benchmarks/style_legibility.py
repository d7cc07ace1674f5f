"""Does the pose model still find the person in a stylised photograph? (models/README.md)

Run from the repository root: ``python benchmarks/style_legibility.py [--models NAME|FILE ...]``
(default: every model in ``models/``). Prints a Markdown table.

Four photographs of real people: OpenCV's ``messi5.jpg`` and ``basketball2.png`` (the man on the
left), scikit-image's astronaut and cameraman. Each is stylised as ``perform style apply`` does
(whole picture, ``--strength`` blend over the photo) and given to BlazePose (perform's ``legacy``
backend, static images). The reference is the pose found on the photograph itself. A person is
*found* when a pose is detected whose landmarks (those visible in the reference, visibility over
0.5) lie within 0.05 of the image's longer side of the reference's (median). *Error* is the mean
distance of those landmarks, in the same unit, over the pictures where a pose was detected.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import cv2
import numpy as np

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
STRENGTHS = (1.0, 0.5)
#: Found: the median landmark is within this fraction of the longer side of the reference's.
FOUND_WITHIN = 0.05


def _opencv(name: str) -> np.ndarray:
    image = cv2.imread(str(OPENCV_DATA / name))
    if image is None:
        raise FileNotFoundError(f"{OPENCV_DATA / name} (apt-get install opencv-doc)")
    return np.ascontiguousarray(image[:, :, ::-1])


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    image = getattr(data, name)()
    return np.ascontiguousarray(np.repeat(image[:, :, None], 3, axis=2) if image.ndim == 2 else image)


#: Photograph name -> RGB image with one person.
PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "messi5": lambda: _opencv("messi5.jpg"),
    "basketball2": lambda: np.ascontiguousarray(_opencv("basketball2.png")[:, :280]),
    "astronaut": lambda: _skimage("astronaut"),
    "cameraman": lambda: _skimage("camera"),
}


def still_stylizer(model: str) -> tuple[Any, Any]:
    """A Stylizer that styles a still as ``perform style apply`` does (CPU, full size, no blending),
    and the model it loaded."""
    from perform.style.config import StyleConfig
    from perform.style.stage import Stylizer

    stylizer = Stylizer(
        StyleConfig(device="cpu", scales=[1.0], max_side=1280, budget_ms=1e4, stabilise={"enabled": False})
    )
    return stylizer, stylizer.load(model)


def pose(detector: object, image: np.ndarray) -> np.ndarray | None:
    """(33, 4) landmarks (x, y normalised, z, visibility) of the one person found, or None."""
    found = detector.detect(image, 0.0)  # type: ignore[attr-defined]
    return found[0].landmarks if found else None


def landmark_error(reference: np.ndarray, got: np.ndarray, width: int, height: int) -> np.ndarray:
    """Distances of the reference's visible landmarks, as fractions of the image's longer side."""
    visible = reference[:, 3] > 0.5
    d = (got[visible, :2] - reference[visible, :2]) * np.array([width, height])
    return np.hypot(d[:, 0], d[:, 1]) / max(width, height)


def measure(models: list[str], save: Path | None = None) -> dict[str, dict[float, list]]:
    """model -> strength -> [(photo, found, mean error or None), ...]."""
    import torch

    from perform.vision.legacy import LegacyPose

    torch.set_num_threads(1)
    detector = LegacyPose(masks=False, static_images=True)
    photos = {name: load() for name, load in PHOTOS.items()}
    references = {name: pose(detector, image) for name, image in photos.items()}
    results: dict[str, dict[float, list]] = {}
    for model in models:
        stylizer, _ = still_stylizer(model)
        results[model] = {s: [] for s in STRENGTHS}
        for name, image in photos.items():
            reference = references[name]
            if reference is None:
                raise RuntimeError(f"{name}: the pose model finds nobody in the photograph itself")
            stylizer.reset()
            styled, _ = stylizer.run(image)
            for strength in STRENGTHS:
                shown = (
                    styled if strength >= 1.0 else cv2.addWeighted(styled, strength, image, 1 - strength, 0)
                )
                if save is not None:
                    save.mkdir(parents=True, exist_ok=True)
                    out = save / f"{Path(model).stem}-{name}-{strength:g}.jpg"
                    cv2.imwrite(str(out), shown[:, :, ::-1])
                got = pose(detector, shown)
                if got is None:
                    results[model][strength].append((name, False, None))
                    continue
                err = landmark_error(reference, got, image.shape[1], image.shape[0])
                results[model][strength].append(
                    (name, bool(np.median(err) < FOUND_WITHIN), float(err.mean()))
                )
    detector.close()
    return results


def table(results: dict[str, dict[float, list]]) -> str:
    head = " | ".join(f"strength {s:g}: found | error" for s in STRENGTHS)
    lines = [f"| model | {head} |", "|---" * (1 + 2 * len(STRENGTHS)) + "|"]
    for model, by_strength in results.items():
        cells = []
        for strength in STRENGTHS:
            rows = by_strength[strength]
            found = [name for name, ok, _ in rows if ok]
            errors = [e for _, _, e in rows if e is not None]
            which = f" ({', '.join(found)})" if found and len(found) < len(rows) else ""
            cells.append(f"{len(found)} of {len(rows)}{which}")
            cells.append(f"{np.mean(errors):.3f}" if errors else "-")
        lines.append(f"| {model} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", metavar="NAME|FILE", help="default: every model in models/")
    parser.add_argument("--save", type=Path, metavar="DIR", help="write the stylised pictures here")
    args = parser.parse_args()
    models = args.models or sorted(
        p.stem for p in (Path(__file__).resolve().parent.parent / "models").glob("*.pt")
    )
    print(table(measure(models, args.save)))


if __name__ == "__main__":
    main()
