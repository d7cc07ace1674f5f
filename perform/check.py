"""``perform check``: everything a show refers to exists and can be read, without running it."""

from __future__ import annotations

import os
import sys

from perform.capture import make_source
from perform.devices import cameras
from perform.errors import PerformError
from perform.show.models import CameraSource, Show


def check_show(show: Show) -> tuple[list[str], list[str]]:
    """``(problems, notes)``: problems make the show unable to run; notes are worth knowing."""
    problems: list[str] = []
    notes: list[str] = []
    source = show.source
    if isinstance(source, CameraSource):
        notes.extend(_check_camera(source))
    else:
        backend = make_source(source)
        try:
            backend.open()
            if backend.read() is None:
                problems.append(f"source {backend.name}: delivers no frames")
        except PerformError as exc:
            problems.append(f"source: {exc}")
        finally:
            backend.close()
    if show.outputs.stats is not None:
        folder = show.outputs.stats.parent
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is None or not os.access(existing, os.W_OK):
            problems.append(f"outputs.stats: cannot write into {folder}")
    return problems, notes


def _check_camera(source: CameraSource) -> list[str]:
    """A camera may be absent where the show is checked (a laptop); that is a note, not a problem."""
    if not sys.platform.startswith("linux"):
        return []
    found = cameras().found
    device = source.device
    if isinstance(device, int):
        present = any(c["index"] == device for c in found)
    else:
        present = os.path.exists(device)
    return [] if present else [f"camera {device!r} is not connected to this machine"]
