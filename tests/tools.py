"""System tools the integration tests use, and the one command that installs each.

`make test` (through .ci/system-packages) installs them as root and otherwise prints the same
`sudo apt-get install -y ...` line; a test needing one that is missing skips with that line.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable

import pytest

from perform.bench.pose import VTEST  # the one path to the real footage

#: tool -> Debian package (keep in step with .ci/system-packages)
PACKAGES = {
    "oscdump": "liblo-tools",
    "oscsend": "liblo-tools",
    "Xvfb": "xvfb",
    "xwd": "x11-apps",
    "xdotool": "xdotool",
}


def install_line(*packages: str) -> str:
    return "sudo apt-get install -y " + " ".join(dict.fromkeys(packages))


def missing(*tools: str) -> str | None:
    """None when every tool is on PATH, else what is missing and the command that installs it."""
    absent = [tool for tool in tools if shutil.which(tool) is None]
    if not absent:
        return None
    return f"needs {', '.join(absent)}: {install_line(*(PACKAGES[t] for t in absent))}"


def needs(*tools: str) -> pytest.MarkDecorator:
    """Skip unless every tool is on PATH, naming the command that installs what is missing."""
    reason = missing(*tools)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


needs_vtest = pytest.mark.skipif(
    not VTEST.is_file(),
    reason=f"needs {VTEST} (real pedestrian footage): {install_line('opencv-doc')}",
)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.005)
    return condition()
