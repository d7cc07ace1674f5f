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

With a shared key each bundle ends with one more element, the first 16 bytes of the
HMAC-SHA256 of everything before it::

    /perform/stream/sig   ,b  <16 bytes>

Before a datagram is put together into a frame the receiver checks who sent it
(:class:`SenderRules`: address allow-lists, the key, an id pinned to the address it streams
from), its values (finite, within sane ranges) and its time tag (further than ``max_skew_s``
from this machine's clock: the arrival time is taken instead). Every refusal is counted by
reason in :attr:`StreamReceiver.counts`; nothing a datagram holds can raise.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perform.osc.wire import (
    BUNDLE,
    MALFORMED_KINDS,
    MalformedDatagram,
    blob,
    element,
    header,
    parse_datagram,
    read_timetag,
    string,
    timetag,
)
from perform.pipeline.ratelog import RateLimitedLog
from perform.schema import IPNetwork
from perform.schema import allowed as in_networks
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
#: Most bodies in one frame (a sender tracks at most 10 people).
MAX_BODIES = 16
#: Longest source id, in characters.
MAX_ID = 64
#: Largest picture a sender may claim, width or height in pixels.
MAX_SIZE = 16384
#: Landmark x, y and z (fractions of the picture) lie within +-this; visibility and score in 0..1.
MAX_NORMALIZED = 10.0
#: World coordinates (metres around the hips) lie within +-this.
MAX_WORLD_M = 100.0
#: A frame whose parts have not all arrived this long after its first is dropped (``expired``).
PART_TIMEOUT_S = 0.25
SIG_ADDRESS = "/perform/stream/sig"
SIG_BYTES = 16

_BODY_PREFIX = header(BODY_ADDRESS, "if" + "f" * BODY_FLOATS)
_HEADER_HEAD = header(FRAME_ADDRESS, "siiiii")
_HEADER_INTS = struct.Struct(">iiiii")

#: Every key of :attr:`StreamReceiver.counts`.
STREAM_COUNT_KEYS = (
    "datagrams",
    "frames",  # complete frames handed on
    "retimed",  # time tag beyond max_skew_s: the arrival time taken instead (not a drop)
    "evicted",  # a silent or never complete sender id forgotten to make room for a new one
    "not_stream",  # valid OSC, but not a stream bundle
    "stale",  # older than the last frame of its sender
    "incomplete",  # parts missing when the next frame began
    "expired",  # parts missing PART_TIMEOUT_S after the first
    "too_many_sources",  # a new id while max_sources are streaming
    "not_allowed",  # from an address outside the allow-list
    "unknown_sender",  # an id not in the configured senders
    "spoofed",  # an id pinned to (or configured for) another address
    "bad_key",  # the shared key's signature missing or wrong
    "out_of_range",  # NaN, infinite or absurd values, sizes or body counts
    "skewed",  # with a key: time tag beyond max_skew_s (a replay), dropped
    *(f"malformed.{kind}" for kind in MALFORMED_KINDS),
)
#: The keys of :data:`STREAM_COUNT_KEYS` that count datagrams or frames refused.
DROP_KEYS = tuple(k for k in STREAM_COUNT_KEYS if k not in ("datagrams", "frames", "retimed", "evicted"))


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


def _frame_message(source_id: str, seq: int, width: int, height: int, part: int, parts: int) -> bytes:
    return _HEADER_HEAD + string(source_id) + _HEADER_INTS.pack(seq & 0x7FFFFFFF, width, height, part, parts)


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


def sign(data: bytes, key: bytes) -> bytes:
    """The signature element that ends a keyed datagram (HMAC-SHA256 of ``data``, 16 bytes)."""
    return _SIG_HEAD + hmac.new(key, data, hashlib.sha256).digest()[:SIG_BYTES]


def encode_stream(
    poses: Poses, source_id: str, max_datagram: int = MAX_DATAGRAM, key: bytes | None = None
) -> list[bytes]:
    """The datagrams for one frame: bundles time-tagged with its capture time, whole bodies each.

    With ``key`` each ends with its signature (:func:`sign`). Raises ``ValueError`` when one body
    does not fit ``max_datagram`` bytes or the frame would take more than :data:`MAX_PARTS` datagrams.
    """
    head = BUNDLE + timetag(wall_time(poses.t_capture))
    header_size = len(head) + 4 + len(_frame_message(source_id, 0, 0, 0, 0, 0))
    header_size += _SIG_SIZE if key is not None else 0
    groups: list[list[bytes]] = [[]]
    size = header_size
    for body in poses.bodies:
        el = element(_body_message(body.slot, body.score, body.landmarks, body.world))
        if header_size + len(el) > max_datagram:
            need = header_size + len(el)
            raise ValueError(f"max_datagram: one body needs {need} bytes, got {max_datagram}")
        if groups[-1] and size + len(el) > max_datagram:
            groups.append([])
            size = header_size
        groups[-1].append(el)
        size += len(el)
    if len(groups) > MAX_PARTS:
        raise ValueError(f"a frame may take at most {MAX_PARTS} datagrams, this one needs {len(groups)}")
    datagrams = [
        head
        + element(_frame_message(source_id, poses.seq, poses.width, poses.height, part, len(groups)))
        + b"".join(group)
        for part, group in enumerate(groups)
    ]
    return datagrams if key is None else [d + sign(d, key) for d in datagrams]


# the signature element without its 16 bytes: size, address, type tags, blob length
_SIG_HEAD = element(header(SIG_ADDRESS, "b") + blob(bytes(SIG_BYTES)))[:-SIG_BYTES]
_SIG_SIZE = len(_SIG_HEAD) + SIG_BYTES
_I32 = struct.Struct(">i")
_BODY_SIZE = len(_BODY_PREFIX) + 8 + 4 * BODY_FLOATS
_BODY_VALUES = np.dtype([("slot", ">i4"), ("score", ">f4"), ("floats", ">f4", (BODY_FLOATS,))])


class _NotStream(ValueError):
    pass


class _OutOfRange(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class _Part:
    t_wall: float
    source_id: str
    seq: int
    width: int
    height: int
    part: int
    parts: int
    bodies: list[StreamBody]


def _body(slot: int, score: float, floats: np.ndarray) -> StreamBody:
    """One body, range-checked: whatever reaches the tracker is finite and sane."""
    landmarks = floats[: NUM_LANDMARKS * 4].reshape(NUM_LANDMARKS, 4)
    world = floats[NUM_LANDMARKS * 4 :].reshape(NUM_LANDMARKS, 3)
    if not np.isfinite(floats).all() or not np.isfinite(score):
        raise _OutOfRange("body with NaN or infinite values")
    if not (
        0.0 <= score <= 1.0
        and np.abs(landmarks[:, :3]).max() <= MAX_NORMALIZED
        and landmarks[:, 3].min() >= 0.0
        and landmarks[:, 3].max() <= 1.0
        and np.abs(world).max() <= MAX_WORLD_M
    ):
        raise _OutOfRange(
            f"body: expected score and visibility 0..1, x y z within +-{MAX_NORMALIZED:g}, world within "
            f"+-{MAX_WORLD_M:g} m, got score {score:.3g}, largest |value| {np.abs(floats).max():.3g}"
        )
    return StreamBody(slot, score, landmarks, world)


def _check_header(part: _Part) -> _Part:
    if part.t_wall == 0.0 or not part.source_id or not 0 <= part.part < part.parts <= MAX_PARTS:
        raise _NotStream(
            f"bad frame header {part.source_id!r} part {part.part}/{part.parts} (tag {part.t_wall})"
        )
    if len(part.source_id) > MAX_ID or not (0 < part.width <= MAX_SIZE and 0 < part.height <= MAX_SIZE):
        raise _OutOfRange(
            f"frame header: expected an id of at most {MAX_ID} characters and a picture of at most "
            f"{MAX_SIZE} pixels a side, got {len(part.source_id)} characters, {part.width}x{part.height}"
        )
    if len(part.bodies) > MAX_BODIES:
        raise _OutOfRange(f"expected at most {MAX_BODIES} bodies in a frame, got {len(part.bodies)}")
    return part


def _decode_fast(data: bytes) -> _Part | None:
    """The exact layout :func:`encode_stream` writes, read directly; None for anything else."""
    n = len(data)
    if n < 20 or not data.startswith(BUNDLE):
        return None
    start = 20
    end = start + _I32.unpack_from(data, 16)[0]
    if end > n or data[start : start + len(_HEADER_HEAD)] != _HEADER_HEAD:
        return None
    s = start + len(_HEADER_HEAD)
    nul = data.find(b"\x00", s, end)
    if nul <= s or (nul - s) // 4 * 4 + 4 + s + _HEADER_INTS.size != end:
        return None
    try:
        source_id = data[s:nul].decode("utf-8")
    except UnicodeDecodeError:
        return None
    seq, width, height, part, parts = _HEADER_INTS.unpack_from(data, end - _HEADER_INTS.size)
    values = []
    pos = end
    while pos < n:
        if (
            pos + 4 + _BODY_SIZE > n
            or _I32.unpack_from(data, pos)[0] != _BODY_SIZE
            or data[pos + 4 : pos + 4 + len(_BODY_PREFIX)] != _BODY_PREFIX
        ):
            return None
        values.append(np.frombuffer(data, _BODY_VALUES, 1, pos + 4 + len(_BODY_PREFIX))[0])
        pos += 4 + _BODY_SIZE
        if len(values) > MAX_BODIES:
            raise _OutOfRange(f"expected at most {MAX_BODIES} bodies in a frame, got more")
    t_wall = read_timetag(data, 8)
    bodies = [_body(int(v["slot"]), float(v["score"]), v["floats"].astype(np.float32)) for v in values]
    return _Part(t_wall, source_id, seq, width, height, part, parts, bodies)


def _decode_bundle(data: bytes) -> _Part:
    """One stream datagram, checked; raises MalformedDatagram, _NotStream or _OutOfRange."""
    fast = _decode_fast(data)
    if fast is not None:
        return _check_header(fast)
    messages = parse_datagram(data)  # raises MalformedDatagram
    if not data.startswith(BUNDLE) or not messages:
        raise _NotStream("expected a bundle with a /perform/stream/frame header")
    t_wall, first = messages[0]
    args: list[Any] = first.params
    if first.address != FRAME_ADDRESS or [type(a) for a in args] != [str, int, int, int, int, int]:
        raise _NotStream(f"expected {FRAME_ADDRESS} ,siiiii first, got {first.address} {len(args)} args")
    if len(messages) - 1 > MAX_BODIES:
        raise _OutOfRange(f"expected at most {MAX_BODIES} bodies in a frame, got {len(messages) - 1}")
    source_id, seq, width, height, part, parts = args
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
        bodies.append(_body(values[0], float(values[1]), np.array(values[2:], np.float32)))
    return _check_header(_Part(t_wall, source_id, seq, width, height, part, parts, bodies))


def _unsigned(data: bytes, key: bytes | None) -> bytes | None:
    """``data`` without its signature element; None when ``key`` is set and it is missing or wrong.

    Without a key a signature is ignored, so senders can be given a key before the show machine.
    """
    signed = len(data) > _SIG_SIZE and data[-_SIG_SIZE:-SIG_BYTES] == _SIG_HEAD
    if key is None:
        return data[:-_SIG_SIZE] if signed else data
    if not signed or not hmac.compare_digest(sign(data[:-_SIG_SIZE], key), data[-_SIG_SIZE:]):
        return None
    return data[:-_SIG_SIZE]


def host_of(sender: str) -> str:
    """The address part of ``host:port``."""
    return sender.rpartition(":")[0] if ":" in sender else sender


@dataclass(frozen=True)
class SenderRules:
    """Who may stream, checked for every datagram before it is put together into a frame."""

    #: Networks senders may stream from; empty: any address.
    allow: tuple[IPNetwork, ...] = ()
    #: The ids accepted, each with the network it must come from (None: pinned); None: any id.
    senders: Mapping[str, IPNetwork | None] | None = None
    #: The shared key every datagram must be signed with (None: none needed).
    key: bytes | None = None
    #: An id stays pinned to its address until silent this long (0: not pinned).
    pin_s: float = 10.0
    #: A time tag further than this from the wall clock is replaced by the arrival time.
    max_skew_s: float = 1.0
    #: Most ids known at once.
    max_sources: int = 16


@dataclass
class _Assembly:
    seq: int
    tag: float  # the time tag as sent: parts of one frame share it
    t_wall: float  # the frame's time as handed on (the arrival time when the tag was off)
    host: str
    width: int
    height: int
    parts: int
    started: float
    received: dict[int, list[StreamBody]]


@dataclass
class _Source:
    host: str  # the address its id is pinned to ("" until its first complete frame)
    seen: float  # monotonic time of its last datagram
    last_frame: float | None = None  # monotonic time of its last complete frame
    last_t: float = 0.0  # time of its newest complete frame, to order frames
    assembly: _Assembly | None = field(default=None)


class StreamReceiver:
    """Puts stream datagrams back together into :class:`StreamFrame`\\ s; bounded memory.

    Not a thread: whoever reads the socket calls :meth:`feed` for each datagram, and
    :meth:`expire` now and then. ``now`` (monotonic) and ``wall`` (Unix) default to the clocks.
    """

    def __init__(self, rules: SenderRules | None = None, log_every_s: float = 5.0) -> None:
        self.rules = rules if rules is not None else SenderRules()
        self.counts: dict[str, int] = dict.fromkeys(STREAM_COUNT_KEYS, 0)
        self._sources: dict[str, _Source] = {}
        self._allowed: dict[tuple[str, tuple[IPNetwork, ...]], bool] = {}  # a small cache
        self._log = RateLimitedLog(log, "osc in: ", log_every_s)

    @property
    def malformed(self) -> int:
        return sum(self.counts[f"malformed.{kind}"] for kind in MALFORMED_KINDS)

    @property
    def dropped(self) -> int:
        """Datagrams and frames refused, over every reason."""
        return sum(self.counts[k] for k in DROP_KEYS)

    @property
    def sources(self) -> int:
        """Sender ids known now (streaming, pinned, or putting a frame together)."""
        return len(self._sources)

    def pinned(self, source_id: str, now: float | None = None) -> str | None:
        """The address ``source_id`` is pinned to now, if any."""
        source = self._sources.get(source_id)
        now = time.monotonic() if now is None else now
        return source.host if source is not None and self._is_pinned(source, now) else None

    def forget(self, source_id: str) -> None:
        """Drop a source's frame in progress and its order (it went silent); its pin stays."""
        source = self._sources.get(source_id)
        if source is not None:
            source.assembly = None
            source.last_t = 0.0

    def expire(self, now: float | None = None) -> None:
        """Drop frames whose parts are overdue, and ids neither pinned nor putting a frame together."""
        now = time.monotonic() if now is None else now
        for source_id, source in list(self._sources.items()):
            if source.assembly is not None and now - source.assembly.started > PART_TIMEOUT_S:
                source.assembly = None
                self.counts["expired"] += 1
            if source.assembly is None and not self._is_pinned(source, now):
                del self._sources[source_id]

    def feed(
        self, data: bytes, sender: str = "", now: float | None = None, wall: float | None = None
    ) -> StreamFrame | None:
        """Take one datagram from ``sender`` (``host:port``); returns the frame it completed, if any."""
        self.counts["datagrams"] += 1
        now = time.monotonic() if now is None else now
        rules = self.rules
        host = host_of(sender)
        if rules.allow and not self._in(host, rules.allow):
            return self._drop("not_allowed", f"stream: datagram from {sender}, not in allow, ignored")
        unsigned = _unsigned(data, rules.key)
        if unsigned is None:
            return self._drop("bad_key", f"stream: datagram from {sender} not signed with the key, ignored")
        try:
            part = _decode_bundle(unsigned)
        except MalformedDatagram as exc:
            self.counts[f"malformed.{exc.kind}"] += 1
            self._log.warn(exc.kind, f"stream: malformed datagram ({len(data)} bytes) from {sender}: {exc}")
            return None
        except _OutOfRange as exc:
            return self._drop("out_of_range", f"stream: datagram from {sender} out of range: {exc}")
        except _NotStream as exc:
            return self._drop("not_stream", f"stream: not a pose stream bundle from {sender}: {exc}")
        source_id = part.source_id
        if rules.senders is not None:
            if source_id not in rules.senders:
                return self._drop(
                    "unknown_sender", f"stream: sender {source_id!r} from {sender} is not in senders"
                )
            network = rules.senders[source_id]
            if network is not None and not self._in(host, (network,)):
                return self._drop(
                    "spoofed",
                    f"stream: sender {source_id!r} is configured at {network}, got it from {sender}",
                )
        source = self._sources.get(source_id)
        if source is not None and source.host and source.host != host:
            if self._is_pinned(source, now):
                return self._drop(
                    "spoofed",
                    f"stream: sender {source_id!r} is pinned to {source.host}, got it from {sender}",
                )
            source = None  # its pin ran out: another machine may take the id
        if source is None:
            full = source_id not in self._sources and len(self._sources) >= rules.max_sources
            if full and not self._make_room(now):
                return self._drop(
                    "too_many_sources",
                    f"stream: more than {rules.max_sources} sources, {source_id!r} ignored",
                )
            source = self._sources[source_id] = _Source(host="", seen=now)
        source.seen = now
        return self._assemble(source, source_id, part, host, sender, now, wall)

    def _assemble(
        self,
        source: _Source,
        source_id: str,
        part: _Part,
        host: str,
        sender: str,
        now: float,
        wall: float | None,
    ) -> StreamFrame | None:
        current = source.assembly
        if current is not None and now - current.started > PART_TIMEOUT_S:
            self.counts["expired"] += 1
            current = source.assembly = None
        if current is None or (current.seq, current.tag, current.host) != (part.seq, part.t_wall, host):
            wall = time.time() if wall is None else wall
            t_wall = part.t_wall
            if abs(t_wall - wall) > self.rules.max_skew_s:
                if self.rules.key is not None:  # signed: an old tag is a replay, not a wrong clock
                    return self._drop("skewed", f"stream: {source_id!r} time tag {t_wall - wall:+.1f} s off")
                self.counts["retimed"] += 1
                self._log.warn(
                    "retimed", f"stream: {source_id!r} time tag {t_wall - wall:+.1f} s off, retimed"
                )
                t_wall = wall
            if t_wall <= source.last_t or (current is not None and t_wall < current.t_wall):
                self.counts["stale"] += 1
                return None
            if current is not None:
                self.counts["incomplete"] += 1
            current = _Assembly(
                part.seq, part.t_wall, t_wall, host, part.width, part.height, part.parts, now, {}
            )
            source.assembly = current
        current.received[part.part] = part.bodies
        if sum(len(b) for b in current.received.values()) > MAX_BODIES:
            source.assembly = None
            return self._drop("out_of_range", f"stream: {source_id!r} sent more than {MAX_BODIES} bodies")
        if len(current.received) < current.parts:
            return None
        source.assembly = None
        source.last_t = current.t_wall
        source.last_frame = now
        source.host = host  # pinned here from now on
        self.counts["frames"] += 1
        merged = tuple(b for p in sorted(current.received) for b in current.received[p])
        return StreamFrame(
            source_id, current.seq, current.t_wall, current.width, current.height, merged, sender
        )

    def _is_pinned(self, source: _Source, now: float) -> bool:
        return source.last_frame is not None and now - source.last_frame < self.rules.pin_s

    def _make_room(self, now: float) -> bool:
        """Forget the longest silent id that is not pinned; False when every id is."""
        free = [(s.seen, i) for i, s in self._sources.items() if not self._is_pinned(s, now)]
        if not free:
            return False
        del self._sources[min(free)[1]]
        self.counts["evicted"] += 1
        return True

    def _in(self, host: str, networks: tuple[IPNetwork, ...]) -> bool:
        key = (host, networks)
        allowed = self._allowed.get(key)
        if allowed is None:
            allowed = in_networks(host, networks)
            if len(self._allowed) >= 1024:
                self._allowed.clear()
            self._allowed[key] = allowed
        return allowed

    def _drop(self, kind: str, message: str) -> None:
        self.counts[kind] += 1
        self._log.warn(kind, message)
