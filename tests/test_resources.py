"""perform's scenes, shaders and models where a checkout has them and where an installed wheel puts them."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from perform import resources

ROOT = Path(__file__).resolve().parents[1]


def test_a_checkout_finds_its_own_folders():
    for kind in ("scenes", "shaders", "models"):
        assert resources.resource_folder(kind) == ROOT / kind


def test_an_install_finds_the_data_files_under_its_prefix(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "env"))
    (tmp_path / "env" / "share" / "perform" / "scenes").mkdir(parents=True)
    assert resources.resource_folder("scenes") == tmp_path / "env" / "share" / "perform" / "scenes"


def test_the_wheel_carries_scenes_shaders_models_and_the_prelude(tmp_path):
    # built from a copy: a build writes build/ and egg-info beside the sources
    src = tmp_path / "src"
    skip = shutil.ignore_patterns(".*", "out", "build", "dist", "*.egg-info", "__pycache__", "tests")
    shutil.copytree(ROOT, src, ignore=skip)
    wheels = tmp_path / "wheels"
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
         "-w", str(wheels)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    (wheel,) = wheels.glob("perform-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    data = "perform-0.1.0.data/data/share/perform"
    for kind, suffix in (("scenes", ".yaml"), ("shaders", ".glsl"), ("models", ".pt")):
        shipped = {p.name for p in (ROOT / kind).glob(f"*{suffix}")}
        packed = {Path(n).name for n in names if n.startswith(f"{data}/{kind}/")}
        assert shipped and shipped <= packed, (kind, shipped - packed)
    assert "perform/render/prelude.glsl" in names
