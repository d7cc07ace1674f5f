"""Reading a show file: YAML with line numbers, validated by the models, one clear message."""

from __future__ import annotations

from pathlib import Path

from perform.schema import load_model
from perform.show.models import Show


def load_show(path: str | Path) -> Show:
    """Read and validate a show file; raises :class:`ConfigError` naming file, line and field."""
    return load_model(path, Show)
