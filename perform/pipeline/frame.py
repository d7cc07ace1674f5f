"""The unit that travels through the pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class Stamped(Protocol):
    """Anything a stage hands on: it knows which frame it came from and when that was captured."""

    @property
    def seq(self) -> int: ...

    @property
    def t_capture(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image.

    ``image`` is H x W x 3 uint8 RGB and read-only: stages share it, none may change it.
    ``t_capture`` is ``time.monotonic()`` at the moment the image was grabbed; every latency
    perform reports is measured from it.
    """

    image: np.ndarray
    seq: int
    t_capture: float
    source: str = ""

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
