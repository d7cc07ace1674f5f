"""Every preset's frame read by liblo's oscdump: each message has a documented address and type tags."""

from __future__ import annotations

import queue
import re
import socket
import subprocess
import threading
import time

import numpy as np
import pytest

from perform.events.types import Event
from perform.osc.config import PRESETS, Osc, Target
from perform.osc.doc import describe
from perform.osc.out import OscOutStage, WallClock
from perform.osc.wire import encode
from perform.pipeline import Slot, Stats
from perform.vision.detail import Detail
from perform.vision.face import FACE_POINTS, NUM_FACE_LANDMARKS, Face
from perform.vision.features import FEATURES, PERSON, PERSON_FEATURES
from perform.vision.hands import HAND_LANDMARK_NAMES, Hand
from perform.vision.types import LANDMARK_NAMES, Poses
from tests.test_osc_out import make_poses
from tests.tools import needs

pytestmark = needs("oscdump")

_STAGE = [n.split(".", 1)[1] for n, f in FEATURES.items() if f.scope != PERSON and "." in n]
_PARTS = {
    "<N>": r"\d+",
    "<landmark>": "(?:" + "|".join([*LANDMARK_NAMES, *HAND_LANDMARK_NAMES, *FACE_POINTS]) + ")",
    "<part>": "(?:left_hand|right_hand|face)",
    "<hand>": "(?:left_hand|right_hand)",
    "<field>": "(?:x|y|z|visibility)",
    "<event>": r"[a-z][a-z0-9_]*",
}


def _pattern(address: str) -> re.Pattern[str]:
    text = re.escape(address)
    text = text.replace(re.escape("p<N>/<feature>"), r"p\d+/(?:" + "|".join(PERSON_FEATURES) + ")")
    text = text.replace(re.escape("stage/<feature>"), "stage/(?:" + "|".join(_STAGE) + ")")
    for part, rx in _PARTS.items():
        text = text.replace(re.escape(part), rx)
    return re.compile(text)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OscDump:
    """``oscdump -L PORT`` (line-buffered) with its lines on a queue."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            ["oscdump", "-L", str(self.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:  # oscdump says nothing when ready: probe until it answers
            self.send(encode("/probe", "i", (1,)))
            try:
                if "/probe" in self.lines.get(timeout=0.1):
                    break
            except queue.Empty:
                continue
        else:
            self.close()
            pytest.fail("oscdump did not start")
        time.sleep(0.05)
        self.drain()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, datagram: bytes) -> None:
        self._probe.sendto(datagram, ("127.0.0.1", self.port))

    def drain(self) -> list[str]:
        out = []
        while True:
            try:
                out.append(self.lines.get_nowait())
            except queue.Empty:
                return out

    def until(self, marker: str, timeout: float = 5.0) -> list[str]:
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if marker in line:
                return out
            out.append(line)
        pytest.fail(f"oscdump never printed {marker!r}; got {out[-3:]}")

    def close(self) -> None:
        self._probe.close()
        self.proc.terminate()
        self.proc.wait(timeout=5)


@pytest.fixture(scope="module")
def oscdump():
    dump = OscDump()
    yield dump
    dump.close()


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_message_of_every_preset_decodes_as_documented(oscdump, preset):
    clock = WallClock()
    stage = OscOutStage(
        Stats(), Slot("poses"), None, Osc(targets=[Target(port=oscdump.port, preset=preset)]), clock
    )
    p = make_poses(people=3)
    hand = Hand("left", np.full((21, 3), 0.5, np.float32), np.zeros((21, 3), np.float32), 1.0, 1.0, 0.0)
    face = Face(np.full((NUM_FACE_LANDMARKS, 3), 0.5, np.float32), 1.0, 0.0)
    details = {1: Detail(1, hand, None, face)}  # hands and face on (pose.detail); a right hand not found
    poses = Poses(7, time.monotonic(), 1280, 720, p.bodies, p.features, details=details)
    events = [
        Event("hands_up", 2, True, poses.t_capture, 0.9),
        Event("people_changed", None, False, poses.t_capture),
    ]
    stage.send_frame(poses, events, now=stage._status_t + 1.5)  # a second in: status is due too
    stage.on_stop()
    oscdump.send(encode(f"/done/{preset}", "i", (1,)))
    lines = oscdump.until(f"/done/{preset}")

    documented = [(_pattern(row.address), row.tags) for row in describe(PRESETS[preset])]
    assert len(lines) == stage.counters.messages > 0
    seen = set()
    timetag = clock.timetag(poses.t_capture)
    expected_stamp = f"{int.from_bytes(timetag[:4], 'big'):08x}.{int.from_bytes(timetag[4:], 'big'):08x}"
    for line in lines:
        stamp, address, tags, *args = line.split()
        assert stamp == expected_stamp, line
        match = [i for i, (rx, t) in enumerate(documented) if rx.fullmatch(address) and t == tags]
        assert match, f"{preset}: undocumented {address} {tags}"
        assert len(args) == len(tags)
        for tag, arg in zip(tags, args, strict=True):
            (int if tag == "i" else float)(arg)
        seen.update(match)
    assert seen == set(range(len(documented)))  # every documented address was in the frame
