"""The events stage: built-ins, rules, floor zones and taught poses on every :class:`Poses`.

Every :class:`Event` goes into an :class:`EventLog` (consumers must see each one); the poses go
on unchanged through a latest-wins slot. Cues ``events.arm NAME`` and ``events.disarm NAME``
(from :class:`perform.control.Controls`) arm and disarm events by name or pattern (``pose.*``;
``zone.front`` also covers ``zone.front.dwell``; no argument means every event). A disarmed
event fires nothing, and disarming ends its active states at once. An event armed again while
its condition still holds fires at its next start. Arming is bounded: at most
:data:`MAX_PATTERNS` distinct patterns are remembered (``*`` clears them), each a plain event
name or pattern of at most :data:`~perform.control.MAX_CUE_NAME` characters; the stage acts on
at most :data:`MAX_CUES_PER_STEP` cues a frame.
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable
from dataclasses import replace

from perform.control import Controls, event_pattern
from perform.errors import PerformError
from perform.events.builtin import INSTANT, Builtins
from perform.events.config import EventsConfig
from perform.events.rules import RuleEngine
from perform.events.teach import HandShapeEvents, PoseEvents, PoseLibrary
from perform.events.types import Event
from perform.events.zones import ZoneTracker
from perform.pipeline import EventLog, ProcessStage, Slot, Stats
from perform.vision.types import PersonEvent, Poses

ARM, DISARM = "events.arm", "events.disarm"
#: Most distinct arm/disarm patterns remembered; a new one beyond is refused.
MAX_PATTERNS = 64
#: Arm/disarm cues acted on per frame at most; the rest wait in their queue.
MAX_CUES_PER_STEP = 16


class TooManyPatterns(PerformError):
    """An arm or disarm cue with a new pattern when :data:`MAX_PATTERNS` are already remembered."""


Matcher = Callable[[str], object]


def matcher(pattern: str) -> Matcher:
    """``pattern`` (shell-style, or a name whose dotted sub-names it also covers) as a test of names."""
    # compiled here, not through fnmatch's own cache of 32,768 patterns: patterns from the network
    # must not fill a cache that outlives them
    match = re.compile(fnmatch.translate(pattern)).match
    prefix = pattern + "."
    return lambda name: match(name) or name.startswith(prefix)


class EventEngine:
    """Everything that turns poses into events, with arming; no thread of its own."""

    def __init__(self, config: EventsConfig | None = None, library: PoseLibrary | None = None) -> None:
        self.config = config = config if config is not None else EventsConfig()
        self.builtins = Builtins(config.builtins, config.min_body_height, config.min_confidence)
        self.rules = RuleEngine(config.rules)
        self.zones = ZoneTracker(config.floor, config.zones) if config.floor is not None else None
        if library is None and config.poses.library is not None:
            library = PoseLibrary.load(config.poses.library)
        p = config.poses
        self.poses = (
            PoseEvents(library, p.min_confidence, p.release, p.hold_s) if library and library.poses else None
        )
        self.hands = (
            HandShapeEvents(library, p.min_confidence, p.release, p.hold_s)
            if library and library.hands
            else None
        )
        #: Latest stage positions (x, y metres) of the performers whose feet are visible.
        self.positions: dict[int, tuple[float, float]] = {}
        # Names whose start is followed by an end: their (name, slot) is active in between.
        self._untracked = set(INSTANT) | {r.name for r in config.rules if r.edges != "both"}
        self._overrides: list[tuple[str, bool, Matcher]] = [(n, False, matcher(n)) for n in config.disarmed]
        self._armed_cache: dict[str, bool] = {}
        self._active: set[tuple[str, int | None]] = set()

    def reset(self) -> None:
        """Forget every performer's state and the active set (sends nothing)."""
        self.builtins.reset()
        self.rules.reset()
        if self.zones is not None:
            self.zones.reset()
        if self.poses is not None:
            self.poses.reset()
        if self.hands is not None:
            self.hands.reset()
        self.positions = {}
        self._active.clear()

    def armed(self, name: str) -> bool:
        """Whether event ``name`` may fire (the last arm/disarm whose pattern matches it decides)."""
        armed = self._armed_cache.get(name)
        if armed is None:
            armed = True
            for _, value, matches in self._overrides:
                if matches(name):
                    armed = value
            self._armed_cache[name] = armed
        return armed

    def armed_now(self, names: list[str]) -> dict[str, bool]:
        """Whether each event may fire, for a reader on another thread (no cache is touched)."""
        overrides = self._overrides  # replaced whole on every change, never changed in place
        armed = dict.fromkeys(names, True)
        for _, value, matches in overrides:
            for name in names:
                if matches(name):
                    armed[name] = value
        return armed

    def arm(self, pattern: str = "*") -> None:
        """Arm the events ``pattern`` names (``*``: all, clearing every earlier disarm)."""
        self._set(pattern, True)

    def disarm(self, pattern: str = "*", t: float = 0.0) -> list[Event]:
        """Disarm; returns the end events (at capture time ``t``) of the states this ends."""
        self._set(pattern, False)
        ended = sorted((k for k in self._active if not self.armed(k[0])), key=lambda k: (k[0], k[1] or 0))
        self._active.difference_update(ended)
        return [Event(name, slot, False, t, 0.0) for name, slot in ended]

    def _set(self, pattern: str, value: bool) -> None:
        event_pattern(pattern)  # BadName for a path, a huge or an odd string
        # a new list, never a change in place: the operator's panel reads it from its own thread
        kept = [] if pattern == "*" else [o for o in self._overrides if o[0] != pattern]
        if len(kept) >= MAX_PATTERNS:
            raise TooManyPatterns(
                f"{pattern!r} refused: {MAX_PATTERNS} patterns already armed or disarmed "
                "(events.arm * clears them)"
            )
        self._overrides = [*kept, (pattern, value, matcher(pattern))]
        self._armed_cache.clear()

    def _tracked(self, name: str) -> bool:
        return name not in self._untracked and not (name.startswith("zone.") and name.endswith(".dwell"))

    def update(self, poses: Poses) -> list[Event]:
        """The armed events of this frame, in order: tracking, built-ins, rules, zones, poses, hand shapes."""
        events = self.builtins.update(poses) + self.rules.update(poses)
        if self.zones is not None:
            zone_events, self.positions = self.zones.update(poses)
            events += zone_events
        if self.poses is not None:
            events += self.poses.update(poses)
        if self.hands is not None:
            events += self.hands.update(poses)
        out = []
        for e in events:
            if not self.armed(e.name):
                continue
            key = (e.name, e.slot)
            if e.active:
                if self._tracked(e.name):
                    self._active.add(key)
            elif key in self._active:
                self._active.discard(key)
            elif self._tracked(e.name):
                continue  # its start was not sent (disarmed then): neither is its end
            out.append(e)
        return out

    def active(self) -> set[tuple[str, int | None]]:
        """(event name, slot or None) of every event started and not yet ended."""
        return set(self._active)


class EventStage(ProcessStage[Poses, Poses]):
    """Poses in, the same poses out; events into ``log``. Runs on its own thread."""

    stall_budget_scale = 1.0

    def __init__(
        self,
        stats: Stats,
        source: Slot[Poses],
        output: Slot[Poses] | None,
        log: EventLog[Event],
        config: EventsConfig | None = None,
        controls: Controls | None = None,
        library: PoseLibrary | None = None,
        person_events: EventLog[PersonEvent] | None = None,
        extra_features: Callable[[], dict[str, float]] | None = None,
    ) -> None:
        super().__init__("events", stats, source, output)
        # other stages' newest features (audio) join the movement features for rules, OSC and MIDI
        self._extra_features = extra_features
        # enter/leave come from the tracker's own log, so a frame this stage skips loses none
        self._person_events = person_events.cursor() if person_events is not None else None
        self.engine = EventEngine(config, library)
        self.log = log
        self._cues = controls.listen(ARM, DISARM) if controls is not None else None
        self._lock = threading.Lock()
        self._active: frozenset[tuple[str, int | None]] = frozenset()
        self._positions: dict[int, tuple[float, float]] = {}

    def process(self, item: Poses) -> Poses:
        if self._person_events is not None:
            item = replace(item, events=tuple(self._person_events.drain()))
        if self._extra_features is not None:
            extra = self._extra_features()
            if extra:
                item = replace(item, features={**item.features, **extra})
        events: list[Event] = []
        if self._cues is not None:
            for cue in self._cues.drain(MAX_CUES_PER_STEP):
                for pattern in [str(a) for a in cue.args[:1]] or ["*"]:
                    try:
                        if cue.name == ARM:
                            self.engine.arm(pattern)
                        else:
                            events += self.engine.disarm(pattern, item.t_capture)
                    except Exception as exc:  # a cue costs itself, never the frame
                        self.report_error(f"{cue.name} from {cue.source or '?'}: {exc}", kind=cue.name)
        events += self.engine.update(item)
        for event in events:
            self.log.publish(event)
        with self._lock:
            self._active = frozenset(self.engine.active())
            self._positions = self.engine.positions
        if self.engine.positions:  # floor positions travel on as features, for OSC and MIDI
            features = dict(item.features)
            for slot, (x, y) in self.engine.positions.items():
                features[f"p{slot}.floor_x"], features[f"p{slot}.floor_y"] = x, y
            item = replace(item, features=features)
        return item

    def active(self) -> set[tuple[str, int | None]]:
        """(event name, slot or None) of every event started and not yet ended; any thread."""
        with self._lock:
            return set(self._active)

    def positions(self) -> dict[int, tuple[float, float]]:
        """Latest stage positions (x, y metres) by slot, when a floor is calibrated; any thread."""
        with self._lock:
            return dict(self._positions)
