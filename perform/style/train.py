"""Training a style network: data, the loop with checkpoints and resume (losses: ``losses``)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch import nn

from perform.capture.files import IMAGE_EXTENSIONS
from perform.errors import PerformError
from perform.style.config import LOSSES
from perform.style.features import load_vgg16
from perform.style.losses import build_loss
from perform.style.media import read_image
from perform.style.model import MODEL_FORMAT, MODEL_VERSION, ModelError, read_model_file, save_model
from perform.style.nets import ARCHITECTURES, build_net


class TrainError(PerformError):
    """Training cannot start: no content images, an unreadable style image, a bad checkpoint."""


# ---------------------------------------------------------------------------------------------
# images


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 -> (1, 3, H, W) float 0..1."""
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


def content_images(folder: Path | str, min_side: int = 96) -> list[np.ndarray]:
    """Every readable image under ``folder`` (recursively) at least ``min_side`` px on its short side."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainError(f"{folder}: expected a folder of content photographs")
    images = []
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_EXTENSIONS:
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
    #: ``mediapipe`` (palm-detector features), ``offline`` (random features) or ``vgg``.
    loss: str = "mediapipe"
    #: Weight of the style terms (feature SW, or Gram for vgg) relative to the default.
    style_weight: float = 1.0
    #: Weight of the content terms relative to the default; lower it for a stronger style.
    content_weight: float = 1.0
    #: Weight of the pose-model content term (mediapipe loss; 0: off): keeps performers findable.
    pose_weight: float = 0.0
    #: Weight of the Sobel-edge content term within content (None: the loss's default, 0.5 for
    #: mediapipe, 1 for offline); lower lets strokes replace the photograph's fine edges.
    edge_weight: float | None = None
    #: Overrides of the architecture's hyper-parameters (``width``, ``blocks``, ``dilation``),
    #: e.g. for tests.
    hyper: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def load_style(path: Path | str, width: int) -> torch.Tensor:
    image = read_image(Path(path))
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

    ``resume`` is a checkpoint (``MODEL.ckpt``) or a model file (to fine-tune: its weights, step
    count and loss curve, with a fresh optimiser). Returns the run's summary: steps, seconds,
    loss curve (``eval``: loss on a fixed batch with fixed projections, comparable across steps).
    ``progress(step, steps, loss)`` is called after each step.
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
    if settings.loss not in LOSSES:
        raise TrainError(f"expected a loss in {LOSSES}, got {settings.loss!r}")
    if settings.loss == "vgg" and vgg is None:
        raise TrainError("the vgg loss needs torchvision's VGG16 weights: give vgg=FILE")
    loss_fn = build_loss(
        settings.loss, style, style_weight=settings.style_weight, content_weight=settings.content_weight,
        pose_weight=settings.pose_weight, edge_weight=settings.edge_weight,
        vgg=load_vgg16(vgg) if vgg is not None else None,
    ).to(device)  # fmt: skip
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
    if isinstance(data, dict) and data.get("format") == MODEL_FORMAT:  # a model file: fine-tune it
        model = read_model_file(path)
        arch, done = model["architecture"], model.get("training", {})
        data = {"settings": {"architecture": arch}, "net": model["state_dict"], "optimizer": None,
                "step": done.get("steps_done", 0), "seconds": done.get("seconds", 0.0),
                "history": done.get("history", [])}  # fmt: skip
    elif not isinstance(data, dict) or data.get("format") != "perform-style-checkpoint":
        raise ModelError(path, "expected a perform style checkpoint (.ckpt written by perform style train)")
    arch = data["settings"].get("architecture")
    try:  # another architecture whose weights fit (realtime -> wide) is fine-tuned as this one
        net.load_state_dict(data["net"])
    except RuntimeError as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelError(
            path,
            f"the weights of its {arch!r} network do not fit a {settings.architecture!r} network "
            f"with {net.hyper}: {first:.200}",  # type: ignore[union-attr]
        ) from None
    if data["optimizer"] is not None and arch == settings.architecture:
        opt.load_state_dict(data["optimizer"])
    return int(data["step"]), float(data["seconds"]), list(data["history"])
