"""Non-blocking UDP out: one send loop, one socket per address family, names looked up off the stage's thread.

Every sender of the OSC package (OSC out, status, the pose stream, the control server's replies)
sends through :func:`send`: a full send buffer or a failed send costs that datagram, counted and
reported, never raised into the show.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from perform.osc.config import Target

#: Wait before looking a name up again after it failed.
RESOLVE_RETRY_S = 5.0


@dataclass
class SendCounts:
    """Datagrams and bytes sent; datagrams a full send buffer refused; sends that failed otherwise."""

    datagrams: int = 0
    bytes: int = 0
    send_errors: int = 0
    would_block: int = 0


def send(
    sock: socket.socket,
    address: Any,
    datagrams: Iterable[bytes],
    counts: SendCounts | None,
    on_error: Callable[[OSError], None],
) -> int:
    """Send each datagram to ``address`` on a non-blocking socket; returns how many went.

    A datagram that cannot go (``BlockingIOError``: the send buffer is full, or another
    ``OSError``) is counted in ``counts`` and handed to ``on_error``; nothing is raised.
    """
    sent = 0
    for data in datagrams:
        try:
            sock.sendto(data, address)
        except BlockingIOError as exc:
            if counts is not None:
                counts.would_block += 1
            on_error(exc)
        except OSError as exc:
            if counts is not None:
                counts.send_errors += 1
            on_error(exc)
        else:
            sent += 1
            if counts is not None:
                counts.datagrams += 1
                counts.bytes += len(data)
    return sent


@dataclass
class Destination:
    """Where one target's datagrams go, once its name is known."""

    target: Target
    address: tuple[Any, ...] | None = None
    family: int = socket.AF_INET
    resolve_after: float = 0.0
    resolving: bool = False


class UdpOut:
    """Sockets that never block a stage: a slow network costs datagrams, never the stage's time."""

    def __init__(
        self, report_error: Callable[[str], None], name: str, send_buffer: int | None = None
    ) -> None:
        self.report_error = report_error
        self.name = name
        self.send_buffer = send_buffer
        self.sockets: dict[int, socket.socket] = {}

    def socket(self, family: int) -> socket.socket:
        sock = self.sockets.get(family)
        if sock is None:
            sock = socket.socket(family, socket.SOCK_DGRAM)
            sock.setblocking(False)
            with contextlib.suppress(OSError):
                if self.send_buffer:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer)
                if family == socket.AF_INET:  # a target may be a broadcast address
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            self.sockets[family] = sock
        return sock

    def ready(self, d: Destination, now: float) -> bool:
        """True once ``d``'s address is known; a name is looked up on a thread of its own."""
        if d.address is not None:
            return True
        if now < d.resolve_after or d.resolving:
            return False
        try:  # an address literal needs no lookup
            info = socket.getaddrinfo(
                d.target.host, d.target.port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
            )
            d.family, d.address = info[0][0], info[0][4]
            return True
        except OSError:
            pass
        d.resolving = True
        threading.Thread(target=self._lookup, args=(d,), name=f"perform-{self.name}-dns", daemon=True).start()
        return False

    def _lookup(self, d: Destination) -> None:
        try:
            info = socket.getaddrinfo(d.target.host, d.target.port, type=socket.SOCK_DGRAM)
            d.family, d.address = info[0][0], info[0][4]
        except OSError as exc:
            d.resolve_after = time.monotonic() + RESOLVE_RETRY_S
            self.report_error(f"{d.target.label}: cannot resolve {d.target.host!r}: {exc}")
        finally:
            d.resolving = False

    def send(self, d: Destination, datagrams: Iterable[bytes], counts: SendCounts | None = None) -> int:
        """:func:`send` to a ready destination; each failure is reported with the target's label."""

        def failed(exc: OSError) -> None:
            if isinstance(exc, BlockingIOError):
                self.report_error(f"{d.target.label}: send buffer full, datagram dropped")
            else:
                self.report_error(f"{d.target.label}: {exc.strerror or exc}")

        return send(self.socket(d.family), d.address, datagrams, counts, failed)

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
