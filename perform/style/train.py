"""Training a style network: losses, data, the loop with checkpoints and resume.

Two losses:

* ``offline`` (default) needs no downloaded weights. Style: sliced Wasserstein distance
  (Heitz et al. 2021) between the feature distributions of a fixed random conv net (3-64-128-
  256-256, Kaiming weights from a fixed seed) at full and half size, plus sliced Wasserstein on
  raw RGB pixels for the palette. Content: the first two random layers and an L1 term on the
  Sobel edges of luminance, which keeps a performer readable.
* ``vgg`` is the classic perceptual loss (Gram matrices on VGG16 relu1_2..relu4_3, content on
  relu2_2). It needs torchvision's ``vgg16-397923af.pth`` file, given by the user; the weights
  load into our own VGG16 feature module, torchvision is not needed.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from perform.errors import PerformError
from perform.style.model import MODEL_VERSION, ModelError, save_model
from perform.style.nets import ARCHITECTURES, build_net

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VGG_FILE = "vgg16-397923af.pth"


class TrainError(PerformError):
    """Training cannot start: no content images, an unreadable style image, a bad checkpoint."""


# ---------------------------------------------------------------------------------------------
# images


def read_rgb(path: Path | str) -> np.ndarray:
    """An image file as RGB uint8."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise TrainError(f"{path}: expected an image file OpenCV can read")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float 0..1."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) or (3, H, W) float 0..1 -> (H, W, 3) uint8."""
    t = tensor.detach()[0] if tensor.dim() == 4 else tensor.detach()
    return (t.clamp(0, 1).permute(1, 2, 0).float().cpu().numpy() * 255.0 + 0.5).astype(np.uint8)


def content_images(folder: Path | str, min_side: int = 96) -> list[np.ndarray]:
    """Every readable image under ``folder`` (recursively) at least ``min_side`` px on its short side."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainError(f"{folder}: expected a folder of content photographs")
    images = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(p), cv2.IMREAD_COLOR)
            if image is not None and min(image.shape[:2]) >= min_side:
                images.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
    if not images:
        raise TrainError(f"{folder}: expected images of at least {min_side} px, found none")
    return images


class CropSampler:
    """Random square crops: a random scale of the short side, a random place, a random flip."""

    def __init__(self, images: list[np.ndarray], size: int, seed: int = 0) -> None:
        self.images, self.size = images, size
        self.rng = random.Random(seed)

    def sample(self) -> np.ndarray:
        image = self.images[self.rng.randrange(len(self.images))]
        h, w = image.shape[:2]
        side = int(min(h, w) * self.rng.uniform(0.4, 1.0))
        side = max(side, min(self.size, h, w))
        y, x = self.rng.randint(0, h - side), self.rng.randint(0, w - side)
        crop = cv2.resize(
            image[y : y + side, x : x + side], (self.size, self.size), interpolation=cv2.INTER_AREA
        )
        return crop[:, ::-1] if self.rng.random() < 0.5 else crop

    def batch(self, n: int) -> torch.Tensor:
        return torch.cat([to_tensor(self.sample()) for _ in range(n)])


# ---------------------------------------------------------------------------------------------
# losses


def sliced_wasserstein(
    x: torch.Tensor, target: torch.Tensor, projections: int, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Squared sliced Wasserstein distance between each image's features and the target's.

    ``x`` is (B, C, H, W), ``target`` (1, C, h, w). Both are projected on the same random unit
    directions, sorted, and matched quantile by quantile.
    """
    _b, c = x.shape[:2]
    dirs = torch.randn(c, projections, generator=generator, device="cpu").to(x.device, x.dtype)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    px = torch.sort(x.flatten(2).transpose(1, 2) @ dirs, dim=1).values  # (B, N, P)
    pt = torch.sort(target.flatten(2).transpose(1, 2)[0] @ dirs, dim=0).values  # (M, P)
    n, m = px.shape[1], pt.shape[0]
    if m != n:
        index = torch.linspace(0, m - 1, n, device=x.device).round().long()
        pt = pt[index]
    return ((px - pt[None]) ** 2).mean()


def sobel_edges(x: torch.Tensor) -> torch.Tensor:
    """Gradient magnitude of luminance, (B, 1, H, W)."""
    luma = 0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]
    k = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], device=x.device, dtype=x.dtype)
    kernels = torch.stack([k, k.t()])[:, None]
    g = F.conv2d(F.pad(luma, (1, 1, 1, 1), mode="replicate"), kernels)
    return torch.sqrt((g**2).sum(1, keepdim=True) + 1e-6)


class RandomFeatures(nn.Module):
    """A fixed random conv net, never trained: 3-64-128-256-256, ReLU, 2x average pooling."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 256, 256), seed: int = 1234) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers, cin = [], 3
        for cout in channels:
            conv = nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * math.sqrt(2.0 / (cin * 9)))
                conv.bias.zero_()
            layers.append(conv)
            cin = cout
        self.layers = nn.ModuleList(layers)
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = (x - 0.45) / 0.25
        out = []
        for i, conv in enumerate(self.layers[:depth]):
            if i:
                x = F.avg_pool2d(x, 2)
            x = F.relu(conv(x))
            out.append(x)
        return out


@dataclass
class OfflineLossConfig:
    """Weights and sizes of the offline loss; they are saved in the model file."""

    kind: str = "offline"
    style_weight: float = 1.0
    pixel_weight: float = 1.0
    content_weight: float = 2.0
    edge_weight: float = 1.0
    projections: int = 64
    scales: tuple[float, ...] = (1.0, 0.5)
    content_layers: int = 2
    seed: int = 1234


class OfflineLoss(nn.Module):
    """Random-feature sliced Wasserstein style + pixel colour SW + feature and Sobel-edge content."""

    def __init__(self, style: torch.Tensor, config: OfflineLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or OfflineLossConfig()
        self.features = RandomFeatures(seed=self.config.seed)
        with torch.no_grad():
            self.style_feats = [f for s in self.config.scales for f in self.features(_rescale(style, s))]
        self.style_pixels = style

    def forward(
        self, out: torch.Tensor, content: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        out_feats = [f for s in cfg.scales for f in self.features(_rescale(out, s))]
        style = sum(
            sliced_wasserstein(o, t, cfg.projections, generator)
            for o, t in zip(out_feats, self.style_feats, strict=False)
        ) * (10.0 / len(out_feats))
        pixel = sliced_wasserstein(out, self.style_pixels, 32, generator) * 100.0
        with torch.no_grad():
            content_feats = self.features(content, depth=cfg.content_layers)
        feat = sum(
            F.mse_loss(o, c) for o, c in zip(out_feats[: cfg.content_layers], content_feats, strict=False)
        )
        edges = F.l1_loss(sobel_edges(out), sobel_edges(content)) * 10.0
        total = (
            cfg.style_weight * style
            + cfg.pixel_weight * pixel
            + cfg.content_weight * (feat + cfg.edge_weight * edges)
        )
        parts = {
            k: float(v.detach())
            for k, v in (("style", style), ("pixel", pixel), ("content", feat), ("edges", edges))
        }
        return total, parts


def _rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return x
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)


# VGG16's convolutional part, in torchvision's layer order so its state dict loads as is.
_VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
#: Indices of relu1_2, relu2_2, relu3_3, relu4_3 in the features sequence.
_VGG_TAPS = (3, 8, 15, 22)


class VGG16Features(nn.Module):
    """VGG16 up to relu4_3, with the same module indices as ``torchvision.models.vgg16().features``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _VGG_TAPS:
                out.append(x)
        return out


def find_vgg_weights(path: Path | str) -> Path:
    """The VGG16 weights file: ``path`` itself, or ``vgg16-*.pth`` in it (a torch hub cache)."""
    p = Path(path).expanduser()
    if p.is_dir():
        for folder in (p, p / "checkpoints", p / "hub" / "checkpoints"):
            hits = sorted(folder.glob("vgg16-*.pth")) if folder.is_dir() else []
            if hits:
                return hits[0]
        raise TrainError(f"{p}: expected {VGG_FILE} (torchvision's VGG16 weights) in this folder, found none")
    if not p.is_file():
        raise TrainError(f"{p}: no such file; expected torchvision's VGG16 weights ({VGG_FILE})")
    return p


def load_vgg16(path: Path | str) -> VGG16Features:
    """Our VGG16 feature module with torchvision's weights from ``path`` (never downloaded)."""
    p = find_vgg_weights(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise TrainError(f"{p}: could not read VGG16 weights: {exc}") from None
    net = VGG16Features()
    wanted = {k for k in net.state_dict() if k.startswith("features.")}
    picked = {k: v for k, v in state.items() if k in wanted} if isinstance(state, dict) else {}
    if set(picked) != wanted:
        missing = sorted(wanted - set(picked))[:3]
        raise TrainError(f"{p}: expected torchvision VGG16 weights, missing {missing}")
    net.load_state_dict(picked, strict=False)
    return net


def gram(x: torch.Tensor) -> torch.Tensor:
    _b, c, h, w = x.shape
    f = x.flatten(2)
    return f @ f.transpose(1, 2) / (c * h * w)


@dataclass
class VggLossConfig:
    kind: str = "vgg"
    content_weight: float = 1e5
    style_weight: float = 1e10
    content_layer: int = 1  # relu2_2


class VggLoss(nn.Module):
    """Johnson et al.'s perceptual loss on VGG16 features."""

    def __init__(self, style: torch.Tensor, vgg: VGG16Features, config: VggLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or VggLossConfig()
        self.vgg = vgg
        with torch.no_grad():
            self.style_grams = [gram(f) for f in vgg(style)]

    def forward(
        self, out: torch.Tensor, content: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        cfg = self.config
        of = self.vgg(out)
        with torch.no_grad():
            cf = self.vgg(content)[cfg.content_layer]
        content_loss = F.mse_loss(of[cfg.content_layer], cf)
        style_loss = sum(
            F.mse_loss(gram(o), g.expand(o.shape[0], -1, -1))
            for o, g in zip(of, self.style_grams, strict=False)
        )
        total = cfg.content_weight * content_loss + cfg.style_weight * style_loss
        return total, {"content": float(content_loss.detach()), "style": float(style_loss.detach())}


# ---------------------------------------------------------------------------------------------
# the loop


@dataclass
class TrainSettings:
    """How a model is trained; saved in its checkpoint and its model file."""

    architecture: str = "realtime"
    steps: int = 1000
    size: int = 128
    batch: int = 4
    lr: float = 1e-3
    style_size: int = 256
    seed: int = 0
    checkpoint_every: int = 100
    eval_every: int = 50
    loss: str = "offline"
    #: Weight of the style terms (offline: random-feature SW; vgg: Gram) relative to the default.
    style_weight: float = 1.0
    #: Weight of the content terms relative to the default; lower it for a stronger style.
    content_weight: float = 1.0
    #: Overrides of the architecture's hyper-parameters (``width``, ``blocks``), e.g. for tests.
    hyper: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def load_style(path: Path | str, width: int) -> torch.Tensor:
    image = read_rgb(path)
    h, w = image.shape[:2]
    image = cv2.resize(image, (width, max(1, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return to_tensor(image)


def train(
    style_image: Path | str,
    content: Path | str | list[np.ndarray],
    out: Path | str,
    settings: TrainSettings | None = None,
    *,
    name: str | None = None,
    resume: Path | str | None = None,
    vgg: Path | str | None = None,
    progress: Callable[[int, int, float], None] | None = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Train a style network; writes ``out`` (the model) and ``out``.ckpt (to resume).

    Returns the run's summary: steps, seconds, loss curve (``eval``: loss on a fixed batch
    with fixed projections, comparable across steps). ``progress(step, steps, loss)`` is
    called after each step.
    """
    settings = settings or TrainSettings()
    if settings.architecture not in ARCHITECTURES:
        raise TrainError(
            f"expected an architecture in {sorted(ARCHITECTURES)}, got {settings.architecture!r}"
        )
    out = Path(out)
    ckpt_path = out.with_name(out.name + ".ckpt")
    torch.manual_seed(settings.seed)
    images = content if isinstance(content, list) else content_images(content)
    sampler = CropSampler(images, settings.size, seed=settings.seed)
    style = load_style(style_image, settings.style_size).to(device)
    if vgg is not None:
        settings.loss = "vgg"
        vgg_config = VggLossConfig()
        vgg_config.style_weight *= settings.style_weight
        vgg_config.content_weight *= settings.content_weight
        loss_fn: nn.Module = VggLoss(style, load_vgg16(vgg), vgg_config).to(device)
    else:
        settings.loss = "offline"
        offline = OfflineLossConfig()
        offline.style_weight *= settings.style_weight
        offline.content_weight *= settings.content_weight
        loss_fn = OfflineLoss(style, offline).to(device)
    net = build_net(settings.architecture, **settings.hyper).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=settings.lr)
    eval_batch = (
        CropSampler(images, settings.size, seed=10_000 + settings.seed).batch(settings.batch).to(device)
    )
    history: list[dict[str, float]] = []
    step, seconds = 0, 0.0
    if resume is not None:
        step, seconds, history = _load_checkpoint(Path(resume), net, opt, settings)
        sampler.rng.seed(settings.seed + step)

    def evaluate() -> float:
        net.eval()
        with torch.no_grad():
            loss, _ = loss_fn(net(eval_batch), eval_batch, torch.Generator().manual_seed(7))
        net.train()
        return float(loss)

    if not history:
        history.append({"step": 0, "eval": round(evaluate(), 5), "seconds": 0.0})
    gen = torch.Generator().manual_seed(settings.seed + step)
    t0 = time.monotonic() - seconds
    net.train()
    running = None
    while step < settings.steps:
        batch = sampler.batch(settings.batch).to(device)
        loss, _parts = loss_fn(net(batch), batch, gen)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        value = float(loss.detach())
        running = value if running is None else 0.9 * running + 0.1 * value
        if progress is not None:
            progress(step, settings.steps, running)
        if step % settings.eval_every == 0 or step == settings.steps:
            history.append(
                {
                    "step": step,
                    "eval": round(evaluate(), 5),
                    "train": round(running, 5),
                    "seconds": round(time.monotonic() - t0, 1),
                }
            )
        if step % settings.checkpoint_every == 0 or step == settings.steps:
            _save_checkpoint(ckpt_path, net, opt, settings, step, time.monotonic() - t0, history)
            _save(out, net, settings, style_image, loss_fn, history, step, time.monotonic() - t0, name)
    seconds = time.monotonic() - t0
    _save(out, net, settings, style_image, loss_fn, history, step, seconds, name)
    return {
        "model": str(out),
        "checkpoint": str(ckpt_path),
        "steps": step,
        "seconds": round(seconds, 1),
        "history": history,
    }


def _save(
    out: Path,
    net: nn.Module,
    settings: TrainSettings,
    style_image: Path | str,
    loss_fn: nn.Module,
    history: list[dict[str, float]],
    step: int,
    seconds: float,
    name: str | None,
) -> None:
    cfg = loss_fn.config  # type: ignore[attr-defined]
    save_model(
        out, net.eval(), name=name or out.stem, architecture=settings.architecture,
        style_image=Path(style_image).name, loss=asdict(cfg),
        training={**asdict(settings), "steps_done": step, "seconds": round(seconds, 1), "history": history,
                  "torch": str(torch.__version__)},
    )  # fmt: skip
    net.train()


def _save_checkpoint(
    path: Path,
    net: nn.Module,
    opt: torch.optim.Optimizer,
    settings: TrainSettings,
    step: int,
    seconds: float,
    history: list[dict[str, float]],
) -> None:
    data = {"format": "perform-style-checkpoint", "version": MODEL_VERSION, "settings": asdict(settings),
            "step": step, "seconds": seconds, "history": history, "net": net.state_dict(),
            "optimizer": opt.state_dict()}  # fmt: skip
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    tmp.replace(path)


def _load_checkpoint(path: Path, net: nn.Module, opt: torch.optim.Optimizer,
                     settings: TrainSettings) -> tuple[int, float, list[dict[str, float]]]:  # fmt: skip
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(path, f"expected a perform style checkpoint, could not read it: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != "perform-style-checkpoint":
        raise ModelError(path, "expected a perform style checkpoint (.ckpt written by perform style train)")
    arch = data["settings"].get("architecture")
    if arch != settings.architecture:
        raise ModelError(path, f"checkpoint is of a {arch!r} network, expected {settings.architecture!r}")
    net.load_state_dict(data["net"])
    opt.load_state_dict(data["optimizer"])
    return int(data["step"]), float(data["seconds"]), list(data["history"])


# ---------------------------------------------------------------------------------------------
# the second shipped style


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
