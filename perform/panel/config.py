"""The ``panel:`` section of a show file: the operator's web page, served by the show itself."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from perform.schema import Model, Network

#: Characters a parameter name may have (as ``/perform/param/NAME`` takes them).
_PARAM = re.compile(r"[A-Za-z_][\w.-]{0,63}")


class PanelParam(Model):
    """A show parameter the panel offers: a slider between ``min`` and ``max``, or a toggle.

    The page sets it as ``/perform/param/NAME`` does; a scene reads it with ``from: param:NAME``.
    """

    name: str = Field(description="The parameter's name (letters, digits, _ . -).")
    kind: Literal["slider", "toggle"] = Field("slider", description="A slider or an on/off toggle.")
    min: float = Field(0.0, description="slider: lowest value.")
    max: float = Field(1.0, description="slider: highest value.")
    step: float = Field(0.01, gt=0, description="slider: smallest change.")
    default: float | bool | None = Field(None, description="Shown before anyone sets it (null: min or off).")
    label: str | None = Field(None, max_length=64, description="Shown on the page (null: the name).")

    @field_validator("name")
    @classmethod
    def _plain(cls, value: str) -> str:
        if not _PARAM.fullmatch(value):
            raise ValueError(f"expected a parameter name (letters, digits, _ . -, at most 64), got {value!r}")
        return value

    @model_validator(mode="after")
    def _range(self) -> PanelParam:
        if self.kind == "slider" and not self.min < self.max:
            raise ValueError(f"min must be below max, got [{self.min}, {self.max}]")
        return self


class Panel(Model):
    """The operator's web panel on a phone or tablet (`--panel [HOST:]PORT`; docs/panel.md)."""

    enabled: bool = Field(False, description="Serve the panel (--panel turns it on).")
    host: str = Field(
        "0.0.0.0",
        description="Interface to listen on: 0.0.0.0 every interface (a tablet on the show network), "
        "127.0.0.1 this machine only.",
    )
    port: int = Field(8090, ge=0, le=65535, description="TCP port of the page (0: any free port).")
    passcode: str | None = Field(
        None,
        min_length=6,
        max_length=64,
        description="What the page asks for before it shows or changes anything, at least 6 characters "
        "(null: a new 6-digit code at every start, printed in the terminal).",
    )
    allow: list[Network] = Field(
        default_factory=list,
        description="Who may open the page: addresses and networks such as 192.168.1.0/24 (empty: everyone "
        "who reaches the port, passcode still asked).",
    )
    max_clients: int = Field(8, ge=1, le=64, description="Pages open at once; more are turned away.")
    updates_hz: float = Field(15.0, gt=0, le=30, description="Live updates a second to each page.")
    preview_fps: float = Field(4.0, ge=0, le=15, description="Stage picture previews a second (0: none).")
    preview_width: int = Field(320, ge=64, le=1280, description="Width of the preview in pixels.")
    history_s: int = Field(180, ge=10, le=1800, description="Seconds of health the graphs show.")
    params: list[PanelParam] = Field(
        default_factory=list,
        max_length=64,
        description="Parameters offered as sliders and toggles, beside those the scenes bind "
        "(`from: param:NAME`, with the binding's range) and style.strength.",
    )


def panel_address(text: str) -> tuple[str | None, int]:
    """``--panel`` as (host or None, port): ``8090``, ``127.0.0.1:0``, ``[::1]:8090``."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    try:
        number = int(port)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise ValueError(f"--panel: expected [HOST:]PORT with PORT 0..65535, got {text!r}")
    return (host.strip("[]") or None), number
