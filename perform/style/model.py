"""The style model file: one ``torch.save`` of a plain dict, read with ``weights_only=True``.

Keys: ``format`` ("perform-style"), ``version`` (int), ``name``, ``architecture``,
``hyper`` (the architecture's hyper-parameters), ``style_image`` (file name), ``loss``
(what it was trained with), ``training`` (steps, size, batch, seconds, loss curve...) and
``state_dict``. Nothing in it is code, so loading a file from anywhere runs nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from perform.errors import PerformError
from perform.resources import resource_folder
from perform.style.nets import ARCHITECTURES, TransformerNet

MODEL_FORMAT = "perform-style"
#: The version this code writes and the newest it reads.
MODEL_VERSION = 1
#: Where the shipped models live; ``perform style list`` and the stage look here by name.
MODELS_DIR = resource_folder("models")
SUFFIX = ".pt"
#: A model name: what ``style.model`` and ``perform style import`` take, never a path.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class ModelError(PerformError):
    """A style model file cannot be used."""

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {message}")


class CorruptModelError(ModelError):
    """Not a style model file, or a damaged one."""


class ArchitectureError(ModelError):
    """A valid model of another architecture than the one asked for, or an unknown one."""


class ModelVersionError(ModelError):
    """Written by a newer perform than this one."""


@dataclass
class StyleModel:
    """A loaded style model: its network (in eval mode) and what the file says about it."""

    name: str
    architecture: str
    hyper: dict[str, int]
    net: TransformerNet
    style_image: str = ""
    loss: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    version: int = MODEL_VERSION
    path: Path | None = None


def save_model(
    path: Path | str,
    net: TransformerNet,
    *,
    name: str,
    architecture: str,
    style_image: str = "",
    loss: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write ``net`` and its metadata to ``path`` atomically (a temporary file, then rename)."""
    path = Path(path)
    data = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "name": name,
        "architecture": architecture,
        "hyper": net.hyper,
        "style_image": style_image,
        "loss": _plain(dict(loss or {})),
        "training": _plain(dict(training or {})),
        "state_dict": {k: v.detach().to("cpu", torch.float32).clone() for k, v in net.state_dict().items()},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(data, tmp)
    os.replace(tmp, path)
    return path


def _plain(value: Any) -> Any:
    """Metadata as plain Python values, so ``weights_only`` loading accepts it."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def read_model_file(path: Path | str) -> dict[str, Any]:
    """The checked dict of a model file, without building the network."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(path, "no such style model file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = re.sub(r"\x1b\[[0-9;]*m", "", (str(exc).strip().splitlines() or [type(exc).__name__])[0])
        if "Weights only load failed" in first:
            first = "it holds Python objects, not only tensors and plain values (refused by weights_only)"
        raise CorruptModelError(
            path, f"expected a perform style model (torch.save of a dict), could not read it: {first:.200}"
        ) from None
    if not isinstance(data, dict) or data.get("format") != MODEL_FORMAT:
        got = f"format {data.get('format')!r}" if isinstance(data, dict) else type(data).__name__
        raise CorruptModelError(path, f"expected format {MODEL_FORMAT!r}, got {got}")
    version = data.get("version")
    if not isinstance(version, int) or version < 1:
        raise CorruptModelError(path, f"expected an integer format version >= 1, got {version!r}")
    if version > MODEL_VERSION:
        raise ModelVersionError(
            path,
            f"written by a newer perform (format version {version}); this one reads up to {MODEL_VERSION}",
        )
    for key, kind in (("name", str), ("architecture", str), ("hyper", dict), ("state_dict", dict)):
        if not isinstance(data.get(key), kind):
            raise CorruptModelError(
                path, f"expected {key!r} to be a {kind.__name__}, got {data.get(key)!r:.60}"
            )
    return data


def load_model(
    path: Path | str, architecture: str | None = None, device: torch.device | str = "cpu"
) -> StyleModel:
    """Load a model file; with ``architecture``, refuse a model of any other one."""
    path = Path(path)
    data = read_model_file(path)
    arch = data["architecture"]
    if architecture is not None and arch != architecture:
        raise ArchitectureError(path, f"expected a {architecture!r} model, got a {arch!r} model")
    if arch not in ARCHITECTURES:
        raise ArchitectureError(path, f"expected an architecture in {sorted(ARCHITECTURES)}, got {arch!r}")
    hyper = data["hyper"]
    try:
        net = TransformerNet(**{str(k): int(v) for k, v in hyper.items()})
        net.load_state_dict(data["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CorruptModelError(
            path, f"weights do not fit a {arch!r} network with {hyper!r}: {first:.200}"
        ) from None
    net.eval().requires_grad_(False).to(device)
    return StyleModel(
        name=data["name"],
        architecture=arch,
        hyper={k: int(v) for k, v in hyper.items()},
        net=net,
        style_image=str(data.get("style_image", "")),
        loss=dict(data.get("loss", {})),
        training=dict(data.get("training", {})),
        version=data["version"],
        path=path,
    )


def user_models_dir() -> Path:
    """The user's models folder, where ``perform style import`` writes: ``$XDG_DATA_HOME/perform/
    models``, or ``~/.local/share/perform/models``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "perform" / "models"


def check_name(name: str) -> str:
    """``name`` if it is a model name (letters, digits, ``_ . -``; no path), else a ModelError."""
    if not NAME_PATTERN.fullmatch(name) or name.endswith(SUFFIX):
        raise ModelError(
            name, "expected a model name (letters, digits, _ . -, up to 64, no .pt), not a path or file"
        )
    return name


def model_dirs(extra: list[Path] | None = None) -> list[Path]:
    """The registered model folders, in order: the shipped ``models/``, the user's, any extra ones."""
    dirs = [MODELS_DIR, user_models_dir(), *(extra or [])]
    seen: list[Path] = []
    for d in dirs:
        d = Path(d).expanduser()
        if d not in seen:
            seen.append(d)
    return seen


def find_models(extra: list[Path] | None = None) -> dict[str, Path]:
    """Model name (file stem) -> file, searching only the registered folders; earlier wins."""
    found: dict[str, Path] = {}
    for d in model_dirs(extra):
        if d.is_dir():
            for p in sorted(d.glob(f"*{SUFFIX}")):
                found.setdefault(p.stem, p)
    return found


def resolve_model(name_or_path: str | Path, extra: list[Path] | None = None) -> Path:
    """A model file from a path, or from a name in the registered folders."""
    p = Path(name_or_path).expanduser()
    if p.suffix == SUFFIX or p.exists():
        return p
    models = find_models(extra)
    if str(name_or_path) in models:
        return models[str(name_or_path)]
    raise ModelError(p, f"no style model of that name; expected one of {sorted(models) or 'none found'}")
