"""Features to control changes (0..127 through the feature's range) and events to notes.

The port is opened through mido's python-rtmidi backend. Without python-rtmidi, or without a
MIDI system (no ALSA sequencer on Linux), :func:`open_port` returns one clear sentence and
:class:`MidiOut` stays silent: the show goes on without MIDI.
"""

from __future__ import annotations

import fnmatch
import logging
import time
from typing import Any, Protocol

import mido

from perform.events.types import Event, as_event
from perform.mapping import map_value
from perform.midi.config import Midi, MidiNote
from perform.pipeline import POLL_S, EventCursor, EventLog, Reader, Slot, Stage, Stats
from perform.pipeline.features import REGISTRY
from perform.pipeline.stage import StageState
from perform.quiet import quiet_stderr
from perform.vision.types import Poses

log = logging.getLogger(__name__)


class MidiPort(Protocol):
    """What :class:`MidiOut` needs of a port (a mido output port, or a fake in tests)."""

    def send(self, msg: mido.Message) -> None: ...

    def close(self) -> None: ...


def open_port(config: Midi) -> tuple[MidiPort | None, str | None]:
    """The output port ``config`` names, or None and why not (one sentence for the operator)."""
    try:
        mido.set_backend("mido.backends.rtmidi", load=True)
    except Exception:
        return None, "MIDI off: python-rtmidi is not installed (pip install 'perform[midi]')"
    try:
        with quiet_stderr():  # ALSA prints its own complaints to fd 2
            if config.virtual:
                return mido.open_output(config.port, virtual=True), None
            names = mido.get_output_names()
            name = next((n for n in names if n == config.port), None) or next(
                (n for n in names if n.startswith(config.port)), None
            )
            if name is None:
                found = ", ".join(repr(n) for n in names) or "none"
                return None, f"MIDI off: no output port named {config.port!r} (found: {found})"
            return mido.open_output(name), None
    except Exception as exc:
        text = str(exc)
        if "ALSA" in text or "seq" in text:
            return None, (
                "MIDI off: no ALSA sequencer (/dev/snd/seq is missing; load the snd-seq kernel module "
                "or run where a sound system is)"
            )
        return None, f"MIDI off: cannot open port {config.port!r}: {text}"


def _velocity(note: MidiNote, value: float) -> int:
    if note.velocity == "value":
        return max(1, min(127, round(value * 127)))
    return int(note.velocity)


class MidiOut:
    """Sends one frame's features and events; a port that fails to send is counted, never raised.

    ``port`` None opens the port ``config`` names; when that fails :attr:`problem` says why and
    every call does nothing.
    """

    def __init__(self, config: Midi, port: MidiPort | None = None, clock: Any = time.monotonic) -> None:
        self.config = config
        self.problem: str | None = None
        self.clock = clock
        if port is None and config.enabled and (config.cc or config.notes):
            port, self.problem = open_port(config)
            if self.problem:
                log.warning("%s; the show goes on without MIDI", self.problem)
        self.port = port
        self.sent = 0
        self.errors = 0
        self.last_error = ""
        self._cc: dict[tuple[int, int], int] = {}  # (channel, cc) -> last value sent
        self._held: dict[tuple[int, int], str] = {}  # (channel, note) -> the event suffix holding it
        self._next_cc = 0.0

    @property
    def active(self) -> bool:
        return self.port is not None

    def _send(self, msg: mido.Message) -> bool:
        assert self.port is not None
        try:
            self.port.send(msg)
        except Exception as exc:
            self.errors += 1
            text = f"{type(exc).__name__}: {exc}"
            if text != self.last_error:
                log.warning("MIDI: %s", text)
                self.last_error = text
            return False
        self.sent += 1
        return True

    def controls(self, features: dict[str, float]) -> int:
        """CCs for the features that changed by at least one step; at most ``rate_hz`` times a second."""
        if self.port is None:
            return 0
        now = self.clock()
        if now < self._next_cc:
            return 0
        self._next_cc = max(self._next_cc + 1.0 / self.config.rate_hz, now)
        n = 0
        for m in self.config.cc:
            value = features.get(m.feature)
            if value is None:
                continue
            if m.map is None:
                u = REGISTRY.normalise(m.feature, value)
            else:
                info = REGISTRY.info(m.feature)
                u = min(1.0, max(0.0, map_value(m.map, value, info.lo, info.hi)))
            v = round(u * 127)
            key = (m.channel, m.cc)
            if self._cc.get(key) == v:
                continue
            if self._send(mido.Message("control_change", channel=m.channel - 1, control=m.cc, value=v)):
                self._cc[key] = v
                n += 1
        return n

    def events(self, events: list[Event]) -> int:
        """Note on at each matching event's start, note off at its end (or at once when not held)."""
        if self.port is None:
            return 0
        n = 0
        for ev in events:
            suffix = ev.address_suffix
            for m in self.config.notes:
                if not (fnmatch.fnmatchcase(ev.name, m.event) or fnmatch.fnmatchcase(suffix, m.event)):
                    continue
                key = (m.channel, m.note)
                ch = m.channel - 1
                if ev.active:
                    if key in self._held:  # retrigger: end the sounding note first
                        n += self._send(mido.Message("note_off", channel=ch, note=m.note, velocity=0))
                    n += self._send(
                        mido.Message("note_on", channel=ch, note=m.note, velocity=_velocity(m, ev.value))
                    )
                    if m.hold:
                        self._held[key] = suffix
                    else:
                        n += self._send(mido.Message("note_off", channel=ch, note=m.note, velocity=0))
                elif self._held.get(key) == suffix:
                    del self._held[key]
                    n += self._send(mido.Message("note_off", channel=ch, note=m.note, velocity=0))
        return n

    def frame(self, poses: Poses | None, events: list[Any]) -> int:
        """One frame's messages; returns how many were sent."""
        evs = [e for e in (as_event(x) for x in events) if e is not None]
        return (self.controls(poses.features) if poses is not None else 0) + self.events(evs)

    def close(self) -> None:
        """Release every held note, then the port."""
        if self.port is None:
            return
        for channel, note in list(self._held):
            self._send(mido.Message("note_off", channel=channel - 1, note=note, velocity=0))
        self._held.clear()
        try:
            self.port.close()
        except Exception as exc:
            log.warning("MIDI: closing the port: %s", exc)
        self.port = None


class MidiOutStage(Stage):
    """Reads the newest poses and drains every event into :class:`MidiOut` (name ``midi``)."""

    def __init__(
        self,
        stats: Stats,
        poses: Slot[Poses],
        events: EventLog[Any] | None,
        config: Midi,
        port: MidiPort | None = None,
    ) -> None:
        super().__init__("midi", stats)
        self.reader: Reader[Poses] = poses.reader("midi")
        self.stats.dropped_fn = lambda: self.reader.dropped
        self.cursor: EventCursor[Any] | None = events.cursor() if events is not None else None
        self.out = MidiOut(config, port)
        self._errors_seen = 0

    @property
    def problem(self) -> str | None:
        return self.out.problem

    def step(self) -> None:
        poses = self.reader.get(timeout=POLL_S)
        events = self.cursor.drain() if self.cursor is not None else []
        if not self.out.active:
            if poses is None and self.reader.slot.closed:
                self.state = StageState.ENDED
            return
        try:
            self.out.frame(poses, events)
        except Exception as exc:  # a bad frame must not stop the show
            self.report_error(f"{type(exc).__name__}: {exc}")
        if self.out.errors > self._errors_seen:
            self.stats.errors += self.out.errors - self._errors_seen
            self._errors_seen = self.out.errors
        if poses is not None:
            self.stats.record(poses.t_capture)
        elif self.reader.slot.closed:
            self.state = StageState.ENDED

    def on_stop(self) -> None:
        self.out.close()
