"""The event record every producer (rules, zones, taught poses, tracking) and consumer (OSC, MIDI) shares."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Event:
    """A named moment.

    ``active`` is True on the start edge and False on the end edge; an instant event (a jump,
    an entrance) has only a start. ``slot`` is the performer (1, 2, ...) or None for the whole
    stage. ``t`` is the capture time of the frame that caused it; ``value`` a confidence (taught
    poses), a dwell time (zones) or 1.0.
    """

    name: str
    slot: int | None
    active: bool
    t: float
    value: float = 1.0

    @property
    def address_suffix(self) -> str:
        """``hands_up`` or ``p2/hands_up``: the OSC address tail of this event."""
        return self.name if self.slot is None else f"p{self.slot}/{self.name}"


def as_event(item: object) -> Event | None:
    """An :class:`Event`; a tracker's person event (``kind`` enter/leave) becomes an instant one."""
    if isinstance(item, Event):
        return item
    kind, slot, t = getattr(item, "kind", None), getattr(item, "slot", None), getattr(item, "t", None)
    if isinstance(kind, str) and t is not None:
        return Event(kind, slot, True, float(t))
    return None
