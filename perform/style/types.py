"""What the style stage hands on (no torch here: the renderer and OSC read it with style off)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Styled:
    """One stylised frame: ``image`` is (H, W, 3) uint8 RGB at the camera frame's size.

    ``scale`` is the ladder scale the network ran at (0.0 when the frame was passed through),
    ``style`` the model's name ("" when passed through).
    """

    seq: int
    t_capture: float
    image: np.ndarray
    scale: float
    style: str

    @property
    def styled(self) -> bool:
        return self.scale > 0.0
