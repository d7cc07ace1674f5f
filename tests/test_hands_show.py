"""Hands and face wired into the show (issue 16, phase 2): the show-file section, the pose stage's
features, the gesture events, OSC, `perform pose --hands --face --json`, on real photographs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np
import pytest

from perform.events.config import BUILTIN_NAMES, EventsConfig
from perform.events.stage import EventEngine
from perform.osc.config import PRESETS
from perform.osc.out import FrameEncoder
from perform.osc.wire import parse_datagram
from perform.pipeline import Frame
from perform.pipeline.features import REGISTRY
from perform.vision.base import make_backend
from perform.vision.config import PoseConfig
from perform.vision.gestures import DETAIL_FEATURES, GESTURES, shape_vector
from perform.vision.hands import HAND_LANDMARK_NAMES
from perform.vision.perception import Perception
from perform.vision.types import Poses

ROOT = Path(__file__).resolve().parents[1]
MESSI = Path("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")  # a footballer, both hands open


def _messi() -> np.ndarray:
    image = cv2.imread(str(MESSI)) if MESSI.is_file() else None
    if image is None:
        pytest.skip(f"{MESSI} is missing (apt-get install opencv-doc)")
    return np.ascontiguousarray(image[:, :, ::-1])


@cache
def show_poses(frames: int = 10) -> list[Poses]:
    """The footballer's picture fed to the pose stage's logic frame after frame, hands and face on."""
    image = _messi()
    config = PoseConfig(max_people=1, masks=False, detail={"hands": True, "face": True})
    backend, perception = make_backend(config), Perception(config)
    out = []
    try:
        for k in range(frames):
            t = 100.0 + k / 30
            frame = Frame(image, k, t)
            out.append(perception(backend(image, t), k, t, frame.width, frame.height, frame))
    finally:
        backend.close()
    return out


def test_hands_and_face_are_off_unless_the_show_asks() -> None:
    assert not PoseConfig().detail.hands and not PoseConfig().detail.face
    assert Perception(PoseConfig()).detail is None
    config = PoseConfig.model_validate({"detail": {"hands": True, "slots": [1], "every": 1}})
    assert config.detail.hands and config.detail.slots == [1] and config.detail.every == 1


def test_every_hand_and_face_feature_is_registered_under_its_emitted_name() -> None:
    for name, info in DETAIL_FEATURES.items():
        assert REGISTRY.info(f"p2.{name}") == info
    assert REGISTRY.info("p1.left_hand_pinch").lo == 0.0
    # rules and MIDI take them by name
    EventsConfig.model_validate({"rules": [{"name": "pinched", "feature": "left_hand_pinch", "below": 0.3}]})
    from perform.midi.config import MidiCC

    MidiCC(feature="p1.mouth_open", cc=20)


def test_a_show_with_hands_on_gets_hand_and_face_features_per_performer() -> None:
    poses = show_poses()[-1]
    assert [b.slot for b in poses.bodies] == [1]
    detail = poses.details[1]
    assert detail.left_hand is not None and detail.right_hand is not None and detail.face is not None
    for name in DETAIL_FEATURES:
        assert np.isfinite(poses.features[f"p1.{name}"]), name
    assert poses.features["p1.left_hand_openness"] > 0.8  # his left hand is open
    assert poses.features["p1.left_hand_fingers"] >= 4
    # the hand's wrist lies near the body's
    wrist = poses.bodies[0].point("left_wrist")
    assert np.linalg.norm(detail.left_hand.landmarks[0, :2] - wrist) < 0.05


def test_hands_and_face_go_out_over_osc_in_the_presets() -> None:
    poses = show_poses()[-1]
    t = poses.t_capture

    def addresses(preset: str) -> dict[str, tuple]:
        msgs = FrameEncoder(PRESETS[preset]).encode(poses, [], t)
        return {m.address: tuple(m.params) for e in msgs for _, m in parse_datagram(e[4:])}

    td = addresses("touchdesigner")
    assert td["/perform/p1/left_hand/index_tip/x"][0] == pytest.approx(
        float(poses.details[1].left_hand.landmarks[HAND_LANDMARK_NAMES.index("index_tip"), 0]), abs=1e-6
    )
    assert "/perform/p1/face/nose_tip/y" in td and "/perform/p1/right_hand/wrist/z" in td
    assert "/perform/p1/left_hand_pinch" in td  # the feature, 0..1
    packed = addresses("packed")
    assert len(packed["/perform/pose/p1/left_hand"]) == 21 * 3
    assert len(packed["/perform/pose/p1/face"]) == 20 * 3
    ableton = addresses("ableton")
    assert 0.0 <= ableton["/perform/ctl/p1/mouth_open"][0] <= 1.0
    assert not any("/left_hand/" in a for a in ableton)  # controls only, no landmarks
    # a hand not found sends nothing, never zeros
    lost = replace(poses, details={1: replace(poses.details[1], left_hand=None)})
    msgs = FrameEncoder(PRESETS["touchdesigner"]).encode(lost, [], t)
    sent = {m.address for e in msgs for _, m in parse_datagram(e[4:])}
    assert not any(a.startswith("/perform/p1/left_hand/") for a in sent)
    assert "/perform/p1/right_hand/wrist/x" in sent


def test_an_open_hand_starts_an_open_palm_event_that_ends_when_the_hand_is_lost() -> None:
    assert "left_hand_open_palm" in BUILTIN_NAMES and len([n for n in BUILTIN_NAMES if "_hand_" in n]) == 12
    frames = show_poses()
    engine = EventEngine()
    events = [e for p in frames for e in engine.update(p)]
    started = [(e.name, e.slot) for e in events if e.active and "_hand_" in e.name]
    assert ("left_hand_open_palm", 1) in started
    assert ("left_hand_open_palm", 1) in engine.active()
    last = frames[-1]
    gone = replace(
        last, t_capture=last.t_capture + 1.0, details={1: replace(last.details[1], left_hand=None)}
    )
    ended = [e for e in engine.update(gone) if not e.active]
    assert ("left_hand_open_palm", 1) in [(e.name, e.slot) for e in ended]
    # a show that turns the gesture off never sees it
    quiet = EventEngine(EventsConfig(builtins=[n for n in BUILTIN_NAMES if not n.endswith("open_palm")]))
    assert not any(e.name.endswith("open_palm") for p in frames for e in quiet.update(p))
    assert {f"left_hand_{g}" for g in GESTURES} <= set(BUILTIN_NAMES)


def test_perform_pose_hands_face_json() -> None:
    _messi()
    out = subprocess.run(
        [sys.executable, "-m", "perform", "pose", str(MESSI), "--max-people", "1",
         "--hands", "--face", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    person = json.loads(out.stdout)["people"][0]
    hands = person["hands"]
    assert set(hands) == {"left", "right"}
    left = hands["left"]
    assert set(left["landmarks"]) == set(HAND_LANDMARK_NAMES)
    assert set(left["landmarks"]["wrist"]) == {"x", "y", "z"}
    assert abs(left["landmarks"]["wrist"]["x"] - person["landmarks"]["left_wrist"]["x"]) < 0.05
    assert left["features"]["fingers"] >= 4
    face = person["face"]
    assert "nose_tip" in face["landmarks"] and "mouth_open" in face["features"]
    # without the flags the JSON is as it was
    plain = subprocess.run(
        [sys.executable, "-m", "perform", "pose", str(MESSI), "--max-people", "1", "--json"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert "hands" not in json.loads(plain.stdout)["people"][0]


def test_a_show_over_a_real_photograph_sends_hand_addresses(tmp_path: Path) -> None:
    """The whole show: an image source, the pose stage with hands on, OSC to a UDP socket."""
    _messi()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(1.0)
    port = sock.getsockname()[1]
    show = tmp_path / "show.yaml"
    show.write_text(
        f"name: hands\nsource: {{kind: image, path: {MESSI}, fps: 15}}\n"
        "pose: {max_people: 1, masks: false, detail: {hands: true, face: true}}\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "perform", "run", str(show), "--headless", "--seconds", "60",
         "--osc", f"127.0.0.1:{port}/touchdesigner", "--control", "0"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    seen: set[str] = set()
    want = {
        "/perform/p1/left_hand/index_tip/x",
        "/perform/p1/left_hand_pinch",
        "/perform/evt/p1/left_hand_open_palm",
    }
    try:
        import time

        deadline = time.monotonic() + 90
        while not want <= seen and time.monotonic() < deadline and proc.poll() is None:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                continue
            seen |= {m.address for _, m in parse_datagram(data)}
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
        sock.close()
    assert want <= seen, (sorted(want - seen), err[-2000:])


# -- scenes: the prelude's hand and face uniforms, the skeleton layer --------------------------------

HAND_DOT = """
void main() {
    vec4 tip = handJoint(0, LEFT_HAND, HAND_INDEX_TIP);
    vec2 d = (v_uv - tip.xy) * vec2(aspect(), 1.0);
    float mouth = faceFeature(0, FACE_F_MOUTH_OPEN);
    bool lit = tip.w > 0.5 && length(d) < 0.03 && facePoint(0, FACE_NOSE_TIP).w > 0.5 && mouth >= 0.0;
    fragColor = vec4(vec3(lit ? 1.0 : 0.0), 1.0);
}
"""


def test_the_prelude_names_every_hand_joint_face_point_and_feature_in_order() -> None:
    from perform.render.gl import PRELUDE
    from perform.vision.face import FACE_POINTS
    from perform.vision.gestures import FACE_FEATURES, HAND_FEATURES

    for prefix, names in [
        ("HAND_", HAND_LANDMARK_NAMES),
        ("FACE_", tuple(FACE_POINTS)),
        ("HAND_F_", tuple(HAND_FEATURES)),
        ("FACE_F_", tuple(FACE_FEATURES)),
    ]:
        for i, name in enumerate(names):
            assert f"#define {prefix}{name.upper()} {i}\n" in PRELUDE


def test_a_shader_reads_the_left_index_tip_and_the_skeleton_draws_the_hands(tmp_path: Path) -> None:
    from perform.render.bindings import Inputs, detail_uniforms
    from perform.render.config import Render, SceneFile
    from perform.render.gl import create_headless_context
    from perform.render.layers import skeleton_vertices
    from perform.render.renderer import Renderer, Scene

    poses = show_poses()[-1]
    inputs = Inputs(now=1.0, show_time=1.0, poses=poses, features=poses.features)
    uniforms = detail_uniforms(inputs)
    tip = poses.details[1].left_hand.landmarks[HAND_LANDMARK_NAMES.index("index_tip")]
    assert uniforms["u_hands"][HAND_LANDMARK_NAMES.index("index_tip")] == pytest.approx(
        [tip[0], 1 - tip[1], tip[2], 1.0], abs=1e-6
    )
    assert uniforms["u_hands"][2 * 21 :].max() == 0.0  # nobody else's hands
    (tmp_path / "shaders").mkdir()
    (tmp_path / "shaders" / "hand_dot.glsl").write_text(HAND_DOT)
    ctx = create_headless_context()
    try:
        renderer = Renderer(ctx, Render.model_validate({"width": 320, "height": 180, "folders": [tmp_path]}))
        spec = {"layers": [{"kind": "shader", "shader": "hand_dot"}]}
        scene = Scene("test", SceneFile.model_validate(spec), renderer.canvas, 0.0)
        renderer.canvas.update(inputs, 0.0)
        image = renderer.read(scene.draw(renderer.canvas))[::-1, :, :3]
        ys, xs = np.nonzero(image.max(axis=2) > 128)
        assert len(xs)
        assert (xs.mean() + 0.5) / 320 == pytest.approx(float(tip[0]), abs=0.01)
        assert (ys.mean() + 0.5) / 180 == pytest.approx(float(tip[1]), abs=0.01)
        skeleton = SceneFile.model_validate({"layers": [{"kind": "skeleton"}]}).layers[0]
        with_hands = len(skeleton_vertices(renderer.canvas, skeleton))  # type: ignore[arg-type]
        renderer.canvas.update(replace(inputs, poses=replace(poses, details={})), 0.0)
        assert with_hands > len(skeleton_vertices(renderer.canvas, skeleton)) + 2 * 20 * 6  # type: ignore[arg-type]
        scene.release()
        renderer.release()
    finally:
        ctx.release()


# -- teaching a hand shape by example ----------------------------------------------------------------


def _with_left(poses: Poses, hand, t: float) -> Poses:
    from perform.vision.detail import Detail

    return replace(poses, t_capture=t, details={1: Detail(1, left_hand=hand)})


def test_a_hand_shape_taught_by_example_fires_for_that_shape_only(tmp_path: Path) -> None:
    from perform.events.teach import HandShapeEvents, PoseLibrary, record_hand_examples, teach
    from tests.test_hands_face import posed

    base = show_poses()[-1]
    fist, open_palm = posed("handSrc_left", "fist"), posed("handSrc_left", "open_palm")
    # taught from a stream of frames in which the performer holds a fist
    stream = [_with_left(base, fist, 10.0 + k / 30) for k in range(40)]
    shape = record_hand_examples(stream, "grab", 1.0, "left", source="test")
    assert shape.examples.shape[1:] == (21, 3) and 1 <= len(shape.examples) <= 30
    library = teach(tmp_path / "poses.json", shape)
    assert PoseLibrary.load(tmp_path / "poses.json").hands["grab"].examples.shape == shape.examples.shape
    assert library.hands["grab"].effective_threshold == pytest.approx(0.1)  # one still shape: the floor
    events = HandShapeEvents(library)
    # the right hand makes the shape too: the same shape mirrored reads the same
    mirrored = replace(fist, side="right", world=fist.world * np.array([-1, 1, 1], np.float32))
    assert events.confidences(np.stack([shape_vector(mirrored)])).max() > 0.9
    out = [e for k in range(10) for e in events.update(_with_left(base, fist, 20.0 + k / 30))]
    assert [(e.name, e.slot, e.active) for e in out] == [("hand.grab", 1, True)]
    out = [e for k in range(3) for e in events.update(_with_left(base, open_palm, 21.0 + k / 30))]
    assert [(e.name, e.active) for e in out] == [("hand.grab", False)]
    # the engine runs them from a show's library
    engine = EventEngine(EventsConfig.model_validate({"poses": {"library": str(tmp_path / "poses.json")}}))
    seen = [e.name for k in range(10) for e in engine.update(_with_left(base, fist, 30.0 + k / 30))]
    assert "hand.grab" in seen


def test_the_bench_section_compares_detail_with_the_body_and_holistic() -> None:
    from perform.bench import SECTIONS, TITLES
    from perform.bench.hands import VARIANTS, bench_scene, footballer_frame, markdown

    assert "hands" in SECTIONS and "hands" in TITLES
    frame = footballer_frame()
    if frame is None:
        pytest.skip(f"{MESSI} is missing (apt-get install opencv-doc)")
    row = bench_scene("1 performer", frame, 1, frames=2, warmup=3)  # a body after 3 frames
    assert set(row["detail"]) == set(VARIANTS) and row["holistic_ms"]["p50"] > 0
    assert "ours_over_holistic" in row and row["hands_per_frame"] > 0
    assert any("1 performer" in line for line in markdown({"scenes": [row]}))
