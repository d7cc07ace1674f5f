"""A show with events and a floor: positions and events reach OSC on a real socket."""

import socket
import time

from pythonosc.osc_packet import OscPacket

from perform.events.config import EventsConfig
from perform.osc.config import Osc, Target
from perform.runtime import ShowPipeline
from perform.show.models import Control, Show
from perform.vision.config import PoseConfig, VirtualSource


def test_floor_positions_and_events_reach_osc():
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    events = EventsConfig(
        floor={
            "image": [[0.0, 1.0], [1.0, 1.0], [1.0, 0.5], [0.0, 0.5]],
            "stage": [[-5.0, 0.0], [5.0, 0.0], [5.0, 10.0], [-5.0, 10.0]],
        },
        zones=[{"name": "left", "polygon": [[-5, 0], [0, 0], [0, 10], [-5, 10]]}],
    )
    show = Show(
        source=VirtualSource(kind="virtual", people=2, seed=3),
        pose=PoseConfig(max_people=2),
        events=events,
        osc=Osc(targets=[Target(host="127.0.0.1", port=rx.getsockname()[1], preset="default")]),
        control=Control(enabled=False),
    )
    pipeline = ShowPipeline(show)
    pipeline.start()
    messages: dict[str, tuple] = {}
    deadline = time.monotonic() + 8
    try:
        while time.monotonic() < deadline and not (
            "/perform/ctl/p1/floor_x" in messages
            and any(a.startswith("/perform/evt/p1/zone.") for a in messages)
        ):
            try:
                data = rx.recv(65536)
            except TimeoutError:
                continue
            for packet in OscPacket(data).messages:
                messages[packet.message.address] = tuple(packet.message.params)
    finally:
        pipeline.stop()
        rx.close()
    assert "/perform/ctl/p1/floor_x" in messages
    assert 0.0 <= messages["/perform/ctl/p1/floor_x"][0] <= 1.0
    assert "/perform/evt/p1/enter" in messages
    assert any(a.startswith("/perform/evt/p1/zone.left") for a in messages)
