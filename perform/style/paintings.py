"""Style images drawn by perform itself (ours, free to use), for styles whose paintings are not
on disk: a Kandinsky-like composition, a stained-glass mosaic and a pointillist field of dots."""

from __future__ import annotations

import cv2
import numpy as np


def draw_composition(width: int = 512, height: int = 512, seed: int = 1923) -> np.ndarray:
    """A procedural Kandinsky-like composition (circles, bars, arcs, grids on a warm ground), RGB."""
    rng = np.random.default_rng(seed)
    palette = [(200, 40, 40), (240, 190, 30), (30, 70, 160), (20, 20, 20), (230, 110, 30),
               (60, 140, 90), (150, 60, 140), (245, 235, 210)]  # fmt: skip
    img = np.zeros((height, width, 3), np.uint8)
    top, bottom = np.array([238, 226, 196], float), np.array([214, 190, 150], float)
    for y in range(height):
        img[y] = (top + (bottom - top) * y / height).astype(np.uint8)
    s = min(width, height)

    def colour() -> tuple[int, int, int]:
        return tuple(int(v) for v in palette[rng.integers(len(palette))])  # type: ignore[return-value]

    for _ in range(6):  # large translucent planes
        overlay = img.copy()
        pts = rng.integers(0, [width, height], size=(4, 2)).astype(np.int32)
        cv2.fillConvexPoly(overlay, cv2.convexHull(pts), colour(), cv2.LINE_AA)
        img = cv2.addWeighted(overlay, 0.35, img, 0.65, 0)
    for _ in range(7):  # concentric circles
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        r = int(rng.integers(s // 20, s // 5))
        for k in range(int(rng.integers(1, 4)), 0, -1):
            cv2.circle(img, c, r * k // 3 + 2, colour(), -1, cv2.LINE_AA)
        cv2.circle(img, c, r + 3, (20, 20, 20), 2, cv2.LINE_AA)
    for _ in range(14):  # bold lines and bars
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        ang = rng.uniform(0, np.pi)
        length = rng.uniform(0.2, 0.7) * s
        p2 = (int(p1[0] + length * np.cos(ang)), int(p1[1] + length * np.sin(ang)))
        cv2.line(
            img,
            p1,
            p2,
            colour() if rng.random() < 0.6 else (20, 20, 20),
            int(rng.integers(2, 12)),
            cv2.LINE_AA,
        )
    for _ in range(5):  # arcs
        c = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(s // 10, s // 3)), int(rng.integers(s // 10, s // 3)))
        a0 = float(rng.uniform(0, 360))
        cv2.ellipse(
            img,
            c,
            axes,
            float(rng.uniform(0, 180)),
            a0,
            a0 + float(rng.uniform(60, 200)),
            colour(),
            4,
            cv2.LINE_AA,
        )
    for _ in range(3):  # checker grids
        x0, y0 = int(rng.integers(0, width - s // 6)), int(rng.integers(0, height - s // 6))
        cell = int(rng.integers(s // 40, s // 20))
        n = int(rng.integers(3, 6))
        for i in range(n):
            for j in range(n):
                if (i + j) % 2 == 0:
                    cv2.rectangle(
                        img,
                        (x0 + i * cell, y0 + j * cell),
                        (x0 + (i + 1) * cell, y0 + (j + 1) * cell),
                        colour(),
                        -1,
                    )
    for _ in range(4):  # triangles
        pts = (rng.integers(0, [width, height]) + rng.integers(-s // 8, s // 8, size=(3, 2))).astype(np.int32)
        cv2.fillPoly(img, [pts], colour(), cv2.LINE_AA)
    return img


def draw_mosaic(width: int = 512, height: int = 512, seed: int = 1200, cells: int = 260) -> np.ndarray:
    """A stained-glass mosaic: Voronoi panes of deep glass colours, shaded, in dark leading, RGB."""
    rng = np.random.default_rng(seed)
    palette = np.array([(30, 60, 150), (20, 110, 170), (170, 25, 40), (230, 160, 30), (40, 130, 70),
                        (110, 40, 130), (240, 220, 150), (200, 80, 30), (60, 160, 180)], float)  # fmt: skip
    subdiv = cv2.Subdiv2D((0, 0, width, height))
    for x, y in rng.uniform([1, 1], [width - 1, height - 1], size=(cells, 2)):
        subdiv.insert((float(x), float(y)))
    facets, _centres = subdiv.getVoronoiFacetList([])
    img = np.zeros((height, width, 3), np.uint8)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for facet in facets:
        pts = np.round(facet).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [pts], 255)
        base = palette[rng.integers(len(palette))] * rng.uniform(0.75, 1.15)
        cx, cy = pts[:, 0].mean(), pts[:, 1].mean()
        shade = 1.0 + 0.25 * np.cos(np.hypot(xx - cx, yy - cy) / 18.0)  # light through uneven glass
        pane = np.clip(base[None, None, :] * shade[..., None], 0, 255).astype(np.uint8)
        img[mask > 0] = pane[mask > 0]
    for facet in facets:
        cv2.polylines(img, [np.round(facet).astype(np.int32)], True, (25, 22, 20), 4, cv2.LINE_AA)
    return img


def draw_pointillism(width: int = 512, height: int = 512, seed: int = 1886, dots: int = 12000) -> np.ndarray:
    """A pointillist field: dabs of pure colour over a bright sky, water and trees, on cream, RGB."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, height)[:, None, None]
    sky, water = np.array([120, 170, 230], float), np.array([40, 110, 170], float)
    field = np.where(y < 0.45, sky + (np.array([250, 230, 170]) - sky) * y / 0.45, water)
    field = np.broadcast_to(field, (height, width, 3)).copy()
    for _ in range(9):  # trees, shore and clouds as soft blobs
        c = (int(rng.integers(0, width)), int(rng.integers(int(height * 0.2), height)))
        axes = (int(rng.integers(width // 12, width // 4)), int(rng.integers(height // 14, height // 5)))
        colour = [(40, 120, 50), (200, 160, 60), (240, 200, 120), (30, 80, 60)][int(rng.integers(4))]
        cv2.ellipse(field, c, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
    field = cv2.GaussianBlur(field, (0, 0), 9.0)
    img = np.full((height, width, 3), (238, 230, 212), np.uint8)
    xs, ys = rng.integers(0, width, dots), rng.integers(0, height, dots)
    hues = rng.normal(0.0, 20.0, (dots, 3))
    complement = rng.random(dots) < 0.08  # a few dabs of the opposite colour, as Seurat did
    for x, yv, h, comp in zip(xs, ys, hues, complement, strict=True):
        c = field[yv, x]
        c = 255.0 - c * 0.8 if comp else c + h
        r = int(rng.integers(3, 6))
        cv2.circle(img, (int(x), int(yv)), r, tuple(int(v) for v in np.clip(c, 0, 255)), -1, cv2.LINE_AA)
    return img
