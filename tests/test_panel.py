"""The operator's panel: its state and controls with no thread, then its server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import aiohttp
import numpy as np
import pytest

from perform.control import Controls, Cue, CueRefused
from perform.events.config import EventsConfig
from perform.events.stage import EventEngine
from perform.events.types import Event
from perform.panel import server as panel_server
from perform.panel.config import Panel, PanelParam, panel_address
from perform.panel.server import PanelServer
from perform.panel.state import PanelState, ShowView, scene_params
from perform.pipeline import EventLog, Frame, Slot, Stats
from perform.render.config import SceneFile
from perform.render.thumbnail import Thumbnail
from perform.vision.types import Body, Poses
from tests.tools import wait_for

SCENES = ["intro", "storm", "outro"]


class Show:
    """A show as the panel sees it: stats, controls, a scene list, poses and events."""

    def __init__(self) -> None:
        self.stats = Stats()
        self.controls = Controls()
        self.frames: Slot[Frame] = Slot("frames")
        self.poses: Slot[Poses] = Slot("poses")
        self.events: EventLog[Event] = EventLog()
        self.engine = EventEngine(EventsConfig(builtins=["hands_up", "jump"]))
        self.scene = "intro"
        self.scene_cues = self.controls.listen("scene", "scene.next", "scene.previous")
        self.arm_cues = self.controls.listen("events.arm", "events.disarm")

        def check(cue: Cue) -> str:
            if cue.args[0] not in SCENES:
                raise CueRefused("unknown_scene", f"no scene {cue.args[0]!r}")
            return f"scene {cue.args[0]}"

        self.controls.check("scene", check)
        params = [
            PanelParam(name="blackout", kind="toggle"),
            *scene_params([SceneFile.model_validate(GAIN_SCENE)]),
        ]
        self.view = ShowView(
            "Test show",
            self.stats,
            self.controls,
            self.frames,
            self.poses,
            self.events,
            event_names=["hands_up", "jump"],
            armed=self.engine.armed_now,
            scenes=lambda: (SCENES, self.scene, False),
            render_fps=30.0,
            params=params,
            thumbnail=None,
            takes=True,
        )


GAIN_SCENE = {
    "name": "pulse",
    "layers": [
        {"kind": "shader", "shader": "pulse", "uniforms": {"gain": {"from": "param:gain", "range": [0, 2]}}}
    ],
}


def body(slot: int, x: float) -> Body:
    lm = np.zeros((33, 4), np.float32)
    lm[:, 0], lm[:, 1], lm[:, 3] = x, np.linspace(0.2, 0.9, 33), 1.0
    return Body(slot, lm, np.zeros((33, 4), np.float32))


def poses(seq: int, bodies: list[Body], t: float) -> Poses:
    return Poses(seq, t, 160, 90, tuple(bodies))


# -- the state, no thread ------------------------------------------------------------------------


def test_welcome_lists_what_the_show_has() -> None:
    show = Show()
    w = PanelState(show.view, Panel()).welcome()
    assert w["type"] == "welcome" and w["show"] == "Test show"
    assert w["scenes"] == SCENES and w["events"] == ["hands_up", "jump"]
    gain = next(p for p in w["params"] if p["name"] == "gain")
    assert (gain["min"], gain["max"], gain["kind"]) == (0.0, 2.0, "slider")  # the binding's range
    assert next(p for p in w["params"] if p["name"] == "blackout")["kind"] == "toggle"
    assert len(w["connections"]) > 30 and all(len(c) == 3 for c in w["slot_colors"])
    json.dumps(w)  # all of it goes on the wire


def test_controls_go_through_the_shows_controls_with_their_checks() -> None:
    show = Show()
    state = PanelState(show.view, Panel())
    ok = state.apply({"type": "scene", "name": "storm", "fade_s": 2}, "panel 10.0.0.5")
    assert ok == {"type": "result", "ok": True, "detail": "scene storm 2.0: scene storm"}
    [cue] = show.scene_cues.drain()
    assert (cue.name, cue.args, cue.source) == ("scene", ("storm", 2.0), "panel 10.0.0.5")
    refused = state.apply({"type": "scene", "name": "nowhere"}, "panel")
    assert not refused["ok"] and "no scene 'nowhere'" in refused["detail"]
    assert state.apply({"type": "scene.next"}, "panel")["ok"]
    assert [c.name for c in show.scene_cues.drain()] == ["scene.next"]
    assert state.apply({"type": "disarm", "event": "jump"}, "panel")["ok"]
    assert [(c.name, c.args) for c in show.arm_cues.drain()] == [("events.disarm", ("jump",))]
    # the same outcome log as OSC cues
    assert [o.kind for o in show.controls.recent][-3:] == ["unknown_scene", "applied", "applied"]


@pytest.mark.parametrize(
    "message",
    [
        {"type": "scene", "name": "../../etc/passwd"},  # a name, never a path
        {"type": "scene", "name": "x" * 500},
        {"type": "scene", "name": 3.5},
        {"type": "scene", "name": "storm", "fade_s": 1e9},
        {"type": "scene", "name": "storm", "fade_s": float("nan")},
        {"type": "arm", "event": "/tmp/x"},
        {"type": "arm", "event": "*"},  # the page arms its rows, not patterns
        {"type": "param", "name": "not_offered", "value": 1},  # only the panel's parameters
        {"type": "param", "name": "gain", "value": "loud"},
        {"type": "param", "name": "gain", "value": None},
        {"type": "param", "name": "blackout", "value": 1},
        {"type": "shutdown"},
        {"kind": "scene"},
        ["scene", "storm"],
        "scene storm",
    ],
)
def test_bad_controls_are_refused_and_change_nothing(message: Any) -> None:
    show = Show()
    result = PanelState(show.view, Panel()).apply(message, "panel")
    assert result["type"] == "result" and result["ok"] is False and result["detail"]
    assert show.scene_cues.drain() == [] and show.arm_cues.drain() == []
    assert show.controls.snapshot() == {}


def test_parameters_are_clamped_to_their_range() -> None:
    show = Show()
    state = PanelState(show.view, Panel())
    assert state.apply({"type": "param", "name": "gain", "value": 7}, "panel")["ok"]
    assert state.apply({"type": "param", "name": "blackout", "value": True}, "panel")["ok"]
    assert show.controls.snapshot() == {"gain": 2.0, "blackout": True}
    assert state.state()["params"] == {"blackout": True, "gain": 2.0}


def test_state_has_the_performers_events_and_health() -> None:
    show = Show()
    state = PanelState(show.view, Panel())
    t0 = show.stats.t_start
    show.poses.publish(poses(1, [body(1, 0.3), body(2, 0.7)], t0 + 0.5))
    show.events.publish(Event("jump", 2, True, t0 + 0.5))
    show.events.publish(Event("jump", 2, False, t0 + 0.6))  # an end edge: not shown as fired
    show.engine.disarm("jump")
    s = state.state(t0 + 0.7)
    assert s["people"] == 2 and [b["slot"] for b in s["bodies"]] == [1, 2]
    assert len(s["bodies"][0]["points"]) == 33 and s["bodies"][1]["points"][0][0] == pytest.approx(0.7)
    assert s["aspect"] == pytest.approx(160 / 90, abs=1e-3)
    assert s["events"] == [{"t": 0.5, "name": "p2/jump"}]
    assert s["armed"] == {"hands_up": True, "jump": False}
    assert state.state(t0 + 0.8)["events"] == []  # each event once
    json.dumps(s)


def test_health_samples_are_percentiles_of_each_second() -> None:
    show = Show()
    pose = show.stats.stage("pose")
    pose.state = "running"
    state = PanelState(show.view, Panel())
    t = show.stats.t_start
    for i in range(30):  # the first second: 20 ms
        pose.record(t + i / 30, t + i / 30 + 0.020)
    first = state.state(t + 1.05)["sample"]["stages"]["pose"]
    for i in range(30):  # the next: 200 ms; a whole-run percentile would mix both
        pose.record(t + 1 + i / 30, t + 1 + i / 30 + 0.200)
    s = state.state(t + 2.1)
    second = s["sample"]["stages"]["pose"]
    assert first["p50"] == pytest.approx(20, rel=0.02) and second["p50"] == pytest.approx(200, rel=0.02)
    assert len(state.history) == 2
    assert "sample" not in state.state(t + 2.2)  # once a second


def test_warnings_name_a_stall_a_lost_camera_and_a_show_falling_behind() -> None:
    show = Show()
    capture, pose, render = (show.stats.stage(n) for n in ("capture", "pose", "render"))
    capture.state, pose.state, render.state = "stalled", "running", "running"
    t = show.stats.t_start
    pose.record(t, t + 0.1)
    for i in range(20):
        render.record(t + 9 + i / 15, t + 9 + i / 15)  # 15 fps of 30
    show.stats.t_start -= 10  # ten seconds into the show
    warnings = PanelState(show.view, Panel()).warnings(t + 10.3)
    assert any(w.startswith("camera lost") for w in warnings)
    assert any(w.startswith("pose: nothing for") for w in warnings)
    assert any(re.search(r"falls behind: render 1[45] of 30 fps", w) for w in warnings), warnings


def test_camera_preview_without_a_stage_picture() -> None:
    show = Show()
    state = PanelState(show.view, Panel(preview_width=80))
    image = np.zeros((90, 160, 3), np.uint8)
    image[:, :80] = 255
    show.frames.publish(Frame(image, 1, 0.0))
    preview = state.preview()
    assert preview is not None
    jpeg = preview.jpeg()
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    import cv2

    decoded = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert decoded.shape == (45, 80) and decoded[:, :35].mean() > 200 and decoded[:, 45:].mean() < 50


def test_thumbnail_is_read_only_while_watched_and_due() -> None:
    thumb = Thumbnail(fps=4)
    assert not thumb.wanted(10.0)  # nobody watches: the projector reads nothing back
    thumb.watchers = 1
    assert thumb.wanted(10.0)
    rgba = np.zeros((4, 8, 4), np.uint8)
    rgba[0] = 255  # GL's first row is the bottom of the picture
    thumb.submit(rgba, bottom_up=True, now=10.0)
    assert not thumb.wanted(10.1) and thumb.wanted(10.26)
    import cv2

    picture = cv2.imdecode(np.frombuffer(thumb.jpeg() or b"", np.uint8), cv2.IMREAD_GRAYSCALE)
    assert picture[-1].mean() > 200 and picture[0].mean() < 60


@pytest.mark.parametrize(
    ("text", "expected"),
    [("8090", (None, 8090)), ("127.0.0.1:0", ("127.0.0.1", 0)), ("[::1]:8090", ("::1", 8090))],
)
def test_panel_address(text: str, expected: tuple[str | None, int]) -> None:
    assert panel_address(text) == expected


@pytest.mark.parametrize("text", ["", "host", "70000", "1.2.3.4:-1", "/tmp/sock"])
def test_panel_address_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="--panel"):
        panel_address(text)


# -- the server on loopback ----------------------------------------------------------------------


@contextmanager
def serving(**config: Any) -> Iterator[tuple[PanelServer, Show]]:
    show = Show()
    settings = Panel(enabled=True, host="127.0.0.1", port=0, passcode="246810", **config)
    server = PanelServer(PanelState(show.view, settings), settings, show.stats.stage("panel"))
    with server:
        yield server, show


@asynccontextmanager
async def page(server: PanelServer, passcode: str | None = "246810", **headers: str) -> AsyncIterator[Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"ws://127.0.0.1:{server.port}/ws", headers=headers) as ws,
    ):
        if passcode is not None:
            await ws.send_json({"type": "hello", "passcode": passcode})
        yield ws


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        msg = await asyncio.wait_for(ws.receive(), 10)
        if msg.type == aiohttp.WSMsgType.TEXT and json.loads(msg.data)["type"] == kind:
            return json.loads(msg.data)
        if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise ConnectionError(f"closed waiting for {kind}")


def test_a_page_with_the_passcode_sees_the_show_and_controls_it() -> None:
    async def run(server: PanelServer, show: Show) -> None:
        async with page(server) as ws:
            assert (await next_of(ws, "welcome"))["scenes"] == SCENES
            state = await next_of(ws, "state")
            assert state["scene"] == "intro" and "history" in state
            await ws.send_json({"type": "scene", "name": "storm"})
            assert (await next_of(ws, "result"))["ok"]
            picture = None
            show.frames.publish(Frame(np.full((90, 160, 3), 128, np.uint8), 1, 0.0))
            while picture is None:
                msg = await asyncio.wait_for(ws.receive(), 10)
                picture = msg.data if msg.type == aiohttp.WSMsgType.BINARY else None
            assert picture[:2] == b"\xff\xd8"

    with serving() as (server, show):
        asyncio.run(run(server, show))
        assert [c.args for c in show.scene_cues.drain()] == [("storm",)]
        assert server.counts["pages"] == 1 and server.counts["controls"] == 1


def test_without_the_passcode_nothing_is_shown_and_nothing_changes() -> None:
    async def run(server: PanelServer) -> list[str]:
        seen = []
        for passcode in ["0000", "", None]:
            async with page(server, passcode) as ws:
                if passcode is None:  # no hello at all: a control first
                    await ws.send_json({"type": "scene", "name": "storm"})
                async for msg in ws:
                    seen.append(json.loads(msg.data)["type"])
        return seen

    with serving() as (server, show):
        assert asyncio.run(run(server)) == ["denied"] * 3
        assert show.scene_cues.drain() == [] and server.counts["denied"] == 3
        assert server.counts["pages"] == 0


def test_wrong_passcodes_lock_an_address_out() -> None:
    async def run(server: PanelServer) -> list[dict[str, Any]]:
        replies = []
        for _ in range(panel_server.MAX_FAILURES + 1):
            async with page(server, "111111") as ws:
                replies.append(await next_of(ws, "denied"))
        async with page(server, "246810") as ws:  # even the right one waits now
            replies.append(await next_of(ws, "denied"))
        return replies

    with serving() as (server, _):
        replies = asyncio.run(run(server))
        assert [r["reason"] for r in replies[-2:]] == ["too many tries: wait a minute"] * 2
        assert server.counts["locked_out"] == 2


def test_allow_list_pages_at_once_and_other_sites_are_turned_away() -> None:
    async def status(server: PanelServer, **headers: str) -> int:
        try:
            async with page(server, **headers):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status
        except aiohttp.ClientConnectionError:
            return 0  # cut before a byte was read

    with serving(allow=["10.0.0.0/8"]) as (server, _):
        assert asyncio.run(status(server)) == 0
        assert server.counts["not_allowed"] >= 1  # (aiohttp tries a cut request twice)

    async def two(server: PanelServer) -> int:
        async with page(server) as ws:
            await next_of(ws, "welcome")
            return await status(server)

    with serving(max_clients=1) as (server, _):
        assert asyncio.run(two(server)) == 503 and server.counts["full"] == 1
    with serving() as (server, _):
        assert asyncio.run(status(server, Origin="http://evil.example")) == 403
        assert server.counts["other_site"] == 1


def test_connections_are_counted_before_a_byte_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(panel_server, "REQUEST_TIMEOUT_S", 0.5)
    with serving() as (server, _):
        silent = [
            socket.create_connection(("127.0.0.1", server.port)) for _ in range(panel_server.PER_ADDRESS + 3)
        ]
        try:
            # one address holds PER_ADDRESS at most; the rest are cut at once
            assert wait_for(lambda: server.counts["full"] == 3)
            # and those that never send a request are closed (a slow or silent client)
            assert wait_for(lambda: server.counts["timed_out"] == panel_server.PER_ADDRESS)
            for s in silent:
                s.settimeout(5)
                with contextlib.suppress(ConnectionResetError):  # cut: reset, or closed
                    assert s.recv(1) == b""
        finally:
            for s in silent:
                s.close()
        # and the operator gets in after them
        asyncio.run(_welcome(server))


async def _welcome(server: PanelServer) -> None:
    async with page(server) as ws:
        assert (await next_of(ws, "welcome"))["type"] == "welcome"


def test_floods_and_oversized_messages_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(panel_server, "CONTROL_RATE", 1e-3)  # the burst only, on any machine

    async def run(server: PanelServer) -> None:
        async with page(server) as ws:
            await next_of(ws, "welcome")
            for _ in range(200):
                await ws.send_str('{"type": "scene.next"}')
            await ws.send_str("x" * (panel_server.MAX_MESSAGE + 10))
            async for _ in ws:  # the server closes it: message too big
                pass

    with serving() as (server, _):
        asyncio.run(run(server))
        assert server.counts["controls"] == panel_server.CONTROL_BURST
        assert server.counts["rate_limited"] == 200 - panel_server.CONTROL_BURST
        # the server closes the page (1009) before its handler counts the message
        assert wait_for(lambda: server.counts["bad_messages"] == 1)


def test_deep_or_broken_json_is_refused_without_a_traceback(caplog: pytest.LogCaptureFixture) -> None:
    deep = "[" * 2000 + "]" * 2000  # under MAX_MESSAGE, deeper than Python's recursion limit

    async def run(server: PanelServer) -> list[str]:
        replies = []
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"ws://127.0.0.1:{server.port}/ws") as ws:
                await ws.send_str(deep)  # as the passcode
                replies.append((await next_of(ws, "denied"))["reason"])
            async with page(server) as ws:
                await next_of(ws, "welcome")
                for text in (deep, '{"type": ' * 50, "{]", '"scene"', "[]"):
                    await ws.send_str(text)
                await ws.send_json({"type": "scene", "name": "storm"})  # still served
                replies.append((await next_of(ws, "result"))["detail"])
        return replies

    with serving() as (server, show):
        assert asyncio.run(run(server)) == ["wrong passcode", "scene storm: scene storm"]
        assert server.counts["bad_messages"] == 5 and server.counts["denied"] == 1
        assert [c.args for c in show.scene_cues.drain()] == [("storm",)]
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= 40]


def test_a_failing_update_costs_that_update_only() -> None:
    async def run(server: PanelServer, show: Show) -> int:
        async with page(server) as ws:
            await next_of(ws, "welcome")
            await next_of(ws, "state")
            scenes = show.view.scenes
            show.view.scenes = lambda: 1 / 0  # type: ignore[assignment,return-value]
            await asyncio.sleep(0.5)
            show.view.scenes = scenes
            return (await next_of(ws, "state"))["people"]

    with serving() as (server, show):
        assert asyncio.run(run(server, show)) == 0  # updates come again
        assert server.stats is not None and server.stats.errors > 0


def test_a_page_that_takes_nothing_never_holds_up_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(panel_server, "SEND_TIMEOUT_S", 0.5)

    async def hang(*args: object, **kwargs: object) -> None:  # a tablet gone to sleep
        await asyncio.sleep(3600)

    async def run(server: PanelServer) -> tuple[int, int | None]:
        async with page(server) as sleeping:
            await next_of(sleeping, "welcome")
            [asleep] = list(server._pages)
            asleep.ws.send_str = hang  # type: ignore[method-assign]
            got = 0
            async with page(server) as awake:
                await next_of(awake, "welcome")
                loop = asyncio.get_running_loop()
                end = loop.time() + 2.0
                while loop.time() < end:
                    msg = await asyncio.wait_for(awake.receive(), 5)
                    got += msg.type == aiohttp.WSMsgType.TEXT
            async for _ in sleeping:  # closed by the server: too slow
                pass
            return got, sleeping.close_code

    with serving(updates_hz=20) as (server, _):
        got, code = asyncio.run(run(server))
        assert got >= 8  # 2 s at 20 a second, fewer on a loaded machine; held up 0.5 s a send: 4
        assert code == 1013 and server.counts["slow_closed"] == 1


def test_only_the_pages_files_are_served() -> None:
    async def run(server: PanelServer) -> dict[str, int]:
        out = {}
        async with aiohttp.ClientSession() as session:
            for path in ["/", "/panel.js", "/panel.css", "/../pyproject.toml", "/static/index.html", "/x"]:
                async with session.get(f"http://127.0.0.1:{server.port}{path}") as r:
                    out[path] = r.status
                    if path == "/":
                        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
                        assert "<html" in (await r.text()).lower()
        return out

    with serving() as (server, _):
        assert asyncio.run(run(server)) == {
            "/": 200,
            "/panel.js": 200,
            "/panel.css": 200,
            "/../pyproject.toml": 404,
            "/static/index.html": 404,
            "/x": 404,
        }


def test_a_taken_port_is_one_clear_message() -> None:
    from perform.errors import PerformError

    with serving() as (server, show):
        settings = Panel(enabled=True, host="127.0.0.1", port=server.port, passcode="246810")
        second = PanelServer(PanelState(show.view, settings), settings)
        with pytest.raises(PerformError, match=rf"panel: cannot serve on TCP 127.0.0.1:{server.port}"):
            second.start()
