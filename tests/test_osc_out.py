"""OSC out: encoding against python-osc's builders, value mapping, splitting, timetags, presets, the stage."""

from __future__ import annotations

import math
import socket
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_bundle_builder import OscBundleBuilder
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

from perform.errors import ConfigError
from perform.events.types import Event, as_event
from perform.mapping import Smoother, ValueMap, map_value, map_values
from perform.osc.config import (
    PRESETS,
    EventsOut,
    FeaturesOut,
    Mapping,
    Osc,
    PoseOut,
    Target,
    parse_target,
)
from perform.osc.doc import describe, osc_markdown
from perform.osc.out import FrameEncoder, OscOutStage, Status, WallClock
from perform.osc.wire import element, encode, pack_bundles
from perform.pipeline import EventLog, Slot, StageState, Stats
from perform.pipeline.features import normalise
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.types import LANDMARK_NAMES, Body, PersonEvent, Poses
from perform.vision.virtual import VirtualTroupe
from tests.tools import wait_for

DOCS = Path(__file__).resolve().parents[1] / "docs" / "osc.md"


def make_poses(people: int = 6, frames: int = 4, t0: float = 1000.0, seq0: int = 0) -> Poses:
    """``people`` virtual performers side by side, after ``frames`` frames so motion features are set."""
    troupe = VirtualTroupe(people=2, seed=3)
    base = next(d for t in np.arange(5.0, 40.0, 0.5) for _, d in troupe.detections(float(t), 1280, 720))
    perception = Perception(PoseConfig(max_people=max(people, 1)))
    poses = None
    for f in range(frames):
        bodies = []
        for i in range(people):
            lm = base.landmarks.copy()
            lm[:, 0] = 0.08 + 0.15 * i + (lm[:, 0] - lm[:, 0].mean()) + 0.004 * f
            lm[:, 1] += 0.003 * f * (i % 2)
            bodies.append(Body(i + 1, lm, base.world.copy()))
        poses = perception.finish(bodies, seq0 + f, t0 + f / 30, 1280, 720)
    assert poses is not None
    return poses


def decode(datagram: bytes) -> tuple[float, list[OscMessage]]:
    bundle = OscBundle(datagram)
    return bundle.timestamp, list(bundle)


# --- encoding ---------------------------------------------------------------------------------


def test_messages_and_bundles_are_byte_for_byte_what_python_osc_builds():
    for address, tags, values in [
        ("/perform/pose/p1/nose", "ffff", (0.25, 0.5, -0.125, 1.0)),
        ("/perform/evt/p2/hands_up", "i", (1,)),
        ("/a", "fi", (3.5, -7)),
        ("/perform/status/latency_ms", "f", (12.345,)),
    ]:
        b = OscMessageBuilder(address)
        for tag, v in zip(tags, values, strict=True):
            b.add_arg(v, tag)
        assert encode(address, tags, values) == b.build().dgram

    poses = make_poses(people=2)
    clock = WallClock()
    elements = FrameEncoder(PRESETS["default"]).encode(poses, [Event("jump", 1, True, poses.t_capture)], 0.0)
    (ours,), _ = pack_bundles(clock.timetag(poses.t_capture), elements, 65507)
    builder = OscBundleBuilder(clock.wall(poses.t_capture))  # type: ignore[arg-type]
    _, messages = decode(ours)
    for m in messages:
        mb = OscMessageBuilder(m.address)
        for tag, v in zip(m.dgram.split(b",", 1)[1].split(b"\0")[0].decode(), m.params, strict=True):
            mb.add_arg(v, tag)
        builder.add_content(mb.build())
    assert builder.build().dgram == ours


def test_timetag_is_the_capture_time_on_the_wall_clock():
    clock = WallClock()
    t = time.monotonic() - 0.040
    stamp, _ = decode(pack_bundles(clock.timetag(t), [element(encode("/x", "i", (1,)))], 1472)[0][0])
    assert stamp == pytest.approx(t + clock.offset, abs=1e-6)
    assert abs(clock.offset - (time.time() - time.monotonic())) < 0.05
    fixed = WallClock(offset=1_700_000_000.0)
    assert decode(pack_bundles(fixed.timetag(12.5), [element(encode("/x", "i", (1,)))], 1472)[0][0])[
        0
    ] == pytest.approx(1_700_000_012.5, abs=1e-6)


@pytest.mark.parametrize("preset", ["default", "touchdesigner", "packed"])
def test_six_people_split_under_1472_bytes_with_one_timetag_and_nothing_lost(preset):
    poses = make_poses(people=6)
    assert len(poses.bodies) == 6
    clock = WallClock()
    events = [Event("hands_up", 3, True, poses.t_capture), Event("stillness", None, False, poses.t_capture)]
    elements = FrameEncoder(PRESETS[preset]).encode(poses, events, poses.t_capture, Status(1, 30.0, 2.5, 6))
    datagrams, oversize = pack_bundles(clock.timetag(poses.t_capture), elements, 1472)
    assert oversize == 0 and len(datagrams) > 1
    assert all(len(d) <= 1472 for d in datagrams)
    got = []
    for d in datagrams:
        stamp, messages = decode(d)
        assert stamp == pytest.approx(clock.wall(poses.t_capture), abs=1e-6)
        got += [m.dgram for m in messages]
    assert got == [e[4:] for e in elements]  # every message whole, in order
    if preset == "default":
        addresses = {OscMessage(g).address for g in got}
        assert {f"/perform/pose/p{n}/{lm}" for n in range(1, 7) for lm in LANDMARK_NAMES} <= addresses


def test_a_message_larger_than_the_limit_goes_alone_and_is_counted():
    small = [element(encode(f"/s/{i}", "f", (float(i),))) for i in range(3)]
    big = element(encode("/big", "f" * 400, [0.0] * 400))
    datagrams, oversize = pack_bundles(b"\0" * 7 + b"\1", [small[0], big, small[1], small[2]], 512)
    assert oversize == 1
    assert [len(decode(d)[1]) for d in datagrams] == [1, 1, 2]  # the big one alone, order kept
    assert [m.address for d in datagrams for m in decode(d)[1]] == ["/s/0", "/big", "/s/1", "/s/2"]


# --- value mapping ----------------------------------------------------------------------------


def test_range_clamp_curves_and_integers():
    assert map_value(ValueMap(in_lo=10, in_hi=20, out_lo=0, out_hi=100), 15) == pytest.approx(50)
    assert map_value(ValueMap(in_lo=10, in_hi=20), 30) == 1.0  # clamped
    assert map_value(ValueMap(in_lo=10, in_hi=20, clamp=False), 30) == pytest.approx(2.0)
    assert map_value(ValueMap(in_lo=20, in_hi=10), 12) == pytest.approx(0.8)  # inverted range
    assert map_value(ValueMap(curve="exponential", power=3), 0.5) == pytest.approx(0.125)
    assert map_value(ValueMap(curve="logarithmic", power=2), 0.5) == pytest.approx(0.75)
    assert map_value(ValueMap(curve="smoothstep"), 0.25) == pytest.approx(0.15625)
    assert map_value(ValueMap(curve="smootherstep"), 0.5) == pytest.approx(0.5)
    assert map_value(ValueMap(curve="exponential", clamp=False), 2.0) == 1.0  # curves clamp first
    assert map_value(ValueMap(out_hi=255, integer=True), 0.5) == 128.0
    assert map_value(ValueMap(), math.nan) == 0.0 and map_value(ValueMap(), math.inf) == 0.0


def test_features_default_to_their_documented_range_onto_0_to_1():
    lo_hi = np.array([0.0]), np.array([1.5])  # p1.energy's range
    for v in (-1.0, 0.0, 0.3, 1.5, 9.0):
        assert map_values(ValueMap(), np.array([v]), *lo_hi)[0] == pytest.approx(normalise("p1.energy", v))


def test_smoothing_follows_a_step_with_its_time_constant():
    vm = ValueMap(smoothing_s=0.5)
    s = Smoother()
    assert map_values(vm, np.array([0.0]), 0.0, 1.0, s, "k", 0.0)[0] == 0.0
    after = map_values(vm, np.array([1.0]), 0.0, 1.0, s, "k", 0.5)[0]
    assert after == pytest.approx(1 - math.exp(-1))
    assert map_values(vm, np.array([1.0]), 0.0, 1.0, s, "k", 0.5)[0] == after  # same instant: held
    assert map_values(vm, np.array([1.0]), 0.0, 1.0, s, "other", 0.5)[0] == 1.0  # own state per key


def test_custom_mapping_selects_maps_and_addresses():
    mapping = Mapping(
        pose=PoseOut(
            landmarks=["left_wrist", "right_wrist"], fields=["x", "y"], address="/h/{slot}/{landmark}"
        ),
        features=FeaturesOut(
            include=["stage.*", "p*.hands_up"],
            exclude=["stage.synchrony"],
            address="/desk/{feature}",
            map=ValueMap(out_hi=255, integer=True),
            maps={"p*.hands_up": ValueMap(in_lo=0, in_hi=1, curve="smoothstep")},
        ),
        events=EventsOut(include=["jump"], address="/go/{event}", start=255, end=0),
    )
    poses = make_poses(people=2)
    events = [Event("jump", 2, True, 0.0), Event("clap", 1, True, 0.0), Event("jump", None, False, 0.0)]
    msgs = [OscMessage(e[4:]) for e in FrameEncoder(mapping).encode(poses, events, poses.t_capture)]
    by = {m.address: m.params for m in msgs}
    assert by["/h/2/left_wrist"] == pytest.approx(list(poses.body(2).landmarks[15, :2]), abs=1e-6)
    assert len([a for a in by if a.startswith("/h/")]) == 4
    assert "/desk/stage/synchrony" not in by and "/desk/p1/energy" not in by
    assert by["/desk/stage/energy"] == [
        round(255 * normalise("stage.energy", poses.features["stage.energy"]))
    ]
    assert isinstance(by["/desk/stage/energy"][0], int)
    u = min(1.0, max(0.0, poses.features["p1.hands_up"]))
    assert by["/desk/p1/hands_up"][0] == pytest.approx(u * u * (3 - 2 * u), abs=1e-6)
    assert by["/go/p2/jump"] == [255] and by["/go/jump"] == [0] and "/go/p1/clap" not in by


# --- presets ----------------------------------------------------------------------------------


def _frame(preset: str, people: int = 2) -> list[OscMessage]:
    poses = make_poses(people=people) if people else make_poses(people=0, frames=1)
    events = [Event("hands_up", 1, True, 0.0, 0.8), Event("hands_up", 1, False, 0.0)]
    elements = FrameEncoder(PRESETS[preset]).encode(poses, events, poses.t_capture, Status(3, 29.9, 4.0, 2))
    return [OscMessage(e[4:]) for e in elements]


def _tags(m: OscMessage) -> str:
    return m.dgram.split(b",", 1)[1].split(b"\0")[0].decode()


def test_touchdesigner_preset_sends_one_number_per_message():
    msgs = _frame("touchdesigner")
    assert all(len(m.params) == 1 and _tags(m) in ("f", "i") for m in msgs)
    by = {m.address: m.params[0] for m in msgs}
    assert {"/perform/p1/nose/x", "/perform/p2/right_foot_index/visibility", "/perform/p1/energy"} <= set(by)
    assert {"/perform/stage/energy", "/perform/people", "/perform/evt/p1/hands_up"} <= set(by)
    assert by["/perform/people_count"] == 2 and by["/perform/people"] == pytest.approx(2 / 6)  # count, 0..1
    assert "/perform/status/heartbeat" in by


def test_ableton_preset_sends_only_0_to_1_floats_on_ctl():
    msgs = _frame("ableton")
    assert msgs and all(m.address.startswith("/perform/ctl/") for m in msgs)
    assert all(_tags(m) == "f" and 0.0 <= m.params[0] <= 1.0 for m in msgs)
    assert [m.params[0] for m in msgs if m.address == "/perform/ctl/evt/p1/hands_up"] == [1.0, 0.0]
    assert "/perform/ctl/people" in {m.address for m in msgs}  # no int count: Ableton takes 0..1 floats


def test_lights_presets_scale_to_255_integers_or_percent():
    msgs = _frame("lights")
    assert msgs and all(_tags(m) == "i" and 0 <= m.params[0] <= 255 for m in msgs)
    assert [m.params[0] for m in msgs if m.address == "/perform/lights/evt/p1/hands_up"] == [255, 0]
    pct = _frame("lights_percent")
    assert all(_tags(m) == "f" and 0.0 <= m.params[0] <= 100.0 for m in pct)


def test_packed_preset_sends_one_message_of_132_floats_per_person():
    msgs = _frame("packed", people=3)
    assert [m.address for m in msgs] == ["/perform/pose/p1", "/perform/pose/p2", "/perform/pose/p3"]
    assert all(_tags(m) == "f" * 132 for m in msgs)


def test_wekinator_preset_vector_has_a_fixed_length_with_or_without_people():
    for people in (0, 1, 3):
        (m,) = _frame("wekinator", people=people)
        assert m.address == "/wek/inputs" and _tags(m) == "f" * 66
        assert (sum(abs(v) for v in m.params) > 0) == (people > 0)


def test_person_events_from_the_tracker_are_sent_as_events():
    poses = make_poses(people=1)
    elements = FrameEncoder(PRESETS["default"]).encode(poses, [], 0.0)
    stage = OscOutStage(Stats(), Slot("poses"), None, Osc(targets=[Target(port=9)]))
    assert [OscMessage(e[4:]).address for e in elements][-1].startswith("/perform/ctl/")
    assert as_event(PersonEvent("enter", 2, 5.0)) == Event("enter", 2, True, 5.0)
    assert as_event("garbage") is None
    stage.on_stop()


# --- configuration ----------------------------------------------------------------------------


def test_parse_target_forms():
    assert parse_target("127.0.0.1:7000") == Target(host="127.0.0.1", port=7000)
    assert parse_target("studio.local:9000/ableton").preset == "ableton"
    t = parse_target("[::1]:8000/touchdesigner")
    assert (t.host, t.port, t.preset, t.label) == ("::1", 8000, "touchdesigner", "[::1]:8000/touchdesigner")


@pytest.mark.parametrize(
    "spec, message",
    [
        ("localhost", "expected HOST:PORT or HOST:PORT/PRESET"),
        ("localhost:", "expected a port 1..65535 after the colon, got ''"),
        ("localhost:70000", "expected a port 1..65535 after the colon, got '70000'"),
        ("localhost:abc/ableton", "got 'abc'"),
        ("localhost:9000/touchdesginer", "unknown preset 'touchdesginer'; did you mean 'touchdesigner'?"),
        ("localhost:9000/", "unknown preset ''"),
    ],
)
def test_parse_target_errors_say_what_was_expected(spec, message):
    with pytest.raises(ConfigError) as info:
        parse_target(spec)
    assert message in str(info.value) and spec in str(info.value)


@pytest.mark.parametrize(
    "section, message",
    [
        ({"port": 1, "preset": "ableton", "mapping": {}}, "give a preset or a mapping, not both"),
        ({"port": 1, "mapping": {"features": {"address": "/x/{name}"}}}, "unknown placeholder {name}"),
        ({"port": 1, "mapping": {"pose": {"layout": "value"}}}, "needs {field}"),
        ({"port": 1, "mapping": {"pose": {"landmarks": ["left_wirst"]}}}, "did you mean 'left_wrist'"),
        ({"port": 1, "mapping": {"events": {"address": "perform evt"}}}, "expected an OSC address"),
        (
            {"port": 1, "mapping": {"features": {"map": {"in_lo": 1, "in_hi": 1}}}},
            "in_lo and in_hi must differ",
        ),
        ({"port": 1, "rate_hz": 0}, "greater than 0"),
        ({"port": 1, "preset": "resolume"}, "touchdesigner"),
    ],
)
def test_bad_target_sections_are_refused_with_a_clear_message(section, message):
    with pytest.raises(ValueError) as info:
        Target.model_validate(section)
    assert message in str(info.value)


def test_every_field_is_described():
    from perform import mapping
    from perform.midi import config as midi_config
    from perform.osc import config

    for module in (config, midi_config, mapping):
        for name in dir(module):
            obj = getattr(module, name)
            if isinstance(obj, type) and issubclass(obj, config.Model) and obj is not config.Model:
                for fname, f in obj.model_fields.items():
                    if issubclass(obj, config.SourceBase) and fname == "kind":
                        continue  # a source's kind is its name in the show file's docs
                    assert f.description, f"{name}.{fname} has no description"


def test_docs_osc_md_is_generated_from_the_presets():
    assert DOCS.read_text(encoding="utf-8") == osc_markdown(), (
        "regenerate: python -m perform.osc.doc > docs/osc.md"
    )
    for preset, mapping in PRESETS.items():
        assert f"## `{preset}`" in DOCS.read_text(encoding="utf-8")
        assert describe(mapping)


# --- the stage over loopback ------------------------------------------------------------------


def _receiver() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    return sock


def _receive_all(sock: socket.socket, quiet_s: float = 0.2) -> list[bytes]:
    out = []
    sock.settimeout(quiet_s)
    try:
        while True:
            out.append(sock.recv(65536))
    except TimeoutError:
        return out


def test_rate_limited_target_gets_fewer_frames_but_every_event():
    fast, slow = _receiver(), _receiver()
    config = Osc(
        targets=[
            Target(port=fast.getsockname()[1], preset="ableton"),
            Target(port=slow.getsockname()[1], preset="ableton", rate_hz=10),
        ],
        heartbeat=False,
    )
    stage = OscOutStage(Stats(), Slot("poses"), None, config)
    poses = make_poses(people=1)
    t = 5000.0
    for i in range(30):  # 100 frames per second for 0.3 s of capture time
        events = [Event("jump", 1, True, t)] if i % 7 == 0 else []
        stage.send_frame(
            Poses(i, t + i / 100, 1280, 720, poses.bodies, poses.features), events, now=t + i / 100
        )
    stage.on_stop()

    def frames_and_jumps(sock):
        frames, jumps = set(), []
        for d in _receive_all(sock):
            stamp, msgs = decode(d)
            if any(m.address == "/perform/ctl/people" for m in msgs):
                frames.add(stamp)
            jumps += [stamp for m in msgs if m.address == "/perform/ctl/evt/p1/jump"]
        return len(frames), jumps

    n, jumps = frames_and_jumps(fast)
    assert n == 30 and len(jumps) == 5
    n, slow_jumps = frames_and_jumps(slow)
    assert 3 <= n <= 4 and slow_jumps == jumps  # events are not held back by the rate limit
    assert stage.counters.oversize == 0 and stage.counters.messages > 0


def test_stage_thread_sends_frames_and_events_and_counts_them():
    rx = _receiver()
    poses_slot: Slot[Poses] = Slot("poses")
    log: EventLog[Event] = EventLog()
    stats = Stats()
    stage = OscOutStage(stats, poses_slot, log, Osc(targets=[Target(port=rx.getsockname()[1])]))
    stage.start()
    try:
        p = make_poses(people=6)
        for i in range(5):
            log.publish(Event("hands_up", 2, i % 2 == 0, time.monotonic()))
            poses_slot.publish(Poses(i, time.monotonic(), 1280, 720, p.bodies, p.features))
            time.sleep(0.03)
        assert wait_for(lambda: stats.stage("osc").frames > 0)
    finally:
        poses_slot.close()  # the stage hands on the events left and ends by itself
        ended = stage.join(5.0)
        stage.stop()
        stage.join(1.0)
    assert ended and stage.state is StageState.ENDED
    datagrams = _receive_all(rx)
    messages = [m for d in datagrams for m in decode(d)[1]]
    events = [m.params[0] for m in messages if m.address == "/perform/evt/p2/hands_up"]
    assert events == [1, 0, 1, 0, 1]
    c = stage.counters
    assert (
        c.datagrams == len(datagrams) and c.bytes == sum(map(len, datagrams)) and c.messages == len(messages)
    )
    assert all(len(d) <= 1472 for d in datagrams)
    assert stats.stage("osc").frames == stage.frame_to_osc.count > 0
    assert stage.report()["frame_to_osc_ms"]["p50"] > 0
    rx.close()


def test_unreachable_and_unresolvable_targets_are_counted_never_raised():
    config = Osc(
        targets=[
            Target(host="no-such-host.invalid", port=9000),
            Target(host="127.0.0.1", port=9),  # nobody listens
            Target(host="192.0.2.1", port=9000, preset="ableton"),  # TEST-NET-1, may be unroutable
        ]
    )
    stats = Stats()
    stage = OscOutStage(stats, Slot("poses"), None, config)
    poses = make_poses(people=1)
    for i in range(3):
        stage.send_frame(Poses(i, time.monotonic(), 1280, 720, poses.bodies, poses.features), [])
    # names are looked up on a thread of their own, never on the sending path
    deadline = time.monotonic() + 10
    while stats.stage("osc").errors < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    stage.on_stop()
    assert stats.stage("osc").errors >= 1  # the name that does not resolve, reported and retried later
    assert stage.targets[0].address is None and stage.targets[1].address is not None


def test_heartbeat_goes_out_once_a_second_even_without_frames():
    rx = _receiver()
    stage = OscOutStage(Stats(), Slot("poses"), None, Osc(targets=[Target(port=rx.getsockname()[1])]))
    start = stage._status_t
    assert stage.send_frame(None, [], now=start + 0.5) == 0
    assert stage.send_frame(None, [], now=start + 1.1) == 1
    assert stage.send_frame(None, [], now=start + 1.5) == 0
    assert stage.send_frame(None, [], now=start + 2.2) == 1
    stage.on_stop()
    beats = [
        m.params for d in _receive_all(rx) for m in decode(d)[1] if m.address == "/perform/status/heartbeat"
    ]
    assert beats == [[1], [2]]
    off = OscOutStage(
        Stats(), Slot("poses"), None, Osc(targets=[Target(port=rx.getsockname()[1])], heartbeat=False)
    )
    assert off.send_frame(None, [], now=off._status_t + 5) == 0
    rx.close()


def test_benchmark_measures_at_a_receiver_process_and_reports():
    from perform.bench.osc import _build_cost, _latency, _throughput, markdown, virtual_poses

    frames = virtual_poses(people=2, frames=10)
    latency = _latency(frames, seconds=0.3, fps=30.0, preset="default")
    assert latency["frames_received"] > 0
    assert 0 < latency["first_datagram_ms"]["p50"] <= latency["whole_frame_ms"]["p99"]
    throughput = _throughput(frames, seconds=0.3)
    assert throughput["messages_per_s"] > 0 and throughput["datagrams_received"] > 0
    result = {
        "setup": {"people": 2, "fps": 30.0, "seconds": 0.3},
        "latency": [latency],
        "build": {"default": _build_cost(frames, "default", 3)},
        "throughput": throughput,
    }
    assert "capture to whole frame received" in "\n".join(markdown(result))


def test_the_yaml_examples_in_docs_osc_md_are_valid():
    import yaml

    from perform.midi.config import Midi

    blocks = DOCS.read_text(encoding="utf-8").split("```yaml\n")[1:]
    sections = {}
    for block in blocks:
        sections.update(yaml.safe_load(block.split("```", 1)[0]))
    osc = Osc.model_validate(sections["osc"])
    assert [t.label for t in osc.targets][:2] == ["192.168.1.20:7000/touchdesigner", "127.0.0.1:7400/ableton"]
    midi = Midi.model_validate(sections["midi"])
    assert midi.virtual and len(midi.cc) == 2 and len(midi.notes) == 2


def test_tracking_loss_fades_features_to_zero_instead_of_freezing():
    from perform.schema import InputLoss

    rx = _receiver()
    config = Osc(targets=[Target(port=rx.getsockname()[1], preset="touchdesigner")], heartbeat=False)
    loss = InputLoss(stale_s=0.2, neutral_s=0.5)
    stage = OscOutStage(Stats(), Slot("poses"), None, config, input_loss=loss)
    now = time.monotonic()

    def energy(datagrams: list[bytes]) -> float:
        values = [m.params[0] for d in datagrams for m in decode(d)[1] if m.address == "/perform/p1/energy"]
        assert len(values) == 1, values
        return values[0]

    fresh = make_poses(people=1, frames=6, t0=now - 6 / 30)
    stage._last_poses = fresh
    stage.send_frame(fresh, [])
    full = energy(_receive_all(rx))
    assert full > 0.05
    stage._last_poses = replace(fresh, t_capture=time.monotonic())
    assert not stage._fade_stale([])  # fresh: not stale, nothing sent
    stage._last_poses = replace(fresh, t_capture=time.monotonic() - 0.45)  # stale by 0.25 s of 0.5
    assert stage._fade_stale([])
    assert not stage._fade_stale([])  # at most 15 times a second
    assert energy(_receive_all(rx)) == pytest.approx(full * 0.5, rel=0.05)
    stage._fade_sent = -math.inf
    stage._last_poses = replace(fresh, t_capture=time.monotonic() - 1.0)
    assert stage._fade_stale([])
    assert energy(_receive_all(rx)) == 0.0  # neutral, and then silent
    stage._fade_sent = -math.inf
    assert not stage._fade_stale([])
    rx.close()


@pytest.mark.parametrize("curve", ["linear", "exponential", "logarithmic", "smoothstep", "smootherstep"])
def test_one_value_maps_as_an_array_of_them_does(curve):
    for clamp, integer, (lo_in, hi_in) in [(True, False, (None, None)), (False, True, (5.0, 1.0))]:
        vm = ValueMap(in_lo=lo_in, in_hi=hi_in, curve=curve, clamp=clamp, integer=integer, out_hi=255)
        for v in [-10.0, 0.0, 0.3, 1.0, 7.5, float("nan"), float("inf"), float("-inf")]:
            for lo, hi in [(0.0, 6.0), (2.0, 2.0)]:
                one = map_values(vm, np.array([v]), lo, hi)[0]
                assert map_value(vm, v, lo, hi) == pytest.approx(float(one))
