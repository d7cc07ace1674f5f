"""The operator's panel in a real browser (headless Chromium) against a real running show."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import cv2
import numpy as np
import pytest

from tests.tools import RunningShow, missing, wait_for

webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[dev]')")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

NO_BROWSER = missing("chromium", "chromedriver")
pytestmark = pytest.mark.skipif(NO_BROWSER is not None, reason=str(NO_BROWSER))

PASSCODE = "739146"
SHOW = f"""
name: Panel in a browser
source: {{kind: virtual, people: 2, fps: 25, seed: 3}}
render: {{enabled: true, width: 640, height: 360, fps: 25, scene: glow}}
outputs: {{preview: false, stats: stats.json}}
control: {{port: 0}}
panel: {{enabled: true, host: 127.0.0.1, port: 0, passcode: "{PASSCODE}", updates_hz: 15}}
"""


@pytest.fixture
def show(tmp_path: Path) -> Iterator[tuple[RunningShow, str]]:
    path = tmp_path / "show.yaml"
    path.write_text(SHOW)
    run = RunningShow(path, seconds=240)
    try:
        url = run.wait_for(r"panel: (http://\S+)", 120).group(1)
        yield run, url
    finally:
        if run.proc.poll() is None:
            run.proc.send_signal(signal.SIGINT)
            run.wait(30)


@pytest.fixture
def browser() -> Iterator[Any]:
    os.environ.setdefault("SE_AVOID_STATS", "true")
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium's manager must not look for drivers online
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1000,1600"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def state_from(url: str, passcode: str = PASSCODE) -> dict[str, Any]:
    """One state of the show, read by a second page of our own (the show's own values)."""

    async def read() -> dict[str, Any]:
        async with aiohttp.ClientSession() as s, s.ws_connect(url.replace("http", "ws") + "ws") as ws:
            await ws.send_json({"type": "hello", "passcode": passcode})
            while True:
                msg = await asyncio.wait_for(ws.receive(), 20)
                if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == "state":
                    return json.loads(msg.data)
                if msg.type != aiohttp.WSMsgType.TEXT and msg.type != aiohttp.WSMsgType.BINARY:
                    raise ConnectionError(msg)

    return asyncio.run(read())


def canvas(driver: Any, element_id: str) -> np.ndarray:
    """The pixels of a canvas on the page, RGB."""
    data = driver.execute_script(f"return document.getElementById('{element_id}').toDataURL('image/png')")
    png = base64.b64decode(data.split(",", 1)[1])
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def body(driver: Any, name: str) -> str:
    return driver.execute_script(f"return document.body.dataset.{name} || ''")


def test_the_panel_runs_the_show_from_a_browser(show: tuple[RunningShow, str], browser: Any) -> None:
    run, url = show
    browser.get(url)
    assert browser.find_element(By.ID, "login").is_displayed()
    assert not browser.find_element(By.ID, "panel").is_displayed()

    # without the passcode nothing is shown and nothing changes
    raw_scene = asyncio.run(_control_without_passcode(url))
    assert raw_scene == "denied"
    browser.find_element(By.ID, "passcode").send_keys("0000")
    browser.find_element(By.ID, "login-button").click()
    assert wait_for(lambda: browser.find_element(By.ID, "login-error").text.strip() != "", 20)
    assert not browser.find_element(By.ID, "panel").is_displayed()
    assert state_from(url)["scene"] == "glow"

    passcode = browser.find_element(By.ID, "passcode")
    passcode.clear()
    passcode.send_keys(PASSCODE)
    browser.find_element(By.ID, "login-button").click()
    assert wait_for(lambda: browser.find_element(By.ID, "panel").is_displayed(), 20)
    assert wait_for(lambda: int(body(browser, "frames") or 0) > 5, 30)
    assert body(browser, "scene") == "glow"

    # a scene button switches the show's scene
    button = browser.find_element(By.CSS_SELECTOR, 'button.scene[data-scene="kaleido"]')
    button.click()
    run.wait_for(r"scene: kaleido", 30)  # the show itself says so
    assert wait_for(lambda: body(browser, "scene") == "kaleido", 20)
    current = browser.find_element(By.CSS_SELECTOR, "button.scene.current")
    assert current.get_attribute("data-scene") == "kaleido"

    # a slider moves a show parameter (pulse binds param:gain over 0..1)
    slider = browser.find_element(By.CSS_SELECTOR, 'input.param[data-param="gain"]')
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", slider)
    before = state_from(url)["params"]["gain"]
    width = slider.size["width"]
    near_left = -width // 2 + max(4, width // 10)
    ActionChains(browser).move_to_element_with_offset(slider, near_left, 0).click().perform()
    assert wait_for(lambda: abs(state_from(url)["params"]["gain"] - before) > 0.3, 20)
    assert state_from(url)["params"]["gain"] < 0.3  # near the slider's left end

    # the performers' skeletons on the canvas, where the show sees them
    def coloured_near_bodies() -> bool:
        pixels = canvas(browser, "skeletons")
        state = state_from(url)
        h, w = pixels.shape[:2]
        lit = pixels.max(axis=2) > 60
        if lit.sum() < 200 or not state["bodies"]:
            return False
        aspect = state["aspect"]
        draw_w = w if w / h < aspect else h * aspect
        x0 = (w - draw_w) / 2
        for b in state["bodies"]:
            xs = [p[0] for p in b["points"] if p[2] > 0.5]
            cx = x0 + float(np.median(xs)) * draw_w
            band = lit[:, max(0, int(cx - 0.12 * draw_w)) : int(cx + 0.12 * draw_w) + 1]
            if band.sum() < 30:
                return False
        return True

    assert wait_for(coloured_near_bodies, 30)

    # the latency graph moves as the show runs
    graph = canvas(browser, "graph-latency")
    assert wait_for(lambda: not np.array_equal(canvas(browser, "graph-latency"), graph), 30)
    assert (canvas(browser, "graph-latency").max(axis=2) > 60).sum() > 50

    # the stage picture arrives as a preview
    assert wait_for(
        lambda: browser.execute_script(
            "const i = document.getElementById('preview'); return i.complete && i.naturalWidth > 0"
        ),
        30,
    )
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == [], errors

    run.proc.send_signal(signal.SIGINT)
    assert run.wait(60) == 0, run.text
    stats = json.loads((Path(run.proc.args[4]).parent / "stats.json").read_text())
    assert stats["panel"]["pages"] >= 3 and stats["panel"]["denied"] >= 2
    assert stats["cues"].get("applied", 0) >= 1


async def _control_without_passcode(url: str) -> str:
    async with aiohttp.ClientSession() as s, s.ws_connect(url.replace("http", "ws") + "ws") as ws:
        await ws.send_json({"type": "scene", "name": "kaleido"})
        reply = await asyncio.wait_for(ws.receive_json(), 20)
        t = time.monotonic()
        while not ws.closed and time.monotonic() - t < 5:
            await ws.receive()
        return str(reply["type"])
