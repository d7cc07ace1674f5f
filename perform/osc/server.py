"""OSC in: cues and parameters from QLab, TouchOSC, Max or another perform, and an OSCQuery listing.

Addresses perform accepts (``[x]`` is optional, ``A|B`` either type):

=========================== ============ =================================================
address                     arguments    effect
=========================== ============ =================================================
``/perform/scene``          ``s|i [f]``  cue ``scene NAME`` or ``scene INDEX`` (then a crossfade in s)
``/perform/scene/next``                  cue ``scene.next`` (``/previous``: ``scene.previous``)
``/perform/param/<name>``   ``f|i|s|T|F`` ``controls.set(name, value)``
``/perform/take/start``     ``[s]``      cue ``take.start [NAME]`` (a file name in the takes folder)
``/perform/take/stop``                   cue ``take.stop``
``/perform/events/arm``     ``s``        cue ``events.arm NAME``
``/perform/events/disarm``  ``s``        cue ``events.disarm NAME``
``/perform/query``                       reply ``/perform/query/reply`` (what perform accepts and sends)
``/perform/ping``                        reply ``/perform/pong``
=========================== ============ =================================================

Replies go to the datagram's source address and port, never elsewhere (a reply to a port named
in the request would let anyone aim perform's replies at a third party), and at most
``reply_rate`` datagrams a second (more are counted as ``replies_limited``). Addresses with no
argument also take one number, as a TouchOSC button sends: non-zero fires, zero (the release)
is ignored.

A cue that would do nothing (a scene or event the show does not have, a scene index out of
range, a cue nothing in the show acts on) is refused: counted as ``cue_refused`` and logged once
per reason every few seconds; every cue's outcome shows in the live status.

Names are names, never paths: a scene name, a take name or an event pattern is at most
:data:`~perform.control.MAX_CUE_NAME` characters, with no folder separators and no leading dot;
anything else is refused as ``bad_args`` with a log line that says why. ``allow`` (addresses or
networks) drops datagrams from every other sender before they are parsed (``not_allowed``).

Every datagram is checked before python-osc parses it (:func:`perform.osc.wire.parse_datagram`).
What is wrong is counted in :attr:`ControlServer.counts` under its kind and logged at most once
per kind every few seconds; nothing a sender does stops the server.

Bundles whose time tag is immediate or past are applied at once; a future one is held until
due, but a time tag more than ``max_delay_s`` ahead is applied at once and counted as
``late_clamped``: it almost always means the sender's clock is off, and holding cues for the
skew would make every one of them late.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import reprlib
import select
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from pythonosc.osc_message import OscMessage

from perform.control import MAX_VALUE, Controls, Value, event_pattern, fade_seconds, scene_name, take_name
from perform.errors import BadName
from perform.osc.udp import send
from perform.osc.wire import (
    IMMEDIATE_TIME,
    MALFORMED_KINDS,
    MalformedDatagram,
    clip,
    encode_message,
    parse_datagram,
)
from perform.pipeline.budget import TokenBucket
from perform.pipeline.ratelog import RateLimitedLog
from perform.pipeline.stats import StageStats
from perform.schema import allowed, ip_network

log = logging.getLogger(__name__)

#: How long the server thread blocks at most before it looks at its stop flag again.
POLL_S = 0.05
#: Largest reply datagram (fits an Ethernet frame with IP and UDP headers).
MAX_REPLY = 1400
#: Seconds an HTTP listing connection may take to send its request (a slow one is closed).
HTTP_TIMEOUT_S = 5.0
#: Most HTTP listing connections served at once; more are closed at once (and counted).
HTTP_MAX_CONNECTIONS = 16

#: Every key of :attr:`ControlServer.counts`.
COUNT_KEYS = (
    "datagrams",  # received
    "not_allowed",  # from a sender outside ``allow``: dropped unread
    "packets",  # parsed: datagrams == not_allowed + packets + malformed
    # == handled + unknown_address + bad_args + handler_error + refused + cue_dropped
    # + cue_refused + pending
    "messages",
    "handled",
    "unknown_address",
    "bad_args",
    "handler_error",
    "refused",  # a parameter the store refused (full of other names)
    "cue_dropped",  # a cue whose consumer's queue was full
    "cue_refused",  # a cue that would do nothing: unknown scene or event, index out of range
    "delayed",  # held for a future time tag
    "late_clamped",  # time tag beyond max_delay_s: applied at once
    "pending_overflow",  # the pending list was full: applied at once
    "replies",
    "replies_limited",  # not sent: over reply_rate
    "send_errors",
    "socket_errors",
    "http_refused",  # connections over the cap, closed at once
    "http_errors",  # connections that failed (reset, timed out)
    *(f"malformed.{kind}" for kind in MALFORMED_KINDS),
)

#: What the status row ``control`` shows as dropped: what perform refused or could not keep.
DROP_KEYS = ("not_allowed", "refused", "cue_dropped", "cue_refused", "replies_limited", "http_refused")
#: ... and as errors: what was wrong with what came, or failed.
ERROR_KEYS = (
    "unknown_address",
    "bad_args",
    "handler_error",
    "send_errors",
    "socket_errors",
    "http_errors",
    *(f"malformed.{kind}" for kind in MALFORMED_KINDS),
)


class ListingPortError(OSError):
    """The OSCQuery listing's TCP port cannot be opened (the cue port could)."""


class BadArguments(ValueError):
    """Raised by a handler whose message has the wrong arguments (counted as ``bad_args``)."""


@dataclass(frozen=True, slots=True)
class Address:
    """One address in the listing: OSC type tags, OSCQuery access (1 sent, 2 accepted) and meaning."""

    path: str
    typetag: str = ""
    access: int = 2
    description: str = ""


#: What :class:`ControlServer` is told perform sends: an address, or (address, type tags, description).
SentAddress = str | tuple[str, str, str]
Sender = tuple[str, int]
Handler = Callable[[list[Any], Sender], None]


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _trigger(args: list[Any]) -> bool:
    """No argument, or one number (a TouchOSC button: non-zero on press, zero on release)."""
    if not args:
        return True
    if len(args) == 1 and _number(args[0]) is not None:
        return args[0] != 0
    raise BadArguments(f"expected no argument or one number, got {_describe(args)}")


# A datagram holds up to 64 KB of arguments, arrays nested thousands deep: a message about them
# shows a few, shortened, so that a warning stays one line and repr never recurses too deep.
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxstring, _REPR.maxother = 2, 4, 40, 40
_SHOWN_ARGS = 4


def _describe(args: list[Any]) -> str:
    shown = ", ".join(f"{type(a).__name__} {_REPR.repr(a)}" for a in args[:_SHOWN_ARGS])
    more = f", ... {len(args) - _SHOWN_ARGS} more" if len(args) > _SHOWN_ARGS else ""
    return f"({shown}{more})"


class ControlServer:
    """Receives OSC on a UDP port on its own thread and writes cues and parameters to ``controls``.

    ``port`` 0 takes any free port; :attr:`port` is the one bound. ``http_port`` (None: off, 0:
    any free one) serves the OSCQuery listing as JSON. ``sends`` lists the addresses perform
    sends (or is called for them at each query). ``params``, when given, limits
    ``/perform/param/<name>`` to those names (name -> description); otherwise any name is set.
    """

    def __init__(
        self,
        controls: Controls,
        port: int = 9000,
        host: str = "0.0.0.0",
        *,
        http_port: int | None = None,
        sends: Callable[[], Iterable[SentAddress]] | Iterable[SentAddress] = (),
        params: dict[str, str] | None = None,
        max_delay_s: float = 1.0,
        max_pending: int = 256,
        log_every_s: float = 5.0,
        name: str = "perform",
        allow: Iterable[str] | None = None,
        http_host: str = "127.0.0.1",
        reply_rate: float = 20.0,
    ) -> None:
        self.controls = controls
        self.host = host
        self.http_host = http_host
        self.allow = tuple(ip_network(a) for a in allow) if allow is not None else None
        self._replies = TokenBucket(reply_rate, burst=max(reply_rate, 1.0))
        self.max_delay_s = max_delay_s
        self.max_pending = max_pending
        self.name = name
        self.params = dict(params) if params is not None else None
        self._sends = sends
        self.counts: dict[str, int] = dict.fromkeys(COUNT_KEYS, 0)
        self._log = RateLimitedLog(log, "osc in: ", log_every_s)
        self._pending: list[tuple[float, int, OscMessage, Sender]] = []
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._handlers: dict[str, tuple[Address, Handler]] = {}
        self._stats: StageStats | None = None
        self._install()

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self._sock.bind((host, port))
        except OSError as exc:
            self._sock.close()
            raise OSError(exc.errno, f"OSC in: cannot listen on UDP {host}:{port}: {exc.strerror}") from None
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]

        self._http: _QueryHttpServer | None = None
        self._http_thread: threading.Thread | None = None
        self.http_port: int | None = None
        if http_port is not None:
            try:
                self._http = _QueryHttpServer((http_host, http_port), self)
            except OSError as exc:
                self._sock.close()
                raise ListingPortError(
                    exc.errno,
                    f"OSC in: cannot serve the listing on TCP {http_host}:{http_port}: {exc.strerror}",
                ) from None
            self.http_port = self._http.server_address[1]

    # -- the address table ---------------------------------------------------------------------

    def add(self, path: str, handler: Handler, typetag: str = "", description: str = "") -> None:
        """Accept ``path``: ``handler(args, sender)`` runs on the server thread for each message.

        A handler raises :class:`BadArguments` for arguments it cannot use; any other exception
        is counted as ``handler_error``. Neither stops the server.
        """
        self._handlers[path] = (Address(path, typetag, 2, description), handler)

    def _install(self) -> None:
        self.add(
            "/perform/scene", self._scene, "s", "Switch scene by name (s) or index (i); then a crossfade (f)."
        )
        self.add("/perform/scene/next", self._step("scene.next"), "", "Next scene in the show's order.")
        self.add("/perform/scene/previous", self._step("scene.previous"), "", "Previous scene.")
        self.add("/perform/take/start", self._take_start, "s", "Start recording a take; optional file name.")
        self.add("/perform/take/stop", self._take_stop, "", "Stop recording the take.")
        self.add("/perform/screenshot", self._screenshot, "", "Save the stage picture as a PNG.")
        self.add("/perform/events/arm", self._events("events.arm"), "s", "Arm the named event.")
        self.add("/perform/events/disarm", self._events("events.disarm"), "s", "Disarm the named event.")
        self.add("/perform/query", self._query, "", "Reply /perform/query/reply: addresses in and out.")
        self.add("/perform/ping", self._ping, "", "Reply /perform/pong.")

    def accepted(self) -> list[Address]:
        """Every address perform accepts, parameters included."""
        out = [address for address, _ in self._handlers.values()]
        if self.params is None:
            out.append(Address("/perform/param/*", "f", 2, "Set any parameter: f, i, s, T or F."))
        else:
            out.extend(Address(f"/perform/param/{n}", "f", 2, d) for n, d in sorted(self.params.items()))
        return out

    def sent(self) -> list[Address]:
        """The addresses perform sends, from ``sends``."""
        items = self._sends() if callable(self._sends) else self._sends
        out = []
        for item in items:
            if isinstance(item, str):
                out.append(Address(item, "", 1, ""))
            else:
                path, typetag, description = item
                out.append(Address(path, typetag, 1, description))
        return out

    def listing(self) -> dict[str, Any]:
        """The OSCQuery namespace ``{"FULL_PATH": "/", "CONTENTS": {...}}``.

        Each address has TYPE (OSC type tags), ACCESS (1 sent, 2 accepted) and DESCRIPTION.

        An address both accepted and sent has ACCESS 3.
        """
        root: dict[str, Any] = {"FULL_PATH": "/", "DESCRIPTION": f"{self.name} OSC namespace", "CONTENTS": {}}
        for address in self.sent() + self.accepted():
            node = root
            parts = [p for p in address.path.split("/") if p]
            for depth, part in enumerate(parts):
                contents = node.setdefault("CONTENTS", {})
                if part not in contents:
                    contents[part] = {"FULL_PATH": "/" + "/".join(parts[: depth + 1])}
                node = contents[part]
            node["ACCESS"] = node.get("ACCESS", 0) | address.access
            if address.typetag:
                node["TYPE"] = address.typetag
            if address.description:
                node["DESCRIPTION"] = address.description
        return root

    def host_info(self) -> dict[str, Any]:
        """OSCQuery's ``?HOST_INFO`` answer."""
        return {
            "NAME": self.name,
            "OSC_PORT": self.port,
            "OSC_TRANSPORT": "UDP",
            "EXTENSIONS": {"ACCESS": True, "DESCRIPTION": True, "TYPE": True, "VALUE": False},
        }

    # -- handlers ------------------------------------------------------------------------------

    def _scene(self, args: list[Any], sender: Sender) -> None:
        fade = fade_seconds(args[1]) if len(args) == 2 else ()
        if len(args) in (1, 2) and fade is not None:
            value = args[0]
            if isinstance(value, str) and value:
                self._cue("scene", _checked(scene_name, value), *fade, sender=sender)
                return
            number = _number(value)
            if number is not None and float(number).is_integer() and 0 <= number < 2**31:
                self._cue("scene", int(number), *fade, sender=sender)
                return
        raise BadArguments(
            f"expected a scene name (s) or index (i >= 0), then optionally a crossfade in seconds "
            f"(f, 0..60), got {_describe(args)}"
        )

    def _step(self, cue: str) -> Handler:
        def handler(args: list[Any], sender: Sender) -> None:
            if _trigger(args):
                self._cue(cue, sender=sender)

        return handler

    def _take_start(self, args: list[Any], sender: Sender) -> None:
        if len(args) == 1 and isinstance(args[0], str):
            self._cue("take.start", _checked(take_name, args[0]), sender=sender)
        elif _trigger(args):
            self._cue("take.start", sender=sender)

    def _screenshot(self, args: list[Any], sender: Sender) -> None:
        if _trigger(args):
            self._cue("screenshot", sender=sender)

    def _take_stop(self, args: list[Any], sender: Sender) -> None:
        if _trigger(args):
            self._cue("take.stop", sender=sender)

    def _events(self, cue: str) -> Handler:
        def handler(args: list[Any], sender: Sender) -> None:
            if len(args) != 1 or not isinstance(args[0], str) or not args[0]:
                raise BadArguments(f"expected an event name (s), got {_describe(args)}")
            self._cue(cue, _checked(event_pattern, args[0]), sender=sender)

        return handler

    def _cue(self, name: str, *args: Value, sender: Sender) -> None:
        outcome = self.controls.cue(name, *args, source=_who(sender))
        if outcome.kind == "dropped":
            raise _Dropped(f"cue {name} dropped: {outcome.detail}")
        if not outcome:
            raise _CueRefused(outcome.kind, f"cue {outcome.line().split(' ', 1)[1]}")

    def _param(self, name: str, args: list[Any], sender: Sender) -> None:
        if len(args) != 1:
            raise BadArguments(f"expected one value (f, i, s, T or F), got {_describe(args)}")
        value = args[0]
        if not isinstance(value, bool | str) and _number(value) is None:
            raise BadArguments(f"expected a number, string or T/F, got {_describe(args)}")
        if isinstance(value, str) and len(value) > MAX_VALUE:
            raise BadArguments(f"expected a string of at most {MAX_VALUE} characters, got {len(value)}")
        if isinstance(value, float) and float(struct.unpack(">f", struct.pack(">f", value))[0]) == value:
            value = float(f"{value:.7g}")  # a 32-bit float: 0.7 rather than 0.699999988079071
        if not self.controls.set(name, value):
            raise _Refused(
                f"parameter {clip(name)} refused: {self.controls.MAX_NAMES} other names are already set"
            )

    def _fires(self, args: list[Any]) -> bool:
        # Before replies went to a port named in the argument; now the number is only a trigger,
        # and the reply goes to the datagram's source.
        if len(args) == 1 and isinstance(args[0], int) and not isinstance(args[0], bool):
            return True
        return _trigger(args)

    def _query(self, args: list[Any], sender: Sender) -> None:
        if not self._fires(args):
            return
        items = ["accepts", *(a.path for a in self.accepted()), "sends", *(a.path for a in self.sent())]
        chunks = list(_chunks(items))
        if self._limited(len(chunks), sender):
            return
        for chunk in chunks:
            self._send(encode_message("/perform/query/reply", *chunk), sender)

    def _ping(self, args: list[Any], sender: Sender) -> None:
        if self._fires(args) and not self._limited(1, sender):
            self._send(encode_message("/perform/pong"), sender)

    def _limited(self, datagrams: int, sender: Sender) -> bool:
        if self._replies.take(datagrams, time.monotonic()):
            return False
        self.counts["replies_limited"] += datagrams
        self._log.warn("replies_limited", f"reply to {_who(sender)} not sent: over {self._replies.rate:g}/s")
        return True

    def _send(self, data: bytes, to: Sender) -> None:
        def failed(exc: OSError) -> None:
            self._log.warn("send", f"cannot reply to {to[0]}:{to[1]}: {exc}")

        if send(self._sock, to, [data], None, failed):
            self.counts["replies"] += 1
        else:
            self.counts["send_errors"] += 1

    # -- the receive loop ----------------------------------------------------------------------

    def attach(self, stats: StageStats) -> None:
        """Show this server as a status row (state ``listening``): dropped and errors as they count."""
        stats.state = "listening"
        stats.dropped_fn = lambda: sum(self.counts[k] for k in DROP_KEYS)
        self._stats = stats

    def start(self) -> ControlServer:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="perform-osc-in", daemon=True)
        self._thread.start()
        if self._http is not None:
            self._http_thread = threading.Thread(
                target=self._http.serve_forever, args=(POLL_S,), name="perform-oscquery", daemon=True
            )
            self._http_thread.start()
        log.info("osc in: listening on UDP %s:%d", self.host, self.port)
        return self

    def stop(self, timeout: float = 0.5) -> bool:
        """Stop both threads and close the sockets; True when they ended within ``timeout``."""
        deadline = time.monotonic() + timeout
        self._stop.set()
        if self._http is not None:
            if self._http_thread is not None:
                self._http.shutdown()
            self._http.server_close()
        done = True
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
            done = not self._thread.is_alive()
        self._sock.close()
        return done

    def __enter__(self) -> ControlServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def pending(self) -> int:
        """Messages held for a future time tag."""
        return len(self._pending)

    @property
    def malformed(self) -> int:
        return sum(self.counts[f"malformed.{kind}"] for kind in MALFORMED_KINDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            timeout = POLL_S
            if self._pending:
                timeout = min(timeout, max(0.0, self._pending[0][0] - time.monotonic()))
            try:
                ready, _, _ = select.select([self._sock], [], [], timeout)
                if ready:
                    data, sender = self._sock.recvfrom(65536)
                    self.receive(data, sender)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as exc:
                if self._stop.is_set():
                    break
                self.counts["socket_errors"] += 1
                self._log.warn("socket", f"socket error: {exc}")
                time.sleep(POLL_S)  # an error that repeats must not spin
            self._run_due()
            if self._stats is not None:
                self._stats.errors = sum(self.counts[k] for k in ERROR_KEYS)
        if self._stats is not None:
            self._stats.state = "stopped"

    def receive(self, data: bytes, sender: Sender) -> None:
        """Handle one datagram as if it came from ``sender`` (the receive loop calls this)."""
        self.counts["datagrams"] += 1
        if self.allow is not None and not allowed(sender[0], self.allow):
            self.counts["not_allowed"] += 1
            self._log.warn("not_allowed", f"datagram from {_who(sender)} dropped: not in control.allow")
            return
        try:
            messages = parse_datagram(data)
        except MalformedDatagram as exc:
            self.counts[f"malformed.{exc.kind}"] += 1
            self._log.warn(
                f"malformed.{exc.kind}", f"malformed datagram ({len(data)} bytes) from {_who(sender)}: {exc}"
            )
            return
        self.counts["packets"] += 1
        now_wall, now = time.time(), time.monotonic()
        for timetag, message in messages:
            self.counts["messages"] += 1
            ahead = timetag - now_wall if timetag != IMMEDIATE_TIME else 0.0
            if ahead <= 0.0:
                self._dispatch(message, sender)
            elif ahead > self.max_delay_s:
                self.counts["late_clamped"] += 1
                self._log.warn(
                    "late_clamped",
                    f"{message.address} from {_who(sender)}: time tag {ahead:.1f} s ahead "
                    f"(over max_delay_s {self.max_delay_s}), applied now; is the sender's clock right?",
                )
                self._dispatch(message, sender)
            elif len(self._pending) >= self.max_pending:
                self.counts["pending_overflow"] += 1
                self._log.warn("pending_overflow", f"{self.max_pending} messages already held, applied now")
                self._dispatch(message, sender)
            else:
                self.counts["delayed"] += 1
                heapq.heappush(self._pending, (now + ahead, next(self._order), message, sender))

    def _run_due(self) -> None:
        now = time.monotonic()
        while self._pending and self._pending[0][0] <= now:
            _, _, message, sender = heapq.heappop(self._pending)
            self._dispatch(message, sender)

    def _dispatch(self, message: OscMessage, sender: Sender) -> None:
        address = message.address
        args = message.params
        entry = self._handlers.get(address)
        try:
            if entry is not None:
                entry[1](args, sender)
            elif address.startswith("/perform/param/") and len(address) > len("/perform/param/"):
                name = address[len("/perform/param/") :]
                if self.params is not None and name not in self.params:
                    self._unknown(address, sender)
                    return
                self._param(name, args, sender)
            else:
                self._unknown(address, sender)
                return
        except BadArguments as exc:
            self.counts["bad_args"] += 1
            self._log.warn("bad_args", f"{clip(address)} from {_who(sender)}: {exc}")
            return
        except _CueRefused as exc:
            self.counts["cue_refused"] += 1
            self._log.warn(f"cue_refused.{exc.reason}", f"{clip(address)} from {_who(sender)}: {exc}")
            return
        except _Refused as exc:
            self.counts[exc.kind] += 1
            self._log.warn(exc.kind, f"{clip(address)} from {_who(sender)}: {exc}")
            return
        except Exception as exc:  # a broken handler costs its message, never the server
            self.counts["handler_error"] += 1
            self._log.warn(
                "handler_error",
                f"{clip(address)} from {_who(sender)}: {type(exc).__name__}: {clip(str(exc), 200)}",
            )
            return
        self.counts["handled"] += 1

    def _unknown(self, address: str, sender: Sender) -> None:
        self.counts["unknown_address"] += 1
        self._log.warn("unknown_address", f"unknown address {clip(address)!r} from {_who(sender)}")


class _Refused(Exception):
    """A well-formed message the controls could not take (counted under ``kind``, not as handled)."""

    kind = "refused"


class _Dropped(_Refused):
    kind = "cue_dropped"


class _CueRefused(Exception):
    """A cue the show's checks refused (counted as ``cue_refused``, logged once per ``reason``)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _checked(check: Callable[[str], str], text: str) -> str:
    try:
        return check(text)
    except BadName as exc:
        raise BadArguments(str(exc)) from None


def _who(sender: Sender) -> str:
    return f"osc {sender[0]}:{sender[1]}"


def _chunks(items: list[str]) -> Iterable[list[str]]:
    """Split the reply so each datagram stays under :data:`MAX_REPLY`; a new one repeats its section."""
    chunk: list[str] = []
    size = 64
    section = ""
    for item in items:
        if item in ("accepts", "sends"):
            section = item
        cost = len(item.encode()) + 8
        if chunk and size + cost > MAX_REPLY:
            yield chunk
            chunk, size = ([section] if item != section else []), 64
        chunk.append(item)
        size += cost
    if chunk:
        yield chunk


class _QueryHttpServer(ThreadingHTTPServer):
    """The listing over HTTP: at most :data:`HTTP_MAX_CONNECTIONS` at once, each with a timeout."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], control: ControlServer) -> None:
        self.control = control
        self._slots = threading.BoundedSemaphore(HTTP_MAX_CONNECTIONS)
        super().__init__(address, _QueryHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.control.counts["http_refused"] += 1
            self.control._log.warn(
                "http_refused", f"HTTP listing: {HTTP_MAX_CONNECTIONS} connections open, closed a new one"
            )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """One rate-limited line, never a traceback: a client that resets or stalls is its own problem."""
        exc = sys.exc_info()[1]
        self.control.counts["http_errors"] += 1
        who = f"{client_address[0]}:{client_address[1]}" if isinstance(client_address, tuple) else "?"
        self.control._log.warn(
            "http_errors", f"HTTP listing: connection from {who}: {type(exc).__name__}: {exc}"
        )


class _QueryHandler(BaseHTTPRequestHandler):
    server: _QueryHttpServer
    timeout = HTTP_TIMEOUT_S  # a client that sends nothing (or one byte a minute) is closed

    def do_GET(self) -> None:
        control = self.server.control
        url = urlsplit(self.path)
        if url.query == "HOST_INFO":
            self._json(200, control.host_info())
            return
        node: dict[str, Any] | None = control.listing()
        for part in (p for p in url.path.split("/") if p):
            node = (node or {}).get("CONTENTS", {}).get(part)
            if node is None:
                break
        if node is None:
            self._json(404, {"error": f"no OSC address {url.path}"})
        else:
            self._json(200, node)

    def _json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("oscquery: " + format, *args)
