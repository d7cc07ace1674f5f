"""The ``remote`` source: poses streamed from other perform instances, merged into one stage.

One machine per camera runs its own pose model and streams its bodies (:class:`RemoteSender`);
the show machine listens (:class:`RemoteSourceStage`), places each sender's picture into one
combined frame, and runs the bodies through :class:`~perform.vision.perception.Perception` so
slots, smoothing, features and events work exactly as for a camera.

The show network is not trusted: who may stream and what a datagram may hold is checked by the
receiver (:class:`~perform.osc.stream.SenderRules`, docs/remote-security.md), and one step reads
at most ``max_datagrams`` of them, so a flood costs datagrams, never the merged poses' rate.
"""

from __future__ import annotations

import logging
import select
import socket
import time

from perform.errors import SourceError
from perform.osc.config import RemoteSource, SenderPlacement, StreamTarget
from perform.osc.server import POLL_S
from perform.osc.stream import (
    MAX_DATAGRAM,
    SenderRules,
    StreamFrame,
    StreamReceiver,
    encode_stream,
)
from perform.osc.udp import UdpOut, send
from perform.pipeline import EventLog, Frame, ProcessStage, Slot, Stats
from perform.pipeline.ratelog import RateLimitedLog
from perform.schema import ip_network
from perform.vision.config import PoseConfig
from perform.vision.perception import Perception
from perform.vision.sources import PoseSource
from perform.vision.types import Detection, PersonEvent, Poses

log = logging.getLogger(__name__)

#: Once a step's ``max_datagrams`` are read, at most this many times as many more are discarded
#: unread; the rest wait in the socket for the next step (or the kernel drops them).
SHED_FACTOR = 4


def sender_rules(source: RemoteSource) -> SenderRules:
    """The receiver's checks as a remote source's show-file entry sets them."""
    senders = {s.id: ip_network(s.address) if s.address is not None else None for s in source.senders}
    return SenderRules(
        allow=tuple(ip_network(a) for a in source.allow),
        senders=senders or None,
        key=source.key.encode("utf-8") if source.key is not None else None,
        pin_s=source.pin_s,
        max_skew_s=source.max_skew_s,
        max_sources=source.max_senders,
    )


def place(frame: StreamFrame, placement: SenderPlacement | None, width: int, height: int) -> list[Detection]:
    """A sender's bodies as detections in the combined frame (``width`` x ``height``)."""
    detections = []
    sx = placement.scale if placement is not None else 1.0
    # keep the sender's aspect ratio: its picture is scale * width wide
    sy = sx * (width / height) * (frame.height / frame.width) if placement is not None else 1.0
    ox = placement.x if placement is not None else 0.0
    oy = placement.y if placement is not None else 0.0
    for body in frame.bodies:
        landmarks = body.landmarks.copy()
        landmarks[:, 0] = ox + landmarks[:, 0] * sx
        landmarks[:, 1] = oy + landmarks[:, 1] * sy
        landmarks[:, 2] *= sx
        detections.append(Detection(landmarks, body.world.copy(), body.score))
    return detections


class RemoteSourceStage(PoseSource):
    """Listens for pose streams from several senders and publishes them merged, at ``fps``.

    The UDP port is bound on construction (:attr:`port` is the one bound, also for port 0).
    Counts: :attr:`counts` (the receiver's, plus ``dropped_senders`` and ``shed``), also in the
    stats report as ``remote``; their refusals add up to the capture stage's ``dropped``.
    """

    stall_budget_scale = 1.0  # plus one period: see stall_budget_s

    def __init__(
        self,
        stats: Stats,
        frames: Slot[Frame],
        poses: Slot[Poses],
        source: RemoteSource,
        config: PoseConfig,
        events: EventLog[PersonEvent] | None = None,
    ) -> None:
        super().__init__(stats, frames, poses, None)
        self.source = source
        self.placements = {s.id: s for s in source.senders}
        config = config.model_copy(update={"max_people": max(config.max_people, source.max_people)})
        self.perception = Perception(config, events)
        self.receiver = StreamReceiver(sender_rules(source))
        self.counts: dict[str, int] = self.receiver.counts
        self.counts.update(dropped_senders=0, shed=0)
        stats.extra["remote"] = self.counts
        self.stats.dropped_fn = lambda: self.receiver.dropped + self.counts["shed"]
        self._scratch = bytearray(65536)  # shed datagrams land here, unread
        self.latest: dict[str, tuple[StreamFrame, float]] = {}  # source id -> (frame, arrival)
        self._fresh: list[StreamFrame] = []
        self._period = 1.0 / source.fps
        self._stall_budget_s: float | None = None
        self._next: float | None = None
        self._last_t = 0.0
        self._log = RateLimitedLog(log, "osc in: ", 5.0)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self._sock.bind((source.host, source.port))
        except OSError as exc:
            self._sock.close()
            raise SourceError(
                f"remote source: cannot listen on UDP {source.host}:{source.port}: {exc.strerror}"
            ) from None
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        self.source_name = f"remote UDP {source.host}:{self.port}"
        log.info("capture: %s", self.source_name)

    @property  # type: ignore[override]
    def stall_budget_s(self) -> float | None:
        """The show's stall budget plus one period: a step waits for its frame's time."""
        return None if self._stall_budget_s is None else self._stall_budget_s + self._period

    @stall_budget_s.setter
    def stall_budget_s(self, value: float | None) -> None:
        self._stall_budget_s = value

    def step(self) -> None:
        now = time.monotonic()
        if self._next is None or now - self._next > 2 * self._period:
            self._next = now
        budget = self.source.max_datagrams
        while not self.stopping and not self.superseded:
            remaining = self._next - time.monotonic()
            if remaining <= 0:
                break
            if budget > 0:
                budget = self._receive(min(POLL_S, remaining), budget)
            else:  # this step's share is read: discard a bounded flood, rest until the frame is due
                self._shed(SHED_FACTOR * self.source.max_datagrams)
                self._stop.wait(remaining)
                break
        self._next += self._period
        if self.stopping or self.superseded:
            return
        now = time.monotonic()
        self.receiver.expire(now)
        self._drop_silent(now)
        if not self._fresh and self.latest:
            return  # senders are live but nothing new arrived: no repeated frame
        t = min((f.t_local(now) for f in self._fresh), default=now)
        t = min(now, max(t, self._last_t + 1e-6))  # capture times must increase
        self._last_t = t
        self._fresh.clear()
        s = self.source
        detections = [
            d
            for source_id, (frame, _) in sorted(self.latest.items())
            for d in place(frame, self.placements.get(source_id), s.width, s.height)
        ]
        poses = self.perception(detections, self.seq, t, s.width, s.height)
        if self.superseded:
            return  # the supervisor gave up on this step: a fresh thread publishes
        self.seq += 1
        self.emit(poses, s.width, s.height)

    def _receive(self, timeout: float, budget: int) -> int:
        """Read what is waiting, at most ``budget`` datagrams; returns the budget left."""
        try:
            ready, _, _ = select.select([self._sock], [], [], timeout)
            while ready and budget > 0 and not self.superseded:  # until the socket would block
                data, (host, port) = self._sock.recvfrom(65536)
                budget -= 1
                self._accept(self.receiver.feed(data, f"{host}:{port}"))
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as exc:
            self.report_error(f"UDP receive: {exc}")
            self._stop.wait(POLL_S)
        return budget

    def _shed(self, limit: int) -> None:
        """Discard up to ``limit`` waiting datagrams unread (counted as ``shed``)."""
        shed = 0
        try:
            while shed < limit:
                self._sock.recv_into(self._scratch)
                shed += 1
        except OSError:  # BlockingIOError: nothing more waits
            pass
        if shed:
            self.counts["shed"] += shed
            self._log.warn(
                "shed", f"remote: more than {self.source.max_datagrams} datagrams a frame, shedding"
            )

    def reset(self) -> None:
        self._fresh.clear()
        self._next = None

    def _accept(self, frame: StreamFrame | None) -> None:
        if frame is None:
            return
        if frame.source_id not in self.latest:
            log.info("remote: sender %r streaming from %s", frame.source_id, frame.sender)
        self.latest[frame.source_id] = (frame, time.monotonic())
        self._fresh.append(frame)

    def _drop_silent(self, now: float) -> None:
        for source_id, (frame, arrival) in list(self.latest.items()):
            if now - arrival > self.source.timeout_s:
                del self.latest[source_id]
                self.receiver.forget(source_id)
                self.counts["dropped_senders"] += 1
                log.warning(
                    "remote: sender %r (%s) silent for %.1f s, dropped",
                    source_id,
                    frame.sender,
                    now - arrival,
                )

    def on_stop(self) -> None:
        super().on_stop()
        self._sock.close()


class RemoteSender:
    """Streams poses to a show machine's remote source: ``send(poses)`` to ``host:port``.

    Never raises on the network: a show machine that is down costs datagrams, counted in
    :attr:`counts` (``frames``, ``datagrams``, ``send_errors``).
    """

    def __init__(
        self,
        host: str,
        port: int,
        source_id: str,
        max_datagram: int = MAX_DATAGRAM,
        key: bytes | str | None = None,
    ) -> None:
        if not source_id:
            raise ValueError("source_id: expected a non-empty name such as 'left'")
        try:  # look the name up once, at start, never per datagram
            self.address = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_DGRAM)[0][4]
        except OSError:
            self.address = (host, port)  # each send then fails and is counted
        self.source_id = source_id
        self.max_datagram = max_datagram
        self.key = key.encode("utf-8") if isinstance(key, str) else key
        self.counts = {"frames": 0, "datagrams": 0, "send_errors": 0}
        self._log = RateLimitedLog(log, "osc in: ", 5.0)
        self._udp = UdpOut(lambda message: self._log.warn("send", message), "stream")

    def send(self, poses: Poses) -> int:
        """Send one frame; returns the datagrams sent."""
        datagrams = encode_stream(poses, self.source_id, self.max_datagram, self.key)
        sent = send(self._udp.socket(socket.AF_INET), self.address, datagrams, None, self._failed)
        self.counts["frames"] += 1
        self.counts["datagrams"] += sent
        self.counts["send_errors"] += len(datagrams) - sent
        return sent

    def _failed(self, exc: OSError) -> None:
        self._log.warn("send", f"stream to {self.address[0]}:{self.address[1]}: {exc}")

    def close(self) -> None:
        self._udp.close()


__all__ = ["RemoteSender", "RemoteSource", "RemoteSourceStage", "SenderPlacement", "place", "sender_rules"]


class StreamOutStage(ProcessStage[Poses, Poses]):
    """Streams every pose result it gets to show machines (name ``stream``)."""

    def __init__(
        self, stats: Stats, poses: Slot[Poses], targets: list[StreamTarget], max_datagram: int
    ) -> None:
        super().__init__("stream", stats, poses)
        self.senders = [RemoteSender(t.host, t.port, t.id, max_datagram, t.key) for t in targets]

    def process(self, item: Poses) -> Poses:
        for sender in self.senders:
            sender.send(item)
        return item

    def on_stop(self) -> None:
        super().on_stop()
        for sender in self.senders:
            sender.close()
