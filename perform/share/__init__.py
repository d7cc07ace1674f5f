"""Video to and from other software: NDI out and in, Syphon, Spout, a virtual camera.

Each backend is a :class:`~perform.share.base.VideoSink` in its own module, imported only when a
show uses it (cyndilib, syphon, SpoutGL and pyvirtualcam are optional); :class:`VideoOut` runs
one on its own thread, latest-wins.
"""

from perform.share.base import VideoOut, VideoSink
from perform.share.config import NdiOut, ShareConfig
from perform.share.outputs import open_outputs, stage_sinks

__all__ = ["NdiOut", "ShareConfig", "VideoOut", "VideoSink", "open_outputs", "stage_sinks"]
