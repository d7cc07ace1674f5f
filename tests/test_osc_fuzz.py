"""Fault test: OSC input fuzz against a real :class:`ControlServer` on 127.0.0.1.

10,000 bad or hostile datagrams (random bytes, truncated messages and bundles, malformed type
tags, lying sizes, nested bundles, bundles timetagged in the year 2100, a handler that raises,
datagrams near the 64 KB limit) are interleaved with 200 valid cues. Every valid cue must be
applied, in order, the server must still answer afterwards, every bad datagram must be counted
under its kind, and memory must not grow.
"""

from __future__ import annotations

import gc
import random
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pythonosc.osc_message import OscMessage

from perform.control import Controls
from perform.osc.server import COUNT_KEYS, ControlServer
from perform.osc.wire import MALFORMED_KINDS, encode_message
from tests.tools import wait_for

SEED = 2100
N_FUZZ = 10_000
N_SCENES = 120
N_PARAMS = 80
#: Datagrams the sender may be ahead of the server: far below what the receive buffer holds.
WINDOW = 48
#: Datagrams at least this large are sent only once the server has caught up.
LARGE = 8192
NTP_DELTA = 2_208_988_800  # 1900-01-01 to 1970-01-01 in seconds
YEAR_2100 = 4_102_444_800  # 2100-01-01 as Unix seconds
RAISES = "/fuzz/raises"
#: A datagram, or a call that builds it as it is sent (a time tag relative to then).
Datagram = bytes | Callable[[], bytes]


def _s(text: str | bytes) -> bytes:
    raw = text.encode() if isinstance(text, str) else text
    return raw + b"\x00" * (4 - len(raw) % 4)


def _el(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _bundle(timetag: bytes, *elements: bytes) -> bytes:
    return b"#bundle\x00" + timetag + b"".join(_el(e) for e in elements)


IMMEDIATE = struct.pack(">Q", 1)


def _ntp(unix_seconds: float) -> bytes:
    """An NTP timetag, its seconds wrapped to 32 bits as a sender in NTP era 1 (2036 on) writes it."""
    seconds = int(unix_seconds) + NTP_DELTA
    return struct.pack(">II", seconds % 2**32, int((unix_seconds % 1) * 2**32))


@dataclass
class Plan:
    """The datagrams to send, in order, and what the server must make of them."""

    datagrams: list[Datagram] = field(default_factory=list)
    scenes: list[str] = field(default_factory=list)  # valid scene cues, in the order sent
    params: dict[str, float] = field(default_factory=dict)  # valid parameters and their values
    raises: int = 0  # messages to the handler that raises
    far_future: int = 0  # messages timetagged beyond max_delay_s
    delayed: int = 0  # messages timetagged a little ahead (held, then applied)


def _truncatable() -> list[bytes]:
    """Valid datagrams no truncation of which is a complete cue (an address alone has wrong arguments)."""
    return [
        encode_message("/perform/scene", "noise-scene"),
        encode_message("/perform/param/noise", 0.5),
        encode_message("/perform/events/arm", "noise"),
        encode_message("/fuzz/a", 1, 2.5, "text", b"\x01\x02\x03"),
        _bundle(IMMEDIATE, encode_message("/fuzz/b", 1), encode_message("/perform/scene", "noise-b")),
        _bundle(IMMEDIATE, _bundle(IMMEDIATE, encode_message("/perform/param/noise", 1.0))),
    ]


def _flippable() -> list[bytes]:
    """Datagrams whose bit flips can reach no valid address and no far-future time tag."""
    return [
        encode_message("/fuzz/a", 1, 2.5, "text"),
        encode_message("/fuzz/blob", b"\x01\x02\x03\x04\x05"),
        encode_message("/fuzz/b", True, False, "x" * 40),
        _bundle(IMMEDIATE, encode_message("/fuzz/c", 1), encode_message("/fuzz/d", "two")),
    ]


def _bad_typetags(rng: random.Random) -> bytes:
    address = _s(rng.choice(["/perform/param/fuzz", "/perform/scene", "/fuzz/t"]))
    return rng.choice(
        [
            address + _s("iZ") + b"\x00" * 4,  # no comma
            address + _s(",iZ") + b"\x00" * 4,  # unknown tag
            address + _s(",Q" + "N" * rng.randrange(0, 2000)),  # unknown tag in front of many
            address + _s("," + "N" * rng.randrange(0, 2000) + "\x7f"),
            address + _s(",[[i]") + b"\x00" * 4,  # unbalanced
            address + _s(",i]]") + b"\x00" * 4,
            address + b",iii",  # unterminated
            address + _s(",iiii") + b"\x00" * 4,  # more tags than arguments
            address + _s(",s") + b"abc",  # string without its terminator
            address + _s(",s") + _s(b"\xff\xfe"),  # not UTF-8
            address + _s(",h") + b"\x00" * 4,
            address + _s(",d"),
        ]
    )


def _huge_sizes(rng: random.Random) -> bytes:
    size = rng.choice([2**31 - 1, 2**30, 65536, -1, -(2**31), 7])
    blob = _s("/perform/param/fuzz") + _s(",b") + struct.pack(">i", size) + b"\x00" * 8
    element = b"#bundle\x00" + IMMEDIATE + struct.pack(">i", size) + encode_message("/fuzz/x", 1)
    inner = _bundle(IMMEDIATE, b"#bundle\x00" + IMMEDIATE + struct.pack(">i", size) + b"/x\x00\x00")
    return rng.choice([blob, element, inner])


def _nested(depth: int, message: bytes, timetag: bytes = IMMEDIATE) -> bytes:
    data = message
    for _ in range(depth):
        data = _bundle(timetag, data)
    return data


def large(n: int = 25_000) -> list[bytes]:
    """Near the 64 KB limit: thousands of arguments, deep arrays, thousands of bundle elements."""
    return [
        _s("/perform/param/fuzz") + _s("," + "N" * n),
        _s("/perform/param/fuzz") + _s("," + "[" * n + "]" * n),
        _s("/perform/scene") + _s("," + "i" * 12_000) + b"\x00" * 48_000,
        _bundle(IMMEDIATE, *[b"/zz\x00"] * 6000),
        encode_message("/perform/param/fuzzbig", "x" * 60_000),
    ]


def make_plan(seed: int = SEED, n_fuzz: int = N_FUZZ) -> Plan:
    """Seeded: the same datagrams every run."""
    rng = random.Random(seed)
    plan = Plan()
    truncatable, flippable = _truncatable(), _flippable()

    def scene(n: int) -> Callable[[], Datagram]:
        def make() -> Datagram:
            name = f"valid-{n:03d}"
            plan.scenes.append(name)
            message = encode_message("/perform/scene", name)
            how = n % 4  # plain, in a bundle, in a nested bundle, in a year-2100 bundle
            if how == 0:
                return message
            if how == 1:
                return _bundle(_ntp(time.time() - 3600), message)
            if how == 2:
                return _nested(rng.randrange(2, 9), message)
            plan.far_future += 1
            return _bundle(b"\xff" * 8, message)  # 2036, the furthest an NTP time tag reaches

        return make

    def param(n: int) -> Callable[[], Datagram]:
        def make() -> Datagram:
            name, value = f"valid{n:03d}", n + 0.25  # exact in float32
            plan.params[name] = value
            message = encode_message(f"/perform/param/{name}", value)
            if n % 2:
                return message
            plan.delayed += 1  # a little ahead: held, then applied (params need no order)
            ahead = rng.uniform(0.3, 0.8)
            return lambda: _bundle(_ntp(time.time() + ahead), message)

        return make

    valid = [scene(n) for n in range(N_SCENES)] + [param(n) for n in range(N_PARAMS)]
    rng.shuffle(valid)
    valid_at = set(rng.sample(range(n_fuzz), len(valid)))
    valid_iter = iter(valid)

    def fuzz() -> bytes:
        pick = rng.random()
        if pick < 0.15:
            return rng.randbytes(rng.randrange(0, 200))
        if pick < 0.30:
            source = rng.choice(truncatable)
            return source[: rng.randrange(0, len(source))]
        if pick < 0.42:
            data = bytearray(rng.choice(flippable))
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            return bytes(data)
        if pick < 0.52:
            prefix = rng.choice([b"/", b"/perform/", b"#bundle\x00", b"#bundle\x00" + IMMEDIATE])
            return prefix + rng.randbytes(rng.randrange(0, 60))
        if pick < 0.67:
            return _bad_typetags(rng)
        if pick < 0.77:
            return _huge_sizes(rng)
        if pick < 0.85:
            depth = rng.randrange(1, 13)  # deeper than 8 is refused as a whole
            message = encode_message("/fuzz/nested", depth)
            if rng.random() < 0.5:
                message = message[: rng.randrange(len(message))] or b"\x00"
            return _nested(depth, message)
        if pick < 0.90:
            # 2100 written in NTP era 1 wraps to 1964, already past; 0xff... is 2036, beyond
            # max_delay_s: both are applied at once, neither is held
            message = encode_message("/fuzz/future", 2100)
            if rng.random() < 0.5:
                return _bundle(_ntp(YEAR_2100 + rng.randrange(0, 10**6)), message)
            plan.far_future += 1
            return _bundle(b"\xff" * 8, message)
        if pick < 0.95:
            plan.raises += 1
            return encode_message(RAISES, rng.randrange(100))
        if pick < 0.96:
            return b""
        if pick < 0.9975:  # up to 200 elements, a third of these bundles cut short
            elements = [encode_message(f"/fuzz/many/{k}", k) for k in range(rng.randrange(1, 200))]
            data = _bundle(IMMEDIATE, *elements)
            return data if rng.random() < 0.7 else data[: rng.randrange(16, len(data))]
        return rng.choice(large(rng.randrange(20_000, 30_000)))

    for k in range(n_fuzz):
        if k in valid_at:
            plan.datagrams.append(next(valid_iter)())
        plan.datagrams.append(fuzz())
    return plan


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_fuzz_every_valid_cue_applied_server_up_memory_flat() -> None:
    plan = make_plan()
    assert len(plan.scenes) == N_SCENES and len(plan.params) == N_PARAMS
    controls = Controls()  # the show's own: a cue log of 256, read here as it fills
    cursor = controls.listen()
    cues: list[str] = []
    errors: list[int] = []

    def raising(args: list[object], sender: tuple[str, int]) -> None:
        errors.append(1)
        raise RuntimeError(f"this handler always fails ({args})")

    srv = ControlServer(controls, 0, "127.0.0.1", max_delay_s=1.0)
    srv.add(RAISES, raising, "i", "a handler that raises")
    srv.start()
    to = ("127.0.0.1", srv.port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0

    def send(data: Datagram) -> None:
        nonlocal sent
        # a large datagram waits for an empty buffer
        window = 0 if not callable(data) and len(data) >= LARGE else WINDOW
        deadline = time.monotonic() + 5.0
        while sent - srv.counts["datagrams"] > window:
            assert time.monotonic() < deadline, "the server stopped reading"
            cues.extend(c.args[0] for c in cursor.drain() if c.name == "scene")
            time.sleep(0.0002)
        sock.sendto(data() if callable(data) else data, to)
        sent += 1

    def settled() -> bool:
        cues.extend(c.args[0] for c in cursor.drain() if c.name == "scene")
        return srv.counts["datagrams"] == sent and srv.pending == 0

    try:
        # python-osc, logging, the counters and the allocator take what they need once
        for data in [*large(), *make_plan(seed=SEED + 1, n_fuzz=1000).datagrams]:
            send(data)
        assert wait_for(settled), "warm-up datagrams not all received"
        cues.clear()
        for key in srv.counts:
            srv.counts[key] = 0
        sent = 0
        errors.clear()

        gc.collect()
        rss_before = _rss_mb()
        t0 = time.monotonic()
        for data in plan.datagrams:
            send(data)
        assert wait_for(settled), f"received {srv.counts['datagrams']} of {sent}, {srv.pending} pending"
        seconds = time.monotonic() - t0
        assert srv.pending == 0  # nothing held: far-future bundles were applied, near ones are done
        gc.collect()
        grown = _rss_mb() - rss_before

        # still alive and answering
        assert srv._thread is not None and srv._thread.is_alive()
        reply = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        reply.bind(("127.0.0.1", 0))
        reply.settimeout(2.0)
        reply.sendto(encode_message("/perform/ping"), to)  # the pong goes to the datagram's source
        sent += 1
        assert OscMessage(reply.recvfrom(1024)[0]).address == "/perform/pong"
        reply.close()
        send(encode_message("/perform/scene", "after"))
        assert wait_for(lambda: settled() and cues[-1:] == ["after"]), cues[-3:]
        cues.pop()
        counts = dict(srv.counts)
    finally:
        sock.close()
        assert srv.stop(), "server thread still running 0.5 s after stop()"

    # every valid cue applied, once, in order; nothing from the fuzz became a cue
    assert cursor.lost == 0
    assert cues == plan.scenes
    snapshot = controls.snapshot()
    assert {k: v for k, v in snapshot.items() if k.startswith("valid")} == plan.params
    # the handler that raises cost its messages, never the server
    assert counts["handler_error"] == len(errors) == plan.raises
    # bad datagrams counted under their kinds, and the books balance
    malformed = {k: counts[f"malformed.{k}"] for k in MALFORMED_KINDS}
    assert set(counts) == set(COUNT_KEYS)
    assert counts["datagrams"] == len(plan.datagrams) + 2  # and the ping and the last scene
    assert counts["datagrams"] == counts["packets"] + sum(malformed.values())
    assert counts["messages"] == (
        counts["handled"] + counts["unknown_address"] + counts["bad_args"] + counts["handler_error"]
    )
    assert all(malformed[k] > 0 for k in MALFORMED_KINDS if k != "parse"), malformed
    assert counts["malformed.parse"] == 0  # everything python-osc refuses is caught before it
    assert sum(malformed.values()) > N_FUZZ // 2
    # far-future bundles applied at once, never held
    assert counts["late_clamped"] == plan.far_future
    assert 0 < counts["delayed"] <= plan.delayed  # late arrivals are applied at once: timing, not a fault
    assert counts["handled"] >= N_SCENES + N_PARAMS + 1
    # bounded time and memory
    assert seconds < 20.0, f"fuzz took {seconds:.1f} s"
    assert grown < 10.0, f"memory (RSS) grew {grown:.1f} MB"
    n = len(plan.datagrams)
    print(
        f"\nfuzz: {n} datagrams in {seconds:.2f} s ({n / seconds:.0f}/s), {counts['messages']} messages, ",
        end="",
    )
    print(f"RSS {grown:+.2f} MB")
    print("counts:", {k: v for k, v in counts.items() if v})
