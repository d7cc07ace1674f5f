"""perform's own folders (scenes/, shaders/, models/), found in a checkout or where a wheel put them.

A checkout (and an editable install) has them beside the package; ``pip install .`` installs
them as data files under ``<prefix>/share/perform`` (pyproject.toml). Show files' own folders and
``render.folders`` are searched before these.
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]


def resource_folder(kind: str) -> Path:
    """perform's ``kind`` folder (``scenes``, ``shaders``, ``models``): the checkout's, else the
    installed one (the environment's prefix, then the user's); the checkout's when neither exists."""
    for base in (
        _CHECKOUT,
        Path(sys.prefix) / "share" / "perform",
        Path(site.USER_BASE or "") / "share" / "perform",
    ):
        if (base / kind).is_dir():
            return base / kind
    return _CHECKOUT / kind
