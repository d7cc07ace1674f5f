"""Feed-forward style networks (Johnson, Alahi and Fei-Fei 2016).

Images go in and come out as float (B, 3, H, W) RGB in 0..1. Any H and W work; sizes that
are not multiples of 4 are padded by reflection and cropped back.

Networks trained by perform squash their output with tanh. Imported pytorch/examples models
(``pixels255=1``) see the image in 0..255 and give a linear output in 0..255, as they were
trained; the stage clamps it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from perform.style.config import ARCHITECTURES


class ConvLayer(nn.Module):
    """Reflection padding, then a convolution (no padding artefacts at the border)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.pad = nn.ReflectionPad2d(dilation * (kernel // 2))
        self.conv = nn.Conv2d(cin, cout, kernel, stride, dilation=dilation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pad.padding[0]
        if p >= min(x.shape[-2:]):  # reflection needs more pixels than a dilated pad on a tiny input
            return self.conv(F.pad(x, (p, p, p, p), mode="replicate"))
        return self.conv(self.pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, dilation=dilation)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, dilation=dilation)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class UpsampleConv(nn.Module):
    """Nearest 2x upsampling then a convolution: no checkerboard, unlike a transposed conv."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv = ConvLayer(cin, cout, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class TransformerNet(nn.Module):
    """Down (9x9, two stride-2 3x3), ``blocks`` residual blocks, up (two 2x), 9x9 out.

    ``width`` is the first layer's channel count; the deeper layers have 2x and 4x that.
    ``dilation`` (1..4): residual block ``i`` dilates its convolutions by ``dilation ** i``, which
    widens what each output pixel sees at the same cost and with the same weights.
    ``pixels255`` (0 or 1): pytorch/examples' convention, 0..255 in and a linear output.
    """

    def __init__(self, width: int = 32, blocks: int = 5, pixels255: int = 0, dilation: int = 1) -> None:
        super().__init__()
        if (
            width < 1
            or not 0 <= blocks <= 16
            or pixels255 not in (0, 1)
            or not 1 <= dilation <= 4
            or dilation ** max(blocks - 1, 0) > 16
        ):
            raise ValueError(
                "expected width >= 1, blocks 0..16, pixels255 0 or 1, dilation 1..4 with "
                f"dilation ** (blocks - 1) <= 16, got {width}, {blocks}, {pixels255}, {dilation}"
            )
        self.width, self.blocks, self.pixels255, self.dilation = width, blocks, pixels255, dilation
        w1, w2, w3 = width, 2 * width, 4 * width
        self.down = nn.Sequential(
            ConvLayer(3, w1, 9),
            nn.InstanceNorm2d(w1, affine=True),
            nn.ReLU(inplace=True),
            ConvLayer(w1, w2, 3, stride=2),
            nn.InstanceNorm2d(w2, affine=True),
            nn.ReLU(inplace=True),
            ConvLayer(w2, w3, 3, stride=2),
            nn.InstanceNorm2d(w3, affine=True),
            nn.ReLU(inplace=True),
        )
        self.res = nn.Sequential(*[ResidualBlock(w3, dilation**i) for i in range(blocks)])
        self.up = nn.Sequential(
            UpsampleConv(w3, w2, 3),
            nn.InstanceNorm2d(w2, affine=True),
            nn.ReLU(inplace=True),
            UpsampleConv(w2, w1, 3),
            nn.InstanceNorm2d(w1, affine=True),
            nn.ReLU(inplace=True),
            ConvLayer(w1, 3, 9),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) RGB 0..1 -> (B, 3, H, W) RGB 0..1."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B,3,H,W), got {tuple(x.shape)}")
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect" if min(h, w) > max(ph, pw) else "replicate")
        if self.pixels255:
            y = self.up(self.res(self.down(x * 255.0))) / 255.0
        else:
            y = (torch.tanh(self.up(self.res(self.down(x * 2.0 - 1.0)))) + 1.0) * 0.5
        return y[..., :h, :w] if (ph or pw) else y

    @property
    def hyper(self) -> dict[str, int]:
        """The hyper-parameters a model file records (``pixels255``, ``dilation`` only when set)."""
        extra = {"pixels255": 1} if self.pixels255 else {}
        if self.dilation != 1:
            extra["dilation"] = self.dilation
        return {"width": self.width, "blocks": self.blocks, **extra}


def build_net(architecture: str, **overrides: int) -> TransformerNet:
    """The network for a named architecture, optionally with other hyper-parameters."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"expected an architecture in {sorted(ARCHITECTURES)}, got {architecture!r}")
    return TransformerNet(**{**ARCHITECTURES[architecture], **overrides})
