"""What the outside world can change while a show runs: parameters and cues.

OSC and MIDI inputs write here; stages read. Parameters are named values, latest wins
(``/perform/param/strength 0.7``). Cues are discrete commands that must each be acted on once
(switch scene, start a take, arm an event), so they travel through an :class:`EventLog`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from perform.pipeline.events import EventCursor, EventLog

Value = float | int | str | bool


@dataclass(frozen=True, slots=True)
class Cue:
    """A command from outside: ``name`` such as ``scene``, ``take.start``, ``events.arm``."""

    name: str
    args: tuple[Value, ...] = ()
    source: str = ""
    t: float = field(default_factory=time.monotonic)


class Controls:
    """Thread-safe parameter store and cue log, shared by the control inputs and the stages."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Value] = {}
        self.refused = 0
        self.cues: EventLog[Cue] = EventLog(capacity=256)

    #: Most distinct parameter names kept; names from the network beyond it are refused and counted.
    MAX_NAMES = 1024

    def set(self, name: str, value: Value) -> bool:
        """Set a parameter; False (and counted in ``refused``) when the store is full of other names."""
        with self._lock:
            if name not in self._values and len(self._values) >= self.MAX_NAMES:
                self.refused += 1
                return False
            self._values[name] = value
            return True

    def get(self, name: str, default: Value | None = None) -> Value | None:
        with self._lock:
            return self._values.get(name, default)

    def snapshot(self) -> dict[str, Value]:
        with self._lock:
            return dict(self._values)

    def cue(self, name: str, *args: Value, source: str = "") -> None:
        self.cues.publish(Cue(name, tuple(args), source))

    def listen(self) -> EventCursor[Cue]:
        """A cursor over the cues published from now on."""
        return self.cues.cursor()
