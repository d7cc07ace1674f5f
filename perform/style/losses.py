"""Training losses: what "looks like the painting" and "still shows the photo" mean in numbers.

Three kinds, each saved by name (``kind``) with its weights in the model file:

* ``mediapipe`` (default, nothing downloaded): sliced Wasserstein distance (Heitz et al. 2021)
  between the feature distributions of MediaPipe's palm detector (trained features, from the
  mediapipe wheel) at strides 2 to 16, plus sliced Wasserstein on RGB pixels for the palette.
  Content: the palm features at strides 4, 8 and 16 and an L1 term on the Sobel edges of
  luminance, which keep a performer readable; optionally (``pose_weight``) the features of
  BlazePose's person detector and landmark model, which keep the performer findable by the pose
  model.
* ``offline`` (nothing downloaded): the same with a fixed random conv net at full and half size
  instead of the palm detector. It moves the palette and adds a fine grain, little more.
* ``vgg``: Johnson et al.'s perceptual loss, Gram matrices on VGG16 relu1_2..relu4_3, content on
  relu2_2 (torchvision's weights: ``--vgg FILE`` or ``--vgg download``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from perform.style.config import LOSSES
from perform.style.features import (
    PalmFeatures,
    PoseDetectorFeatures,
    PoseFeatures,
    RandomFeatures,
    VGG16Features,
)

#: The networks the pose term can compare features of, by name.
POSE_NETWORKS = {"detector": PoseDetectorFeatures, "landmark": PoseFeatures}


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
    points = target.flatten(2).transpose(1, 2)[0]  # (M, C)
    if points.shape[0] > 2 * px.shape[1]:  # a large style image: a random sample has the same quantiles
        keep = torch.randperm(points.shape[0], generator=generator)[: 2 * px.shape[1]]
        points = points[keep.to(points.device)]
    pt = torch.sort(points @ dirs, dim=0).values  # (M, P)
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


def total_variation(x: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between horizontal and vertical neighbours."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def feature_distance(
    features: nn.Module, x: torch.Tensor, target: torch.Tensor, taps: tuple[int, ...]
) -> torch.Tensor:
    """Mean over ``taps`` of the squared feature difference, each over the target's mean square.

    0 for identical images; about 1 when the features have nothing left of the target's.
    """
    with torch.no_grad():
        want = features(target)
    got = features(x)
    return sum(F.mse_loss(got[t], want[t]) / (want[t].pow(2).mean() + 1e-6) for t in taps) / len(taps)


def gram(x: torch.Tensor) -> torch.Tensor:
    _b, c, h, w = x.shape
    f = x.flatten(2)
    return f @ f.transpose(1, 2) / (c * h * w)


def _rescale(x: torch.Tensor, scale: float) -> torch.Tensor:
    if scale == 1.0:
        return x
    return F.interpolate(x, scale_factor=scale, mode="bilinear", align_corners=False, antialias=True)


Parts = dict[str, float]


@dataclass
class MediapipeLossConfig:
    """Weights and sizes of the palm-feature loss; they are saved in the model file."""

    kind: str = "mediapipe"
    # a photo scores about 0.2 on the style term and 1 to 3 on the others: weigh style up
    style_weight: float = 30.0
    pixel_weight: float = 1.0
    content_weight: float = 1.0
    edge_weight: float = 0.5
    #: Total variation (L1 of neighbour differences): damps the fine stripes stride-2 layers leave.
    tv_weight: float = 2.0
    projections: int = 64
    #: Sizes (fractions of the style image and of the output) the style features are taken at.
    scales: tuple[float, ...] = (1.0,)
    #: Palm taps compared with the photo (0, 1: stride 2; 2: stride 4; 3: stride 8; 4: stride 16).
    #: The deeper ones keep shapes a person detector reads; stride 4 keeps the outlines.
    content_taps: tuple[int, ...] = (2, 3, 4)
    #: Weight of the pose term: the features of BlazePose's networks (:data:`POSE_NETWORKS`) on the
    #: output against the photo's, so the pose model still finds the performer. 0: off (not built).
    pose_weight: float = 0.0
    pose_networks: tuple[str, ...] = ("detector", "landmark")
    #: Taps of each compared (1: stride 2, 2: stride 4, 3: stride 8, 4: stride 16). The deep ones
    #: say where a person is and leave the brushwork free; with the shallow ones too the style fades.
    pose_taps: tuple[int, ...] = (3, 4)


class MediapipeLoss(nn.Module):
    """Palm-detector sliced Wasserstein style + pixel colour SW + palm-feature and edge content
    (+ pose-model features with ``pose_weight``).

    Each feature map's term is divided by its mean square on the style image, so every stride
    counts alike whatever the size of its activations.
    """

    def __init__(self, style: torch.Tensor, config: MediapipeLossConfig | None = None) -> None:
        super().__init__()
        self.config = config or MediapipeLossConfig()
        self.features = PalmFeatures()
        self.pose = (
            nn.ModuleList(POSE_NETWORKS[n]() for n in self.config.pose_networks)
            if self.config.pose_weight > 0
            else None
        )
        with torch.no_grad():
            feats = [f for s in self.config.scales for f in self.features(_rescale(style, s))]
        self.style_feats = feats
        self.norms = [float(f.pow(2).mean()) + 1e-6 for f in feats]
        self.style_pixels = style

    def forward(
        self, out: torch.Tensor, content: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, Parts]:
        cfg = self.config
        out_feats = [f for s in cfg.scales for f in self.features(_rescale(out, s))]
        style = sum(
            sliced_wasserstein(o, t, cfg.projections, generator) / n
            for o, t, n in zip(out_feats, self.style_feats, self.norms, strict=True)
        ) * (1.0 / len(out_feats))
        pixel = sliced_wasserstein(out, self.style_pixels, 32, generator) * 100.0
        with torch.no_grad():
            targets = self.features(content)
        feat = sum(F.mse_loss(out_feats[t], targets[t]) / self.norms[t] for t in cfg.content_taps)
        edges = F.l1_loss(sobel_edges(out), sobel_edges(content)) * 10.0
        tv = total_variation(out)
        pose = 0.0
        for net in self.pose or ():
            pose = pose + feature_distance(net, out, content, cfg.pose_taps) / len(self.pose)
        total = (
            cfg.style_weight * style
            + cfg.pixel_weight * pixel
            + cfg.content_weight * (feat + cfg.edge_weight * edges)
            + cfg.tv_weight * tv
            + cfg.pose_weight * pose
        )
        return total, _parts(style=style, pixel=pixel, content=feat, edges=edges, tv=tv, pose=pose)


@dataclass
class OfflineLossConfig:
    """Weights and sizes of the random-feature loss; they are saved in the model file."""

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
    ) -> tuple[torch.Tensor, Parts]:
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
        return total, _parts(style=style, pixel=pixel, content=feat, edges=edges)


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
    ) -> tuple[torch.Tensor, Parts]:
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
        return total, _parts(content=content_loss, style=style_loss)


def _parts(**terms: torch.Tensor | float) -> Parts:
    return {k: float(v.detach()) if isinstance(v, torch.Tensor) else float(v) for k, v in terms.items()}


def build_loss(
    kind: str,
    style: torch.Tensor,
    *,
    style_weight: float = 1.0,
    content_weight: float = 1.0,
    pose_weight: float = 0.0,
    edge_weight: float | None = None,
    vgg: VGG16Features | None = None,
) -> nn.Module:
    """The loss ``kind`` toward the ``style`` image (1, 3, H, W in 0..1), its weights scaled.

    ``pose_weight`` (the mediapipe loss only) adds the pose-model content term; ``edge_weight``
    (mediapipe and offline) replaces the default weight of the edge term.
    """
    if pose_weight and kind != "mediapipe":
        raise ValueError(f"the pose term needs the mediapipe loss, got {kind!r}")
    if edge_weight is not None and kind == "vgg":
        raise ValueError("the vgg loss has no edge term")
    if kind == "vgg":
        if vgg is None:
            raise ValueError("the vgg loss needs the VGG16 network (load_vgg16)")
        cfg_v = VggLossConfig()
        cfg_v.style_weight *= style_weight
        cfg_v.content_weight *= content_weight
        return VggLoss(style, vgg, cfg_v)
    if kind == "offline":
        cfg_o = OfflineLossConfig()
        cfg_o.style_weight *= style_weight
        cfg_o.content_weight *= content_weight
        if edge_weight is not None:
            cfg_o.edge_weight = edge_weight
        return OfflineLoss(style, cfg_o)
    if kind == "mediapipe":
        cfg_m = MediapipeLossConfig()
        cfg_m.style_weight *= style_weight
        cfg_m.content_weight *= content_weight
        cfg_m.pose_weight = pose_weight
        if edge_weight is not None:
            cfg_m.edge_weight = edge_weight
        return MediapipeLoss(style, cfg_m)
    raise ValueError(f"expected a loss in {LOSSES}, got {kind!r}")
