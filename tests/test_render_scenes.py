"""Shipped scenes and shaders render; bad scene files and broken shaders get one clear message."""

import re
from pathlib import Path

import numpy as np
import pytest

from perform.errors import ConfigError
from perform.render.config import Render, SceneFile
from perform.render.gl import ShaderError, compile_fragment, create_headless_context
from perform.render.renderer import Renderer
from perform.schema import load_model
from tests.render_inputs import stage_inputs

ROOT = Path(__file__).resolve().parents[1]
SCENES = sorted((ROOT / "scenes").glob("*.yaml"))
SHADERS = sorted((ROOT / "shaders").glob("*.glsl"))
BAD_SCENES = sorted((ROOT / "tests" / "data" / "bad_scenes").glob("*.yaml"))
BAD_SHADERS = sorted((ROOT / "tests" / "data" / "bad_shaders").glob("*.glsl"))

#: Bad scene files whose message perform.schema.load_model gets wrong today (the reason says how).


@pytest.fixture(scope="module")
def ctx():
    ctx = create_headless_context()
    yield ctx
    ctx.release()


def expectation(path: Path, comment: str) -> tuple[int | None, str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    match = re.match(rf"{re.escape(comment)} expect: (\d+): (.+)$", first)
    assert match, f"{path.name} must start with '{comment} expect: LINE: TEXT'"
    return (int(match.group(1)) or None), match.group(2)


# -- shipped scenes and shaders ---------------------------------------------------------------


def test_scenes_and_shaders_are_shipped():
    assert SCENES, f"no scene files in {ROOT / 'scenes'}"
    assert SHADERS, f"no shaders in {ROOT / 'shaders'}"


@pytest.mark.parametrize("path", SHADERS, ids=[p.stem for p in SHADERS])
def test_shipped_shader_compiles(ctx, path):
    program = compile_fragment(ctx, path.read_text(encoding="utf-8"), path)
    program.release()


@pytest.mark.parametrize("path", SCENES, ids=[p.stem for p in SCENES])
def test_shipped_scene_renders_a_picture(ctx, path):
    spec = load_model(path, SceneFile)
    renderer = Renderer(ctx, Render(width=320, height=180, scenes=[path.stem], folders=[path.parent.parent]))
    try:
        for i in range(8):  # several frames: feedback shaders read their own previous output
            picture = renderer.read(renderer.draw(stage_inputs(i)))[..., :3].astype(np.float32)
        assert renderer.current.name == path.stem
        for name, entry in renderer.shaders.entries.items():
            assert entry.error is None, f"{name}: {entry.error}"
    finally:
        renderer.release()
    background = np.array(spec.background, np.float32) * 255.0
    assert picture.std() > 8.0, f"{path.name}: the picture is one flat colour ({picture.mean(axis=(0, 1))})"
    differs = np.abs(picture - background).max(axis=2) > 24
    assert differs.mean() > 0.005, f"{path.name}: only {differs.mean():.1%} of the picture is not background"


# -- bad inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem) for p in BAD_SCENES])
def test_bad_scene_files_get_one_clear_message(path):
    line, text = expectation(path, "#")
    with pytest.raises(ConfigError) as info:
        load_model(path, SceneFile)
    error = info.value
    first = str(error).splitlines()[0]
    assert first.startswith(f"{path}:{line}: " if line else f"{path}: "), first
    assert text in first, first
    assert error.line == line


def test_bad_scene_corpus_is_large_enough():
    assert len(BAD_SCENES) >= 12


@pytest.mark.parametrize("path", BAD_SHADERS, ids=[p.stem for p in BAD_SHADERS])
def test_broken_shaders_name_file_and_line(ctx, path):
    line, text = expectation(path, "//")
    with pytest.raises(ShaderError) as info:
        compile_fragment(ctx, path.read_text(encoding="utf-8"), path)
    error = info.value
    assert (error.path, error.line) == (path, line)
    assert str(error).startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert text in error.message
    assert "GLSL Compiler failed" not in str(error) and "\n" not in str(error)


def test_broken_shader_corpus_is_large_enough():
    assert len(BAD_SHADERS) >= 5
