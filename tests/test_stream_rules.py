"""Who may stream poses, and what a datagram may hold: the receiver's checks, raw datagrams, no sockets."""

from __future__ import annotations

import random
import time
from dataclasses import replace

import numpy as np
import pytest
from pydantic import ValidationError

from perform.osc.config import RemoteSource, SenderPlacement
from perform.osc.remote import sender_rules
from perform.osc.stream import (
    DROP_KEYS,
    MAX_BODIES,
    PART_TIMEOUT_S,
    SenderRules,
    StreamReceiver,
    encode_stream,
)
from perform.runtime import ShowPipeline
from perform.schema import ip_network
from perform.show.models import Control, Show, Stages
from perform.vision.types import Body, Poses

W, H = 1280, 720
LEFT = "10.0.0.1:40000"
OTHER = "10.0.0.2:40000"


def _poses(n: int = 1, seq: int = 1, ahead_s: float = 0.0, seed: int = 0) -> Poses:
    rng = np.random.default_rng(seed)
    bodies = tuple(
        Body(
            i + 1,
            rng.random((33, 4), dtype=np.float32),
            rng.standard_normal((33, 3)).astype(np.float32),
            score=0.9,
        )
        for i in range(n)
    )
    return Poses(seq, time.monotonic() + ahead_s, W, H, bodies)


def _one(poses: Poses, source_id: str = "left", key: bytes | None = None) -> bytes:
    (datagram,) = encode_stream(poses, source_id, max_datagram=65000, key=key)
    return datagram


def _dropped(receiver: StreamReceiver) -> dict[str, int]:
    return {k: receiver.counts[k] for k in DROP_KEYS if receiver.counts[k]}


# -- a sender id is pinned to its address -------------------------------------------------------


def test_an_id_is_pinned_to_the_address_it_first_streamed_from() -> None:
    receiver = StreamReceiver(SenderRules(pin_s=5.0))
    now = 100.0
    assert receiver.feed(_one(_poses(seq=1)), LEFT, now=now) is not None
    assert receiver.pinned("left", now) == "10.0.0.1"
    # another machine claiming "left" injects nothing, and the real sender goes on
    assert receiver.feed(_one(_poses(seq=2, seed=9)), OTHER, now=now + 0.01) is None
    assert receiver.feed(_one(_poses(seq=3)), "10.0.0.1:40001", now=now + 0.02) is not None  # new port: same
    assert _dropped(receiver) == {"spoofed": 1}
    # once "left" has been silent pin_s, another machine may take the id
    assert receiver.feed(_one(_poses(seq=4)), OTHER, now=now + 5.1) is not None
    assert receiver.pinned("left", now + 5.1) == "10.0.0.2"


def test_a_spoofed_part_does_not_break_a_frame_being_put_together() -> None:
    receiver = StreamReceiver(SenderRules(pin_s=5.0))
    assert receiver.feed(_one(_poses(seq=1)), LEFT) is not None
    parts = encode_stream(_poses(3, seq=2), "left")
    assert len(parts) == 3
    assert receiver.feed(parts[0], LEFT) is None
    assert receiver.feed(_one(_poses(1, seq=99)), OTHER) is None  # spoofed, in the middle
    assert receiver.feed(parts[1], LEFT) is None
    frame = receiver.feed(parts[2], LEFT)
    assert frame is not None and len(frame.bodies) == 3
    assert receiver.counts["incomplete"] == 0 and receiver.counts["spoofed"] == 1


def test_without_pinning_the_newest_address_wins() -> None:
    receiver = StreamReceiver(SenderRules(pin_s=0.0))
    assert receiver.feed(_one(_poses(seq=1)), LEFT) is not None
    assert receiver.feed(_one(_poses(seq=2)), OTHER) is not None


def test_configured_senders_come_from_their_addresses_only() -> None:
    source = RemoteSource(
        kind="remote",
        senders=[SenderPlacement(id="left", address="10.0.0.1"), SenderPlacement(id="right")],
    )
    receiver = StreamReceiver(sender_rules(source))
    assert receiver.feed(_one(_poses(), "left"), OTHER) is None  # never from elsewhere, even first
    assert receiver.feed(_one(_poses(), "stray"), OTHER) is None
    assert receiver.feed(_one(_poses(), "left"), LEFT) is not None
    assert receiver.feed(_one(_poses(), "right"), OTHER) is not None  # no address: pinned on first
    assert _dropped(receiver) == {"spoofed": 1, "unknown_sender": 1}


def test_the_allow_list_refuses_other_networks_before_parsing() -> None:
    receiver = StreamReceiver(SenderRules(allow=(ip_network("192.168.1.0/24"), ip_network("10.0.0.1"))))
    good = _one(_poses())
    assert receiver.feed(good, "192.168.2.5:9") is None
    assert receiver.feed(b"garbage", "192.168.2.5:9") is None  # refused before it is parsed
    assert receiver.feed(good, "not-an-address") is None
    assert receiver.feed(good, "192.168.1.77:9") is not None
    assert receiver.feed(_one(_poses(), "other"), "10.0.0.1:9") is not None
    assert _dropped(receiver) == {"not_allowed": 3}


def test_addresses_in_the_show_file_are_checked() -> None:
    with pytest.raises(ValidationError, match="expected an IP address or network such as"):
        RemoteSource(kind="remote", allow=["192.168.1.0/33"])
    with pytest.raises(ValidationError, match=r"got 'show-machine\.local'"):
        SenderPlacement(id="left", address="show-machine.local")
    with pytest.raises(ValidationError):
        RemoteSource(kind="remote", key="short")
    rules = sender_rules(RemoteSource(kind="remote", allow=["192.168.1.0/24"], key="a long secret"))
    assert rules.allow == (ip_network("192.168.1.0/24"),) and rules.key == b"a long secret"
    assert rules.senders is None and rules.max_sources == 16


# -- the shared key -----------------------------------------------------------------------------


def test_with_a_key_only_signed_datagrams_are_taken() -> None:
    key = b"correct horse battery"
    receiver = StreamReceiver(SenderRules(key=key))
    signed = _one(_poses(seq=1), key=key)
    assert receiver.feed(_one(_poses(seq=2)), LEFT) is None  # unsigned
    assert receiver.feed(_one(_poses(seq=3), key=b"wrong key here"), LEFT) is None
    tampered = bytearray(signed)
    tampered[200] ^= 0x40  # one landmark changed on the way
    assert receiver.feed(bytes(tampered), LEFT) is None
    assert receiver.feed(signed[:-48], LEFT) is None  # signature cut off
    frame = receiver.feed(signed, LEFT)
    assert frame is not None and frame.seq == 1
    assert _dropped(receiver) == {"bad_key": 4}
    # signed parts of a split frame each carry their own signature, and still fit 1472 bytes
    parts = encode_stream(_poses(2, seq=4), "left", key=key)
    assert len(parts) == 2 and all(len(d) <= 1472 for d in parts)
    assert receiver.feed(parts[0], LEFT) is None
    assert receiver.feed(parts[1], LEFT) is not None
    # a receiver without a key ignores a signature: keys can go on the senders first
    assert StreamReceiver().feed(signed, LEFT) is not None


def test_with_a_key_an_old_time_tag_is_a_replay_and_dropped() -> None:
    key = b"correct horse battery"
    receiver = StreamReceiver(SenderRules(key=key, max_skew_s=1.0))
    recorded = _one(_poses(seq=1), key=key)
    assert receiver.feed(recorded, LEFT, wall=time.time() + 30) is None
    assert _dropped(receiver) == {"skewed": 1}


# -- time tags ------------------------------------------------------------------------------------


def test_a_time_tag_a_day_ahead_cannot_make_real_frames_stale() -> None:
    receiver = StreamReceiver(SenderRules(max_skew_s=1.0))
    future = receiver.feed(_one(_poses(seq=1, ahead_s=86400.0)), LEFT)
    assert future is not None and abs(future.t_wall - time.time()) < 1.0  # taken at arrival
    assert receiver.counts["retimed"] == 1
    time.sleep(0.002)
    for seq in range(2, 12):  # the real frames that follow all arrive
        assert receiver.feed(_one(_poses(seq=seq)), LEFT) is not None, seq
        time.sleep(0.001)
    assert receiver.counts["stale"] == 0


def test_a_time_tag_a_day_behind_is_retimed_not_a_day_of_latency() -> None:
    receiver = StreamReceiver()
    frame = receiver.feed(_one(_poses(seq=1, ahead_s=-86400.0)), LEFT)
    assert frame is not None and abs(frame.t_local() - time.monotonic()) < 1.0
    assert receiver.counts["retimed"] == 1


# -- frames put together from parts ---------------------------------------------------------------


def test_half_frames_with_new_names_cannot_lock_real_senders_out() -> None:
    receiver = StreamReceiver(SenderRules(max_sources=16))
    now = 10.0
    assert receiver.feed(_one(_poses(seq=1), "left"), LEFT, now=now) is not None
    for i in range(40):  # the first of two parts, each under a new name
        first = encode_stream(_poses(2, seq=i), f"junk{i}")[0]
        assert receiver.feed(first, f"10.0.9.{i}:1", now=now + 0.001 * i) is None
    assert receiver.sources <= 16
    # the real senders still stream: left is pinned, right is new and makes room for itself
    assert receiver.feed(_one(_poses(seq=2), "left"), LEFT, now=now + 0.05) is not None
    assert receiver.feed(_one(_poses(seq=1), "right"), "10.0.0.3:1", now=now + 0.05) is not None
    assert receiver.counts["evicted"] >= 25 and receiver.counts["too_many_sources"] == 0
    # half frames expire: a moment later only the real senders are known
    receiver.expire(now + 0.06 + PART_TIMEOUT_S)
    assert receiver.sources == 2
    assert receiver.counts["expired"] >= 1


def test_pinned_senders_are_never_evicted() -> None:
    receiver = StreamReceiver(SenderRules(max_sources=2, pin_s=5.0))
    assert receiver.feed(_one(_poses(), "left"), LEFT, now=1.0) is not None
    assert receiver.feed(_one(_poses(), "right"), OTHER, now=1.0) is not None
    assert receiver.feed(encode_stream(_poses(2), "junk")[0], "10.0.9.9:1", now=1.1) is None
    assert receiver.counts["too_many_sources"] == 1 and receiver.counts["evicted"] == 0
    # once left has been silent pin_s, a new sender may take its place
    assert receiver.feed(_one(_poses(), "new"), "10.0.9.9:1", now=6.5) is not None
    assert receiver.counts["evicted"] == 1


def test_a_part_that_comes_too_late_starts_over() -> None:
    receiver = StreamReceiver()
    parts = encode_stream(_poses(2, seq=1), "left")
    assert receiver.feed(parts[0], LEFT, now=1.0) is None
    assert receiver.feed(parts[1], LEFT, now=1.0 + PART_TIMEOUT_S + 0.01) is None
    assert receiver.counts["expired"] == 1 and receiver.counts["frames"] == 0


# -- values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("landmarks", 3e38),
        ("landmarks", -1e5),
        ("landmarks", np.inf),
        ("world", 3e38),
        ("world", np.nan),
        ("visibility", 2.0),
        ("score", 3e38),
        ("score", -0.5),
    ],
)
def test_absurd_values_are_dropped_and_counted_never_raised(where: str, value: float) -> None:
    poses = _poses(2, seq=1)
    body = poses.bodies[1]
    if where == "landmarks":
        body.landmarks[5, 0] = value
    elif where == "visibility":
        body.landmarks[5, 3] = value
    elif where == "world":
        body.world[5, 2] = value
    else:
        poses = replace(poses, bodies=(poses.bodies[0], replace(body, score=value)))
    for max_datagram in (1472, 65000):  # one body per datagram, and both in one
        receiver = StreamReceiver()
        frames = [receiver.feed(d, LEFT) for d in encode_stream(poses, "left", max_datagram)]
        assert frames[-1] is None
        assert receiver.counts["out_of_range"] == 1
    assert StreamReceiver().feed(_one(_poses(2, seq=1)), LEFT) is not None  # the same, sane


def test_absurd_sizes_and_body_counts_are_dropped() -> None:
    receiver = StreamReceiver()
    assert receiver.feed(_one(replace(_poses(), width=1 << 30)), LEFT) is None
    assert receiver.feed(_one(_poses(), "x" * 100), LEFT) is None
    crowd = encode_stream(_poses(MAX_BODIES + 1, seq=2), "left")  # one per datagram: caught as they add up
    assert [receiver.feed(d, LEFT) for d in crowd] == [None] * len(crowd)
    assert receiver.counts["out_of_range"] == 3
    assert receiver.counts["frames"] == 0


def test_mutated_datagrams_never_raise() -> None:
    rng = random.Random(13)
    good = encode_stream(_poses(2, seq=1), "left", 4000)[0]
    receiver = StreamReceiver(SenderRules(max_sources=4))
    for i in range(2000):
        data = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.2:
            data = data[: rng.randrange(len(data))]
        receiver.feed(bytes(data), f"10.0.{i % 7}.1:1")  # must not raise
    assert receiver.counts["datagrams"] == 2000


# -- the stage: counted, and watched for stalls ----------------------------------------------------


def test_the_remote_stage_is_supervised_and_reports_every_drop_reason() -> None:
    source = RemoteSource(kind="remote", host="127.0.0.1", port=0, fps=20, allow=["10.0.0.0/8"])
    pipeline = ShowPipeline(
        Show(name="x", source=source, control=Control(enabled=False), stages=Stages(stall_budget_s=0.5))
    )
    try:
        stage = pipeline.capture
        assert stage.stall_budget_s == pytest.approx(0.5 + 1 / 20)  # the budget plus one period
        stage.receiver.feed(_one(_poses()), "192.168.0.1:5")
        report = pipeline.stats.report()
        assert report["remote"]["not_allowed"] == 1  # type: ignore[index]
        assert set(DROP_KEYS) | {"shed", "dropped_senders"} <= set(report["remote"])  # type: ignore[arg-type]
        assert report["dropped"]["capture"] == 1  # type: ignore[index]
    finally:
        stage.on_stop()
