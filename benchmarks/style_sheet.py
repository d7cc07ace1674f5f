"""The README's style pictures: each model beside its input and its painting.

Run from the repository root::

    python benchmarks/style_sheet.py --out docs/img/style            # one NAME.jpg per shipped model
    python benchmarks/style_sheet.py --row A.pt B.pt --row C.pt --out cmp.jpg  # photo, models, painting

A model's sheet is messi5 (OpenCV), the model on it, the model on scikit-image's astronaut, and the
painting it was trained on, each scaled to ``--height``. Stylised as ``perform style apply`` does
(whole picture, strength 1, the network at the photograph's own size).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import cv2
import numpy as np
from style_legibility import PHOTOS, still_stylizer

GAP = 6


def fit(image: np.ndarray, height: int) -> np.ndarray:
    """``image`` scaled to ``height``, its aspect kept."""
    h, w = image.shape[:2]
    return cv2.resize(image, (round(w * height / h), height), interpolation=cv2.INTER_AREA)


def strip(images: list[np.ndarray], height: int) -> np.ndarray:
    """Images side by side at one height, white gaps between them (RGB)."""
    parts: list[np.ndarray] = []
    for image in images:
        if parts:
            parts.append(np.full((height, GAP, 3), 255, np.uint8))
        parts.append(fit(image, height))
    return np.hstack(parts)


def write(path: Path, image: np.ndarray) -> None:
    """Write an RGB picture as JPEG; a failure is an error, not a silent "wrote"."""
    if not cv2.imwrite(str(path), image[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise OSError(f"{path}: could not write the picture")
    print(f"wrote {path}")


def stylise(model: str, images: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """The model's output on each image, and its painting (RGB)."""
    stylizer, loaded = still_stylizer(model)
    out = []
    for image in images:
        stylizer.reset()
        out.append(stylizer.run(image)[0])
    painting = cv2.imread(str(Path(loaded.path or model).parent / loaded.style_image))
    if painting is None:
        raise FileNotFoundError(f"{model}: its painting {loaded.style_image!r} is not beside it")
    return out, painting[:, :, ::-1]


def main() -> None:
    import torch

    from perform.style.model import MODELS_DIR, find_models

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", help="names or files for one sheet each (default: models/)")
    parser.add_argument(
        "--row", nargs="+", action="append", metavar="MODEL", help="a row of models on --photo (repeatable)"
    )
    parser.add_argument("--photo", default="astronaut", choices=sorted(PHOTOS), help="photograph for --row")
    parser.add_argument("--height", type=int, default=300, metavar="PX")
    parser.add_argument("--out", type=Path, required=True, help="a folder, or with --row a .jpg file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.row:
        photo = PHOTOS[args.photo]()
        rows = []
        for row in args.row:
            outputs = [stylise(m, [photo]) for m in row]
            rows.append(strip([photo, *(o[0][0] for o in outputs), outputs[-1][1]], args.height))
        width = max(r.shape[1] for r in rows)
        gap = np.full((GAP, width, 3), 255, np.uint8)
        padded = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
        image = np.vstack([p for r in padded for p in (r, gap)][:-1])
        write(args.out, image)
        return
    shipped = find_models()
    models = args.models or [str(p) for p in shipped.values() if p.parent == MODELS_DIR]
    messi, astronaut = PHOTOS["messi5"](), PHOTOS["astronaut"]()
    args.out.mkdir(parents=True, exist_ok=True)
    for model in models:
        (on_messi, on_astronaut), painting = stylise(model, [messi, astronaut])
        out = args.out / f"{Path(model).stem}.jpg"
        image = strip([messi, on_messi, on_astronaut, painting], args.height)
        write(out, image)


if __name__ == "__main__":
    main()
