"""An NDI source as the camera: a TouchDesigner output, an NDI camera, another machine."""

from __future__ import annotations

import time

import numpy as np

from perform.capture.base import Source
from perform.capture.config import NdiSource
from perform.errors import SourceError
from perform.share.ndi import NdiReceiver

#: How often a read looks for a new frame: well above any sender's rate.
POLL_S = 0.002


class NdiInput(Source):
    """Frames from the NDI source ``config.name``; found again by name when it comes back.

    A source not in sight, or one that sends nothing for ``timeout_s``, raises
    :class:`SourceError`, and the capture stage reopens it with its back-off.
    """

    def __init__(self, config: NdiSource) -> None:
        self.config = config
        self.name = f"ndi {config.name!r}"
        self._receiver: NdiReceiver | None = None

    def open(self) -> None:
        receiver = NdiReceiver(self.config.name)
        try:
            receiver.connect(self.config.find_s)
        except BaseException:
            receiver.close()
            raise
        self._receiver = receiver
        self.name = f"ndi {receiver.source_name!r}"

    def read(self) -> tuple[np.ndarray, float] | None:
        receiver = self._receiver
        if receiver is None:
            raise SourceError(f"{self.name} is not open")
        deadline = time.monotonic() + self.config.timeout_s
        while time.monotonic() < deadline:
            got = receiver.read()
            if got is not None:
                return got
            time.sleep(POLL_S)
        raise SourceError(f"{self.name} sent nothing for {self.config.timeout_s:g} s")

    def close(self) -> None:
        receiver, self._receiver = self._receiver, None
        if receiver is not None:
            receiver.close()
