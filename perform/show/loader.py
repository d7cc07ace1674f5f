"""Reading a show file: YAML with line numbers, validated by the models, one clear message."""

from __future__ import annotations

from pathlib import Path

from perform.errors import ConfigError
from perform.schema import load_model, locate, read_yaml
from perform.show.models import Show

#: What each file-reading source kind needs at its ``path``.
_INPUTS = {"video": "video file", "image": "image file", "take": "take file", "folder": "folder"}


def load_show(path: str | Path, inputs: bool = True) -> Show:
    """Read and validate a show file; raises :class:`ConfigError` naming file, line and field.

    With ``inputs``, a source file or folder that is not there is an error too (a missing file
    is bad input; a camera absent at start is not: it is reopened until it comes).
    """
    show = load_model(path, Show)
    problem = missing_input(show.source) if inputs else None
    if problem is not None:
        line, field = locate(read_yaml(Path(path)), ("source", "path"))
        raise ConfigError(f"{field}: {problem}", Path(path), line)
    return show


def missing_input(source: object) -> str | None:
    """Why the file or folder ``source`` reads is not there; None when it is (or it reads none)."""
    what = _INPUTS.get(str(getattr(source, "kind", "")))
    path = getattr(source, "path", None)
    if what is None or not isinstance(path, Path):
        return None
    there = path.is_dir() if what == "folder" else path.is_file()
    return None if there else f"{path}: no such {what}"
