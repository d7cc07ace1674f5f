"""Non-blocking UDP out: one socket per address family, target names looked up off the stage's thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from perform.osc.config import Target

#: Wait before looking a name up again after it failed.
RESOLVE_RETRY_S = 5.0


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

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()
        self.sockets.clear()
