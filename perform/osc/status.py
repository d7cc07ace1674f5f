"""OSC status: every stage's health once a second, for TouchDesigner, QLab or a desk to show.

Each period, every target gets one bundle (timetag: immediately) with

=============================== =========== ==================================================
address                         types       arguments
=============================== =========== ==================================================
``/perform/status/<stage>``     ``sfiiif``  state, fps, errors, restarts, dropped, age_ms
``/perform/status/ok``          ``i``       1 when every stage runs and none is stale, else 0
``/perform/status/uptime``      ``f``       seconds since the pipeline started
=============================== =========== ==================================================

A target whose mapping is ``numbers_only`` (the ``touchdesigner`` preset: the OSC In CHOP takes
ints and floats only) gets each stage as one number per message instead, a channel each:

=================================== ===== ==================================================
address                             type  value
=================================== ===== ==================================================
``/perform/status/<stage>/state``   ``i`` the state as a number (:data:`STATE_CODES`)
``/perform/status/<stage>/fps``     ``f`` frames handed on per second
``/perform/status/<stage>/errors``  ``i`` errors so far
``/perform/status/<stage>/restarts`` ``i`` restarts so far
``/perform/status/<stage>/dropped`` ``i`` frames dropped so far
``/perform/status/<stage>/age_ms``  ``f`` ms since it last handed a frame on
=================================== ===== ==================================================

``age_ms`` is the time since the stage last handed a frame on (-1 before its first). A stage is
stale when it is ``running`` (or ``recording``) and has handed nothing on for ``stale_s``,
counted from the start when it never has. ``idle`` counts as running: it is what a take
recorder that waits for a cue shows. The OSC control input has a row ``control`` (state
``listening``): its ``dropped`` counts what it refused (senders not allowed, cues whose queue
was full, parameters refused, replies over the rate), its ``errors`` what was malformed or
failed. A stage named like another status address (``ok``,
``fps``...) is sent as ``/perform/status/stage_<name>``.
"""

from __future__ import annotations

import math
import re
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from perform.osc.config import STATUS_PREFIX, Osc, Target
from perform.osc.udp import Destination, SendCounts, UdpOut
from perform.osc.wire import IMMEDIATELY, element, encode, header, pack_bundles, string
from perform.pipeline import POLL_S, Stage, StageStats, Stats

#: States in which a stage counts as running for ``/perform/status/ok`` (``listening``: the OSC
#: control input, whose ``dropped`` counts cues and datagrams refused, ``errors`` bad ones).
OK_STATES = frozenset({"running", "recording", "idle", "listening"})
#: States in which a stage is expected to hand frames on (and so can be stale).
PRODUCING_STATES = frozenset({"running", "recording"})
#: Addresses under ``/perform/status/`` that are not stages (OSC out's own status among them).
RESERVED = frozenset({"ok", "uptime", "heartbeat", "fps", "latency_ms", "people"})
STAGE_TAGS = "sfiiif"
#: A stage's state as a number, for targets that take numbers only (-1: any other state).
STATE_CODES = {
    "stopped": 0,
    "running": 1,
    "idle": 2,
    "recording": 3,
    "listening": 4,
    "stalled": 5,
    "ended": 6,
}
#: The numeric channels of one stage, in the order sent, with their type tags.
NUMERIC_CHANNELS = (
    ("state", "i"),
    ("fps", "f"),
    ("errors", "i"),
    ("restarts", "i"),
    ("dropped", "i"),
    ("age_ms", "f"),
)
_I32_MAX = 2**31 - 1
_STAGE_ARGS = struct.Struct(">fiiif")
_NOT_IN_ADDRESS = re.compile(r"[^A-Za-z0-9_.:\-]")


@dataclass(frozen=True, slots=True)
class StageHealth:
    """One stage as ``/perform/status/<stage>`` reports it."""

    name: str
    state: str
    fps: float
    errors: int
    restarts: int
    dropped: int
    age_ms: float  # -1.0: nothing handed on yet
    stale: bool

    @property
    def ok(self) -> bool:
        return self.state in OK_STATES and not self.stale


@dataclass(frozen=True, slots=True)
class Health:
    """Every stage's health, whether all is well, and the uptime."""

    stages: tuple[StageHealth, ...]
    ok: bool
    uptime: float


def last_output(stats: StageStats) -> float | None:
    """``time.monotonic()`` when the stage last handed a frame on; None when it never has."""
    return stats.last_output


def stage_address(name: str) -> str:
    """``/perform/status/<name>``: characters OSC addresses do not allow become ``_``, and a
    name taken by another status address (``ok``, ``fps``...) becomes ``stage_<name>``."""
    name = _NOT_IN_ADDRESS.sub("_", name)
    return STATUS_PREFIX + (f"stage_{name}" if name in RESERVED else name)


def health(stats: Stats, now: float | None = None, stale_s: float = 2.0, skip: str | None = None) -> Health:
    """What the stats say about every stage (but ``skip``) at ``now``."""
    now = time.monotonic() if now is None else now
    uptime = stats.seconds
    rows = []
    for s in stats:
        if s.name == skip:
            continue
        last = last_output(s)
        age_s = now - last if last is not None else None
        quiet_s = age_s if age_s is not None else now - stats.t_start
        rows.append(
            StageHealth(
                name=s.name,
                state=s.state,
                fps=round(s.rate.rate(now), 3),
                errors=s.errors,
                restarts=s.restarts,
                dropped=s.dropped,
                age_ms=round(max(age_s, 0.0) * 1000.0, 3) if age_s is not None else -1.0,
                stale=s.state in PRODUCING_STATES and quiet_s > stale_s,
            )
        )
    return Health(tuple(rows), all(r.ok for r in rows), round(uptime, 3))


def _int32(value: int) -> int:
    return max(-_I32_MAX - 1, min(_I32_MAX, int(value)))


def _float32(value: float) -> float:
    return value if math.isfinite(value) and abs(value) < 3.4e38 else -1.0


def encode_health(h: Health, numbers_only: bool = False) -> list[bytes]:
    """The bundle elements of one status: a message per stage (``numbers_only``: one per stage
    and value), then ``ok`` and ``uptime``."""
    out = []
    for r in h.stages:
        if numbers_only:
            values = (STATE_CODES.get(r.state, -1), r.fps, r.errors, r.restarts, r.dropped, r.age_ms)
            for (channel, tag), value in zip(NUMERIC_CHANNELS, values, strict=True):
                number = _int32(value) if tag == "i" else _float32(value)
                out.append(element(encode(f"{stage_address(r.name)}/{channel}", tag, (number,))))
            continue
        msg = (
            header(stage_address(r.name), STAGE_TAGS)
            + string(r.state)
            + _STAGE_ARGS.pack(
                _float32(r.fps), _int32(r.errors), _int32(r.restarts), _int32(r.dropped), _float32(r.age_ms)
            )
        )
        out.append(element(msg))
    out.append(element(encode(STATUS_PREFIX + "ok", "i", (int(h.ok),))))
    out.append(element(encode(STATUS_PREFIX + "uptime", "f", (_float32(h.uptime),))))
    return out


def status_targets(osc: Osc) -> list[Target]:
    """The targets of a show's ``osc:`` that want status: ``status`` in their mapping, heartbeat on."""
    if not (osc.enabled and osc.heartbeat):
        return []
    return [t for t in osc.targets if t.effective_mapping.status]


class StatusSender(Stage):
    """Sends :func:`health` to each target every ``period_s`` (stage name ``status``).

    Never blocks on the network: sockets are non-blocking, host names are looked up on a thread
    of their own, and a failed send is counted in this stage's errors. Its own row is left out
    of the status (its arrival is the sign of life); its frames count the statuses sent.
    """

    def __init__(
        self,
        stats: Stats,
        targets: Sequence[Target],
        period_s: float = 1.0,
        *,
        stale_s: float = 2.0,
        max_datagram: int = 1472,
        name: str = "status",
    ) -> None:
        if period_s <= 0:
            raise ValueError(f"period_s: expected > 0, got {period_s}")
        super().__init__(name, stats)
        self.run_stats = stats
        self.period_s = period_s
        self.stale_s = stale_s
        self.max_datagram = max_datagram
        self.destinations = [Destination(t) for t in targets]
        self.numbers_only = [t.effective_mapping.numbers_only for t in targets]
        self.counts = SendCounts()
        self.udp = UdpOut(self.report_error, "status")
        self._due = time.monotonic()

    def step(self) -> None:
        now = time.monotonic()
        if now < self._due:
            self._stop.wait(min(POLL_S, self._due - now))
            return
        self._due = max(self._due + self.period_s, now)  # a late one does not bunch the next ones up
        self.send_now(now)

    @property
    def sent(self) -> int:
        """Datagrams sent."""
        return self.counts.datagrams

    def health(self, now: float | None = None) -> Health:
        return health(self.run_stats, now, self.stale_s, skip=self.name)

    def send_now(self, now: float | None = None) -> int:
        """Send one status to every target now; returns the datagrams sent."""
        now = time.monotonic() if now is None else now
        h = self.health(now)
        sent = 0
        for numbers_only in sorted(set(self.numbers_only)):
            # timetag "immediately": a status is news now, not at a time a receiver should wait for
            datagrams, oversize = pack_bundles(IMMEDIATELY, encode_health(h, numbers_only), self.max_datagram)
            if oversize:
                self.report_error(
                    f"{oversize} status message(s) larger than max_datagram {self.max_datagram}"
                )
            ready = [
                d
                for d, n in zip(self.destinations, self.numbers_only, strict=True)
                if n == numbers_only and self.udp.ready(d, now)
            ]
            sent += sum(self.udp.send(d, datagrams, self.counts) for d in ready)
        self.stats.record(now, now)
        return sent

    def on_stop(self) -> None:
        self.udp.close()
