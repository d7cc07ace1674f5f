"""The OSC control server over real UDP and HTTP sockets on 127.0.0.1 (python-osc and liblo as senders)."""

from __future__ import annotations

import json
import random
import shutil
import socket
import struct
import subprocess
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder
from pythonosc.udp_client import SimpleUDPClient

from perform.control import Controls, Cue, Value
from perform.osc.server import COUNT_KEYS, ControlServer
from perform.osc.wire import MALFORMED_KINDS, MalformedDatagram, encode_message, parse_datagram
from tests.tools import needs, wait_for

CORPUS = Path(__file__).parent / "data" / "osc"
#: Each committed bad datagram and the kind it must be counted as.
CORPUS_KINDS = {
    "empty.bin": "empty",
    "garbage_http.bin": "garbage",
    "garbage_bytes.bin": "garbage",
    "address_truncated.bin": "address",
    "address_unpadded.bin": "address",
    "address_not_utf8.bin": "encoding",
    "typetag_no_comma.bin": "typetag",
    "typetag_unterminated.bin": "typetag",
    "typetag_unknown.bin": "typetag",
    "typetag_unbalanced.bin": "typetag",
    "truncated_int.bin": "truncated",
    "truncated_float.bin": "truncated",
    "truncated_string.bin": "truncated",
    "truncated_blob.bin": "truncated",
    "truncated_blob_negative.bin": "truncated",
    "truncated_args_missing.bin": "truncated",
    "string_not_utf8.bin": "encoding",
    "bundle_header_truncated.bin": "bundle",
    "bundle_size_overrun.bin": "bundle",
    "bundle_size_negative.bin": "bundle",  # python-osc alone loops forever on this one
    "bundle_size_zero.bin": "bundle",
    "bundle_size_unaligned.bin": "bundle",
    "bundle_size_cut.bin": "bundle",
    "bundle_element_garbage.bin": "garbage",
    "bundle_element_truncated.bin": "truncated",
}
OSCSEND = shutil.which("oscsend")
OSCDUMP = shutil.which("oscdump")


class RecordingControls(Controls):
    """Controls with a cue log long enough for a whole test, and a fault knob.

    ``fail_on``: ``set`` raises for that parameter name (a broken stage behind the controls).
    """

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__()
        self.cursor = self.listen(capacity=100_000)
        self.fail_on = fail_on
        self.seen: list[Cue] = []

    def set(self, name: str, value: Value) -> bool:
        if name == self.fail_on:
            raise RuntimeError(f"parameter {name} is broken")
        return super().set(name, value)

    def drained(self) -> list[Cue]:
        self.seen.extend(self.cursor.drain())
        return self.seen


@pytest.fixture
def controls() -> RecordingControls:
    return RecordingControls()


@pytest.fixture
def server(controls: RecordingControls) -> Iterator[ControlServer]:
    sends = [("/perform/pose/1", "f" * 132, "performer 1 landmarks"), "/perform/event"]
    srv = ControlServer(controls, 0, "127.0.0.1", http_port=0, sends=sends).start()
    yield srv
    assert srv.stop(), "server threads still running 0.5 s after stop()"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5.0)
    yield sock
    sock.close()


def applied(controls: RecordingControls, n: int) -> list[tuple[str, tuple[Value, ...]]]:
    assert wait_for(lambda: len(controls.drained()) >= n), controls.drained()
    return [(c.name, c.args) for c in controls.drained()]


# -- every address ------------------------------------------------------------------------------


def test_every_address_with_python_osc(server: ControlServer, controls: RecordingControls) -> None:
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/perform/scene", "intro")
    client.send_message("/perform/scene", 2)
    client.send_message("/perform/take/start", [])
    client.send_message("/perform/take/start", "one")
    client.send_message("/perform/take/stop", [])
    client.send_message("/perform/events/arm", "jump")
    client.send_message("/perform/events/disarm", "jump")
    client.send_message("/perform/param/strength", 0.7)
    client.send_message("/perform/param/palette", "ember")
    client.send_message("/perform/param/count", 3)
    client.send_message("/perform/param/mirror", True)
    assert applied(controls, 7) == [
        ("scene", ("intro",)),
        ("scene", (2,)),
        ("take.start", ()),
        ("take.start", ("one.take",)),
        ("take.stop", ()),
        ("events.arm", ("jump",)),
        ("events.disarm", ("jump",)),
    ]
    assert wait_for(lambda: server.counts["handled"] == 11)
    assert controls.snapshot() == {"strength": 0.7, "palette": "ember", "count": 3, "mirror": True}
    assert controls.drained()[0].source.startswith("osc 127.0.0.1:")


def test_touchosc_buttons_fire_on_press_only(server: ControlServer, controls: RecordingControls) -> None:
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/perform/take/stop", 1.0)  # press
    client.send_message("/perform/take/stop", 0.0)  # release
    client.send_message("/perform/scene", 4.0)  # a fader or button sending the index as a float
    assert applied(controls, 2) == [("take.stop", ()), ("scene", (4,))]
    assert wait_for(lambda: server.counts["handled"] == 3)


@needs("oscsend")
def test_every_address_with_liblo_oscsend(server: ControlServer, controls: RecordingControls) -> None:
    port = str(server.port)
    lines = [
        ["/perform/scene", "s", "intro"],
        ["/perform/scene", "i", "3"],
        ["/perform/take/start", "s", "rehearsal.take"],
        ["/perform/take/stop"],
        ["/perform/events/arm", "s", "jump"],
        ["/perform/events/disarm", "s", "jump"],
        ["/perform/param/strength", "f", "0.25"],
        ["/perform/param/palette", "s", "ember"],
        ["/perform/param/blend", "d", "0.5"],
        ["/perform/param/freeze", "T"],
    ]
    for line in lines:
        subprocess.run([OSCSEND, "127.0.0.1", port, *line], check=True, timeout=10)
    assert applied(controls, 6) == [
        ("scene", ("intro",)),
        ("scene", (3,)),
        ("take.start", ("rehearsal.take",)),
        ("take.stop", ()),
        ("events.arm", ("jump",)),
        ("events.disarm", ("jump",)),
    ]
    assert wait_for(lambda: server.counts["handled"] == len(lines))
    assert controls.snapshot() == {"strength": 0.25, "palette": "ember", "blend": 0.5, "freeze": True}


@needs("oscsend", "oscdump")
def test_a_port_named_by_oscsend_gets_no_reply(server: ControlServer) -> None:
    """Replies go to the datagram's source only: naming another port must not aim them there."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    reply_port = probe.getsockname()[1]
    probe.close()
    dump = subprocess.Popen(
        [OSCDUMP, "-L", str(reply_port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(dump.stdout or []), daemon=True)
        reader.start()
        time.sleep(0.3)  # oscdump starting: nothing may arrive whether it listens yet or not
        for address in ("/perform/ping", "/perform/query"):
            command = [OSCSEND, "127.0.0.1", str(server.port), address, "i", str(reply_port)]
            subprocess.run(command, check=True)
        assert wait_for(lambda: server.counts["handled"] == 2), server.counts
        time.sleep(0.3)
        assert lines == []
    finally:
        dump.terminate()
        dump.wait(5)


def test_query_replies_to_the_sender(server: ControlServer, listener: socket.socket) -> None:
    listener.sendto(encode_message("/perform/query"), ("127.0.0.1", server.port))
    strings: list[str] = []
    while "/perform/pose/1" not in strings:
        ((_, message),) = parse_datagram(listener.recvfrom(65536)[0])
        assert message.address == "/perform/query/reply"
        assert all(isinstance(a, str) for a in message.params)
        strings += message.params
    accepts, sends = strings[: strings.index("sends")], strings[strings.index("sends") :]
    assert accepts[0] == "accepts"
    for address in ("/perform/scene", "/perform/param/*", "/perform/take/start", "/perform/take/stop"):
        assert address in accepts
    for address in ("/perform/events/arm", "/perform/events/disarm", "/perform/query", "/perform/ping"):
        assert address in accepts
    assert sends == ["sends", "/perform/pose/1", "/perform/event"]


def test_long_query_reply_is_split_into_datagrams(
    controls: RecordingControls, listener: socket.socket
) -> None:
    sends = [f"/perform/feature/p{n}/some_long_feature_name" for n in range(200)]
    with ControlServer(controls, 0, "127.0.0.1", sends=lambda: sends) as srv:
        listener.sendto(encode_message("/perform/query"), ("127.0.0.1", srv.port))
        strings: list[str] = []
        while sends[-1] not in strings:
            data = listener.recvfrom(65536)[0]
            assert len(data) <= 1400
            ((_, message),) = parse_datagram(data)
            chunk = message.params
            assert chunk[0] in ("accepts", "sends")  # each datagram names its section
            strings += chunk if not strings or chunk[0] != strings[-1] else chunk[1:]
    assert [s for s in strings if s.startswith("/perform/feature/")] == sends


def test_ping_answers_pong(server: ControlServer, listener: socket.socket) -> None:
    listener.sendto(encode_message("/perform/ping"), ("127.0.0.1", server.port))
    ((_, message),) = parse_datagram(listener.recvfrom(65536)[0])
    assert message.address == "/perform/pong"
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.settimeout(5.0)
    # a number is a trigger (a TouchOSC button), never a port to aim the reply at
    other.sendto(encode_message("/perform/ping", listener.getsockname()[1]), ("127.0.0.1", server.port))
    ((_, message),) = parse_datagram(other.recvfrom(65536)[0])
    assert message.address == "/perform/pong"
    other.close()
    assert wait_for(lambda: server.counts["replies"] == 2)
    listener.settimeout(0.2)
    with pytest.raises(TimeoutError):
        listener.recvfrom(65536)


def test_http_listing_is_oscquery_json(server: ControlServer) -> None:
    base = f"http://127.0.0.1:{server.http_port}"
    with urllib.request.urlopen(base + "/", timeout=5) as response:
        assert response.headers["Content-Type"] == "application/json"
        root = json.loads(response.read())
    assert root["FULL_PATH"] == "/"
    perform = root["CONTENTS"]["perform"]
    scene = perform["CONTENTS"]["scene"]
    assert {k: scene[k] for k in ("FULL_PATH", "ACCESS", "TYPE")} == {
        "FULL_PATH": "/perform/scene",
        "ACCESS": 2,
        "TYPE": "s",
    }
    assert sorted(scene["CONTENTS"]) == ["next", "previous"]  # a node is a method and a container
    leaves = {}

    def walk(node: dict) -> None:
        if "ACCESS" in node:
            leaves[node["FULL_PATH"]] = node
        for child in node.get("CONTENTS", {}).values():
            walk(child)

    walk(root)
    for address in [a.path for a in server.accepted()]:
        assert leaves[address]["ACCESS"] == 2 and leaves[address]["DESCRIPTION"]
    assert leaves["/perform/pose/1"] == {
        "FULL_PATH": "/perform/pose/1",
        "ACCESS": 1,
        "TYPE": "f" * 132,
        "DESCRIPTION": "performer 1 landmarks",
    }
    assert leaves["/perform/event"]["ACCESS"] == 1
    with urllib.request.urlopen(base + "/perform/take", timeout=5) as response:
        assert set(json.loads(response.read())["CONTENTS"]) == {"start", "stop"}
    with urllib.request.urlopen(base + "/?HOST_INFO", timeout=5) as response:
        info = json.loads(response.read())
    assert info["OSC_PORT"] == server.port and info["OSC_TRANSPORT"] == "UDP"
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base + "/perform/nothing", timeout=5)
    assert missing.value.code == 404


def test_listed_params_only(controls: RecordingControls) -> None:
    params = {"strength": "Style strength 0..1", "hue": "Colour shift"}
    with ControlServer(controls, 0, "127.0.0.1", params=params) as srv:
        client = SimpleUDPClient("127.0.0.1", srv.port)
        client.send_message("/perform/param/strength", 0.5)
        client.send_message("/perform/param/unknown", 0.5)
        assert wait_for(lambda: srv.counts["messages"] == 2)
        assert srv.counts["unknown_address"] == 1
        assert controls.snapshot() == {"strength": 0.5}
        paths = {a.path: a.description for a in srv.accepted()}
        assert paths["/perform/param/hue"] == "Colour shift" and "/perform/param/*" not in paths


# -- faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CORPUS_KINDS))
def test_corpus_datagram_is_malformed_with_its_kind(name: str) -> None:
    data = (CORPUS / name).read_bytes()
    with pytest.raises(MalformedDatagram) as caught:
        parse_datagram(data)
    assert caught.value.kind == CORPUS_KINDS[name], caught.value


def test_corpus_over_the_socket_is_counted_and_the_server_goes_on(
    server: ControlServer, controls: RecordingControls
) -> None:
    assert sorted(p.name for p in CORPUS.glob("*.bin")) == sorted(CORPUS_KINDS), "corpus and table differ"
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for name in sorted(CORPUS_KINDS):
        sock.sendto((CORPUS / name).read_bytes(), ("127.0.0.1", server.port))
    sock.sendto(encode_message("/perform/scene", "after"), ("127.0.0.1", server.port))
    sock.close()
    assert applied(controls, 1) == [("scene", ("after",))]
    expected = {kind: 0 for kind in MALFORMED_KINDS}
    for kind in CORPUS_KINDS.values():
        expected[kind] += 1
    assert {kind: server.counts[f"malformed.{kind}"] for kind in MALFORMED_KINDS} == expected
    assert server.counts["datagrams"] == len(CORPUS_KINDS) + 1
    assert server.counts["packets"] == 1


def test_unknown_addresses_and_wrong_arguments_are_counted(
    server: ControlServer, controls: RecordingControls
) -> None:
    client = SimpleUDPClient("127.0.0.1", server.port)
    client.send_message("/perform/nothing", 1)
    client.send_message("/other/app", [])
    client.send_message("/perform/param/", 1.0)  # no name
    client.send_message("/perform/scene", [])  # no scene
    client.send_message("/perform/scene", [1, 99.0])  # a crossfade longer than 60 s
    client.send_message("/perform/scene", -1)
    client.send_message("/perform/scene", 1.5)
    client.send_message("/perform/events/arm", 3)
    client.send_message("/perform/param/strength", [])
    client.send_message("/perform/param/strength", [1.0, 2.0])
    client.send_message("/perform/param/strength", float("nan"))
    client.send_message("/perform/take/stop", "now")
    client.send_message("/perform/ping", "now")  # not a trigger
    client.send_message("/perform/scene", "ok")
    assert applied(controls, 1) == [("scene", ("ok",))]
    assert wait_for(lambda: server.counts["messages"] == 14)
    assert server.counts["unknown_address"] == 3
    assert server.counts["bad_args"] == 10
    assert server.counts["handled"] == 1
    assert controls.snapshot() == {}
    client.send_message("/perform/scene", ["ok", 2.5])  # with a crossfade of 2.5 s
    client.send_message("/perform/scene/next", 1)
    client.send_message("/perform/scene/next", 0)  # a button's release
    assert applied(controls, 3)[1:] == [("scene", ("ok", 2.5)), ("scene.next", ())]


def test_a_handler_that_raises_is_counted_and_the_next_message_handled() -> None:
    controls = RecordingControls(fail_on="broken")
    with ControlServer(controls, 0, "127.0.0.1") as srv:
        calls: list[list] = []

        def fails_once(args: list, sender: tuple[str, int]) -> None:
            calls.append(args)
            if len(calls) == 1:
                raise ZeroDivisionError("first call fails")

        srv.add("/perform/custom", fails_once, "i", "a handler added by a stage")
        client = SimpleUDPClient("127.0.0.1", srv.port)
        client.send_message("/perform/param/broken", 1.0)
        client.send_message("/perform/param/fine", 2.0)
        client.send_message("/perform/custom", 1)
        client.send_message("/perform/custom", 2)
        assert wait_for(lambda: srv.counts["messages"] == 4)
        assert srv.counts["handler_error"] == 2
        assert srv.counts["handled"] == 2
        assert controls.snapshot() == {"fine": 2.0}
        assert calls == [[1], [2]]


def _bundle(timetag: float, *messages: tuple[str, Value]) -> bytes:
    builder = OscBundleBuilder(timetag)  # type: ignore[arg-type]
    for address, value in messages:
        message = OscMessageBuilder(address)
        message.add_arg(value)
        builder.add_content(message.build())
    return builder.build().dgram


def test_bundles_immediate_past_and_nested(server: ControlServer, controls: RecordingControls) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(
        _bundle(IMMEDIATELY, ("/perform/scene", "a"), ("/perform/param/x", 1)), ("127.0.0.1", server.port)
    )
    sock.sendto(_bundle(time.time() - 60, ("/perform/scene", "b")), ("127.0.0.1", server.port))
    inner = OscBundleBuilder(IMMEDIATELY)
    message = OscMessageBuilder("/perform/scene")
    message.add_arg("c")
    inner.add_content(message.build())
    outer = OscBundleBuilder(IMMEDIATELY)
    outer.add_content(inner.build())
    sock.sendto(outer.build().dgram, ("127.0.0.1", server.port))
    sock.close()
    assert applied(controls, 3) == [("scene", ("a",)), ("scene", ("b",)), ("scene", ("c",))]
    assert controls.get("x") == 1
    assert server.counts["delayed"] == server.counts["late_clamped"] == 0


def test_future_bundle_is_held_until_due(server: ControlServer, controls: RecordingControls) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    due = time.time() + 0.3
    sock.sendto(_bundle(due, ("/perform/scene", "later")), ("127.0.0.1", server.port))
    sock.close()
    assert applied(controls, 1) == [("scene", ("later",))]
    assert time.time() >= due - 0.01  # never early (being late is not asserted)
    assert server.counts["delayed"] == 1 and server.counts["late_clamped"] == 0


def test_far_future_bundle_is_applied_not_held(server: ControlServer, controls: RecordingControls) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.sendto(
        _bundle(time.time() + 3600 * 24 * 365, ("/perform/scene", "skewed")), ("127.0.0.1", server.port)
    )
    sock.close()
    # within max_delay_s: it is applied on arrival and never held
    assert applied(controls, 1) == [("scene", ("skewed",))]
    assert server.counts["late_clamped"] == 1 and server.pending == 0


def test_pending_list_is_bounded(controls: RecordingControls) -> None:
    with ControlServer(controls, 0, "127.0.0.1", max_pending=4) as srv:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        messages = [("/perform/scene", f"s{n}") for n in range(10)]
        sock.sendto(_bundle(time.time() + 0.5, *messages), ("127.0.0.1", srv.port))
        sock.close()
        assert wait_for(lambda: srv.counts["messages"] == 10)
        assert srv.counts["pending_overflow"] == 6 and srv.counts["delayed"] == 4
        assert srv.pending <= 4
        names = [args[0] for _, args in applied(controls, 10)]
        assert sorted(names) == sorted(f"s{n}" for n in range(10))


def test_port_in_use_is_a_clear_error(server: ControlServer, controls: RecordingControls) -> None:
    with pytest.raises(OSError, match=f"cannot listen on UDP 127.0.0.1:{server.port}"):
        ControlServer(controls, server.port, "127.0.0.1")


def test_stop_without_start_and_twice(controls: RecordingControls) -> None:
    srv = ControlServer(controls, 0, "127.0.0.1", http_port=0)
    assert srv.stop()
    started = ControlServer(controls, 0, "127.0.0.1", http_port=0).start()
    assert started.stop() and started.stop()


# -- fuzz ---------------------------------------------------------------------------------------


def _fuzz_datagrams(n: int, seed: int) -> list[bytes]:
    """Random bytes, truncated and bit-flipped valid datagrams, bundles with lying sizes."""
    rng = random.Random(seed)
    templates = [
        encode_message("/fuzz/a", 1, 2.5, "text"),
        encode_message("/fuzz/blob", b"\x01\x02\x03\x04\x05"),
        encode_message("/fuzz/b", True, False, "x" * 40),
        _bundle(IMMEDIATELY, ("/fuzz/c", 1), ("/fuzz/d", "two")),
        _bundle(time.time() + 0.2, ("/fuzz/e", 1.0)),
    ]
    # truncating these never leaves a cue that applies (an address alone is a wrong-arguments message)
    truncatable = [encode_message("/perform/scene", f"noise-{k}") for k in range(10)] + [
        encode_message("/perform/param/noise", 0.5),
        encode_message("/perform/events/arm", "noise"),
    ]
    out = []
    for _ in range(n):
        pick = rng.random()
        if pick < 0.25:
            out.append(rng.randbytes(rng.randrange(0, 200)))
        elif pick < 0.45:
            source = rng.choice(truncatable + templates)
            out.append(source[: rng.randrange(0, len(source))])
        elif pick < 0.65:
            data = bytearray(rng.choice(templates))
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
            out.append(bytes(data))
        elif pick < 0.8:
            prefix = rng.choice([b"/", b"/perform/", b"#bundle\x00", b"#bundle\x00" + struct.pack(">Q", 1)])
            out.append(prefix + rng.randbytes(rng.randrange(0, 60)))
        else:
            size = rng.choice([-4, 0, 3, 8, 1000, 2**31 - 1, -(2**31)])
            body = rng.choice(templates[:3])
            out.append(b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", size) + body)
    return out


def test_fuzz_keeps_the_server_up_and_applies_every_valid_cue_once() -> None:
    controls = RecordingControls()
    fuzz = _fuzz_datagrams(10_000, seed=4)
    valid_scenes = [f"cue-{n}" for n in range(300)]
    valid_params = {f"p{n}": n for n in range(100)}
    tracemalloc.start()
    try:
        srv = ControlServer(controls, 0, "127.0.0.1", max_delay_s=1.0).start()
        before = tracemalloc.get_traced_memory()[0]
        sent = [0]
        lock = threading.Lock()

        def send(sock: socket.socket, data: bytes) -> None:
            # stay at most 64 datagrams ahead of the server, so loopback never drops one
            while sent[0] - srv.counts["datagrams"] > 64:
                time.sleep(0.0005)
            with lock:
                sent[0] += 1
            sock.sendto(data, ("127.0.0.1", srv.port))

        def valid() -> None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for n, scene in enumerate(valid_scenes):
                send(sock, encode_message("/perform/scene", scene))
                if n < len(valid_params):
                    send(sock, encode_message(f"/perform/param/p{n}", n))
            sock.close()

        other = threading.Thread(target=valid)
        other.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for data in fuzz:
            send(sock, data)
        sock.close()
        other.join(30)
        total = len(fuzz) + len(valid_scenes) + len(valid_params)
        assert wait_for(lambda: srv.counts["datagrams"] == total and srv.pending == 0, timeout=15)
        grown = tracemalloc.get_traced_memory()[0] - before
        counts = dict(srv.counts)
        assert srv.stop()
    finally:
        tracemalloc.stop()

    scenes = [c.args[0] for c in controls.drained() if c.name == "scene"]
    assert scenes == valid_scenes  # each once, in order, and no fuzz cue applied
    assert [c for c in controls.drained() if c.name != "scene"] == []
    for name, value in valid_params.items():
        assert controls.get(name) == value
    assert counts["datagrams"] == total
    assert counts["datagrams"] == counts["packets"] + sum(counts[f"malformed.{k}"] for k in MALFORMED_KINDS)
    assert counts["messages"] == (
        counts["handled"] + counts["unknown_address"] + counts["bad_args"] + counts["handler_error"]
    )
    assert counts["handled"] >= len(valid_scenes) + len(valid_params)
    assert counts["handler_error"] == 0
    assert set(counts) == set(COUNT_KEYS)
    assert sum(counts[f"malformed.{k}"] for k in MALFORMED_KINDS) > 5_000
    assert grown < 10 * 2**20, f"memory grew {grown / 2**20:.1f} MB"
    print("fuzz counts:", {k: v for k, v in counts.items() if v})
