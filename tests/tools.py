"""System tools the integration tests use, and the one command that installs each.

`make test` (through .ci/system-packages) installs them as root and otherwise prints the same
`sudo apt-get install -y ...` line; a test needing one that is missing skips with that line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from perform.bench.pose import VTEST  # the one path to the real footage

#: tool -> Debian package (keep in step with .ci/system-packages)
PACKAGES = {
    "oscdump": "liblo-tools",
    "oscsend": "liblo-tools",
    "Xvfb": "xvfb",
    "xwd": "x11-apps",
    "xdotool": "xdotool",
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
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


class RunningShow:
    """``perform run SHOW --headless`` in a child process, its stderr lines collected as they come."""

    def __init__(self, show: Path, seconds: float, cwd: Path | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "perform", "run", str(show), "--headless", "--seconds", str(seconds)],
            cwd=cwd or show.parent,
            env={**os.environ, "COLUMNS": "400"},  # one log line per line
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first log line matching ``pattern``; fails if the show ends or ``timeout`` passes first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                found = re.search(pattern, line)
                if found:
                    return found
            assert self.proc.poll() is None, self.text
            time.sleep(0.05)
        raise AssertionError(f"no line matching {pattern!r} in {timeout} s:\n{self.text}")

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5.0)
        return code
