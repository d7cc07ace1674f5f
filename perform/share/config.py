"""The ``outputs.share`` section of a show file: NDI sources and local texture/camera outputs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from perform.schema import Model


class NdiOut(Model):
    """NDI sources this show publishes (found by TouchDesigner, Resolume, OBS, vMix)."""

    name: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Name of the stage picture's NDI source (null: no NDI). The others are called "
        "`NAME styled`, `NAME mask` and `NAME skeleton`.",
    )
    styled: bool = Field(False, description="Also publish the stylised camera image.")
    mask: Literal["off", "alpha", "grey"] = Field(
        "off",
        description="Also publish the performers' mask: as the alpha of the camera image, or as grey.",
    )
    skeleton: bool = Field(False, description="Also publish the camera image with the skeletons drawn.")


class ShareConfig(Model):
    """Live video for other software on this machine or network."""

    ndi: NdiOut = Field(default_factory=NdiOut, description="NDI out (needs `pip install perform[ndi]`).")
    texture: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="Share the stage picture as a Syphon (macOS) or Spout (Windows) texture of this "
        "name (null: off); elsewhere it is reported unavailable and the show goes on.",
    )
    virtual_camera: bool = Field(
        False,
        description="Send the stage picture to a virtual camera (pyvirtualcam: v4l2loopback on Linux, "
        "OBS's camera on Windows and macOS), for software that only takes a webcam.",
    )
