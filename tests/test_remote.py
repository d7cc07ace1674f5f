"""The pose stream between perform instances, and the remote source merging senders (UDP, 127.0.0.1)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from perform.osc.remote import RemoteSender, RemoteSource, RemoteSourceStage, SenderPlacement, place
from perform.osc.stream import (
    BODY_FLOATS,
    MAX_DATAGRAM,
    StreamBody,
    StreamFrame,
    StreamReceiver,
    encode_stream,
)
from perform.osc.wire import encode_message
from perform.pipeline import EventLog, Frame, Slot, Stats
from perform.vision.config import PoseConfig, Smoothing, Tracking
from perform.vision.perception import Perception
from perform.vision.types import Body, PersonEvent, Poses
from perform.vision.virtual import VirtualTroupe
from tests.tools import wait_for

CORPUS = Path(__file__).parent / "data" / "osc"
W, H = 1280, 720


def _body(slot: int, rng: np.random.Generator) -> Body:
    landmarks = rng.random((33, 4), dtype=np.float32)
    world = rng.standard_normal((33, 3)).astype(np.float32)
    return Body(slot, landmarks, world, score=float(rng.random()))


def _poses(n: int, seq: int = 7, seed: int = 0) -> Poses:
    rng = np.random.default_rng(seed)
    return Poses(seq, time.monotonic(), W, H, tuple(_body(i + 1, rng) for i in range(n)))


# -- the stream format --------------------------------------------------------------------------


def test_a_frame_splits_into_bundles_of_whole_bodies_with_one_time_tag() -> None:
    poses = _poses(3)
    datagrams = encode_stream(poses, "left")
    assert len(datagrams) == 3  # a body takes about 1.2 kB: one per 1472-byte datagram
    assert all(len(d) <= MAX_DATAGRAM and d.startswith(b"#bundle\x00") for d in datagrams)
    assert len({d[8:16] for d in datagrams}) == 1
    receiver = StreamReceiver()
    shuffled = datagrams[:]
    random.Random(1).shuffle(shuffled)
    results = [receiver.feed(d, "test") for d in shuffled]
    assert results[:2] == [None, None]
    frame = results[2]
    assert isinstance(frame, StreamFrame)
    assert (frame.source_id, frame.seq, frame.width, frame.height) == ("left", 7, W, H)
    assert [b.slot for b in frame.bodies] == [1, 2, 3]
    for sent, got in zip(poses.bodies, frame.bodies, strict=True):
        np.testing.assert_array_equal(got.landmarks, sent.landmarks)
        np.testing.assert_array_equal(got.world, sent.world)
        assert got.score == pytest.approx(sent.score, rel=1e-6)
    assert abs(frame.t_local() - poses.t_capture) < 0.05  # same machine: the wall clock round-trips
    assert receiver.counts["frames"] == 1


def test_bigger_datagrams_hold_several_bodies_and_an_empty_frame_is_a_header() -> None:
    assert len(encode_stream(_poses(3), "a", max_datagram=4000)) == 1
    (empty,) = encode_stream(_poses(0), "a")
    frame = StreamReceiver().feed(empty)
    assert frame is not None and frame.bodies == ()
    with pytest.raises(ValueError, match="one body needs"):
        encode_stream(_poses(1), "a", max_datagram=512)
    assert BODY_FLOATS == 33 * 7


def test_incomplete_and_stale_frames_are_dropped_and_counted() -> None:
    receiver = StreamReceiver()
    first = _poses(2, seq=1)
    second = replace(_poses(1, seq=2), t_capture=first.t_capture + 0.1)
    older = replace(_poses(1, seq=0), t_capture=first.t_capture - 0.1)
    a = encode_stream(first, "s")
    assert receiver.feed(a[0]) is None  # part 2 never comes
    (b,) = encode_stream(second, "s")
    frame = receiver.feed(b)
    assert frame is not None and frame.seq == 2
    (c,) = encode_stream(older, "s")
    assert receiver.feed(c) is None
    assert receiver.feed(b) is None  # a repeat is stale too
    assert (receiver.counts["incomplete"], receiver.counts["stale"], receiver.counts["frames"]) == (1, 2, 1)


def test_malformed_and_foreign_datagrams_are_counted() -> None:
    receiver = StreamReceiver()
    for path in sorted(CORPUS.glob("*.bin")):
        assert receiver.feed(path.read_bytes()) is None
    assert receiver.malformed == len(list(CORPUS.glob("*.bin")))
    good = encode_stream(_poses(1), "s")[0]
    assert receiver.feed(good[: len(good) // 2]) is None  # cut in half: the bundle size lies
    assert receiver.feed(encode_message("/perform/scene", "intro")) is None  # OSC, but not a stream
    nan = _poses(1)
    nan.bodies[0].landmarks[0, 0] = np.nan
    assert receiver.feed(encode_stream(nan, "s")[0]) is None
    assert receiver.counts["malformed.bundle"] >= 1
    assert receiver.counts["not_stream"] == 1
    assert receiver.counts["out_of_range"] == 1  # the NaN
    assert receiver.counts["frames"] == 0


def test_placement_keeps_the_senders_aspect_ratio() -> None:
    landmarks = np.zeros((33, 4), np.float32)
    landmarks[:, 0], landmarks[:, 1], landmarks[:, 2] = 0.5, 0.5, 0.2
    frame = StreamFrame(
        "s", 0, time.time(), 1280, 720, (StreamBody(1, 0.9, landmarks, np.zeros((33, 3), np.float32)),)
    )
    # two 16:9 cameras side by side in a 32:9 frame: each fills a half, full height
    (d,) = place(frame, SenderPlacement(id="s", x=0.5, y=0.0, scale=0.5), 2560, 720)
    assert d.landmarks[0, :3] == pytest.approx([0.75, 0.5, 0.1])
    # the same camera at half width in a 16:9 frame takes half the height
    (d,) = place(frame, SenderPlacement(id="s", x=0.0, y=0.25, scale=0.5), 1280, 720)
    assert d.landmarks[0, :2] == pytest.approx([0.25, 0.5])
    (d,) = place(frame, None, 1280, 720)
    assert d.landmarks[0, :2] == pytest.approx([0.5, 0.5])


def test_remote_source_model() -> None:
    source = RemoteSource.model_validate(
        {
            "kind": "remote",
            "port": 9100,
            "senders": [
                {"id": "left", "x": 0, "y": 0, "scale": 0.5},
                {"id": "right", "x": 0.5, "scale": 0.5},
            ],
            "timeout_s": 2,
            "width": 2560,
            "height": 720,
        }
    )
    assert [s.id for s in source.senders] == ["left", "right"] and source.fps == 30
    with pytest.raises(ValidationError, match="each id once"):
        RemoteSource.model_validate({"kind": "remote", "senders": [{"id": "a"}, {"id": "a"}]})
    with pytest.raises(ValidationError):
        RemoteSource.model_validate({"kind": "remote", "senders": [{"id": "a", "scale": 0}]})


# -- two machines on loopback -------------------------------------------------------------------


class StreamingMachine:
    """A camera machine: a virtual performer through Perception, streamed by a RemoteSender.

    Sends the same moment of the script over and over (a performer holding still), so where
    their landmarks must land on the show machine is known exactly.
    """

    def __init__(self, port: int, source_id: str, seed: int) -> None:
        self.troupe = VirtualTroupe(people=1, seed=seed)
        segment = self.troupe.performers[0].segments[1]  # standing on stage after walking on
        self.script_t = segment.t0 + 0.2
        self.perception = Perception(PoseConfig(smoothing=Smoothing(enabled=False)))
        self.sender = RemoteSender("127.0.0.1", port, source_id)
        self.last: Poses | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        seq = 0
        while not self._stop.is_set():
            detections = [d for _, d in self.troupe.detections(self.script_t, W, H)]
            poses = self.perception(detections, seq, time.monotonic(), W, H)
            self.sender.send(poses)
            if poses.bodies:
                self.last = poses
            seq += 1
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sender.close()


@pytest.fixture
def show() -> Iterator[tuple[RemoteSourceStage, Slot[Poses], EventLog[PersonEvent]]]:
    source = RemoteSource(
        kind="remote",
        port=0,
        host="127.0.0.1",
        senders=[SenderPlacement(id="left", x=0.0, scale=0.5), SenderPlacement(id="right", x=0.5, scale=0.5)],
        timeout_s=0.3,
        width=2 * W,
        height=H,
        fps=60,
    )
    config = PoseConfig(smoothing=Smoothing(enabled=False), tracking=Tracking(grace_s=0.2, confirm_frames=2))
    frames: Slot[Frame] = Slot("frames")
    frames.reader("preview")  # someone shows the camera image, so the skeletons are drawn
    poses: Slot[Poses] = Slot("poses")
    events: EventLog[PersonEvent] = EventLog()
    stage = RemoteSourceStage(Stats(), frames, poses, source, config, events)
    stage.start()
    yield stage, poses, events
    stage.stop()
    assert stage.join(1.0)


def _hips_x(landmarks: np.ndarray) -> float:
    return float((landmarks[23, 0] + landmarks[24, 0]) / 2)


def test_two_senders_merge_into_one_stage_at_their_places(
    show: tuple[RemoteSourceStage, Slot[Poses], EventLog[PersonEvent]],
) -> None:
    stage, poses, events = show
    reader = poses.reader("test")
    cursor = events.cursor()
    left = StreamingMachine(stage.port, "left", seed=1)
    right = StreamingMachine(stage.port, "right", seed=2)
    stray = StreamingMachine(stage.port, "stray", seed=3)  # not in senders: ignored
    try:
        merged: list[Poses] = []

        def both_on_stage() -> bool:
            item = reader.get(timeout=0.05)
            if item is not None and len(item.bodies) == 2:
                merged.append(item)
            return bool(merged)

        assert wait_for(both_on_stage), stage.counts
        assert left.last is not None and right.last is not None
        frame = merged[0]
        assert (frame.width, frame.height) == (2 * W, H)
        assert frame.frame is not None and frame.frame.image.shape == (H, 2 * W, 3)
        by_x = sorted(frame.bodies, key=lambda b: _hips_x(b.landmarks))
        for body, machine, x0 in ((by_x[0], left, 0.0), (by_x[1], right, 0.5)):
            sent = machine.last.bodies[0].landmarks
            np.testing.assert_allclose(body.landmarks[:, 0], x0 + 0.5 * sent[:, 0], atol=1e-5)
            np.testing.assert_allclose(body.landmarks[:, 1], sent[:, 1], atol=1e-5)  # 2 x 16:9 = 32:9
        assert _hips_x(by_x[0].landmarks) < 0.5 < _hips_x(by_x[1].landmarks)
        assert frame.features["people"] == 2
        assert stage.counts["unknown_sender"] > 0

        # the right-hand machine stops: it is dropped after timeout_s, its person leaves after grace_s
        right.stop()
        right_slot = by_x[1].slot
        assert wait_for(lambda: stage.counts["dropped_senders"] == 1)

        def only_left() -> bool:
            item = reader.get(timeout=0.05)
            return item is not None and [b.slot for b in item.bodies] == [by_x[0].slot]

        assert wait_for(only_left)
        assert wait_for(lambda: any(e.kind == "leave" and e.slot == right_slot for e in cursor.drain()))
        assert stage.alive
    finally:
        for machine in (left, right, stray):
            machine.stop()


def test_malformed_stream_datagrams_are_counted_not_fatal(
    show: tuple[RemoteSourceStage, Slot[Poses], EventLog[PersonEvent]],
) -> None:
    stage, poses, _ = show
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    corpus = sorted(CORPUS.glob("*.bin"))
    for path in corpus:
        sock.sendto(path.read_bytes(), ("127.0.0.1", stage.port))
    good = encode_stream(_poses(1), "left")[0]
    sock.sendto(good[:100], ("127.0.0.1", stage.port))
    sock.sendto(encode_message("/perform/ping"), ("127.0.0.1", stage.port))
    sock.close()
    assert wait_for(lambda: stage.counts["datagrams"] == len(corpus) + 2)
    assert stage.receiver.malformed == len(corpus) + 1
    assert stage.counts["not_stream"] == 1
    reader = poses.reader("test")
    assert wait_for(lambda: reader.get(timeout=0.05) is not None)  # still publishing
    left = StreamingMachine(stage.port, "left", seed=1)
    try:
        assert wait_for(lambda: (p := reader.get(timeout=0.05)) is not None and len(p.bodies) == 1)
    finally:
        left.stop()
    assert stage.alive


def test_port_in_use_is_a_source_error(
    show: tuple[RemoteSourceStage, Slot[Poses], EventLog[PersonEvent]],
) -> None:
    from perform.errors import SourceError

    stage, _, _ = show
    source = RemoteSource(kind="remote", port=stage.port, host="127.0.0.1")
    with pytest.raises(SourceError, match=f"cannot listen on UDP 127.0.0.1:{stage.port}"):
        RemoteSourceStage(Stats(), Slot("f"), Slot("p"), source, PoseConfig())
