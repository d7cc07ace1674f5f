"""The operator's panel on the show network: an aiohttp server on a thread of its own.

``GET /`` serves the page (three files of ``perform/panel/static``, nothing else); ``/ws`` is
the live WebSocket. A page must send the passcode first; until it does nothing is shown and
nothing changes. Every page gets its own sender: it is given the newest state and picture
(latest wins, at most ``updates_hz`` a second), so a slow or sleeping tablet misses updates and
never holds up the show or the other pages; one that takes longer than :data:`SEND_TIMEOUT_S`
to take a message is closed.

Bounded everywhere: pages at once (``max_clients``), message size (:data:`MAX_MESSAGE`),
controls a second per page (:data:`CONTROL_RATE`), wrong passcodes per address
(:data:`MAX_FAILURES` a minute). Addresses outside ``allow`` are turned away before anything is
read. What the server counts is in :attr:`PanelServer.counts` and the status row ``panel``.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import socket
import threading
import time
from collections import Counter, OrderedDict, deque
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from perform.errors import PerformError
from perform.panel.config import Panel
from perform.panel.state import PanelState
from perform.pipeline.ratelog import RateLimitedLog
from perform.pipeline.stats import StageStats
from perform.schema import allowed, ip_network

log = logging.getLogger(__name__)

#: The page's files, by the only names served.
FILES = {
    "/": ("index.html", "text/html"),
    "/panel.js": ("panel.js", "text/javascript"),
    "/panel.css": ("panel.css", "text/css"),
}
#: Largest message a page may send (a control is under 200 bytes).
MAX_MESSAGE = 4096
#: Controls a second a page may send on average, and at once.
CONTROL_RATE, CONTROL_BURST = 20.0, 40.0
#: Wrong passcodes an address may send in :data:`FAILURE_WINDOW_S` before it must wait.
MAX_FAILURES, FAILURE_WINDOW_S = 5, 60.0
#: Seconds a page has to send its passcode after it connects.
HELLO_TIMEOUT_S = 10.0
#: Seconds a page may take to accept one message before it is closed.
SEND_TIMEOUT_S = 5.0
#: Results waiting for a page at most (the page sends at most a few controls a second).
MAX_RESULTS = 16
#: Every key of :attr:`PanelServer.counts`.
COUNT_KEYS = (
    "pages",  # pages let in (right passcode)
    "not_allowed",  # addresses outside ``allow``
    "full",  # turned away: max_clients pages already open
    "denied",  # wrong or missing passcode
    "locked_out",  # too many wrong passcodes from one address
    "controls",  # controls acted on (applied or refused with a reason)
    "rate_limited",  # controls over the rate
    "bad_messages",  # not JSON, too large, not a control
    "slow_closed",  # pages that did not take their messages
    "updates",  # states sent, all pages
    "previews",  # pictures sent, all pages
)
DROP_KEYS = ("not_allowed", "full", "denied", "locked_out", "rate_limited")
ERROR_KEYS = ("bad_messages", "slow_closed")
_SECURITY_HEADERS = {
    # everything from perform itself; pictures arrive as blobs over the WebSocket
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def new_passcode() -> str:
    """Six random digits."""
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(eq=False)
class _Page:
    ws: web.WebSocketResponse
    who: str
    text: str | None = None  # the newest state not yet sent
    picture: bytes | None = None  # the newest preview not yet sent
    results: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_RESULTS))
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    first: bool = True  # its first state carries the history
    slow: bool = False  # it did not take a message in time: closed
    tokens: float = CONTROL_BURST
    t: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> bool:
        self.tokens = min(CONTROL_BURST, self.tokens + (now - self.t) * CONTROL_RATE)
        self.t = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True


class _Failures:
    """Wrong passcodes per address over the last minute, for at most 1024 addresses."""

    def __init__(self) -> None:
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def locked(self, host: str, now: float) -> bool:
        times = self._times.get(host)
        while times and now - times[0] > FAILURE_WINDOW_S:
            times.popleft()
        return bool(times) and len(times) >= MAX_FAILURES  # type: ignore[arg-type]

    def add(self, host: str, now: float) -> None:
        self._times.setdefault(host, deque(maxlen=MAX_FAILURES)).append(now)
        self._times.move_to_end(host)
        while len(self._times) > 1024:
            self._times.popitem(last=False)


class PanelServer:
    """Serves the panel of one show; :meth:`start` binds (PerformError when it cannot), :meth:`stop`."""

    def __init__(self, state: PanelState, config: Panel, stats: StageStats | None = None) -> None:
        self.state = state
        self.config = config
        self.passcode = config.passcode or new_passcode()
        self.allow = tuple(ip_network(a) for a in config.allow)
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNT_KEYS, 0))
        self.host, self.port = config.host, config.port
        self.stats = stats
        self._files = {path: (_read(name), kind) for path, (name, kind) in FILES.items()}
        self._pages: set[_Page] = set()
        self._failures = _Failures()
        self._log = RateLimitedLog(log, "panel: ", 5.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        #: Where a page opens the panel (known once started).
        self.url = ""
        if stats is not None:
            stats.state = "listening"
            stats.dropped_fn = lambda: sum(self.counts[k] for k in DROP_KEYS)

    @property
    def pages(self) -> int:
        """Pages open now (passcode given)."""
        return len(self._pages)

    def _address(self) -> str:
        host = self.host if self.host not in ("0.0.0.0", "::", "") else _this_machine()
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"

    def start(self) -> PanelServer:
        self._thread = threading.Thread(target=self._run, name="perform-panel", daemon=True)
        self._thread.start()
        self._ready.wait(10.0)
        if self._error is not None or not self._ready.is_set():
            reason = getattr(self._error, "strerror", None) or self._error or "it did not start in 10 s"
            raise PerformError(
                f"panel: cannot serve on TCP {self.host}:{self.config.port} ({reason}); "
                "choose another with --panel HOST:PORT or panel.port (0: any free port)"
            )
        self.url = self._address()
        return self

    def stop(self, timeout: float = 0.5) -> None:
        if self.stats is not None:
            self.stats.state = "stopped"
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> PanelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the server's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # a failure to bind is told to start(); later ones are logged
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.warning("panel: stopped: %s: %s", type(exc).__name__, exc)
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_MESSAGE)
        app.router.add_get("/ws", self._websocket)
        for path in self._files:
            app.router.add_get(path, self._file)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.config.port, backlog=32, reuse_address=True)
        await site.start()
        self.port = runner.addresses[0][1]
        self._ready.set()
        ticker = asyncio.create_task(self._broadcast())
        try:
            await self._stopping.wait()
        finally:
            ticker.cancel()
            for page in list(self._pages):
                await page.ws.close(code=1001, message=b"the show ended")
            await runner.cleanup()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        host = request.remote or ""
        if self.allow and not allowed(host, self.allow):
            self.counts["not_allowed"] += 1
            self._log.warn("not_allowed", f"{host} turned away: not in panel.allow")
            raise web.HTTPForbidden(text="not allowed")
        response = await handler(request)
        response.headers.update(_SECURITY_HEADERS)
        return response

    async def _file(self, request: web.Request) -> web.Response:
        body, kind = self._files[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        who = f"panel {request.remote}"
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            self.counts["not_allowed"] += 1
            self._log.warn("origin", f"{who}: a page from {origin[:80]!r} refused (another site)")
            raise web.HTTPForbidden(text="another site's page")
        if len(self._pages) >= self.config.max_clients:
            self.counts["full"] += 1
            self._log.warn("full", f"{who} turned away: {self.config.max_clients} pages already open")
            raise web.HTTPServiceUnavailable(text="too many pages open")
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=20.0)
        await ws.prepare(request)
        page = _Page(ws, who)
        if not await self._hello(page, request.remote or ""):
            await ws.close()
            return ws
        self.counts["pages"] += 1
        log.info("panel: %s opened the panel", request.remote)
        tasks: list[asyncio.Task[None]] = []
        self._pages.add(page)  # before its welcome: a page that has its welcome is served
        try:
            await ws.send_json(self.state.welcome())
            tasks = [asyncio.create_task(self._send(page)), asyncio.create_task(self._receive(page))]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._pages.discard(page)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if page.slow:  # closed here, with no receive running, so the close handshake completes
                await ws.close(code=1013, message=b"too slow")
            self._watchers()
        return ws

    async def _hello(self, page: _Page, host: str) -> bool:
        """Read the page's passcode: True when right, else False (and the page is told why)."""
        now = time.monotonic()
        if self._failures.locked(host, now):
            self.counts["locked_out"] += 1
            await page.ws.send_json({"type": "denied", "reason": "too many wrong passcodes: wait a minute"})
            return False
        try:
            msg = await asyncio.wait_for(page.ws.receive(), HELLO_TIMEOUT_S)
            hello = json.loads(msg.data) if msg.type == WSMsgType.TEXT else None
        except (TimeoutError, ValueError):
            hello = None
        code = hello.get("passcode") if isinstance(hello, dict) and hello.get("type") == "hello" else None
        if not isinstance(code, str) or not hmac.compare_digest(code.encode()[:64], self.passcode.encode()):
            self.counts["denied"] += 1
            self._failures.add(host, now)
            self._log.warn("denied", f"{host}: wrong passcode")
            if not page.ws.closed:
                await page.ws.send_json({"type": "denied", "reason": "wrong passcode"})
            return False
        return True

    async def _receive(self, page: _Page) -> None:
        async for msg in page.ws:
            if msg.type != WSMsgType.TEXT:
                self.counts["bad_messages"] += 1
                continue
            if not page.take(time.monotonic()):
                self.counts["rate_limited"] += 1
                self._log.warn("rate", f"{page.who}: over {CONTROL_RATE:g} controls a second, some ignored")
                continue
            try:
                message = json.loads(msg.data)
            except ValueError:
                message = None
            if not isinstance(message, dict):
                self.counts["bad_messages"] += 1
                continue
            result = self.state.apply(message, page.who)
            self.counts["controls"] += 1
            page.results.append(json.dumps(result))
            page.wake.set()
        if page.ws.close_code == 1009:  # larger than MAX_MESSAGE
            self.counts["bad_messages"] += 1

    async def _send(self, page: _Page) -> None:
        """One page's sender: results in order, then the newest state and picture (latest wins)."""
        ws = page.ws
        try:
            while not ws.closed:
                await page.wake.wait()
                page.wake.clear()
                while page.results:
                    await asyncio.wait_for(ws.send_str(page.results.popleft()), SEND_TIMEOUT_S)
                if page.text is not None:
                    text, page.text = page.text, None
                    await asyncio.wait_for(ws.send_str(text), SEND_TIMEOUT_S)
                    self.counts["updates"] += 1
                if page.picture is not None:
                    picture, page.picture = page.picture, None
                    await asyncio.wait_for(ws.send_bytes(picture), SEND_TIMEOUT_S)
                    self.counts["previews"] += 1
        except TimeoutError:
            self.counts["slow_closed"] += 1
            self._log.warn("slow", f"{page.who}: did not take its updates for {SEND_TIMEOUT_S:g} s: closed")
            page.slow = True
        except (ConnectionError, RuntimeError):
            pass  # the page went away while a message was on its way

    def _watchers(self) -> None:
        preview = self.state.preview()
        if preview is not None:
            preview.watchers = len(self._pages) if self.config.preview_fps > 0 else 0

    async def _broadcast(self) -> None:
        """Every ``1 / updates_hz``: the newest state to every page; pictures at ``preview_fps``."""
        loop = asyncio.get_running_loop()
        period = 1.0 / self.config.updates_hz
        picture_period = 1.0 / self.config.preview_fps if self.config.preview_fps > 0 else float("inf")
        due = next_picture = time.monotonic()
        picture_seq = -1
        while True:
            due = max(due + period, time.monotonic())
            await asyncio.sleep(due - time.monotonic())
            self._watchers()
            if not self._pages:
                continue
            started = time.monotonic()
            try:
                state = self.state.state()
                text = json.dumps(state, separators=(",", ":"))
                with_history = None
                for page in self._pages:
                    if page.first:
                        page.first = False
                        if with_history is None:
                            with_history = json.dumps({**state, "history": list(self.state.history)})
                        page.text = with_history
                    else:
                        page.text = text
                    page.wake.set()
                preview = self.state.preview()
                now = time.monotonic()
                if preview is not None and now >= next_picture and preview.seq != picture_seq:
                    next_picture = now + picture_period
                    picture_seq = preview.seq
                    picture = await loop.run_in_executor(None, preview.jpeg)
                    for page in self._pages if picture is not None else ():
                        page.picture = picture
                        page.wake.set()
            except Exception as exc:  # a state that cannot be made costs one update, never the panel
                self._log.warn("state", f"update failed: {type(exc).__name__}: {exc}")
                if self.stats is not None:
                    self.stats.errors += 1
            if self.stats is not None:  # its latency: the time to make and hand out one update
                self.stats.record(started)


def _read(name: str) -> bytes:
    return resources.files("perform.panel").joinpath("static", name).read_bytes()


def _this_machine() -> str:
    """This machine's address on its main network, for the printed URL (no packet is sent)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET: picks the route, sends nothing
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname()
