"""The ``midi:`` section of a show file: features as control changes, events as notes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from perform.audio import analysis as _audio  # noqa: F401  (registers the audio features)
from perform.mapping import ValueMap
from perform.pipeline.features import REGISTRY
from perform.schema import Model
from perform.vision import features as _body  # noqa: F401  (registers the body and floor features)


class MidiCC(Model):
    """A feature sent as a control change."""

    feature: str = Field(description="Feature name as emitted: `p1.energy`, `stage.energy`, `people`.")
    channel: int = Field(1, ge=1, le=16, description="MIDI channel, 1..16.")
    cc: int = Field(ge=0, le=127, description="Controller number, 0..127.")
    map: ValueMap | None = Field(
        None, description="Custom mapping onto 0..1 before scaling to 0..127 (null: the feature's range)."
    )

    @field_validator("feature")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            REGISTRY.info(value)
        except KeyError as exc:
            raise ValueError(str(exc.args[0])) from None
        return value


class MidiNote(Model):
    """An event sent as a note: note on at its start, note off at its end."""

    event: str = Field(
        description="Event name (`hands_up`, any performer) or address suffix (`p2/hands_up`); "
        "shell patterns allowed."
    )
    channel: int = Field(1, ge=1, le=16, description="MIDI channel, 1..16.")
    note: int = Field(ge=0, le=127, description="Note number, 0..127 (60 is middle C).")
    velocity: int | Literal["value"] = Field(
        "value", description="1..127, or `value`: the event's value (0..1) scaled to 1..127."
    )
    hold: bool = Field(
        True,
        description="Hold the note until the event ends; off, note off follows at once (instant events).",
    )

    @field_validator("velocity")
    @classmethod
    def _velocity(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 1 <= value <= 127:
            raise ValueError(f"velocity: expected 1..127 or 'value', got {value}")
        return value


class Midi(Model):
    """MIDI out: features as CCs, events as notes, through one port."""

    enabled: bool = Field(True, description="Send MIDI when there are mappings.")
    port: str = Field(
        "perform", min_length=1, description="Output port name (or the start of it); the virtual port's name."
    )
    virtual: bool = Field(
        False, description="Create a virtual port that Ableton and other programs see (Linux, macOS)."
    )
    cc: list[MidiCC] = Field([], description="Features to control changes.")
    notes: list[MidiNote] = Field([], description="Events to notes.")
    rate_hz: float = Field(
        60.0,
        gt=0,
        le=1000,
        description="Most CC updates per second; a CC is only sent when its value changes.",
    )
