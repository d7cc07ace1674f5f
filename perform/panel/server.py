"""The operator's panel on the show network: an aiohttp server on a thread of its own.

``GET /`` serves the page (three files of ``perform/panel/static``, nothing else); ``/ws`` is
the live WebSocket. A page must send the passcode first; until it does nothing is shown and
nothing changes. Every page gets its own sender: it is given the newest state and picture
(latest wins, at most ``updates_hz`` a second), so a slow or sleeping tablet misses updates and
never holds up the show or the other pages; one that takes longer than :data:`SEND_TIMEOUT_S`
to take a message is closed.

Bounded everywhere. Connections are counted when they open, before a byte is read: addresses
outside ``allow`` are cut at once, and beyond :data:`MAX_CONNECTIONS` (:data:`PER_ADDRESS` from
one address) new ones are cut too; one that has not sent a request within
:data:`REQUEST_TIMEOUT_S` is closed. Pages at once (``max_clients``), message size
(:data:`MAX_MESSAGE`), controls a second per page (:data:`CONTROL_RATE`), passcode tries (one
or two at a time per address, :data:`MAX_FAILURES` wrong ones a minute, and past a burst one wrong
answer a second over every address, so guessing is slow while the operator's own code is let in
at once). What the server counts is in :attr:`PanelServer.counts` and the status row ``panel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
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
from perform.pipeline.budget import TokenBucket
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
#: Brackets a message may nest (a control has 1): deeper JSON is refused before it is parsed.
MAX_NESTING = 8
#: Controls a second a page may send on average, and at once.
CONTROL_RATE, CONTROL_BURST = 20.0, 40.0
#: Wrong passcodes an address may send in :data:`FAILURE_WINDOW_S` before it must wait.
MAX_FAILURES, FAILURE_WINDOW_S = 5, 60.0
#: Wrong passcodes over every address answered at once; past them, one a second.
FAILURE_BURST = 20
#: Seconds a page has to send its passcode after it connects.
HELLO_TIMEOUT_S = 5.0
#: Seconds a connection has to send its request, and an idle one stays open.
REQUEST_TIMEOUT_S = 5.0
#: Seconds a page may take to accept one message before it is closed.
SEND_TIMEOUT_S = 5.0
#: Results waiting for a page at most (the page sends at most a few controls a second).
MAX_RESULTS = 16
#: Connections open at once from one address (a tablet needs two or three).
PER_ADDRESS = 8
#: Every key of :attr:`PanelServer.counts`.
COUNT_KEYS = (
    "connections",  # TCP connections accepted
    "pages",  # pages let in (right passcode)
    "not_allowed",  # connections from outside ``allow``
    "other_site",  # pages from another site's script (their Origin)
    "full",  # turned away: too many connections or pages open
    "denied",  # wrong or missing passcode
    "locked_out",  # too many tries from one address
    "controls",  # controls acted on (applied or refused with a reason)
    "rate_limited",  # controls over the rate
    "bad_messages",  # not JSON, too large or deep, not a control
    "timed_out",  # connections that sent no request, or no passcode, in time
    "slow_closed",  # pages that did not take their messages
    "updates",  # states sent, all pages
    "previews",  # pictures sent, all pages
)
DROP_KEYS = ("not_allowed", "other_site", "full", "denied", "locked_out", "rate_limited")
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


def address_key(host: str) -> str:
    """Who an address is for the limits: itself, or its /64 for IPv6 (a phone has many)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else address)


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
    controls: TokenBucket = field(default_factory=lambda: TokenBucket(CONTROL_RATE, CONTROL_BURST))


class _Failures:
    """Wrong passcodes per address over the last minute, for at most 1024 addresses."""

    def __init__(self) -> None:
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def locked(self, key: str, now: float) -> bool:
        times = self._times.get(key)
        while times and now - times[0] > FAILURE_WINDOW_S:
            times.popleft()
        return times is not None and len(times) >= MAX_FAILURES

    def add(self, key: str, now: float) -> None:
        self._times.setdefault(key, deque(maxlen=MAX_FAILURES)).append(now)
        self._times.move_to_end(key)
        while len(self._times) > 1024:
            self._times.popitem(last=False)


class PanelServer:
    """Serves the panel of one show; :meth:`start` binds (PerformError when it cannot), :meth:`stop`."""

    def __init__(self, state: PanelState, config: Panel, stats: StageStats | None = None) -> None:
        self.state = state
        self.config = config
        self.passcode = config.passcode or new_passcode()
        self.allow = tuple(ip_network(a) for a in config.allow)
        self.max_connections = 2 * config.max_clients + 8
        self.counts: Counter[str] = Counter(dict.fromkeys(COUNT_KEYS, 0))
        self.host, self.port = config.host, config.port
        self.stats = stats
        #: Where a page opens the panel (known once started).
        self.url = ""
        self._files = {path: (_read(name), kind) for path, (name, kind) in FILES.items()}
        self._pages: set[_Page] = set()
        self._open: Counter[str] = Counter()  # connections by address key
        self._served: set[object] = set()  # transports that have sent a request
        self._trying: Counter[str] = Counter()  # passcodes being read, by address key
        self._failures = _Failures()
        self._wrong = TokenBucket(1.0, FAILURE_BURST)
        self._answering: asyncio.Lock | None = None  # wrong passcodes past the burst, one at a time
        self._log = RateLimitedLog(log, "panel: ", 5.0)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        if stats is not None:
            stats.state = "listening"
            stats.dropped_fn = lambda: sum(self.counts[k] for k in DROP_KEYS)

    @property
    def pages(self) -> int:
        """Pages open now (passcode given)."""
        return len(self._pages)

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
        host = self.host if self.host not in ("0.0.0.0", "::", "") else _this_machine()
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}/"
        return self

    def stop(self, timeout: float = 0.5) -> None:
        if self.stats is not None:
            self.stats.state = "stopped"
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
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
        self._answering = asyncio.Lock()
        app = web.Application(middlewares=[self._guard], client_max_size=MAX_MESSAGE)
        app.on_response_prepare.append(_secure)  # every response, errors too
        app.router.add_get("/ws", self._websocket)
        for path in self._files:
            app.router.add_get(path, self._file)
        runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=0.2,
            keepalive_timeout=REQUEST_TIMEOUT_S,
        )
        await runner.setup()
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.create_server((self.host, self.config.port), family=family, backlog=32)
        server = await asyncio.get_running_loop().create_server(
            lambda: _Counted(self, runner.server()), sock=sock
        )
        self.port = sock.getsockname()[1]
        self._ready.set()
        ticker = asyncio.create_task(self._broadcast())
        ticker.add_done_callback(_report_end)
        try:
            await self._stopping.wait()
        finally:
            ticker.cancel()
            server.close()
            for page in list(self._pages):
                with contextlib.suppress(Exception):
                    await page.ws.close(code=1001, message=b"the show ended")
            await runner.cleanup()

    def admit(self, transport: asyncio.BaseTransport) -> str | None:
        """Count a new connection (its address key), or cut it (None): outside ``allow``, or too
        many open. Called before a byte of it is read."""
        peer = transport.get_extra_info("peername")
        host = str(peer[0]) if peer else ""
        self.counts["connections"] += 1
        if self.allow and not allowed(host, self.allow):
            self.counts["not_allowed"] += 1
            self._log.warn("not_allowed", f"{host} turned away: not in panel.allow")
            return None
        key = address_key(host)
        if sum(self._open.values()) >= self.max_connections or self._open[key] >= PER_ADDRESS:
            self.counts["full"] += 1
            self._log.warn("full", f"{host} turned away: {sum(self._open.values())} connections open")
            return None
        self._open[key] += 1
        asyncio.get_running_loop().call_later(REQUEST_TIMEOUT_S, self._expire, transport)
        return key

    def release(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def _expire(self, transport: asyncio.BaseTransport) -> None:
        """Close a connection that has sent no request in time (a slow or silent one)."""
        if transport in self._served:
            self._served.discard(transport)
        elif not transport.is_closing():
            self.counts["timed_out"] += 1
            transport.abort()  # type: ignore[attr-defined]

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.transport is not None:
            self._served.add(request.transport)
        return await handler(request)

    async def _file(self, request: web.Request) -> web.Response:
        body, kind = self._files[request.path]
        return web.Response(body=body, content_type=kind, charset="utf-8")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        host = request.remote or ""
        who = f"panel {host}"
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            self.counts["other_site"] += 1
            self._log.warn("origin", f"{host}: a page from {origin[:80]!r} refused (another site)")
            raise web.HTTPForbidden(text="another site's page")
        if len(self._pages) >= self.config.max_clients:
            self.counts["full"] += 1
            self._log.warn("pages", f"{host} turned away: {self.config.max_clients} pages already open")
            raise web.HTTPServiceUnavailable(text="too many pages open")
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, heartbeat=20.0)
        await ws.prepare(request)
        page = _Page(ws, who)
        if not await self._hello(page, host):
            await ws.close()
            return ws
        self.counts["pages"] += 1
        log.info("panel: %s opened the panel", host)
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
            with contextlib.suppress(Exception):
                self._watchers()
        return ws

    async def _hello(self, page: _Page, host: str) -> bool:
        """Read the page's passcode: True when right, else False (and the page is told why)."""
        key, now = address_key(host), time.monotonic()
        if self._failures.locked(key, now) or self._trying[key] >= 2:
            self.counts["locked_out"] += 1
            await page.ws.send_json({"type": "denied", "reason": "too many tries: wait a minute"})
            return False
        self._trying[key] += 1
        try:
            try:
                msg = await asyncio.wait_for(page.ws.receive(), HELLO_TIMEOUT_S)
                hello = _json(msg.data) if msg.type == WSMsgType.TEXT else None
            except TimeoutError:
                self.counts["timed_out"] += 1
                hello = None
            code = hello.get("passcode") if isinstance(hello, dict) and hello.get("type") == "hello" else None
            if isinstance(code, str) and hmac.compare_digest(code.encode()[:64], self.passcode.encode()):
                return True
            self.counts["denied"] += 1
            self._failures.add(key, time.monotonic())
            self._log.warn("denied", f"{host}: wrong passcode")
            if not self._wrong.take(1, time.monotonic()):
                assert self._answering is not None
                async with self._answering:  # past the burst: one wrong answer a second in all
                    await asyncio.sleep(1.0)
            if not page.ws.closed:
                await page.ws.send_json({"type": "denied", "reason": "wrong passcode"})
            return False
        finally:
            self._trying[key] -= 1
            if self._trying[key] <= 0:
                del self._trying[key]

    async def _receive(self, page: _Page) -> None:
        async for msg in page.ws:
            if msg.type != WSMsgType.TEXT:
                self.counts["bad_messages"] += 1
                continue
            if not page.controls.take(1, time.monotonic()):
                self.counts["rate_limited"] += 1
                self._log.warn("rate", f"{page.who}: over {CONTROL_RATE:g} controls a second, some ignored")
                continue
            message = _json(msg.data)
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
        """Every ``1 / updates_hz``: the newest state to every page; pictures at ``preview_fps``.

        With no page open it only keeps the health history, once a second.
        """
        loop = asyncio.get_running_loop()
        period = 1.0 / self.config.updates_hz
        picture_period = 1.0 / self.config.preview_fps if self.config.preview_fps > 0 else float("inf")
        due = next_picture = time.monotonic()
        picture_seq = -1
        while True:
            due = max(due + period, time.monotonic())
            await asyncio.sleep(due - time.monotonic())
            started = time.monotonic()
            try:
                self._watchers()
                if not self._pages:
                    self.state.tick(started)
                    continue
                state = self.state.state(started)
                text = json.dumps(state, separators=(",", ":"))
                with_history = None
                for page in self._pages:
                    if page.first:  # the samples are JSON already: no long dump holding the GIL
                        page.first = False
                        if with_history is None:
                            with_history = f'{{"history":[{",".join(self.state.history)}],{text[1:]}'
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
                if self.stats is not None:  # its latency: the time to make and hand out one update
                    self.stats.record(started)
            except Exception as exc:  # a state that cannot be made costs one update, never the panel
                self._log.warn("state", f"update failed: {type(exc).__name__}: {exc}")
                if self.stats is not None:
                    self.stats.errors += 1


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, admitted by the server before it reads a byte."""

    def __init__(self, server: PanelServer, inner: asyncio.Protocol) -> None:
        self.server, self.inner = server, inner
        self.key: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.key = self.server.admit(transport)
        self.inner.connection_made(transport)
        if self.key is None:
            transport.abort()  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.key is not None:
            self.server.release(self.key)
            self.key = None
        self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.key is not None:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _json(text: object) -> object:
    """A page's message parsed, or None: not text, not JSON, or nested deeper than a control is."""
    if not isinstance(text, str) or text.count("[") + text.count("{") > MAX_NESTING:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


async def _secure(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(_SECURITY_HEADERS)


def _report_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("panel: updates stopped: %r", task.exception())


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
