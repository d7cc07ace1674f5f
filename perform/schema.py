"""Base pieces of perform's configuration models, shared by every section of a show file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _resolve(path: Path, info: ValidationInfo) -> Path:
    """Relative paths in a show file are relative to the file's own folder."""
    base = (info.context or {}).get("base_dir")
    if base is not None and not path.is_absolute():
        return (Path(base) / path).resolve()
    return path.expanduser()


class Crop(Model):
    """Fractions of the image cut away on each side, after mirror and rotate."""

    left: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the width cut from the left.")
    right: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the width cut from the right.")
    top: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the height cut from the top.")
    bottom: float = Field(0.0, ge=0.0, lt=1.0, description="Fraction of the height cut from the bottom.")

    @model_validator(mode="after")
    def _leaves_something(self) -> Crop:
        if self.left + self.right >= 1.0 or self.top + self.bottom >= 1.0:
            raise ValueError("crop removes the whole image: left+right and top+bottom must stay below 1")
        return self

    @property
    def is_identity(self) -> bool:
        return self.left == self.right == self.top == self.bottom == 0.0


class SourceBase(Model):
    """Options every source has: how its image is turned before anything else sees it."""

    mirror: bool = Field(False, description="Flip left-right, so performers see themselves as in a mirror.")
    rotate: Literal[0, 90, 180, 270] = Field(0, description="Clockwise rotation in degrees.")
    crop: Crop = Field(default_factory=Crop, description="Margins cut away, as fractions of the image.")
