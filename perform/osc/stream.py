"""The pose stream between perform instances: one machine per camera, one show machine.

Each frame is one OSC bundle, or several when it does not fit one datagram, time-tagged with
the capture time in wall-clock NTP. Every bundle opens with a header and then holds whole bodies
(a body is never split across datagrams)::

    /perform/stream/frame ,siiiii  source_id seq width height part parts
    /perform/stream/body  ,if+231f slot score  x y z visibility * 33  world x y z * 33

A body takes 1,220 bytes, so at the usual 1472-byte limit each bundle carries one body; a frame
with nobody in it is a header alone. The receiver puts the parts of a frame back together and
hands on complete frames only; a frame whose parts did not all arrive before the next one began
is dropped and counted (``incomplete``), and frames arriving out of order are dropped
(``stale``). The two machines' clocks should agree (NTP); the time tag is only used to order
frames and to measure latency.
"""

from __future__ import annotations

import logging
import struct
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from perform.osc.server import (
    MALFORMED_KINDS,
    MalformedDatagram,
    _osc_string,
    _RateLimitedLog,
    parse_datagram,
)
from perform.vision.types import NUM_LANDMARKS, Poses

log = logging.getLogger(__name__)

FRAME_ADDRESS = "/perform/stream/frame"
BODY_ADDRESS = "/perform/stream/body"
#: Floats per body after slot and score: 33 x 4 landmarks, 33 x 3 world coordinates.
BODY_FLOATS = NUM_LANDMARKS * 4 + NUM_LANDMARKS * 3
#: Largest UDP payload that fits one Ethernet frame (1500 - 20 IP - 8 UDP).
MAX_DATAGRAM = 1472
#: Most parts one frame may be split into (a sender with more people than that is refused).
MAX_PARTS = 64

_NTP_DELTA = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_BODY_PREFIX = _osc_string(BODY_ADDRESS) + _osc_string(",if" + "f" * BODY_FLOATS)
_FRAME_TAGS = _osc_string(",siiiii")

#: Every key of :attr:`StreamReceiver.counts`.
STREAM_COUNT_KEYS = (
    "datagrams",
    "frames",  # complete frames handed on
    "not_stream",  # valid OSC, but not a stream bundle
    "stale",  # older than the last frame of its sender
    "incomplete",  # parts missing when the next frame began
    "too_many_sources",
    *(f"malformed.{kind}" for kind in MALFORMED_KINDS),
)


@dataclass(frozen=True, slots=True)
class StreamBody:
    """One body as sent: the sender's slot and score, (33, 4) landmarks and (33, 3) world, float32."""

    slot: int
    score: float
    landmarks: np.ndarray
    world: np.ndarray


@dataclass(frozen=True, slots=True)
class StreamFrame:
    """One complete frame from one sender. ``t_wall`` is the capture time, Unix seconds."""

    source_id: str
    seq: int
    t_wall: float
    width: int
    height: int
    bodies: tuple[StreamBody, ...]
    sender: str = ""

    def t_local(self, now: float | None = None) -> float:
        """The capture time on this machine's monotonic clock, never later than ``now``."""
        now = time.monotonic() if now is None else now
        return min(now, now - (time.time() - self.t_wall))


def _ntp(t_wall: float) -> bytes:
    value = int((t_wall + _NTP_DELTA) * 2**32)
    return struct.pack(">Q", max(value, 2))  # 1 would mean "immediately"


def _element(message: bytes) -> bytes:
    return struct.pack(">i", len(message)) + message


def _frame_message(source_id: str, seq: int, width: int, height: int, part: int, parts: int) -> bytes:
    return (
        _osc_string(FRAME_ADDRESS)
        + _FRAME_TAGS
        + _osc_string(source_id)
        + struct.pack(">iiiii", seq & 0x7FFFFFFF, width, height, part, parts)
    )


def _body_message(slot: int, score: float, landmarks: np.ndarray, world: np.ndarray) -> bytes:
    floats = np.concatenate([np.asarray(landmarks, ">f4").reshape(-1), np.asarray(world, ">f4").reshape(-1)])
    if floats.size != BODY_FLOATS:
        raise ValueError(
            "body: expected landmarks (33, 4) and world (33, 3), "
            f"got {np.shape(landmarks)} and {np.shape(world)}"
        )
    return _BODY_PREFIX + struct.pack(">if", slot, score) + floats.astype(">f4").tobytes()


def wall_time(t_capture: float) -> float:
    """A ``time.monotonic()`` capture time as wall-clock Unix seconds."""
    return time.time() - (time.monotonic() - t_capture)


def encode_stream(poses: Poses, source_id: str, max_datagram: int = MAX_DATAGRAM) -> list[bytes]:
    """The datagrams for one frame: bundles time-tagged with its capture time, whole bodies each.

    Raises ``ValueError`` when one body does not fit ``max_datagram`` bytes or the frame would
    take more than :data:`MAX_PARTS` datagrams.
    """
    head = _BUNDLE_HEAD + _ntp(wall_time(poses.t_capture))
    header_size = len(head) + 4 + len(_frame_message(source_id, 0, 0, 0, 0, 0))
    groups: list[list[bytes]] = [[]]
    size = header_size
    for body in poses.bodies:
        element = _element(_body_message(body.slot, body.score, body.landmarks, body.world))
        if header_size + len(element) > max_datagram:
            raise ValueError(
                f"max_datagram: one body needs {header_size + len(element)} bytes, got {max_datagram}"
            )
        if groups[-1] and size + len(element) > max_datagram:
            groups.append([])
            size = header_size
        groups[-1].append(element)
        size += len(element)
    if len(groups) > MAX_PARTS:
        raise ValueError(f"a frame may take at most {MAX_PARTS} datagrams, this one needs {len(groups)}")
    return [
        head
        + _element(_frame_message(source_id, poses.seq, poses.width, poses.height, part, len(groups)))
        + b"".join(group)
        for part, group in enumerate(groups)
    ]


_BUNDLE_HEAD = b"#bundle\x00"


class _NotStream(ValueError):
    pass


def _decode_bundle(data: bytes) -> tuple[float, str, int, int, int, int, int, list[StreamBody]]:
    messages = parse_datagram(data)  # raises MalformedDatagram
    if not data.startswith(_BUNDLE_HEAD) or not messages:
        raise _NotStream("expected a bundle with a /perform/stream/frame header")
    t_wall, header = messages[0]
    args: list[Any] = header.params
    if header.address != FRAME_ADDRESS or [type(a) for a in args] != [str, int, int, int, int, int]:
        raise _NotStream(f"expected {FRAME_ADDRESS} ,siiiii first, got {header.address} {len(args)} args")
    source_id, seq, width, height, part, parts = args
    if t_wall == 0.0 or not source_id or width <= 0 or height <= 0 or not 0 <= part < parts <= MAX_PARTS:
        raise _NotStream(f"bad frame header {args} (time tag {t_wall})")
    bodies = []
    for tag, message in messages[1:]:
        values = message.params
        if (
            message.address != BODY_ADDRESS
            or tag != t_wall
            or len(values) != 2 + BODY_FLOATS
            or not isinstance(values[0], int)
            or not all(isinstance(v, float) for v in values[1:])
        ):
            raise _NotStream(f"expected {BODY_ADDRESS} ,if+{BODY_FLOATS}f, got {message.address}")
        floats = np.array(values[2:], np.float32)
        if not np.isfinite(floats).all() or not np.isfinite(values[1]):
            raise _NotStream("body with NaN or infinite values")
        landmarks = floats[: NUM_LANDMARKS * 4].reshape(NUM_LANDMARKS, 4)
        world = floats[NUM_LANDMARKS * 4 :].reshape(NUM_LANDMARKS, 3)
        bodies.append(StreamBody(values[0], float(values[1]), landmarks, world))
    return t_wall, source_id, seq, width, height, part, parts, bodies


@dataclass
class _Assembly:
    seq: int
    t_wall: float
    width: int
    height: int
    parts: int
    received: dict[int, list[StreamBody]]


class StreamReceiver:
    """Puts stream datagrams back together into :class:`StreamFrame`\\ s; bounded memory.

    Not a thread: whoever reads the socket calls :meth:`feed` for each datagram.
    """

    def __init__(self, max_sources: int = 16, log_every_s: float = 5.0) -> None:
        self.max_sources = max_sources
        self.counts: dict[str, int] = dict.fromkeys(STREAM_COUNT_KEYS, 0)
        self._assembling: dict[str, _Assembly] = {}
        self._last: dict[str, float] = {}  # newest complete frame's time tag per source
        self._log = _RateLimitedLog(log_every_s)

    @property
    def malformed(self) -> int:
        return sum(self.counts[f"malformed.{kind}"] for kind in MALFORMED_KINDS)

    def forget(self, source_id: str) -> None:
        """Drop what is known of a source (it went silent)."""
        self._assembling.pop(source_id, None)
        self._last.pop(source_id, None)

    def feed(self, data: bytes, sender: str = "") -> StreamFrame | None:
        """Take one datagram; returns the frame it completed, if any."""
        self.counts["datagrams"] += 1
        try:
            t_wall, source_id, seq, width, height, part, parts, bodies = _decode_bundle(data)
        except MalformedDatagram as exc:
            self.counts[f"malformed.{exc.kind}"] += 1
            self._log.warn(exc.kind, f"stream: malformed datagram ({len(data)} bytes) from {sender}: {exc}")
            return None
        except _NotStream as exc:
            self.counts["not_stream"] += 1
            self._log.warn("not_stream", f"stream: not a pose stream bundle from {sender}: {exc}")
            return None
        known = set(self._last) | set(self._assembling)
        if source_id not in known and len(known) >= self.max_sources:
            self.counts["too_many_sources"] += 1
            self._log.warn("sources", f"stream: more than {self.max_sources} sources, {source_id!r} ignored")
            return None
        if t_wall <= self._last.get(source_id, 0.0):
            self.counts["stale"] += 1
            return None
        current = self._assembling.get(source_id)
        if current is not None and (current.seq, current.t_wall) != (seq, t_wall):
            if t_wall < current.t_wall:
                self.counts["stale"] += 1
                return None
            self.counts["incomplete"] += 1
            current = None
        if current is None:
            current = _Assembly(seq, t_wall, width, height, parts, {})
            self._assembling[source_id] = current
        current.received[part] = bodies
        if len(current.received) < current.parts:
            return None
        del self._assembling[source_id]
        self._last[source_id] = t_wall
        self.counts["frames"] += 1
        merged = tuple(b for p in sorted(current.received) for b in current.received[p])
        return StreamFrame(source_id, seq, t_wall, width, height, merged, sender)
