"""The live style stage: stylises each frame within a time budget, never stops the show.

Parameters it reads from :class:`~perform.control.Controls` on every frame:

* ``style.name``: switch to another model (a name in the models folders);
* ``style.strength``: 0..1 blend of the stylised image over the camera image;
* ``style.region``: ``whole``, ``performer`` or ``background``.

A failure (an exception, CUDA out of memory) hands that frame on unstyled; out of memory also
steps the scale down. After a failure the stage passes frames through for a doubling wait
(``retry.first_s`` up to ``retry.max_s``), then tries again.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from perform.control import Controls
from perform.pipeline import ProcessStage, Slot, Stats
from perform.style.config import StyleConfig
from perform.style.model import StyleModel, load_model, resolve_model
from perform.style.types import Styled
from perform.vision.types import Poses

log = logging.getLogger(__name__)


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA, then MPS, then CPU (``auto``), or the one asked for when it is there."""
    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if preference == "cuda" or (preference == "auto" and cuda):
        return torch.device("cuda" if cuda else "cpu")
    if preference == "mps" or (preference == "auto" and mps):
        return torch.device("mps" if mps else "cpu")
    return torch.device("cpu")


class AdaptiveScale:
    """Picks the largest ladder scale whose expected inference time fits the budget.

    Each scale keeps an EMA of its measured time. A scale not measured lately is estimated from
    the current one by pixel area. Going up needs a margin (``up_margin`` of the budget), so the
    choice does not flip between two scales on every frame.
    """

    def __init__(self, scales: list[float], budget_ms: float, alpha: float = 0.2, up_margin: float = 0.85,
                 stale_frames: int = 30) -> None:  # fmt: skip
        self.scales = sorted(set(scales), reverse=True)
        self.budget_ms = budget_ms
        self.alpha, self.up_margin, self.stale_frames = alpha, up_margin, stale_frames
        self.ema: dict[float, float] = {}
        self._seen: dict[float, int] = {}
        self._frame = 0
        self.index = len(self.scales) - 1  # start small, climb as measurements come in
        self.ceiling = 0  # lowered by out-of-memory failures
        self._warm: set[float] = set()

    @property
    def scale(self) -> float:
        return self.scales[self.index]

    def record(self, scale: float, ms: float) -> None:
        """One measured inference. The first at each scale is warm-up (allocation, autotune, compile)."""
        if scale not in self._warm:
            self._warm.add(scale)
            return
        self._frame += 1
        old = self.ema.get(scale)
        self.ema[scale] = ms if old is None else old + self.alpha * (ms - old)
        self._seen[scale] = self._frame
        self._choose()

    def estimate(self, scale: float) -> float | None:
        fresh = self._frame - self._seen.get(scale, -(10**9)) <= self.stale_frames
        if fresh and scale in self.ema:
            return self.ema[scale]
        current = self.scale
        if current in self.ema:
            return self.ema[current] * (scale / current) ** 2
        return None

    def _choose(self) -> None:
        for i in range(self.ceiling, len(self.scales)):
            est = self.estimate(self.scales[i])
            if est is None:
                continue
            limit = self.budget_ms * (self.up_margin if i < self.index else 1.0)
            if est <= limit:
                self.index = i
                return
        self.index = len(self.scales) - 1

    def step_down(self) -> None:
        """After running out of memory: never go back above the next smaller scale."""
        self.ceiling = min(self.index + 1, len(self.scales) - 1)
        self.index = max(self.index, self.ceiling)


class FlickerMeter:
    """Mean absolute change of the output (0..255) between frames, where the input did not change."""

    def __init__(self, still: float = 3.0) -> None:
        self.still = still
        self._prev_in: np.ndarray | None = None
        self._prev_out: np.ndarray | None = None
        self.total = 0.0
        self.count = 0

    def add(self, image_in: np.ndarray, image_out: np.ndarray) -> None:
        small_in = _luma_small(image_in)
        small_out = cv2.resize(
            image_out, (small_in.shape[1], small_in.shape[0]), interpolation=cv2.INTER_AREA
        )
        small_out = small_out.astype(np.float32)
        if self._prev_in is not None and self._prev_in.shape == small_in.shape:
            still = np.abs(small_in - self._prev_in) < self.still
            if still.any():
                diff = np.abs(small_out - self._prev_out).mean(axis=2)
                self.total += float(diff[still].mean())
                self.count += 1
        self._prev_in, self._prev_out = small_in, small_out

    @property
    def value(self) -> float:
        return self.total / self.count if self.count else 0.0


def _luma_small(image: np.ndarray, side: int = 160) -> np.ndarray:
    h, w = image.shape[:2]
    f = side / max(h, w)
    small = cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    luma = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.GaussianBlur(luma, (0, 0), 1.0)


def feather(mask: np.ndarray, width: int, height: int, sigma_px: float) -> np.ndarray:
    """The mask at (height, width), softened by a Gaussian of ``sigma_px`` frame pixels.

    Values within 1/512 of 0 or 1 are snapped there, so a composition is exact away from edges.
    """
    m = mask.astype(np.float32, copy=False)
    if sigma_px > 0:
        f = min(1.0, 8.0 / sigma_px)  # blur at reduced size: the result is smooth anyway
        sw, sh = max(1, round(width * f)), max(1, round(height * f))
        m = cv2.resize(m, (sw, sh), interpolation=cv2.INTER_AREA)
        m = cv2.GaussianBlur(m, (0, 0), max(sigma_px * f, 0.5))
    if m.shape != (height, width):
        m = cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
    m = np.clip(m, 0.0, 1.0)
    m[m < 1.0 / 512] = 0.0
    m[m > 1.0 - 1.0 / 512] = 1.0
    return m


def compose(camera: np.ndarray, styled: np.ndarray, alpha: np.ndarray | float) -> np.ndarray:
    """``camera`` where alpha is 0, ``styled`` where it is 1, blended between; uint8 RGB."""
    if isinstance(alpha, float | int):
        if alpha >= 1.0:
            return styled
        if alpha <= 0.0:
            return camera
        return cv2.addWeighted(styled, float(alpha), camera, 1.0 - float(alpha), 0.0)
    a = alpha[..., None]
    cam = camera.astype(np.float32)
    out = cam + (styled.astype(np.float32) - cam) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


class Stylizer:
    """The network part: resize to the chosen scale, run, stabilise, upsample. No threads.

    ``clock`` measures inference time (tests pass a fake one).
    """

    def __init__(self, config: StyleConfig, device: torch.device | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:  # fmt: skip
        self.config = config
        self.device = device or pick_device(config.device)
        self.half = config.half and self.device.type == "cuda"
        self.clock = clock
        self.adaptive = AdaptiveScale(config.scales, config.budget_ms)
        self.models: dict[str, StyleModel] = {}
        self._runners: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
        self.current = ""
        self._prev: np.ndarray | None = None  # previous stylised frame (processing size)
        #: The network's output for the last frame, before stabilisation (processing size).
        self.last_raw: np.ndarray | None = None
        self._prev_luma: np.ndarray | None = None
        self._key: tuple[str, tuple[int, int]] | None = None
        self.stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None
        self._pinned: dict[tuple[int, ...], torch.Tensor] = {}
        if config.threads is not None and self.device.type == "cpu":
            torch.set_num_threads(config.threads)

    # models -------------------------------------------------------------------------------
    def add_model(self, model: StyleModel, key: str | None = None) -> None:
        """Make ``model`` selectable by its name (and by ``key``, the name or path it was asked by)."""
        net = model.net.to(self.device)
        if self.half:
            net = net.half()
        if self.device.type == "cuda":
            net = net.to(memory_format=torch.channels_last)
        model.net = net
        runner: Callable[[torch.Tensor], torch.Tensor] = net
        if self.config.compile:
            try:
                runner = torch.compile(net, dynamic=False)  # type: ignore[assignment]
            except Exception as exc:  # compile is optional: eager still works
                log.warning("style: torch.compile unavailable (%s); running eagerly", exc)
        for k in {model.name, key or model.name}:
            self.models[k] = model
            self._runners[k] = runner
        if not self.current:
            self.current = model.name

    def load(self, name_or_path: str | Path) -> StyleModel:
        """Load a model by name (from the models folders) or path and make it selectable."""
        model = load_model(resolve_model(name_or_path, list(self.config.models_dirs)))
        self.add_model(model, key=str(name_or_path))
        return model

    def select(self, name: str) -> None:
        """Make ``name`` the current style, loading it first when needed."""
        if name not in self.models:
            self.load(name)
        self.current = name

    @property
    def style_name(self) -> str:
        return self.models[self.current].name if self.current in self.models else ""

    # inference ------------------------------------------------------------------------------
    def processing_size(self, width: int, height: int, scale: float) -> tuple[int, int]:
        f = min(1.0, self.config.max_side / max(width, height)) * scale
        return max(8, round(width * f)), max(8, round(height * f))

    def run(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Stylise a full frame; returns the stylised image at its size and the scale used."""
        out, scale = self.run_batch([image])
        return out[0], scale

    def run_batch(self, images: list[np.ndarray]) -> tuple[list[np.ndarray], float]:
        """Stylise consecutive frames of one size in one pass of the network (a video file's).

        Stabilisation still goes frame by frame, in order.
        """
        h, w = images[0].shape[:2]
        if any(im.shape != images[0].shape for im in images):
            raise ValueError(f"expected frames of one size, got {sorted({im.shape for im in images})}")
        scale = self.adaptive.scale
        pw, ph = self.processing_size(w, h, scale)
        small = [cv2.resize(im, (pw, ph), interpolation=cv2.INTER_AREA) if (pw, ph) != (w, h) else im
                 for im in images]  # fmt: skip
        t0 = self.clock()
        raw = self._infer(np.stack(small) if len(small) > 1 else small[0][None])
        self.adaptive.record(scale, (self.clock() - t0) * 1000.0 / len(images))
        outs = []
        for s, out in zip(small, raw, strict=True):
            self.last_raw = out
            out = self._stabilise(s, out)
            if (pw, ph) != (w, h):
                out = cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)
            outs.append(out)
        return outs, scale

    def _infer(self, small: np.ndarray) -> np.ndarray:
        """(B, H, W, 3) uint8 RGB -> (B, H, W, 3) uint8 RGB."""
        runner = self._runners[self.current]
        if self.stream is None:
            if not small.flags.writeable:  # a camera frame is read-only; torch wants to own one
                small = small.copy()
            with torch.inference_mode():
                x = torch.from_numpy(np.ascontiguousarray(small)).to(self.device)
                x = x.permute(0, 3, 1, 2).float().div_(255.0)
                y = runner(x)
                y = (y.clamp_(0, 1).mul_(255.0).add_(0.5)).to(torch.uint8).permute(0, 2, 3, 1)
                return np.ascontiguousarray(y.cpu().numpy())
        return self._infer_cuda(small, runner)

    def _infer_cuda(self, small: np.ndarray, runner: Callable[[torch.Tensor], torch.Tensor]) -> np.ndarray:
        assert self.stream is not None
        shape = small.shape
        host_in = self._pinned.get(("in", *shape))  # type: ignore[arg-type]
        if host_in is None:
            host_in = torch.empty(shape, dtype=torch.uint8).pin_memory()
            self._pinned[("in", *shape)] = host_in  # type: ignore[index]
            self._pinned[("out", *shape)] = torch.empty(shape, dtype=torch.uint8).pin_memory()  # type: ignore[index]
        host_out = self._pinned[("out", *shape)]  # type: ignore[index]
        host_in.numpy()[...] = small
        dtype = torch.float16 if self.half else torch.float32
        with torch.inference_mode(), torch.cuda.stream(self.stream):
            self.stream.wait_stream(
                torch.cuda.default_stream(self.device)
            )  # weights moved on the default stream
            x = host_in.to(self.device, non_blocking=True)
            x = x.permute(0, 3, 1, 2).to(dtype).div_(255.0).contiguous(memory_format=torch.channels_last)
            y = runner(x)
            y = (y.float().clamp_(0, 1).mul_(255.0).add_(0.5)).to(torch.uint8).permute(0, 2, 3, 1)
            host_out.copy_(y, non_blocking=True)
        self.stream.synchronize()
        return host_out.numpy().copy()

    def _stabilise(self, small: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Motion-gated blend with the previous stylised frame (where the input is still)."""
        cfg = self.config.stabilise
        key = (self.current, (small.shape[1], small.shape[0]))
        if not cfg.enabled or cfg.amount <= 0.0:
            return out
        luma = cv2.GaussianBlur(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.5)
        if self._prev is None or self._key != key:
            self._prev, self._prev_luma, self._key = out, luma, key
            return out
        motion = np.abs(luma - self._prev_luma)
        gate = np.clip(1.0 - motion / cfg.motion, 0.0, 1.0) * cfg.amount
        prev = self._prev.astype(np.float32)
        blended = out.astype(np.float32) * (1.0 - gate[..., None]) + prev * gate[..., None]
        result = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        self._prev, self._prev_luma = result, luma
        return result

    def reset(self) -> None:
        self._prev = self._prev_luma = None
        self._key = None


class StyleStage(ProcessStage[Poses, Styled]):
    """Poses (with their frame and person mask) in, :class:`Styled` frames out, latest wins.

    A poses item without a frame (a replayed take) produces nothing.
    """

    stall_budget_scale = 5.0  # a style step is slower than a pose step

    def __init__(self, stats: Stats, source: Slot[Poses], output: Slot[Styled] | None, config: StyleConfig,
                 controls: Controls | None = None, *, stylizer: Stylizer | None = None,
                 clock: Callable[[], float] = time.monotonic, name: str = "style") -> None:  # fmt: skip
        super().__init__(name, stats, source, output)
        self.config = config
        self.controls = controls or Controls()
        self.clock = clock
        self.stylizer = stylizer or Stylizer(config)
        self._stats_registry = stats
        if stylizer is None:
            for m in [config.model, *config.preload]:
                self.stylizer.load(m)
        self.failures = 0
        self.passed_through = 0
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self.flicker_raw = FlickerMeter()  # the network's own output, before stabilisation
        self.flicker_out = FlickerMeter()  # what the stage hands on

    # parameters ---------------------------------------------------------------------------
    def strength(self, poses: Poses) -> float:
        value = self.controls.get("style.strength")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return min(1.0, max(0.0, float(value)))
        feature = self.config.strength_feature
        if feature is not None:
            x = poses.features.get(feature.name, 0.0)
            if not math.isfinite(x):
                x = 0.0
            return min(1.0, max(0.0, feature.low + (feature.high - feature.low) * min(1.0, max(0.0, x))))
        return self.config.strength

    def region(self) -> str:
        value = self.controls.get("style.region")
        return value if value in ("whole", "performer", "background") else self.config.region  # type: ignore[return-value]

    def _switch_style(self) -> None:
        name = self.controls.get("style.name")
        if isinstance(name, str) and name and name != self.stylizer.current:
            try:
                self.stylizer.select(name)
                self.stylizer.reset()
            except Exception as exc:
                self.report_error(f"style.name {name!r}: {exc}")
                self.controls.set("style.name", self.stylizer.current)

    # processing ---------------------------------------------------------------------------
    def process(self, item: Poses) -> Styled | None:
        frame = item.frame
        if frame is None:
            return None
        camera = frame.image
        self._switch_style()
        strength = self.strength(item)
        region = self.region()
        if strength <= 0.0 or (region != "whole" and item.mask is None and region == "performer"):
            return Styled(item.seq, item.t_capture, camera, 0.0, "")
        now = self.clock()
        if now < self._retry_at:
            self.passed_through += 1
            return Styled(item.seq, item.t_capture, camera, 0.0, "")
        try:
            styled, scale = self.stylizer.run(camera)
        except torch.cuda.OutOfMemoryError:
            self.stylizer.adaptive.step_down()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            return self._failed(item, "CUDA out of memory; stepping the scale down")
        except Exception as exc:
            return self._failed(item, f"{type(exc).__name__}: {exc}")
        self._backoff_s = 0.0
        if self.stylizer.last_raw is not None:
            self.flicker_raw.add(camera, self.stylizer.last_raw)
        alpha: np.ndarray | float = strength
        if region != "whole" and item.mask is not None:
            mask = feather(item.mask, frame.width, frame.height, self.config.feather_px)
            alpha = (mask if region == "performer" else 1.0 - mask) * strength
        image = compose(camera, styled, alpha)
        self.flicker_out.add(camera, image)
        if self.stats.frames % 30 == 0:
            self._stats_registry.extra[self.name] = self.report()
        return Styled(item.seq, item.t_capture, image, scale, self.stylizer.style_name)

    def _failed(self, item: Poses, message: str) -> Styled:
        self.failures += 1
        self.passed_through += 1
        retry = self.config.retry
        self._backoff_s = retry.first_s if self._backoff_s == 0.0 else min(retry.max_s, self._backoff_s * 2)
        self._retry_at = self.clock() + self._backoff_s
        self.report_error(f"{message}; passing frames through, retry in {self._backoff_s:g} s")
        assert item.frame is not None
        return Styled(item.seq, item.t_capture, item.frame.image, 0.0, "")

    def report(self) -> dict[str, object]:
        """For the stats file: scale, per-scale ms, failures, flicker of network output and of result."""
        a = self.stylizer.adaptive
        return {
            "style": self.stylizer.style_name,
            "device": str(self.stylizer.device),
            "scale": a.scale,
            "ms_by_scale": {str(s): round(v, 2) for s, v in a.ema.items()},
            "failures": self.failures,
            "passed_through": self.passed_through,
            "flicker_raw": round(self.flicker_raw.value, 3),
            "flicker_out": round(self.flicker_out.value, 3),
        }
