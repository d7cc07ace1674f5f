"""The renderer through headless EGL: blend modes, crossfades, hot reload, pose-driven layers, bindings."""

import logging
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from perform.errors import PerformError
from perform.pipeline import Frame
from perform.render.bindings import Bound, Inputs
from perform.render.canvas import BLEND_MODES
from perform.render.config import Binding, Render, SceneFile
from perform.render.gl import create_headless_context, parse_gl_error
from perform.render.renderer import Renderer, Scene
from perform.vision.types import CONNECTIONS, Poses
from tests.render_inputs import CAMERA_SIZE, DATA, one_wrist, performers

ROOT = Path(__file__).resolve().parents[1]
BAD_SHADERS = ROOT / "tests" / "data" / "bad_shaders"
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


@pytest.fixture(scope="module")
def ctx():
    ctx = create_headless_context()
    yield ctx
    ctx.release()


@pytest.fixture
def make_renderer(ctx):
    """Renderers on the module's context, released after the test."""
    made: list[Renderer] = []

    def make(**render: object) -> Renderer:
        render = {"width": 320, "height": 180, "folders": [DATA], **render}
        renderer = Renderer(ctx, Render.model_validate(render))
        made.append(renderer)
        return renderer

    yield make
    for renderer in made:
        renderer.release()


def picture(renderer: Renderer, inputs: Inputs) -> np.ndarray:
    """One frame as (H, W, 3) uint8 RGB, top row first (as image coordinates)."""
    return renderer.read(renderer.draw(inputs))[::-1, :, :3]


def at(t: float) -> Inputs:
    return Inputs(now=t, show_time=t)


def centre(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return image[h // 2, w // 2].astype(int)


def bright_centroid(image: np.ndarray, level: int = 128) -> tuple[float, float, int]:
    """(x, y) in pixels of the bright pixels' centre (pixel centres at +0.5), and their count."""
    ys, xs = np.nonzero(image.max(axis=2) >= level)
    assert len(xs), "nothing bright in the picture"
    return float(xs.mean() + 0.5), float(ys.mean() + 0.5), len(xs)


def bump_mtime(path: Path, seconds: int) -> None:
    """Rewritten files can keep their mtime on a coarse clock; the library must see a change."""
    t = path.stat().st_mtime_ns + seconds * 1_000_000_000
    os.utime(path, ns=(t, t))


def draw_scene(renderer: Renderer, spec: dict, inputs: Inputs) -> np.ndarray:
    """A scene built from ``spec`` on the renderer's canvas, drawn once: (H, W, 3) top row first."""
    scene = Scene("test", SceneFile.model_validate(spec), renderer.canvas, 0.0)
    try:
        renderer.canvas.update(inputs, 0.0)
        return renderer.read(scene.draw(renderer.canvas))[::-1, :, :3]
    finally:
        scene.release()


# -- blend modes --------------------------------------------------------------------------------

BASE = np.array([40, 160, 90]) / 255.0  # red and blue below 0.5, green above: both overlay branches
TOP = np.array([200, 70, 128]) / 255.0
TOP_ALPHA = 204 / 255.0
FORMULAS = {
    "normal": lambda b, s: s,
    "add": lambda b, s: b + s,
    "screen": lambda b, s: 1 - (1 - b) * (1 - s),
    "multiply": lambda b, s: b * s,
    "overlay": lambda b, s: np.where(b < 0.5, 2 * b * s, 1 - 2 * (1 - b) * (1 - s)),
    "difference": lambda b, s: np.abs(b - s),
    "lighten": np.maximum,
    "darken": np.minimum,
}


def test_every_blend_mode_has_a_formula():
    assert set(FORMULAS) == set(BLEND_MODES)


@pytest.mark.parametrize("mode", BLEND_MODES)
def test_blend_mode_matches_its_formula(make_renderer, mode):
    renderer = make_renderer(width=32, height=18, scenes=["red"])
    spec = {
        "background": [1.0, 1.0, 1.0],  # the opaque first layer must hide it
        "layers": [
            {"kind": "shader", "shader": "solid", "uniforms": {"colour": [*BASE, 1.0]}},
            {
                "kind": "shader",
                "shader": "solid",
                "uniforms": {"colour": [*TOP, TOP_ALPHA]},
                "blend": mode,
                "opacity": 0.5,
            },
        ],
    }
    image = draw_scene(renderer, spec, at(0.0))
    a = TOP_ALPHA * 0.5
    expected = np.clip(BASE + (FORMULAS[mode](BASE, TOP) - BASE) * a, 0.0, 1.0)
    got = image.reshape(-1, 3) / 255.0
    assert np.abs(got - expected).max() <= 2 / 255, f"{mode}: got {got[0] * 255}, expected {expected * 255}"


def test_opacity_follows_a_param_binding(make_renderer):
    renderer = make_renderer(width=32, height=18, scenes=["red"])
    spec = {
        "layers": [
            {
                "kind": "shader",
                "shader": "solid",
                "uniforms": {"colour": [1.0, 1.0, 1.0, 1.0]},
                "opacity": {"from": "param:strength", "range": [0, 10]},
            }
        ]
    }
    for strength, level in ((10, 255), (2.5, 64), (-3, 0)):
        image = draw_scene(renderer, spec, Inputs(now=0.0, params={"strength": strength}))
        assert abs(int(centre(image)[0]) - level) <= 1, strength


# -- crossfades and switching ----------------------------------------------------------------------


def test_crossfade_is_a_smoothstep_mix_ending_on_the_new_scene(make_renderer):
    renderer = make_renderer(scenes=["red", "blue"], crossfade_s=1.0)
    assert tuple(centre(picture(renderer, at(9.0)))) == RED
    assert renderer.switch("blue", 10.0)
    assert renderer.current.name == "blue" and renderer.fading is not None
    for t in (0.25, 0.5, 0.75):
        eased = t * t * (3 - 2 * t)
        got = centre(picture(renderer, at(10.0 + t)))
        expected = np.array([255 * (1 - eased), 0, 255 * eased])
        assert np.abs(got - expected).max() <= 1.0, (t, got, expected)
    image = picture(renderer, at(11.0))
    assert (image == BLUE).all()
    assert renderer.fading is None


def test_switch_by_index_and_unknown_scenes_keep_the_current_one(make_renderer, caplog):
    renderer = make_renderer(scenes=["red", "blue", "wrist"], crossfade_s=0.0)
    assert renderer.current.name == "red"
    assert renderer.switch(1, 1.0)
    assert tuple(centre(picture(renderer, at(1.0)))) == BLUE
    with caplog.at_level(logging.WARNING):
        assert not renderer.switch("nope", 2.0)
        assert not renderer.switch(7, 2.0)
    assert "no scene 'nope'; scenes: red, blue, wrist" in caplog.text
    assert "no scene number 7: the show has 3 (0..2)" in caplog.text
    assert renderer.current.name == "blue"
    assert tuple(centre(picture(renderer, at(2.0)))) == BLUE
    assert renderer.step(-1, 3.0) and renderer.current.name == "red"
    assert renderer.step(-1, 3.0) and renderer.current.name == "wrist"  # wraps around
    assert renderer.switch("red", 4.0)
    assert tuple(centre(picture(renderer, at(4.0)))) == RED


def test_renderer_starts_on_the_configured_scene(make_renderer):
    renderer = make_renderer(scenes=["red", "blue"], scene="blue")
    assert tuple(centre(picture(renderer, at(0.0)))) == BLUE


# -- hot reload ---------------------------------------------------------------------------------


def test_a_broken_shader_keeps_the_last_good_program_until_fixed(make_renderer, tmp_path, caplog):
    (tmp_path / "shaders").mkdir()
    (tmp_path / "scenes").mkdir()
    hot = tmp_path / "shaders" / "hot.glsl"
    shutil.copy(DATA / "shaders" / "flat_red.glsl", hot)
    (tmp_path / "scenes" / "hot.yaml").write_text("layers:\n  - kind: shader\n    shader: hot\n")
    renderer = make_renderer(width=64, height=36, folders=[tmp_path], scenes=["hot"])
    assert (picture(renderer, at(0.0)) == RED).all()

    broken = BAD_SHADERS / "syntax_error.glsl"
    line = int(re.match(r"// expect: (\d+): ", broken.read_text()).group(1))
    hot.write_text(broken.read_text())
    bump_mtime(hot, 10)
    with caplog.at_level(logging.WARNING):
        assert (picture(renderer, at(0.1)) == RED).all()  # within the 0.25 s throttle: not looked at
        assert caplog.text == ""
        assert (picture(renderer, at(1.0)) == RED).all()  # the last good program stays on stage
    entry = renderer.shaders.entries["hot"]
    assert entry.error is not None
    assert entry.error.startswith(f"{hot}:{line}: syntax error")
    assert entry.error.endswith("(keeping the last good version on stage)")
    assert f"{hot}:{line}: syntax error" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        renderer.reload()
    assert caplog.text == ""  # reported once per change, not every poll

    shutil.copy(DATA / "shaders" / "flat_green.glsl", hot)
    bump_mtime(hot, 20)
    renderer.reload()
    assert (picture(renderer, at(2.0)) == GREEN).all()
    assert entry.error is None and entry.version == 2


def test_a_broken_scene_file_keeps_the_old_scene_until_fixed(make_renderer, tmp_path, caplog):
    (tmp_path / "scenes").mkdir()
    path = tmp_path / "scenes" / "hot.yaml"
    good = "layers:\n  - kind: shader\n    shader: solid\n    uniforms:\n      colour: [{}, 1]\n"
    path.write_text(good.format("1, 0, 0"))
    renderer = make_renderer(width=64, height=36, folders=[tmp_path, DATA], scenes=["hot"])
    assert (picture(renderer, at(0.0)) == RED).all()

    path.write_text(good.format("0, 1, 0").replace("[", "{"))  # line 5: a flow sequence never closed
    bump_mtime(path, 10)
    with caplog.at_level(logging.WARNING):
        renderer.reload()
    assert (picture(renderer, at(0.1)) == RED).all()
    error = renderer.scenes.entries["hot"].error
    assert error is not None and error.startswith(f"{path}:5: YAML syntax")
    assert f"{path}:5: YAML syntax" in caplog.text

    path.write_text(good.format("0, 1, 0"))
    bump_mtime(path, 20)
    renderer.reload()
    assert (picture(renderer, at(0.2)) == GREEN).all()
    assert renderer.current.spec.layers[0].uniforms["colour"] == [0.0, 1.0, 0.0, 1.0]

    # valid YAML, but a shader that does not exist: the scene cannot be built, the old one stays
    path.write_text(good.format("0, 0, 1").replace("solid", "nope"))
    bump_mtime(path, 30)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        renderer.reload()
    assert (picture(renderer, at(0.3)) == GREEN).all()
    assert "no shader 'nope'" in caplog.text and "keeping the last good version" in caplog.text


def test_a_missing_shader_is_named_with_what_exists(make_renderer, tmp_path, caplog):
    (tmp_path / "scenes").mkdir()
    (tmp_path / "scenes" / "lost.yaml").write_text("layers:\n  - kind: shader\n    shader: plasmaa\n")
    with pytest.raises(PerformError) as info:
        make_renderer(folders=[tmp_path, DATA], scenes=["lost"])
    message = str(info.value)
    assert "scene 'lost', layer 1 (shader): no shader 'plasmaa' (plasmaa.glsl)" in message
    assert str(DATA / "shaders") in message
    found = message.split("found: ", 1)[1].split(", ")
    assert {"solid", "flat_red", "flat_green", "wrist_dot"} <= set(found)

    renderer = make_renderer(folders=[tmp_path, DATA], scenes=["red", "lost"])
    with caplog.at_level(logging.WARNING):
        assert not renderer.switch("lost", 1.0)
    assert "no shader 'plasmaa'" in caplog.text
    assert renderer.current.name == "red"


def solid(colour: object) -> dict:
    return {"layers": [{"kind": "shader", "shader": "solid", "uniforms": {"colour": colour}}]}


@pytest.mark.parametrize(("colour", "got"), [([1, 0, 0], 3), (0.5, 1), ([1, 0, 0, 1, 1], 5)])
def test_a_uniform_of_the_wrong_size_is_refused_with_a_message(make_renderer, colour, got):
    renderer = make_renderer(width=32, height=18, scenes=["red"])
    with pytest.raises(PerformError) as info:
        draw_scene(renderer, solid(colour), at(0.0))
    shader = DATA / "shaders" / "solid.glsl"
    assert (
        str(info.value)
        == f"scene 'test', layer 1 (shader): uniform 'colour' of {shader}: expected 4 numbers, got {got}"
    )


def test_whole_number_uniforms_take_the_scenes_floats(make_renderer):
    renderer = make_renderer(width=32, height=18, scenes=["red"])
    spec = {"layers": [{"kind": "shader", "shader": "whole", "uniforms": {"level": 200, "on": 1}}]}
    assert tuple(centre(draw_scene(renderer, spec, at(0.0)))) == (200, 200, 200)
    spec["layers"][0]["uniforms"]["on"] = 0
    assert tuple(centre(draw_scene(renderer, spec, at(0.0)))) == (0, 0, 0)


def test_a_reloaded_shader_that_changes_a_uniform_type_still_draws(make_renderer, tmp_path, caplog):
    (tmp_path / "shaders").mkdir()
    (tmp_path / "scenes").mkdir()
    hot = tmp_path / "shaders" / "hot.glsl"
    shutil.copy(DATA / "shaders" / "solid.glsl", hot)
    (tmp_path / "scenes" / "hot.yaml").write_text(
        "layers:\n  - kind: shader\n    shader: hot\n    uniforms: {colour: [0, 0, 1, 1]}\n"
    )
    renderer = make_renderer(width=32, height=18, folders=[tmp_path], scenes=["hot"])
    assert (picture(renderer, at(0.0)) == BLUE).all()
    hot.write_text("uniform float colour;\nvoid main() { fragColor = vec4(colour, 1.0, 0.0, 1.0); }\n")
    bump_mtime(hot, 10)
    renderer.reload()
    with caplog.at_level(logging.WARNING):
        for t in (1.0, 1.1, 1.2):
            image = picture(renderer, at(t))
    assert (image == (0, 255, 0)).all()  # drawn, with the uniform left at 0
    assert caplog.text.count(f"uniform 'colour' of {hot}: expected 1 number, got 4") == 1


# -- layers driven by poses and images -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scene", "only_wrist", "area"), [("wrist", False, math.pi * 9**2), ("skeleton", True, 16**2)]
)
def test_right_wrist_moves_the_pixels(make_renderer, scene, only_wrist, area):
    # wrist: a disc of radius 0.05 screen heights (9 px); skeleton: the joint square, 1.6 x half
    # the 40 px line width at 720 lines, so 16 px across at 180
    renderer = make_renderer(scenes=[scene])
    w, h = renderer.size
    found = []
    for n, (x, y) in enumerate([(0.2, 0.3), (0.8, 0.7)]):
        image = picture(renderer, one_wrist(x, y, now=float(n), seq=n, only_wrist=only_wrist))
        cx, cy, count = bright_centroid(image)
        assert abs(cx - x * w) <= 1.5 and abs(cy - y * h) <= 1.5, (x, y, cx, cy)
        assert count == pytest.approx(area, rel=0.2)
        found.append((cx, cy))
    assert found[1][0] - found[0][0] == pytest.approx(0.6 * w, abs=2)  # moved right
    assert found[1][1] - found[0][1] == pytest.approx(0.4 * h, abs=2)  # and down the picture


def test_skeleton_draws_every_bone_of_every_performer(make_renderer):
    renderer = make_renderer(scenes=["skeleton"])
    w, h = renderer.size
    bodies = performers()
    image = picture(renderer, Inputs(now=0.0, poses=Poses(0, 0.0, *CAMERA_SIZE, bodies)))
    bones = 0
    for body in bodies:
        seen = body.landmarks[:, 3] >= 0.5
        for a, b in CONNECTIONS:
            mx, my = (body.landmarks[a, :2] + body.landmarks[b, :2]) / 2 * (w, h)
            if seen[a] and seen[b] and 0 <= mx < w and 0 <= my < h:
                assert image[int(my), int(mx)].min() == 255, (body.slot, a, b)
                bones += 1
    assert bones >= 50
    assert (image.max(axis=2) > 0).mean() < 0.5  # and not everything
    empty = picture(renderer, Inputs(now=1.0, poses=Poses(1, 1.0, *CAMERA_SIZE, ())))
    assert empty.max() == 0


def quadrants(w: int, h: int, band: int) -> np.ndarray:
    """Red top left, green top right, blue bottom left, white bottom right, the top ``band`` rows black."""
    image = np.zeros((h, w, 3), np.uint8)
    image[: h // 2, : w // 2] = RED
    image[: h // 2, w // 2 :] = GREEN
    image[h // 2 :, : w // 2] = BLUE
    image[h // 2 :, w // 2 :] = 255
    image[:band] = 0
    return image


def leading_black(pixels: np.ndarray) -> int:
    lit = np.nonzero(pixels.max(axis=-1) > 0)[0]
    return int(lit[0]) if len(lit) else len(pixels)


# a 64 x 48 (4:3) image with an 8-row black band on top, onto 160 x 90 (16:9): stretch and contain
# show all 48 rows in 90 (the band is 15 rows); cover shows rows 6..42 (the band's last 2 rows: 5);
# contain is 120 px wide with 20 px bars either side
@pytest.mark.parametrize(
    ("fit", "band_rows", "bar_px"), [("stretch", 15, 0), ("contain", 15, 20), ("cover", 5, 0)]
)
def test_camera_layer_is_upright_and_fitted(make_renderer, fit, band_rows, bar_px):
    renderer = make_renderer(width=160, height=90, scenes=["red"])
    frame = Frame(quadrants(64, 48, band=8), seq=1, t_capture=0.0)
    image = draw_scene(renderer, {"layers": [{"kind": "camera", "fit": fit}]}, Inputs(now=0.0, frame=frame))
    assert tuple(image[30, 60]) == RED and tuple(image[30, 100]) == GREEN
    assert tuple(image[70, 60]) == BLUE and tuple(image[70, 100]) == (255, 255, 255)
    assert abs(leading_black(image[:, 60]) - band_rows) <= 1
    assert abs(leading_black(image[30]) - bar_px) <= 1
    assert abs(leading_black(image[30, ::-1]) - bar_px) <= 1


def test_mask_layer_fills_the_silhouette(make_renderer):
    renderer = make_renderer(width=64, height=36, scenes=["red"])
    mask = np.zeros((36, 64), np.float32)
    mask[:18, :32] = 1.0  # the top left quarter
    poses = Poses(1, 0.0, 64, 36, (), mask=mask)
    spec = {"layers": [{"kind": "mask", "fill": "colour", "colour": [0, 1, 0], "softness": 0.0}]}
    image = draw_scene(renderer, spec, Inputs(now=0.0, poses=poses))
    assert (image[:16, :30] == GREEN).all()
    assert image[20:, :].max() == 0 and image[:, 34:].max() == 0


def test_particles_come_from_the_joint_and_fall(make_renderer):
    renderer = make_renderer(width=160, height=90, scenes=["red"])
    spec = {
        "layers": [
            {
                "kind": "particles",
                "emit_from": ["right_wrist"],
                "rate": 300,
                "gravity": 2.0,
                "speed": 0.05,
                "size": 40,
            }
        ]
    }
    scene = Scene("sparks", SceneFile.model_validate(spec), renderer.canvas, 0.0)
    try:
        for n in range(12):
            inputs = one_wrist(0.25, 0.3, now=n / 30, seq=n)
            renderer.canvas.update(inputs, 1 / 30 if n else 0.0)
            image = renderer.read(scene.draw(renderer.canvas))[::-1, :, :3]
    finally:
        scene.release()
    cx, cy, count = bright_centroid(image, level=40)
    assert count > 20
    assert abs(cx - 0.25 * 160) < 8
    assert 0.3 * 90 < cy < 0.3 * 90 + 20  # below the wrist: they fall


# -- compile errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "line", "message"),
    [
        ("0:3(2): error: syntax error, unexpected IDENTIFIER", 3, "syntax error, unexpected IDENTIFIER"),
        ('0(12) : error C1008: undefined variable "glow"', 12, 'undefined variable "glow"'),
        ("ERROR: 0:7: 'glow' : undeclared identifier", 7, "'glow' : undeclared identifier"),
        ("0:5(1): warning: unused\n0:6(2): error: bad", 6, "bad"),
        (
            "GLSL Linker failed\n\nProgram\n=======\nerror: fragment shader lacks `main'\n",
            None,
            "fragment shader lacks `main'",
        ),
        ("", None, "does not compile"),
    ],
    ids=["mesa", "nvidia", "amd", "warning first", "link", "empty"],
)
def test_driver_logs_give_the_first_error_line(log, line, message):
    assert parse_gl_error(log) == (line, message)


# -- bindings -----------------------------------------------------------------------------------


def bound(**binding: object) -> Bound:
    return Bound(Binding.model_validate(binding))


def feature(value: float | None, now: float = 0.0) -> Inputs:
    return Inputs(now=now, features={} if value is None else {"p1.hands_up": value})


def test_binding_maps_range_to_output_and_clamps():
    b = bound(**{"from": "p1.hands_up", "range": [0.2, 0.8], "to": [10, 20]})
    assert b.update(feature(0.5), 0.0) == pytest.approx(15.0)
    assert b.update(feature(0.8), 0.0) == pytest.approx(20.0)
    assert b.update(feature(1.4), 0.0) == pytest.approx(20.0)
    assert b.update(feature(-3.0), 0.0) == pytest.approx(10.0)
    free = bound(**{"from": "p1.hands_up", "range": [0.2, 0.8], "to": [10, 20], "clamp": False})
    assert free.update(feature(1.4), 0.0) == pytest.approx(30.0)
    inverted = bound(**{"from": "p1.hands_up", "to": [1, 0]})
    assert inverted.update(feature(0.25), 0.0) == pytest.approx(0.75)
    assert inverted.update(feature(2.0), 0.0) == pytest.approx(0.0)


def test_binding_uses_its_default_while_the_source_is_missing():
    b = bound(**{"from": "p1.hands_up", "to": [0, 100], "default": 0.3})
    assert b.update(feature(None), 0.0) == pytest.approx(30.0)
    assert b.update(feature(0.9), 0.0) == pytest.approx(90.0)


def test_binding_smooths_with_its_time_constant():
    b = bound(**{"from": "p1.hands_up", "smooth_s": 0.5})
    assert b.update(feature(0.0), 0.0) == 0.0  # the first value is taken as it is
    value = 0.0
    for _ in range(25):  # one time constant in 20 ms steps
        value = b.update(feature(1.0), 0.02)
    assert value == pytest.approx(1 - math.exp(-1), abs=1e-6)  # 63 %
    for _ in range(100):  # four more
        value = b.update(feature(1.0), 0.02)
    assert value == pytest.approx(1 - math.exp(-5), abs=1e-6)
    assert b.update(feature(1.0), 0.0) == value  # no time, no change


def test_event_binding_pulses_and_decays_linearly():
    b = bound(**{"from": "event:jump", "decay_s": 0.5, "to": [0, 2]})
    assert b.update(Inputs(now=9.0), 0.0) == 0.0  # nothing fired yet
    assert b.update(Inputs(now=10.0, fired={"p1/jump", "jump"}), 0.0) == pytest.approx(2.0)
    assert b.update(Inputs(now=10.125), 0.0) == pytest.approx(1.5)
    assert b.update(Inputs(now=10.25), 0.0) == pytest.approx(1.0)
    assert b.update(Inputs(now=10.5), 0.0) == pytest.approx(0.0)
    assert b.update(Inputs(now=12.0), 0.0) == 0.0
    assert b.update(Inputs(now=13.0, fired={"spin"}), 0.0) == 0.0  # another event
    per_performer = bound(**{"from": "event:p2/jump"})
    assert per_performer.update(Inputs(now=1.0, fired={"jump", "p1/jump"}), 0.0) == 0.0
    assert per_performer.update(Inputs(now=2.0, fired={"jump", "p2/jump"}), 0.0) == 1.0


def test_param_and_time_bindings():
    b = bound(**{"from": "param:strength", "range": [0, 10], "default": 5})
    assert b.update(Inputs(now=0.0, params={"strength": 2}), 0.0) == pytest.approx(0.2)
    assert b.update(Inputs(now=0.0, params={"strength": 7.5}), 0.0) == pytest.approx(0.75)
    assert b.update(Inputs(now=0.0), 0.0) == pytest.approx(0.5)  # never set: the default
    assert b.update(Inputs(now=0.0, params={"strength": "loud"}), 0.0) == pytest.approx(0.5)
    assert b.update(Inputs(now=0.0, params={"strength": math.nan}), 0.0) == pytest.approx(0.5)
    t = bound(**{"from": "time", "range": [0, 60], "to": [0, 1]})
    assert t.update(Inputs(now=5.0, show_time=15.0), 0.0) == pytest.approx(0.25)


def test_mask_filled_with_the_camera_uses_the_frame_the_mask_came_from(make_renderer):
    renderer = make_renderer(width=64, height=36, scenes=["red"])
    mask = np.ones((36, 64), np.float32)
    older = Frame(np.full((36, 64, 3), (0, 0, 255), np.uint8), 3, 0.0)  # the poses' frame: blue
    newer = Frame(np.full((36, 64, 3), (255, 0, 0), np.uint8), 5, 0.1)  # the newest camera image: red
    poses = Poses(3, 0.0, 64, 36, (), mask=mask, frame=older)
    spec = {"layers": [{"kind": "camera"}, {"kind": "mask", "fill": "camera", "softness": 0.0}]}
    image = draw_scene(renderer, spec, Inputs(now=0.2, frame=newer, poses=poses))
    assert (image == (0, 0, 255)).all()  # the silhouette shows the performer where the mask is
    only_camera = draw_scene(
        renderer, {"layers": [{"kind": "camera"}]}, Inputs(now=0.3, frame=newer, poses=poses)
    )
    assert (only_camera == (255, 0, 0)).all()  # the camera layer still shows the newest image
