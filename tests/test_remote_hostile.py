"""A remote source on a hostile show network: real UDP on loopback, a real sender, and attacks.

127.0.0.2 plays another machine. Each attack is bounded in count and time; throughout, the real
sender's body must keep reaching the merged poses, nothing may raise on a stage's thread, and the
counters must say what was refused.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from perform.osc.remote import RemoteSender, RemoteSource, RemoteSourceStage
from perform.osc.stream import encode_stream
from perform.pipeline import Frame, Slot, Stats
from perform.vision.config import PoseConfig, Smoothing, Tracking
from perform.vision.types import Body, Poses
from tests.tools import wait_for

W, H = 1280, 720
FPS = 30
#: Fewest merged frames a second with the real sender's body in them while an attack runs.
MIN_RATE = 10.0


def _body(x: float, seed: int = 0) -> Body:
    rng = np.random.default_rng(seed)
    landmarks = np.empty((33, 4), np.float32)
    landmarks[:, 0] = x + 0.05 * rng.random(33)
    landmarks[:, 1] = 0.3 + 0.4 * rng.random(33)
    landmarks[:, 2] = 0.0
    landmarks[:, 3] = 0.95
    return Body(1, landmarks, rng.standard_normal((33, 3)).astype(np.float32), score=0.9)


REAL = _body(0.2)  # the real performer stands on the left
FAKE = _body(0.85, seed=1)  # what attackers try to put on stage


class RealSender:
    """The camera machine: one performer held still, streamed as ``left`` at 50 frames a second."""

    def __init__(self, port: int) -> None:
        self.sender = RemoteSender("127.0.0.1", port, "left")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.wait(0.02):
            self.sender.send(Poses(seq, time.monotonic(), W, H, (REAL,)))
            seq += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sender.close()


class Show:
    """The show machine's remote source, counting merged frames with a fresh frame of the real sender's."""

    def __init__(self, **source: Any) -> None:
        config = PoseConfig(smoothing=Smoothing(enabled=False), tracking=Tracking(confirm_frames=1))
        self.source = RemoteSource(kind="remote", host="127.0.0.1", port=0, fps=FPS, **source)
        self.stats = Stats()
        self.stage = RemoteSourceStage(
            self.stats, Slot[Frame]("frames"), Slot[Poses]("poses"), self.source, config
        )
        self.stage.stall_budget_s = 1.0  # as the show sets it
        self.reader = self.stage.poses.reader("test")
        self.real = 0
        self.fake = 0
        self._last_seq = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.stage.start()
        self._thread.start()

    @property
    def port(self) -> int:
        return self.stage.port

    @property
    def counts(self) -> dict[str, int]:
        return self.stage.counts

    def _watch(self) -> None:
        while not self._stop.is_set():
            poses = self.reader.get(timeout=0.05)
            if poses is None:
                continue
            xs = [float(b.landmarks[:, 0].mean()) for b in poses.bodies]
            self.fake += any(x > 0.7 for x in xs)
            latest = self.stage.latest.get("left")
            if latest is not None and latest[0].seq != self._last_seq and any(x < 0.5 for x in xs):
                self.real += 1  # a merged frame with a new frame of the real sender's in it
                self._last_seq = latest[0].seq

    def rate_while(self, attack: Callable[[], None]) -> float:
        """Merged frames a second with the real body in them while ``attack`` runs."""
        before, t0 = self.real, time.monotonic()
        attack()
        return (self.real - before) / (time.monotonic() - t0)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.stage.stop()
        assert self.stage.join(2.0)


@pytest.fixture
def uncaught(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that reach the top of any thread."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


@pytest.fixture
def attacker() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.2", 0))  # another machine on the show network
    yield sock
    sock.close()


@pytest.fixture
def show(uncaught: list[BaseException]) -> Iterator[tuple[Show, RealSender]]:
    machine = Show(max_datagrams=32, max_senders=8)
    sender = RealSender(machine.port)
    assert wait_for(lambda: machine.real >= 5), machine.counts  # streaming before any attack
    yield machine, sender
    sender.stop()
    machine.close()
    assert machine.stage.stats.errors == 0 and machine.stage.stats.restarts == 0
    assert not uncaught


def _paced(send: Callable[[int], None], count: int, per_s: float) -> None:
    """``send(i)`` for i < count at ``per_s`` a second, in 10 ms bursts."""
    t0 = time.monotonic()
    for i in range(count):
        send(i)
        due = t0 + (i + 1) / per_s
        if (i + 1) % max(1, int(per_s / 100)) == 0 and due > time.monotonic():
            time.sleep(due - time.monotonic())


def _datagram(body: Body, source_id: str, seq: int, ahead_s: float = 0.0) -> bytes:
    (data,) = encode_stream(Poses(seq, time.monotonic() + ahead_s, W, H, (body,)), source_id)
    return data


def test_a_spoofed_sender_name_injects_nobody(show: tuple[Show, RealSender], attacker: socket.socket) -> None:
    machine, _ = show
    send = lambda i: attacker.sendto(_datagram(FAKE, "left", 10_000 + i), ("127.0.0.1", machine.port))  # noqa: E731
    rate = machine.rate_while(lambda: _paced(send, 300, 200))
    assert rate >= MIN_RATE
    assert wait_for(lambda: machine.counts["spoofed"] == 300), machine.counts
    assert machine.fake == 0


def test_the_allow_list_keeps_other_machines_out(
    uncaught: list[BaseException], attacker: socket.socket
) -> None:
    machine = Show(allow=["127.0.0.1/32"])
    sender = RealSender(machine.port)
    try:
        assert wait_for(lambda: machine.real >= 5)
        send = lambda i: attacker.sendto(_datagram(FAKE, "ghost", i), ("127.0.0.1", machine.port))  # noqa: E731
        assert machine.rate_while(lambda: _paced(send, 200, 200)) >= MIN_RATE
        assert wait_for(lambda: machine.counts["not_allowed"] == 200), machine.counts
        assert machine.fake == 0
    finally:
        sender.stop()
        machine.close()
    assert not uncaught


def test_time_tags_a_day_ahead_do_not_make_real_frames_stale(show: tuple[Show, RealSender]) -> None:
    machine, _ = show
    # from the same machine (another port, so the pin does not apply): empty frames as "left",
    # time-tagged a day ahead; before, every real frame after them was stale for a day
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for i in range(20):
            (ahead,) = encode_stream(Poses(i, time.monotonic() + 86400, W, H, ()), "left")
            sock.sendto(ahead, ("127.0.0.1", machine.port))
    finally:
        sock.close()
    assert wait_for(lambda: machine.counts["retimed"] == 20), machine.counts
    after = machine.real
    assert wait_for(lambda: machine.real >= after + 20, timeout=3.0)  # the real frames go on arriving
    assert machine.counts["stale"] < 10


def test_half_frames_under_many_names_do_not_lock_senders_out(
    show: tuple[Show, RealSender], attacker: socket.socket
) -> None:
    machine, _ = show

    def half(i: int) -> None:
        first = encode_stream(Poses(i, time.monotonic(), W, H, (FAKE, FAKE)), f"junk{i}")[0]
        attacker.sendto(first, ("127.0.0.1", machine.port))

    assert machine.rate_while(lambda: _paced(half, 200, 200)) >= MIN_RATE
    assert wait_for(lambda: machine.counts["datagrams"] >= 200 and machine.stage.receiver.sources <= 2)
    # a second real machine that starts now is taken at once
    right = RemoteSender("127.0.0.1", machine.port, "right")
    try:
        assert wait_for(
            lambda: right.send(Poses(1, time.monotonic(), W, H, ())) and "right" in machine.stage.latest
        )
    finally:
        right.close()
    assert machine.counts["evicted"] + machine.counts["expired"] >= 190, machine.counts
    assert machine.fake == 0


def test_absurd_coordinates_are_dropped_and_capture_keeps_its_rate(
    show: tuple[Show, RealSender], attacker: socket.socket
) -> None:
    machine, _ = show
    huge = replace(FAKE, landmarks=np.full((33, 4), 3e38, np.float32))
    send = lambda i: attacker.sendto(_datagram(huge, f"bad{i % 3}", i), ("127.0.0.1", machine.port))  # noqa: E731
    assert machine.rate_while(lambda: _paced(send, 200, 200)) >= MIN_RATE
    assert wait_for(lambda: machine.counts["out_of_range"] == 200), machine.counts
    assert machine.fake == 0


def test_a_flood_of_valid_datagrams_costs_datagrams_not_the_frame_rate(
    show: tuple[Show, RealSender], attacker: socket.socket
) -> None:
    machine, _ = show
    # 1,800 valid datagrams a second for 2 s: an allowed sender that streams far too much
    send = lambda i: attacker.sendto(_datagram(FAKE, "flood", i), ("127.0.0.1", machine.port))  # noqa: E731
    rate = machine.rate_while(lambda: _paced(send, 3600, 1800))
    print(f"\nreal sender during a flood of 1,800 datagrams/s: {rate:.1f} merged frames/s; {machine.counts}")
    assert rate >= MIN_RATE
    assert machine.counts["shed"] > 0  # 32 a frame are read, a bounded number more discarded unread
    assert machine.stage.stats.restarts == 0
