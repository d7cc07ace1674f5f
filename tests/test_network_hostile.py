"""A running show on loopback under hostile and careless control traffic (issue 13).

One show (virtual performers, scenes drawn headless from tests/data/render, control on a free
port with its HTTP listing) takes every control attack the issue lists, bounded in count and
time; then it must have run to its end, written nothing outside its takes folder, kept its
events stage and its memory, and applied the operator's scene cue sent in the middle of a flood.
Unit tests below cover the pieces without sockets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from perform.control import Controls, Cue, CueQueue, event_pattern, scene_name, take_name
from perform.errors import BadName
from perform.events.stage import MAX_PATTERNS, EventEngine, TooManyPatterns
from perform.osc.server import ControlServer
from perform.osc.wire import encode_message
from perform.schema import ip_network
from perform.vision.take import TakeError, open_new_take
from tests.tools import RunningShow, wait_for

ROOT = Path(__file__).resolve().parents[1]
RENDER = Path(__file__).parent / "data" / "render"
SECONDS = 26  # the show's length: start-up on a loaded machine, then every attack, then its end


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _snapshot(root: Path, skip: set[Path]) -> dict[str, tuple[str, int]]:
    """Every file, link and FIFO under ``root`` but ``skip``: what it is and its content's hash."""
    out = {}
    for path in sorted(root.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        if path.is_symlink():
            out[str(path)] = ("link:" + os.readlink(path), 0)
        elif path.is_fifo():
            out[str(path)] = ("fifo", 0)
        elif path.is_file():
            out[str(path)] = (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        else:
            out[str(path)] = ("dir", 0)
    return out


class Sender:
    """Datagrams to the show, in bursts the loopback buffer keeps (a flood, not a kernel drop)."""

    def __init__(self, port: int) -> None:
        self.to = ("127.0.0.1", port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sent = 0

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.to)
        self.sent += 1
        if self.sent % 40 == 0 or len(data) > 8000:
            time.sleep(0.01 if len(data) <= 8000 else 0.03)


def _write_show(tmp_path: Path) -> Path:
    folder = tmp_path / "show"
    folder.mkdir()
    config = folder / "show.yaml"
    config.write_text(
        "name: hostile\n"
        "source: {kind: virtual, people: 2, seed: 3, fps: 30, width: 320, height: 180}\n"
        "pose: {max_people: 2}\n"
        "events: {rules: [{name: up, feature: hands_up, above: 0.8}]}\n"
        "control: {host: 127.0.0.1, port: 0, http_port: 0}\n"
        f"render: {{enabled: true, folders: ['{RENDER}'], scenes: [red, blue], width: 160, height: 90,"
        " fps: 30, crossfade_s: 0, screenshots: shots}\n"
        "outputs: {preview: false, stats: stats.json}\n"
    )
    return config


def test_a_running_show_survives_every_control_attack(tmp_path: Path) -> None:
    config = _write_show(tmp_path)
    takes = config.parent / "takes"
    takes.mkdir()
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("do not touch\n")
    (takes / "existing.take").write_text("an earlier take\n")
    (takes / "link.take").symlink_to(sentinel)
    os.mkfifo(takes / "fifo.take")
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "evil.yaml").write_text("layers: []\n")  # a scene file outside the show's folders
    skip = {takes, config.parent / "stats.json", config.parent / "shots"}
    before = _snapshot(tmp_path, skip)

    show = RunningShow(config, SECONDS)
    try:
        ready = show.wait_for(r"OSC cues on UDP 127\.0\.0\.1:(\d+), listing on http://127\.0\.0\.1:(\d+)", 60)
        port, http_port = int(ready[1]), int(ready[2])
        pid = show.proc.pid
        t_ready = time.monotonic()
        flood = Sender(port)
        # the operator's own screenshot: its first one loads the PNG and video modules (18 MB, once)
        flood.send(encode_message("/perform/screenshot"))
        show.wait_for(r"screenshot: /\S+", 30)  # first frames, first scene built, the screenshot written
        rss0 = _rss_mb(pid)
        fds0 = len(os.listdir(f"/proc/{pid}/fd"))

        # one datagram used to end the show: a scene name too long for a file name, and paths
        for name in ["a" * 300, "/any/folder/evil", str(evil / "evil"), "../../config/demo", "../show"]:
            flood.send(encode_message("/perform/scene", name))
        flood.send(encode_message("/perform/scene", 10**6))

        # take names that are paths, links, FIFOs, files that exist; then many take cues
        for name in [f"../{sentinel.name}", str(sentinel), "deep/a/b/../x", "..", ".hidden", "b" * 300]:
            flood.send(encode_message("/perform/take/start", name))
        for name in ["link", "fifo", "existing"]:
            flood.send(encode_message("/perform/take/start", name))
            # one take a second is allowed, counted from when the cue is handled: each of these is one
            assert wait_for(lambda name=name: (takes / f"{name}-2.take").exists(), 20), show.text
            time.sleep(1.05)
        for _ in range(200):
            flood.send(encode_message("/perform/take/start", "many"))
        flood.send(encode_message("/perform/take/stop"))

        # slow HTTP connections hold their slot at most the timeout; a reset prints no traceback
        slow = []
        for _ in range(40):
            conn = socket.create_connection(("127.0.0.1", http_port), timeout=5)
            conn.sendall(b"GET /perf")
            slow.append(conn)
        for conn in slow[:5]:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # RST
        fds_slow = len(os.listdir(f"/proc/{pid}/fd"))

        # arm/disarm floods with big patterns, parameter floods; the operator's scene cue in the middle
        operator = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        for n in range(1500):
            flood.send(
                encode_message("/perform/events/arm" if n % 2 else "/perform/events/disarm", "x" * 1000)
            )
            flood.send(encode_message("/perform/events/arm", f"p{n}.*"))
            flood.send(encode_message(f"/perform/param/flood{n}", float(n)))
            flood.send(encode_message("/perform/screenshot"))
            if n == 750:
                operator.sendto(encode_message("/perform/scene", "blue"), ("127.0.0.1", port))
        for n in range(1200):
            flood.send(encode_message(f"/perform/param/more{n}", "v" * 200))
        for n in range(40):
            flood.send(encode_message("/perform/events/arm", "y" * 60_000))
            flood.send(encode_message(f"/perform/param/big{n}", "z" * 60_000))
        flood.send(encode_message("/perform/events/arm", "*"))  # and the operator's arming comes back

        # query amplification: a reply only to the sender, rate-limited
        victim = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        victim.bind(("127.0.0.1", 0))
        victim.settimeout(0.3)
        asker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        asker.settimeout(0.3)
        for _ in range(300):
            asker.sendto(encode_message("/perform/query", victim.getsockname()[1]), ("127.0.0.1", port))
        replies = 0
        try:
            while True:
                asker.recvfrom(2048)
                replies += 1
        except TimeoutError:
            pass
        with pytest.raises(TimeoutError):
            victim.recvfrom(2048)

        for conn in slow[5:]:
            conn.close()
        time.sleep(1.0)  # the last datagrams handled
        rss1 = _rss_mb(pid)
        attacks_s = time.monotonic() - t_ready
        assert show.proc.poll() is None, f"the show ended during the attacks ({attacks_s:.1f} s)"
        show.proc.wait(timeout=SECONDS + 30)
        show._reader.join(5.0)
    finally:
        if show.proc.poll() is None:
            show.proc.kill()
    err = "".join(show.lines)
    stats = json.loads((config.parent / "stats.json").read_text())
    print(f"attacks {attacks_s:.1f} s, RSS {rss0:.0f} -> {rss1:.0f} MB, fds {fds0} -> {fds_slow} (slow HTTP)")
    print("control:", {k: v for k, v in stats["control"].items() if v})

    assert show.proc.returncode == 0, err
    assert "Traceback" not in err and "internal error" not in err
    # nothing outside the takes folder created or changed; inside it, only new files
    assert _snapshot(tmp_path, skip) == before
    assert sentinel.read_text() == "do not touch\n"
    assert (takes / "existing.take").read_text() == "an earlier take\n"
    assert (takes / "link.take").is_symlink() and (takes / "fifo.take").is_fifo()
    made = sorted(p.name for p in takes.iterdir())
    assert {"link-2.take", "fifo-2.take", "existing-2.take"} <= set(made), made
    assert len([m for m in made if m.startswith("many")]) <= 3, made  # one a second at most
    assert all(p.parent == takes for p in takes.rglob("*"))
    # the events stage never restarted, memory and descriptors stayed put
    assert stats["restarts"]["events"] == 0 and stats["restarts"]["take"] == 0
    assert rss1 - rss0 < 20, f"RSS grew {rss1 - rss0:.1f} MB"
    assert fds_slow - fds0 <= 20, f"{fds_slow - fds0} descriptors for 40 slow connections"
    # the operator's scene cue, sent in the middle of the flood, was applied
    assert stats["render"]["scene"] == "blue"
    assert "scene: blue" in err
    assert len(list((config.parent / "shots").iterdir())) <= SECONDS  # one a second at most
    control = stats["control"]
    assert control["bad_args"] > 1500 and control["refused"] > 0 and control["replies_limited"] > 0
    assert control["http_refused"] > 0
    assert replies <= 60  # 20 a second at most, each query a few datagrams
    assert not any(re.search(r"evil|config/demo", line) and "scene:" in line for line in show.lines)


# -- without sockets ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["a" * 65, "/any/folder/evil", "../../config/demo", "a/b", ".hidden", "..", "", "x\x00y", "a\\b"]
)
def test_scene_and_take_names_are_names_not_paths(text: str) -> None:
    with pytest.raises(BadName):
        scene_name(text)
    with pytest.raises(BadName):
        take_name(text)


def test_good_names_pass_and_takes_get_their_suffix() -> None:
    assert scene_name("kandinsky") == "kandinsky" and scene_name("Act 2.b") == "Act 2.b"
    assert take_name("rehearsal") == "rehearsal.take" and take_name("r.take") == "r.take"
    assert event_pattern("pose.*") == "pose.*" and event_pattern("p1/jump") == "p1/jump"
    with pytest.raises(BadName, match="at most 64 characters"):
        event_pattern("x" * 1000)


def test_a_take_opens_only_a_new_regular_file(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("keep")
    folder = tmp_path / "takes"
    folder.mkdir()
    (folder / "a.take").write_text("old")
    (folder / "l.take").symlink_to(sentinel)
    (folder / "dangling.take").symlink_to(tmp_path / "nowhere")
    os.mkfifo(folder / "f.take")
    for name, expected in [("a.take", "a-2.take"), ("l.take", "l-2.take"), ("f.take", "f-2.take"),
                           ("dangling.take", "dangling-2.take"), ("new.take", "new.take")]:  # fmt: skip
        path, file = open_new_take(folder, name)
        with file:
            file.write(b"take")
        assert path == folder / expected
    path, file = open_new_take(folder, "a.take")
    file.close()
    assert path.name == "a-3.take"
    assert sentinel.read_text() == "keep" and (folder / "a.take").read_text() == "old"
    assert not (tmp_path / "nowhere").exists()
    for bad in ["../x.take", "/tmp/x.take", ".take", "x"]:
        with pytest.raises(TakeError):
            open_new_take(folder, bad)


def test_arm_patterns_are_bounded() -> None:
    engine = EventEngine()
    for n in range(MAX_PATTERNS):
        engine.disarm(f"p{n}.*")
    engine.arm("p0.*")  # one already known: replaced, not added
    with pytest.raises(TooManyPatterns):
        engine.arm("another")
    with pytest.raises(BadName):
        engine.arm("x" * 1000)
    assert len(engine._overrides) == MAX_PATTERNS
    engine.arm("*")  # clears them
    assert [o[0] for o in engine._overrides] == ["*"]
    assert engine.armed("p3.jump")


def test_cue_queues_keep_operator_cues_apart_from_a_flood() -> None:
    controls = Controls()
    scenes, arms = controls.listen("scene"), controls.listen("events.arm")
    for n in range(1000):
        controls.cue("events.arm", f"p{n}")
        controls.set(f"flood{n}", n)  # parameters never touch a cue queue
    assert controls.cue("scene", "blue")
    assert [c.args for c in scenes.drain()] == [("blue",)]
    assert len(arms) == arms.capacity and arms.lost == 1000 - arms.capacity
    assert len(arms.drain(4)) == 4 and len(arms) == arms.capacity - 4  # bounded per call
    assert controls.lost == 1000 - arms.capacity


def test_a_full_queue_refuses_the_newest_and_counts_it() -> None:
    queue = CueQueue(frozenset({"scene"}), capacity=2)
    assert queue.put(Cue("scene", ("a",))) and queue.put(Cue("scene", ("b",)))
    assert not queue.put(Cue("scene", ("c",)))
    assert [c.args[0] for c in queue.drain()] == ["a", "b"] and queue.lost == 1


def test_parameters_are_capped_and_a_refused_one_is_not_handled() -> None:
    controls = Controls()
    assert not controls.set("n" * 65, 1.0)
    assert not controls.set("long", "v" * 257)
    for n in range(Controls.MAX_NAMES):
        assert controls.set(f"p{n}", n)
    assert not controls.set("one_more", 1) and controls.set("p0", 2)
    assert controls.refused == 3
    server = ControlServer(controls, 0, "127.0.0.1")
    try:
        server.receive(encode_message("/perform/param/another", 1.0), ("127.0.0.1", 1))
        server.receive(encode_message("/perform/param/p1", "x" * 300), ("127.0.0.1", 1))
        assert server.counts["refused"] == 1 and server.counts["bad_args"] == 1
        assert server.counts["handled"] == 0
    finally:
        server.stop()


def test_senders_outside_the_allow_list_are_dropped_unread() -> None:
    controls = Controls()
    queue = controls.listen("scene")
    server = ControlServer(controls, 0, "127.0.0.1", allow=["192.168.1.0/24", "127.0.0.1"])
    try:
        server.receive(encode_message("/perform/scene", "red"), ("10.0.0.5", 9))
        server.receive(encode_message("/perform/scene", "blue"), ("192.168.1.20", 9))
        server.receive(encode_message("/perform/scene", "red"), ("::ffff:127.0.0.1", 9))
        assert server.counts["not_allowed"] == 1 and server.counts["handled"] == 2
        assert [c.args[0] for c in queue.drain()] == ["blue", "red"]
    finally:
        server.stop()
    with pytest.raises(ValueError, match=r"192\.168\.1\.0/24"):
        ip_network("192.168.1.300")


def test_replies_go_to_the_source_only_and_are_rate_limited() -> None:
    server = ControlServer(Controls(), 0, "127.0.0.1", reply_rate=5.0)
    sent: list[tuple[str, int]] = []
    server._send = lambda data, to: sent.append(to)  # type: ignore[method-assign]
    try:
        for _ in range(50):
            server.receive(encode_message("/perform/ping", 4242), ("127.0.0.1", 5555))
        assert set(sent) == {("127.0.0.1", 5555)}
        assert len(sent) == 5 and server.counts["replies_limited"] == 45
    finally:
        server.stop()


def test_a_taken_control_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = _write_show(tmp_path)
    taken = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    taken.bind(("127.0.0.1", 0))
    port = taken.getsockname()[1]
    try:
        result = subprocess.run(
            [sys.executable, "-m", "perform", "run", str(config), "--headless", "--seconds", "1",
             "--control", str(port)],
            cwd=config.parent, env={**os.environ, "COLUMNS": "400"}, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip
    finally:
        taken.close()
    assert result.returncode == 2, result.stderr
    assert f"cannot listen for OSC cues on UDP 127.0.0.1:{port}: Address already in use" in result.stderr
    assert "--control PORT" in result.stderr and "control.port: 0" in result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
