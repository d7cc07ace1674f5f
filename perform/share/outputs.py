"""The show's video outputs, opened from its ``outputs`` section; one that cannot open is left out
with one line and the show goes on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from perform.errors import PerformError
from perform.pipeline import Slot
from perform.share.base import Convert, VideoOut, VideoSink
from perform.share.config import ShareConfig

log = logging.getLogger(__name__)


def stage_sinks(config: ShareConfig, width: int, height: int, fps: float) -> list[Callable[[], VideoSink]]:
    """Makers of the sinks that take the stage picture, as ``config`` asks."""
    makers: list[Callable[[], VideoSink]] = []
    if config.ndi.name is not None:
        from perform.share.ndi import NdiSink

        name = config.ndi.name
        makers.append(lambda: NdiSink(name, width, height, fps))
    if config.texture is not None:
        from perform.share.texture import texture_sink

        texture = config.texture
        makers.append(lambda: texture_sink(texture, width, height))
    if config.virtual_camera:
        from perform.share.virtualcam import VirtualCamera

        makers.append(lambda: VirtualCamera(width, height, fps))
    return makers


def open_outputs(
    makers: list[Callable[[], VideoSink]],
    *,
    bottom_up: bool = False,
    follow: Slot[Any] | None = None,
    convert: Convert | None = None,
) -> list[VideoOut]:
    """A running :class:`VideoOut` for each sink that opens; the others are logged and left out."""
    outs = []
    for make in makers:
        try:
            outs.append(VideoOut(make(), bottom_up=bottom_up, follow=follow, convert=convert))
        except PerformError as exc:
            log.warning("%s; the show goes on without it", exc)
    return outs
