import re
from pathlib import Path

import pytest

from perform.capture.config import CameraSource, PatternSource, VideoSource
from perform.errors import ConfigError
from perform.show import load_show, parse_source

ROOT = Path(__file__).resolve().parents[1]
BAD = sorted((ROOT / "tests" / "data" / "bad").glob("*.yaml"))


def expectation(path: Path) -> tuple[int | None, str]:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    match = re.match(r"# expect: (\d+): (.+)$", first)
    assert match, f"{path.name} must start with '# expect: LINE: TEXT'"
    line = int(match.group(1))
    return (line or None), match.group(2)


@pytest.mark.parametrize("path", BAD, ids=[p.stem for p in BAD])
def test_bad_show_files_get_one_clear_message(path):
    line, text = expectation(path)
    with pytest.raises(ConfigError) as info:
        load_show(path)
    error = info.value
    assert error.line == line
    first = str(error).splitlines()[0]
    assert first.startswith(f"{path}:{line}: " if line else f"{path}: ")
    assert text in first


def test_bad_corpus_is_large_enough():
    assert len(BAD) >= 12


@pytest.mark.parametrize("name", ["show.yaml", "demo.yaml"])
def test_shipped_shows_are_valid(name):
    show = load_show(ROOT / "config" / name)
    assert show.name


def test_relative_paths_are_relative_to_the_show_file(tmp_path):
    (tmp_path / "shows").mkdir()
    show_file = tmp_path / "shows" / "s.yaml"
    show_file.write_text("source:\n  kind: video\n  path: ../media/clip.mp4\noutputs:\n  stats: out/s.json\n")
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "clip.mp4").touch()
    show = load_show(show_file)
    assert show.source.path == tmp_path / "media" / "clip.mp4"
    assert show.outputs.stats == tmp_path / "shows" / "out" / "s.json"


def test_defaults_are_documented():
    from perform.schema import Model

    seen = set()

    def walk(model):
        if model in seen:  # conditions nest conditions
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            if name != "kind":
                assert field.description, f"{model.__name__}.{name} has no description"
            for sub in _models(field.annotation):
                walk(sub)

    def _models(annotation):
        if isinstance(annotation, type) and issubclass(annotation, Model):
            return [annotation]
        return [m for arg in getattr(annotation, "__args__", ()) for m in _models(arg)]

    from perform.show.models import Show

    walk(Show)
    for cls in (CameraSource, VideoSource, PatternSource):
        walk(cls)


@pytest.mark.parametrize(
    ("spec", "kind", "field", "value"),
    [
        ("0", "camera", "device", 0),
        ("camera:2", "camera", "device", 2),
        ("/dev/video4", "camera", "device", "/dev/video4"),
        ("pattern", "pattern", "width", 1280),
        ("pattern:640x360@60", "pattern", "fps", 60.0),
    ],
)
def test_source_specs(spec, kind, field, value):
    config = parse_source(spec)
    assert config.kind == kind
    assert getattr(config, field) == value


def test_source_specs_of_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.mp4").touch()
    (tmp_path / "x.png").touch()
    assert parse_source("clip.mp4").path == tmp_path / "clip.mp4"
    assert parse_source("image:x.png").path == tmp_path / "x.png"


def test_source_spec_keeps_transforms_of_the_show():
    keep = CameraSource(kind="camera", mirror=True, rotate=90)
    config = parse_source("pattern", keep=keep)
    assert (config.mirror, config.rotate) == (True, 90)


@pytest.mark.parametrize("spec", ["webcam:1", "notes.txt", "pattern:big", "video:"])
def test_bad_source_specs(spec):
    with pytest.raises(ConfigError, match="--source"):
        parse_source(spec)


def test_show_file_reference_is_up_to_date():
    from perform.show.doc import render

    assert (ROOT / "docs" / "show-file.md").read_text() == render(), (
        "docs/show-file.md is stale: python -m perform.show.doc > docs/show-file.md"
    )


def test_scene_file_reference_is_up_to_date():
    from perform.show.doc import render_scenes

    assert (ROOT / "docs" / "scene-file.md").read_text() == render_scenes(), (
        "docs/scene-file.md is stale: python -m perform.show.doc scenefile > docs/scene-file.md"
    )
