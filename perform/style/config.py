"""The ``style:`` section of a show file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from perform.schema import Model

Region = Literal["whole", "performer", "background"]

#: Architecture name -> its hyper-parameters. ``johnson`` is the paper's network; ``realtime``
#: is the same design at half the width with fewer residual blocks, for 2-core machines; ``wide``
#: is ``realtime`` with dilated residual blocks (1, 2, 4): the same weights and cost, and each
#: output pixel sees about 139 px around it instead of 75 (room for strokes and swirls).
ARCHITECTURES: dict[str, dict[str, int]] = {
    "johnson": {"width": 32, "blocks": 5},
    "realtime": {"width": 16, "blocks": 3},
    "wide": {"width": 16, "blocks": 3, "dilation": 2},
}
#: Training losses (perform.style.losses): palm-detector features, random features, VGG16.
LOSSES = ("mediapipe", "offline", "vgg")


class StrengthFeature(Model):
    """Strength follows a pose feature: ``low`` + (``high`` - ``low``) x feature, clipped to 0..1."""

    name: str = Field(description="Feature name from the pose stage, e.g. stage.energy or p1.energy.")
    low: float = Field(0.0, ge=0.0, le=1.0, description="Strength when the feature is 0.")
    high: float = Field(1.0, ge=0.0, le=1.0, description="Strength when the feature is 1.")


class Stabilise(Model):
    """Temporal stabilisation: where the camera image did not move, keep the previous stylised pixels."""

    enabled: bool = Field(
        True, description="Blend each stylised frame with the previous one where nothing moved."
    )
    amount: float = Field(
        0.7, ge=0.0, lt=1.0, description="Weight of the previous frame where the input is still (0: off)."
    )
    motion: float = Field(
        12.0,
        gt=0.0,
        le=255.0,
        description="Change of blurred luminance (0..255) from which a pixel counts as moving.",
    )


class Retry(Model):
    """After a failure the stage passes frames through, then tries again after a doubling wait."""

    first_s: float = Field(0.5, gt=0.0, le=60.0, description="Wait after the first failure, in seconds.")
    max_s: float = Field(5.0, gt=0.0, le=600.0, description="Longest wait between tries, in seconds.")


class StyleConfig(Model):
    """Live style transfer of the camera image, on the whole frame or only on or around the performer."""

    enabled: bool = Field(
        False, description="Run the style stage (it needs the CPU or GPU time the pose stage leaves)."
    )
    model: str = Field(
        "starry_night",
        description="Style model to start with: a name from the models folders or a .pt file path.",
    )
    preload: list[str] = Field(
        default_factory=list, description="Other models loaded at start so style.name can switch at once."
    )
    models_dirs: list[Path] = Field(
        default_factory=list, description="Folders searched for models by name, after the shipped models/."
    )
    device: Literal["auto", "cuda", "mps", "cpu"] = Field(
        "auto", description="Where the network runs; auto picks CUDA, then MPS, then CPU."
    )
    half: bool = Field(True, description="Half precision on CUDA (ignored elsewhere).")
    compile: bool = Field(False, description="torch.compile the network (CUDA; slow first frames per scale).")
    threads: int | None = Field(
        None, ge=1, le=256, description="CPU threads for the network on CPU; default: torch's choice."
    )
    budget_ms: float = Field(
        50.0, gt=0.0, le=10_000.0, description="Time one frame may take; the largest scale that fits is used."
    )
    scales: list[float] = Field(
        default_factory=lambda: [1.0, 0.75, 0.5, 0.375, 0.25],
        min_length=1,
        description="Ladder of processing scales (fractions of max_side); the result is upsampled.",
    )
    max_side: int = Field(
        960, ge=32, le=8192, description="Longest side, in pixels, the network sees at scale 1.0."
    )
    region: Region = Field("whole", description="Where the style goes: whole frame, performer or background.")
    feather_px: float = Field(
        6.0, ge=0.0, le=200.0, description="Softness of the mask edge (Gaussian sigma, in frame pixels)."
    )
    strength: float = Field(1.0, ge=0.0, le=1.0, description="Blend of stylised over camera image (0..1).")
    strength_feature: StrengthFeature | None = Field(
        None, description="Drive strength from a pose feature instead; the style.strength parameter wins."
    )
    stabilise: Stabilise = Field(default_factory=Stabilise, description="Flicker reduction.")
    retry: Retry = Field(default_factory=Retry, description="Back-off after failures.")

    @field_validator("scales")
    @classmethod
    def _scales(cls, v: list[float]) -> list[float]:
        if any(not 0.0 < s <= 1.0 for s in v):
            raise ValueError(f"expected scales in (0, 1], got {v}")
        return sorted(set(v), reverse=True)

    @model_validator(mode="after")
    def _retry_order(self) -> StyleConfig:
        if self.retry.max_s < self.retry.first_s:
            raise ValueError("retry.max_s must be at least retry.first_s")
        return self
