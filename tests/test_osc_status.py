"""OSC stage health: what StatusSender sends, received on UDP on 127.0.0.1 and decoded by python-osc."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_packet import OscPacket
from pythonosc.parsing import osc_types

from perform.osc.config import Osc, Target
from perform.osc.doc import describe_status
from perform.osc.status import StatusSender, health, stage_address, status_targets
from perform.osc.wire import IMMEDIATELY
from perform.pipeline import Stats

DOCS = Path(__file__).resolve().parents[1] / "docs" / "osc.md"
Received = dict[str, tuple[str, list[object]]]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    yield sock
    sock.close()


def target(sock: socket.socket) -> Target:
    return Target(host="127.0.0.1", port=sock.getsockname()[1])


def receive(sock: socket.socket) -> tuple[Received, list[bytes]]:
    """One status (its bundles up to ``uptime``, the last message): each message by address, with
    its type tags and arguments."""
    out: Received = {}
    datagrams = []
    while "/perform/status/uptime" not in out:
        data = sock.recv(65536)
        datagrams.append(data)
        assert OscBundle.dgram_is_bundle(data)
        for timed in OscPacket(data).messages:
            address, index = osc_types.get_string(timed.message.dgram, 0)
            tags, _ = osc_types.get_string(timed.message.dgram, index)
            assert address not in out, f"{address} sent twice"
            out[address] = (tags, timed.message.params)
    return out, datagrams


def show_stats(now: float) -> Stats:
    """A running capture stage that handed a frame on 40 ms ago, and a take recorder waiting for a cue."""
    stats = Stats()
    stats.t_start = now - 10.0
    capture = stats.stage("capture")
    capture.state = "running"
    for k in range(30):
        capture.record(now - 1.0 + k / 30, now - 1.0 + k / 30)
    capture.record(now - 0.04, now - 0.04)
    stats.stage("take").state = "idle"
    return stats


def test_every_stage_arrives_with_its_state_counters_and_age(listener: socket.socket) -> None:
    now = time.monotonic()
    stats = show_stats(now)
    pose = stats.stage("pose")
    pose.state = "stalled"
    pose.errors, pose.restarts = 3, 1
    pose.dropped_fn = lambda: 7
    pose.record(now - 0.5, now - 0.5)
    sender = StatusSender(stats, [target(listener)])

    assert sender.send_now(now) == 1
    got, datagrams = receive(listener)

    assert datagrams[0][8:16] == IMMEDIATELY
    assert set(got) == {
        "/perform/status/capture",
        "/perform/status/take",
        "/perform/status/pose",
        "/perform/status/ok",
        "/perform/status/uptime",
    }  # and not the sender's own row
    tags, (state, fps, errors, restarts, dropped, age_ms) = got["/perform/status/capture"]
    assert tags == ",sfiiif"
    assert state == "running" and errors == restarts == dropped == 0
    assert fps == pytest.approx(stats.stages["capture"].rate.rate(now), rel=1e-3) and fps > 20
    assert age_ms == pytest.approx(40.0, abs=0.01)
    assert got["/perform/status/pose"] == (",sfiiif", ["stalled", 0.0, 3, 1, 7, pytest.approx(500.0)])
    assert got["/perform/status/take"] == (",sfiiif", ["idle", 0.0, 0, 0, 0, -1.0])
    assert got["/perform/status/ok"] == (",i", [0])  # pose is stalled
    tags, (uptime,) = got["/perform/status/uptime"]
    assert tags == ",f" and uptime == pytest.approx(stats.seconds, abs=0.5)
    assert stats.stages["status"].frames == 1 and sender.sent == 1


def test_ok_is_1_when_every_stage_runs_and_none_is_stale(listener: socket.socket) -> None:
    now = time.monotonic()
    stats = show_stats(now)
    sender = StatusSender(stats, [target(listener)], stale_s=2.0)
    sender.send_now(now)
    assert receive(listener)[0]["/perform/status/ok"] == (",i", [1])

    stats.stage("take").state = "recording"  # recording: expected to hand frames on
    sender.send_now(now)
    assert receive(listener)[0]["/perform/status/ok"] == (",i", [0])  # ten seconds and none yet


@pytest.mark.parametrize("state", ["stalled", "stopped", "ended"])
def test_a_stage_that_does_not_run_makes_ok_0(state: str) -> None:
    now = time.monotonic()
    stats = show_stats(now)
    stats.stage("capture").state = state
    assert not health(stats, now).ok


def test_a_running_stage_goes_stale_after_stale_s_without_output() -> None:
    now = time.monotonic()
    stats = show_stats(now)
    h = health(stats, now + 1.9, stale_s=2.0)
    assert h.ok and not h.stages[0].stale
    later = health(stats, now + 2.1, stale_s=2.0)
    capture = later.stages[0]
    assert capture.name == "capture" and capture.stale and capture.state == "running"
    assert capture.age_ms == pytest.approx(2140.0, abs=0.01) and capture.fps == 0.0
    assert not later.ok


def test_a_running_stage_that_never_produced_is_stale_after_stale_s_from_the_start() -> None:
    now = time.monotonic()
    stats = Stats()
    stats.t_start = now
    stats.stage("pose").state = "running"  # loading its model
    assert health(stats, now + 1.0, stale_s=2.0).ok
    late = health(stats, now + 3.0, stale_s=2.0)
    assert late.stages[0].age_ms == -1.0 and late.stages[0].stale and not late.ok


def test_the_stage_sends_every_period_until_stopped(listener: socket.socket) -> None:
    stats = show_stats(time.monotonic())
    sender = StatusSender(stats, [target(listener)], period_s=0.05)
    sender.start()
    try:
        t = [time.monotonic()]
        for _ in range(4):
            got, _ = receive(listener)
            t.append(time.monotonic())
            assert {"/perform/status/capture", "/perform/status/ok", "/perform/status/uptime"} <= set(got)
    finally:
        sender.stop()
        assert sender.join(1.0)
    assert stats.stages["status"].state == "stopped"
    assert sender.sent >= 4 and stats.stages["status"].errors == 0
    assert t[-1] - t[1] >= 2 * 0.05  # paced, not a burst


def test_every_target_gets_the_status(listener: socket.socket) -> None:
    other = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    other.bind(("127.0.0.1", 0))
    other.settimeout(2.0)
    try:
        stats = show_stats(time.monotonic())
        sender = StatusSender(stats, [target(listener), target(other)])
        assert sender.send_now() == 2
        assert receive(listener)[0] == receive(other)[0]
    finally:
        other.close()


def test_many_stages_are_split_into_bundles_under_max_datagram(listener: socket.socket) -> None:
    stats = Stats()
    for k in range(40):
        stats.stage(f"hop{k}").state = "running"
    sender = StatusSender(stats, [target(listener)], max_datagram=512)
    assert sender.send_now() > 1
    got, datagrams = receive(listener)
    assert all(len(d) <= 512 for d in datagrams)
    assert len(got) == 40 + 2


def test_counters_beyond_int32_are_clamped_and_names_fit_an_osc_address(listener: socket.socket) -> None:
    stats = Stats()
    odd = stats.stage("my stage #1")
    odd.state = "running"
    odd.errors = 2**40
    stats.stage("ok").state = "running"  # would collide with /perform/status/ok
    StatusSender(stats, [target(listener)]).send_now()
    got, _ = receive(listener)
    assert got["/perform/status/my_stage__1"][1][2] == 2**31 - 1
    assert got["/perform/status/stage_ok"][0] == ",sfiiif"
    assert got["/perform/status/ok"][0] == ",i"
    assert stage_address("pose") == "/perform/status/pose"


def test_a_failed_send_is_counted_not_raised(listener: socket.socket) -> None:
    stats = show_stats(time.monotonic())
    sender = StatusSender(stats, [Target(host="255.255.255.255", port=9), target(listener)])
    sender.udp.socket(socket.AF_INET).setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 0)
    assert sender.send_now() == 1  # the broadcast refused (EACCES), the next target still served
    assert stats.stages["status"].errors == 1
    assert "/perform/status/ok" in receive(listener)[0]


def test_status_targets_are_those_whose_mapping_wants_status() -> None:
    osc = Osc(
        targets=[
            Target(port=7000, preset="touchdesigner"),
            Target(port=7001, preset="lights"),
            Target(port=7002),  # default preset: status
        ]
    )
    assert [t.port for t in status_targets(osc)] == [7000, 7002]
    assert status_targets(osc.model_copy(update={"heartbeat": False})) == []
    assert status_targets(osc.model_copy(update={"enabled": False})) == []


def test_period_must_be_positive() -> None:
    with pytest.raises(ValueError, match="period_s: expected > 0, got 0"):
        StatusSender(Stats(), [], period_s=0)


def test_docs_list_the_status_addresses() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for doc in describe_status():
        assert f"| `{doc.address}` | {doc.tags} |" in text
