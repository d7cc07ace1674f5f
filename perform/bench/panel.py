"""What the operator's panel costs the show: frame rate and capture-to-OSC latency, panel open
in a browser against no panel, in one run.

The end-to-end show (pose on a 640x360 camera at 30 fps, events, OSC to a receiver process, a
scene drawn at 1280x720) runs four times in this process: without a panel; with its panel open
in headless Chromium (the page logged in, taking every update and preview); with the panel read
by a bare WebSocket client in another process (what the show pays when the page runs on a
tablet); and without again, so that a drift of the machine shows as a difference between the
first and the last. The browser runs on the same cores as the show here; on stage it does not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from perform.bench.e2e import bench_end_to_end
from perform.bench.render import BUILTIN

CHROMEDRIVER = "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    """Why no browser can open the panel here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (pip install -e '.[dev]')"
    if shutil.which("chromium") is None or not os.path.exists(CHROMEDRIVER):
        return "needs chromium and chromium-driver (sudo apt-get install -y chromium chromium-driver)"
    return None


@contextmanager
def chromium(url: str, passcode: str) -> Iterator[object]:
    """Headless Chromium with the panel open and logged in (the passcode in the address)."""
    os.environ.setdefault("SE_AVOID_STATS", "true")
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1400"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.get(f"{url}#code={passcode}")
        yield driver
    finally:
        driver.quit()


# Reads every message of the panel at argv[1] with passcode argv[2] until stdin closes.
_PAGE = r"""
import asyncio, sys, aiohttp
async def main():
    async with aiohttp.ClientSession() as s, s.ws_connect(sys.argv[1].replace("http", "ws") + "ws") as ws:
        await ws.send_json({"type": "hello", "passcode": sys.argv[2]})
        done = asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        while not done.done():
            try:
                await asyncio.wait_for(ws.receive(), 0.5)
            except asyncio.TimeoutError:
                pass
asyncio.run(main())
"""


@contextmanager
def socket_page(url: str, passcode: str) -> Iterator[object]:
    """The panel read by a bare WebSocket client in another process (a tablet's share of work)."""
    page = subprocess.Popen([sys.executable, "-c", _PAGE, url, passcode], stdin=subprocess.PIPE)
    try:
        yield page
    finally:
        assert page.stdin is not None
        page.stdin.close()
        try:
            page.wait(10)
        except subprocess.TimeoutExpired:
            page.kill()


def bench_panel(quick: bool = False, seconds: float | None = None) -> dict[str, object]:
    """The end-to-end show without its panel, with it open in a browser, read by a bare client,
    and without again."""
    reason = browser_missing()
    if reason is not None:
        return {"skipped": reason}
    seconds = seconds if seconds is not None else (4.0 if quick else 20.0)
    runs = {}
    viewers = (
        ("without", None),
        ("with_panel", chromium),
        ("panel_socket_only", socket_page),
        ("without_again", None),
    )
    for name, viewer in viewers:
        runs[name] = bench_end_to_end(quick, seconds=seconds, scene=BUILTIN, viewer=viewer)
    return {"seconds": seconds, "runs": runs}


def markdown(result: dict) -> list[str]:
    runs = result["runs"]
    lines = [
        f"The end-to-end show with rendering ({result['seconds']:g} s each): without its panel; with the "
        "panel open in headless Chromium on the same 2 cores; with the panel read by a bare WebSocket "
        "client in another process (the page on a tablet); and without again.",
        "",
        "| run | capture fps | pose fps | render fps | capture to OSC received p50 / p95 / p99 ms | "
        "frame_to_osc p50 / p95 / p99 ms |",
        "|---|---:|---:|---:|---|---|",
    ]
    for name, r in runs.items():
        fps = r["fps"]
        cells = [name.replace("_", " "), *(f"{fps.get(k, 0):.1f}" for k in ("capture", "pose", "render"))]
        cells += [_ms(r["capture_to_osc_received_ms"]), _ms(r["frame_to_osc_ms"])]
        lines.append("| " + " | ".join(cells) + " |")
    base = runs["without"]["capture_to_osc_received_ms"]["p50"]
    lines.append("")
    for name in ("with_panel", "panel_socket_only"):
        r = runs.get(name)
        if r is None:
            continue
        p = r.get("panel", {})
        ratio = r["capture_to_osc_received_ms"]["p50"] / max(base, 1e-9)
        lines.append(
            f"{name.replace('_', ' ')}: {p.get('updates', 0)} updates and {p.get('previews', 0)} previews "
            f"sent; capture to OSC p50 {ratio:.2f}x the first run without."
        )
    return lines


def _ms(summary: dict[str, float]) -> str:
    return " / ".join(f"{summary[q]:.1f}" for q in ("p50", "p95", "p99"))
