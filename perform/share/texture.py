"""Texture sharing on this machine: Syphon on macOS (``syphon-python``), Spout on Windows
(``SpoutGL``), picked by :func:`texture_sink`. Both are handed the rendered pixels on the output's
own thread; elsewhere the output is reported unavailable in one line."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from perform.errors import StageError
from perform.share.base import VideoSink

#: OpenGL's GL_RGBA, without importing PyOpenGL for one constant.
GL_RGBA = 0x1908


class SyphonSink(VideoSink):
    """A Syphon Metal server named ``server``; each picture is copied into one Metal texture."""

    def __init__(self, server: str, width: int, height: int) -> None:
        self.server_name, self.width, self.height = server, width, height
        self.name = f"syphon {server!r}"
        self._server: Any = None
        self._texture: Any = None
        self._copy: Any = None

    def open(self) -> None:
        try:
            import syphon
            from syphon.utils.numpy import copy_image_to_mtl_texture
            from syphon.utils.raw import create_mtl_texture
        except Exception as exc:
            raise StageError(f"Syphon is unavailable ({exc}); pip install syphon-python") from None
        self._server = syphon.SyphonMetalServer(self.server_name)
        self._texture = create_mtl_texture(self._server.device, self.width, self.height)
        self._copy = copy_image_to_mtl_texture

    def send(self, pixels: np.ndarray, t_capture: float) -> None:
        self._copy(pixels, self._texture)
        self._server.publish_frame_texture(self._texture)

    def close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.stop()


class SpoutSink(VideoSink):
    """A Spout sender named ``sender``, fed RGBA pixels through ``sendImage``."""

    def __init__(self, sender: str, width: int, height: int) -> None:
        self.sender_name, self.width, self.height = sender, width, height
        self.name = f"spout {sender!r}"
        self._sender: Any = None

    def open(self) -> None:
        try:
            import SpoutGL
        except Exception as exc:
            raise StageError(f"Spout is unavailable ({exc}); pip install SpoutGL") from None
        sender = SpoutGL.SpoutSender()
        sender.setSenderName(self.sender_name)
        self._sender = sender

    def send(self, pixels: np.ndarray, t_capture: float) -> None:
        if not self._sender.sendImage(pixels, self.width, self.height, GL_RGBA, False, 0):
            raise StageError(f"{self.name}: sendImage failed")

    def close(self) -> None:
        sender, self._sender = self._sender, None
        if sender is not None:
            sender.releaseSender()


def texture_sink(name: str, width: int, height: int, platform: str = sys.platform) -> VideoSink:
    """Syphon on macOS, Spout on Windows; a :class:`StageError` elsewhere."""
    if platform == "darwin":
        return SyphonSink(name, width, height)
    if platform == "win32":
        return SpoutSink(name, width, height)
    raise StageError(f"texture sharing is unavailable on {platform} (Syphon: macOS, Spout: Windows); use NDI")
