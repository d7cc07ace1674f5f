"""Two perform instances: a camera machine streams its poses to a show machine's remote source."""

import time

from perform.osc.config import Osc, RemoteSource, SenderPlacement, StreamTarget
from perform.runtime import ShowPipeline
from perform.show.models import Control, Show
from perform.vision.config import PoseConfig, VirtualSource


def test_a_camera_machine_streams_to_a_show_machine():
    show_machine = ShowPipeline(
        Show(
            name="show machine",
            source=RemoteSource(kind="remote", port=0, senders=[SenderPlacement(id="left", scale=0.5)]),
            pose=PoseConfig(max_people=4),
            control=Control(enabled=False),
        )
    )
    show_machine.start()
    port = show_machine.capture.port
    camera_machine = ShowPipeline(
        Show(
            name="camera machine",
            source=VirtualSource(kind="virtual", people=2, seed=3),
            pose=PoseConfig(max_people=2),
            osc=Osc(stream=[StreamTarget(host="127.0.0.1", port=port, id="left")]),
            control=Control(enabled=False),
        )
    )
    reader = show_machine.poses.reader("test")
    camera_machine.start()
    seen = []
    deadline = time.monotonic() + 8
    try:
        while time.monotonic() < deadline and len(seen) < 30:
            poses = reader.get(0.5)
            if poses is not None and poses.bodies:
                seen.append(poses)
    finally:
        camera_machine.stop()
        show_machine.stop()
    assert len(seen) >= 30
    # the left camera fills the left half of the combined stage
    xs = [float(b.landmarks[:, 0].mean()) for p in seen for b in p.bodies]
    assert max(xs) <= 0.55
    assert camera_machine.stats.stage("stream").frames >= 30
    assert any("p1.energy" in p.features for p in seen)  # features computed on the show machine
