"""What the outside world can change while a show runs: parameters and cues.

OSC and MIDI inputs write here; stages read. Parameters are named values, latest wins
(``/perform/param/strength 0.7``). Cues are discrete commands that must each be acted on once
(switch scene, start a take, arm an event), so they travel through a small :class:`CueQueue` per
consumer: the render loop's scene cues never share room with the events stage's arm cues, and
neither shares room with parameters. Everything is bounded: a full queue refuses the new cue and
counts it, and the parameter store holds at most :attr:`Controls.MAX_NAMES` names of at most
:data:`MAX_NAME` characters, each value at most :data:`MAX_VALUE` characters.

A cue that would do nothing (a scene or event the show does not have, an index out of range, a
cue nothing in the show acts on) is refused with its reason, by the checks a show registers
(:meth:`Controls.check`). Every cue's outcome is counted and the last few are kept for the
operator's status (:attr:`Controls.recent`).
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from perform.errors import BadName, PerformError

Value = float | int | str | bool

#: Longest parameter name kept.
MAX_NAME = 64
#: Longest string value of a parameter kept.
MAX_VALUE = 256
#: Cues a consumer's queue holds by default (an operator sends a few a second at most).
CUE_CAPACITY = 32
#: Cues a queue of every cue (an observer, a test) holds by default.
ALL_CAPACITY = 256
#: Longest scene name, take name or event pattern a cue may carry.
MAX_CUE_NAME = 64
#: Cue outcomes kept for the operator's status.
RECENT_CUES = 5
#: Longest crossfade a scene cue may ask for, in seconds.
MAX_FADE_S = 60.0

# Letters, digits, _ and then also space . + -: no path separator, never a leading dot.
_NAME = re.compile(r"[^\W][\w .+-]*")
# Event names and fnmatch patterns: p1/jump, zone.front.dwell, pose.*, [ab]*; never touch a file.
_PATTERN = re.compile(r"[\w*?!.\[\]/:-]+")


def _plain(text: str, what: str, pattern: re.Pattern[str], allowed: str) -> str:
    if not isinstance(text, str) or not text:
        raise BadName(f"{what}: expected a name, got {text!r}")
    if len(text) > MAX_CUE_NAME:
        raise BadName(f"{what}: expected at most {MAX_CUE_NAME} characters, got {len(text)}")
    if not pattern.fullmatch(text):
        raise BadName(f"{what}: expected {allowed}, got {text[:MAX_CUE_NAME]!r}")
    return text


def scene_name(text: str) -> str:
    """``text`` when it is a plain scene name (a file name without its suffix), else :class:`BadName`."""
    return _plain(text, "scene name", _NAME, "letters, digits, space, _ . + - and no leading dot")


def take_name(text: str) -> str:
    """A plain take file name, ``.take`` added when missing; :class:`BadName` for a path or worse."""
    name = _plain(text, "take name", _NAME, "a file name: letters, digits, space, _ . + -, no folders")
    return name if name.endswith(".take") else f"{name}.take"


def event_pattern(text: str) -> str:
    """``text`` when it is an event name or pattern (``jump``, ``p1/spin``, ``pose.*``)."""
    return _plain(
        text, "event pattern", _PATTERN, "an event name or pattern (letters, digits, _ . / * ? [ ])"
    )


def fade_seconds(value: object) -> tuple[float] | None:
    """A scene cue's crossfade length (0..:data:`MAX_FADE_S` seconds, a number) as its argument;
    None when ``value`` is not one."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= MAX_FADE_S:
        return None  # NaN fails the range test too
    return (float(value),)


@dataclass(frozen=True, slots=True)
class Cue:
    """A command from outside: ``name`` such as ``scene``, ``take.start``, ``events.arm``."""

    name: str
    args: tuple[Value, ...] = ()
    source: str = ""
    t: float = field(default_factory=time.monotonic)


class CueRefused(PerformError):
    """A cue that would do nothing; ``kind`` names why (``unknown_scene``, ``unknown_event``,
    ``out_of_range``, ``unheard``), the message says it for the operator."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


#: A show's check of one cue name: returns what the cue will do, or raises :class:`CueRefused`.
CueCheck = Callable[[Cue], str]


@dataclass(frozen=True, slots=True)
class CueOutcome:
    """What became of a cue: ``kind`` is ``applied``, ``dropped`` (its queue was full) or why it
    was refused; ``detail`` says what it did or why not. True when applied."""

    cue: Cue
    kind: str
    detail: str
    at: str = field(default_factory=lambda: time.strftime("%H:%M:%S"))

    def __bool__(self) -> bool:
        return self.kind == "applied"

    def line(self) -> str:
        """One line for the operator: ``19:02:01 scene intro: refused: no scene 'intro' ...``."""
        args = " ".join(str(a) for a in self.cue.args)
        what = f"{self.cue.name} {args}".strip()
        if self:
            return f"{self.at} {what}: {self.detail}"
        verdict = "dropped" if self.kind == "dropped" else "refused"
        return f"{self.at} {what}: {verdict}: {self.detail}"


class CueQueue:
    """One consumer's cues (those named in ``names``; empty: all), oldest first, at most ``capacity``.

    A full queue refuses the new cue and counts it in :attr:`lost`: the cues already queued were
    sent first, and a flood must not push them out.
    """

    def __init__(self, names: frozenset[str] = frozenset(), capacity: int = CUE_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: expected >= 1, got {capacity}")
        self.names = names
        self.capacity = capacity
        self.lost = 0
        self._lock = threading.Lock()
        self._cues: deque[Cue] = deque()

    def wants(self, name: str) -> bool:
        return not self.names or name in self.names

    def put(self, cue: Cue) -> bool:
        """Queue ``cue``; False (and counted in :attr:`lost`) when the queue is full."""
        with self._lock:
            if len(self._cues) >= self.capacity:
                self.lost += 1
                return False
            self._cues.append(cue)
            return True

    def drain(self, limit: int | None = None) -> list[Cue]:
        """The queued cues, oldest first; at most ``limit`` (the rest wait for the next call)."""
        with self._lock:
            n = len(self._cues) if limit is None else min(limit, len(self._cues))
            return [self._cues.popleft() for _ in range(n)]

    def __len__(self) -> int:
        return len(self._cues)


class Controls:
    """Thread-safe parameter store and cue queues, shared by the control inputs and the stages."""

    #: Most distinct parameter names kept; names from the network beyond it are refused and counted.
    MAX_NAMES = 1024

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, Value] = {}
        self._queues: list[CueQueue] = []
        self.refused = 0  # parameters refused: store full, name or value too long
        self.unheard = 0  # cues no consumer listens to
        self._checks: dict[str, CueCheck] = {}
        #: The last few cues' outcomes, oldest first.
        self.recent: deque[CueOutcome] = deque(maxlen=RECENT_CUES)
        #: Cues by outcome: ``applied``, ``dropped`` and each refusal kind.
        self.outcomes: Counter[str] = Counter()

    def set(self, name: str, value: Value) -> bool:
        """Set a parameter; False (counted in ``refused``) when the store is full of other names or
        the name or a string value is too long."""
        with self._lock:
            too_long = len(name) > MAX_NAME or (isinstance(value, str) and len(value) > MAX_VALUE)
            if too_long or (name not in self._values and len(self._values) >= self.MAX_NAMES):
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

    def check(self, name: str, check: CueCheck) -> None:
        """Check every cue ``name`` with ``check`` before it is queued (a show knows its scenes)."""
        with self._lock:
            self._checks[name] = check

    def cue(self, name: str, *args: Value, source: str = "") -> CueOutcome:
        """Hand a cue to every queue that wants it; the outcome is true when it was applied, false
        when its check refused it, no consumer wants it, or a queue was full."""
        cue = Cue(name, tuple(args), source)
        with self._lock:
            queues = [q for q in self._queues if q.wants(name)]
            check = self._checks.get(name)
            if not queues:
                self.unheard += 1
        try:
            if not queues:
                raise CueRefused("unheard", f"nothing in this show acts on {name} cues")
            detail = check(cue) if check is not None else "queued"
        except CueRefused as exc:
            return self._record(CueOutcome(cue, exc.kind, str(exc)))
        if not all([q.put(cue) for q in queues]):
            return self._record(
                CueOutcome(cue, "dropped", "its queue is full (is someone flooding the cues?)")
            )
        return self._record(CueOutcome(cue, "applied", detail))

    def recent_lines(self) -> list[str]:
        """The last few cues' outcomes as lines for the operator, oldest first (any thread)."""
        with self._lock:
            recent = list(self.recent)
        return [o.line() for o in recent]

    def _record(self, outcome: CueOutcome) -> CueOutcome:
        with self._lock:
            self.recent.append(outcome)
            self.outcomes[outcome.kind] += 1
        return outcome

    def listen(self, *names: str, capacity: int | None = None) -> CueQueue:
        """A queue of the cues named (none: every cue) published from now on."""
        if capacity is None:
            capacity = CUE_CAPACITY if names else ALL_CAPACITY
        queue = CueQueue(frozenset(names), capacity)
        with self._lock:
            self._queues.append(queue)
        return queue

    @property
    def lost(self) -> int:
        """Cues refused by full queues, over every consumer."""
        with self._lock:
            return sum(q.lost for q in self._queues)
