"""What the operator's panel costs the show: frame rate and capture-to-OSC latency, panel open
in a browser against no panel, in one run.

The end-to-end show (pose on a 640x360 camera at 30 fps, events, OSC to a receiver process, a
scene drawn at 1280x720) runs three times in this process: without a panel, with its panel open
in headless Chromium (the page logged in, taking every update and preview), and without again,
so that a drift of the machine shows as a difference between the first and the last. The browser
runs on the same cores as the show here; on stage it is a tablet.
"""

from __future__ import annotations

import os
import shutil
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


def bench_panel(quick: bool = False, seconds: float | None = None) -> dict[str, object]:
    """The end-to-end show without, with and again without its panel open in a browser."""
    reason = browser_missing()
    if reason is not None:
        return {"skipped": reason}
    seconds = seconds if seconds is not None else (4.0 if quick else 20.0)
    runs = {}
    for name, viewer in (("without", None), ("with_panel", chromium), ("without_again", None)):
        runs[name] = bench_end_to_end(quick, seconds=seconds, scene=BUILTIN, viewer=viewer)
    return {"seconds": seconds, "runs": runs}


def markdown(result: dict) -> list[str]:
    runs = result["runs"]
    lines = [
        f"The end-to-end show with rendering ({result['seconds']:g} s each), without its panel, with the "
        "panel open in headless Chromium on the same 2 cores, and without again.",
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
    with_panel, base = runs["with_panel"], runs["without"]
    p = with_panel.get("panel", {})
    p50 = with_panel["capture_to_osc_received_ms"]["p50"]
    ratio = p50 / max(base["capture_to_osc_received_ms"]["p50"], 1e-9)
    lines += [
        "",
        f"With the panel: {p.get('updates', 0)} updates and {p.get('previews', 0)} previews sent to the "
        f"page; capture to OSC p50 {ratio:.2f}x the run without.",
    ]
    return lines


def _ms(summary: dict[str, float]) -> str:
    return " / ".join(f"{summary[q]:.1f}" for q in ("p50", "p95", "p99"))
