"""A real X server (Xvfb) for window tests: started on a free display, read back with xwd, keys by xdotool."""

from __future__ import annotations

import os
import select
import struct
import subprocess
import time
from collections.abc import Callable

import numpy as np
import pytest

from tests.tools import missing


class XServer:
    """Xvfb on the first free display number; it names the number once it accepts clients."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        reason = missing("Xvfb", "xwd", "xdotool")
        if reason:
            pytest.skip(f"no X server for window tests: {reason}")
        read, write = os.pipe()
        self.proc = subprocess.Popen(
            ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp"],
            pass_fds=(write,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(write)
        number = b""
        deadline = time.monotonic() + 30
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read], [], [], 0.5)
            if ready:
                chunk = os.read(read, 16)
                if not chunk:
                    break
                number += chunk
        os.close(read)
        if not number.strip().isdigit():
            self.proc.kill()
            err = self.proc.communicate()[1].decode(errors="replace").strip().splitlines()
            pytest.skip(f"Xvfb did not start: {err[-1] if err else 'no display number'}")
        self.display = f":{int(number)}"
        self.env = {**os.environ, "DISPLAY": self.display}
        self.env.pop("WAYLAND_DISPLAY", None)

    def screenshot(self) -> np.ndarray:
        """The whole screen as (H, W, 3) uint8 RGB, read by xwd."""
        data = subprocess.run(
            ["xwd", "-root", "-silent", "-display", self.display], capture_output=True, check=True, timeout=30
        ).stdout
        header_size, width, height = (struct.unpack(">I", data[o : o + 4])[0] for o in (0, 16, 20))
        byte_order, bytes_per_line, colours = (struct.unpack(">I", data[o : o + 4])[0] for o in (28, 48, 76))
        # bytes per pixel from the row length: xwd says 24 bits of a 32-bit pixel when a window has
        # another visual than the root's
        assert bytes_per_line >= 4 * width, f"expected 32-bit pixels, got {bytes_per_line} bytes a row"
        start = header_size + 12 * colours
        rows = np.frombuffer(data, np.uint8, height * bytes_per_line, start).reshape(height, bytes_per_line)
        pixels = rows[:, : width * 4].reshape(height, width, 4)
        return pixels[..., [2, 1, 0]] if byte_order == 0 else pixels[..., [1, 2, 3]]  # BGRX or XRGB

    def wait_for(self, what: str, check: Callable[[np.ndarray], bool], timeout: float = 60.0) -> np.ndarray:
        """Screenshots until ``check`` holds; fails with ``what`` and the last picture's mean colour."""
        deadline = time.monotonic() + timeout
        while True:
            picture = self.screenshot()
            if check(picture):
                return picture
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what}: not seen in {timeout:g} s (mean RGB {picture.mean(axis=(0, 1))})"
                )
            time.sleep(0.1)

    def window(self, title: str, timeout: float = 60.0) -> str:
        """The id of the window named ``title``, waiting until it is mapped."""
        out = subprocess.run(
            ["xdotool", "search", "--sync", "--onlyvisible", "--name", f"^{title}$"],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
        )
        assert out.returncode == 0 and out.stdout.split(), f"no window named {title!r}: {out.stderr}"
        return out.stdout.split()[0]

    def geometry(self, window: str) -> tuple[int, int]:
        out = subprocess.run(
            ["xdotool", "getwindowgeometry", "--shell", window], capture_output=True, text=True, env=self.env
        ).stdout
        values = dict(line.split("=", 1) for line in out.split())
        return int(values["WIDTH"]), int(values["HEIGHT"])

    def key(self, window: str, *keys: str) -> None:
        subprocess.run(["xdotool", "key", "--window", window, *keys], check=True, env=self.env, timeout=30)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
