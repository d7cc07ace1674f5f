"""OSC out: each frame's poses, features and events as timetagged bundles to several targets.

A frame is one bundle timetagged with its capture time on the wall clock: ``t_capture`` is
``time.monotonic()``, and the offset to ``time.time()`` is measured once, so timetags of
successive frames keep their spacing even if the system clock is stepped. A frame larger than
``max_datagram`` goes out as several bundles carrying the same timetag; a message is never split,
and one that alone exceeds the limit is sent in a bundle of its own and counted as oversize.
The bytes are written by :mod:`perform.osc.wire`, the values scaled by :mod:`perform.mapping`.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from perform.events.types import Event, as_event
from perform.mapping import Smoother, ValueMap, map_values
from perform.osc.config import FIELDS, STATUS_PREFIX, DetailOut, Mapping, Osc, PoseOut
from perform.osc.udp import Destination, SendCounts, UdpOut
from perform.osc.wire import element, encode, float32, header, int32, pack_bundles, timetag
from perform.pipeline import POLL_S, EventCursor, EventLog, LatencyHistogram, Reader, Slot, Stage, Stats
from perform.pipeline.features import REGISTRY
from perform.pipeline.stage import StageState
from perform.schema import InputLoss
from perform.vision.face import FACE_ROWS
from perform.vision.types import LM, Poses

log = logging.getLogger(__name__)

STATUS_PERIOD_S = 1.0


class WallClock:
    """Capture times (``time.monotonic()``) on the wall clock, with the offset measured once."""

    def __init__(self, offset: float | None = None) -> None:
        self.offset = time.time() - time.monotonic() if offset is None else offset

    def wall(self, t_monotonic: float) -> float:
        return t_monotonic + self.offset

    def timetag(self, t_monotonic: float) -> bytes:
        """The 8-byte OSC (NTP) timetag of a capture time."""
        return timetag(t_monotonic + self.offset)


def _normalised(name: str, features: dict[str, float]) -> float:
    """An emitted feature's value on 0..1; its default while it is not measured."""
    value = features.get(name)
    return REGISTRY.normalise(name, REGISTRY.info(name).default if value is None else value)


def _matches(name: str, include: list[str], exclude: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in include) and not any(
        fnmatch.fnmatchcase(name, p) for p in exclude
    )


# --- one target's encoder ---------------------------------------------------------------------


@dataclass
class Status:
    """What ``/perform/status/*`` reports."""

    heartbeat: int
    fps: float
    latency_ms: float
    people: int


class FrameEncoder:
    """Turns frames into one target's bundle elements, following its :class:`Mapping`.

    Keeps the smoothing state and caches of addresses; one instance per target, one thread.
    """

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.smoother = Smoother()
        self._pose_plans: dict[int, list[bytes]] = {}
        self._detail_plans: dict[tuple[int, str], list[bytes]] = {}
        self._feature_plans: dict[
            tuple[str, ...], list[tuple[list[int], ValueMap, np.ndarray, np.ndarray]]
        ] = {}
        self._feature_headers: dict[tuple[str, str], bytes] = {}
        self._event_ok: dict[str, bool] = {}
        vector = mapping.vector
        self._vector_index = (
            ([LM[n] for n in vector.landmarks], [FIELDS.index(f) for f in vector.fields])
            if vector is not None
            else ([], [])
        )
        pose = mapping.pose
        if pose is not None:
            self._rows = np.array([LM[n] for n in pose.names])
            self._cols = [FIELDS.index(f) for f in pose.fields]
            self._pose_tag = "i" if pose.map is not None and pose.map.integer else "f"

    def encode(
        self, poses: Poses | None, events: list[Event], t: float, status: Status | None = None
    ) -> list[bytes]:
        """Bundle elements for one frame (``poses`` None: only events and status)."""
        m = self.mapping
        out: list[bytes] = []
        if poses is not None:
            if m.pose is not None:
                self._pose(poses, m.pose, t, out)
            if m.detail is not None and poses.details:
                self._detail(poses, m.detail, out)
            if m.features is not None:
                self._features(poses, t, out)
            if m.vector is not None:
                self._vector(poses, out)
        if m.events is not None and events:
            self._events(events, out)
        if m.status and status is not None:
            out.append(element(encode(STATUS_PREFIX + "heartbeat", "i", (status.heartbeat,))))
            out.append(element(encode(STATUS_PREFIX + "fps", "f", (status.fps,))))
            out.append(element(encode(STATUS_PREFIX + "latency_ms", "f", (status.latency_ms,))))
            out.append(element(encode(STATUS_PREFIX + "people", "i", (status.people,))))
        return out

    # landmarks

    def _pose_headers(self, slot: int, pose: PoseOut) -> list[bytes]:
        plan = self._pose_plans.get(slot)
        if plan is None:
            nf = len(pose.fields)
            tag = self._pose_tag
            if pose.layout == "landmark":
                heads = [header(pose.address.format(slot=slot, landmark=n), tag * nf) for n in pose.names]
            elif pose.layout == "value":
                heads = [
                    header(pose.address.format(slot=slot, landmark=n, field=f), tag)
                    for n in pose.names
                    for f in pose.fields
                ]
            else:
                heads = [header(pose.address.format(slot=slot), tag * (nf * len(pose.names)))]
            plan = self._pose_plans[slot] = heads
        return plan

    def _pose(self, poses: Poses, pose: PoseOut, t: float, out: list[bytes]) -> None:
        for body in poses.bodies:
            if pose.coordinates == "world":
                full = np.concatenate([body.world[:, :3], body.landmarks[:, 3:4]], axis=1)
            else:
                full = body.landmarks
            values = full[self._rows][:, self._cols]
            if pose.map is not None:
                values = map_values(pose.map, values, 0.0, 1.0, self.smoother, ("pose", body.slot), t)
            else:
                values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
            data = values.astype(">i4" if self._pose_tag == "i" else ">f4").tobytes()
            heads = self._pose_headers(body.slot, pose)
            step = len(data) // len(heads)
            for i, h in enumerate(heads):
                msg = h + data[i * step : (i + 1) * step]
                out.append(element(msg))
        present = {b.slot for b in poses.bodies}
        gone = [s for s in self._pose_plans if s not in present]
        if gone:  # forget a performer who left once, not on every later frame
            self.smoother.forget({("pose", s) for s in gone})
            for s in gone:
                del self._pose_plans[s]

    # hands and face

    def _detail_headers(self, slot: int, part: str, do: DetailOut) -> list[bytes]:
        plan = self._detail_plans.get((slot, part))
        if plan is None:
            names, nf = do.names(part), len(do.fields)
            if do.layout == "landmark":
                heads = [header(do.address.format(slot=slot, part=part, landmark=n), "f" * nf) for n in names]
            elif do.layout == "value":
                heads = [
                    header(do.address.format(slot=slot, part=part, landmark=n, field=f), "f")
                    for n in names
                    for f in do.fields
                ]
            else:
                heads = [header(do.address.format(slot=slot, part=part), "f" * (nf * len(names)))]
            if len(self._detail_plans) > 256:
                self._detail_plans.clear()
            plan = self._detail_plans[(slot, part)] = heads
        return plan

    def _detail(self, poses: Poses, do: DetailOut, out: list[bytes]) -> None:
        cols = [FIELDS.index(f) for f in do.fields]
        for slot, detail in poses.details.items():
            for part in do.parts:
                found = detail.face if part == "face" else detail.hand(part.removesuffix("_hand"))  # type: ignore[arg-type]
                if found is None:
                    continue  # not found: nothing sent, never zeros
                rows = FACE_ROWS if part == "face" else slice(None)
                values = np.nan_to_num(found.landmarks[rows][:, cols], nan=0.0, posinf=0.0, neginf=0.0)
                data = values.astype(">f4").tobytes()
                heads = self._detail_headers(slot, part, do)
                step = len(data) // len(heads)
                out.extend(element(h + data[i * step : (i + 1) * step]) for i, h in enumerate(heads))

    # features

    def _feature_plan(
        self, names: tuple[str, ...]
    ) -> list[tuple[list[int], ValueMap, np.ndarray, np.ndarray]]:
        plan = self._feature_plans.get(names)
        if plan is not None:
            return plan
        fo = self.mapping.features
        assert fo is not None
        groups: dict[int, tuple[list[int], ValueMap, list[float], list[float]]] = {}
        for i, name in enumerate(names):
            if not _matches(name, fo.include, fo.exclude):
                continue
            try:
                info = REGISTRY.info(name)
            except KeyError:
                continue  # a feature this version does not document: not sent
            vm = next((v for p, v in fo.maps.items() if fnmatch.fnmatchcase(name, p)), fo.map)
            g = groups.setdefault(id(vm), ([], vm, [], []))
            g[0].append(i)
            g[2].append(info.lo)
            g[3].append(info.hi)
        plan = [(idx, vm, np.array(lo), np.array(hi)) for idx, vm, lo, hi in groups.values()]
        if len(self._feature_plans) > 256:
            self._feature_plans.clear()
        self._feature_plans[names] = plan
        return plan

    def _features(self, poses: Poses, t: float, out: list[bytes]) -> None:
        fo = self.mapping.features
        assert fo is not None
        names = tuple(poses.features)
        raw = np.fromiter(poses.features.values(), dtype=np.float64, count=len(names))
        heads = self._feature_headers
        for idx, vm, lo, hi in self._feature_plan(names):
            key = ("features", tuple(names[i] for i in idx)) if vm.smoothing_s > 0 else None
            values = map_values(vm, raw[idx], lo, hi, self.smoother, key, t)
            tag = "i" if vm.integer else "f"
            pack = int32 if vm.integer else float32
            for i, v in zip(idx, values.tolist(), strict=True):
                name = names[i]
                h = heads.get((name, tag))
                if h is None:
                    h = heads[(name, tag)] = header(fo.address.format(feature=name.replace(".", "/")), tag)
                msg = h + pack(int(v) if vm.integer else v)
                out.append(element(msg))
        people = poses.features.get("people")
        if people is not None and fo.people_count and _matches("people", fo.include, fo.exclude):
            # beside the mapped control value, the count itself
            h = heads.get(("people_count", "i"))
            if h is None:
                h = heads[("people_count", "i")] = header(fo.address.format(feature="people_count"), "i")
            out.append(element(h + int32(int(people))))

    # vector

    def _vector(self, poses: Poses, out: list[bytes]) -> None:
        vo = self.mapping.vector
        assert vo is not None
        rows, cols = self._vector_index
        parts: list[np.ndarray] = []
        f = poses.features
        for slot in range(1, vo.slots + 1):
            body = poses.body(slot)
            if body is None:
                parts.append(np.zeros(len(rows) * len(cols) + len(vo.features)))
                continue
            lm = np.nan_to_num(body.landmarks[rows][:, cols], nan=0.0, posinf=0.0, neginf=0.0).ravel()
            feats = [_normalised(f"p{slot}.{n}", f) for n in vo.features]
            parts.append(np.concatenate([lm, np.array(feats)]))
        parts.append(np.array([_normalised(n, f) for n in vo.stage_features]))
        values = np.concatenate(parts).astype(">f4")
        msg = header(vo.address, "f" * len(values)) + values.tobytes()
        out.append(element(msg))

    # events

    def _events(self, events: list[Event], out: list[bytes]) -> None:
        eo = self.mapping.events
        assert eo is not None
        for ev in events:
            ok = self._event_ok.get(ev.name)
            if ok is None:
                ok = self._event_ok[ev.name] = _matches(ev.name, eo.include, eo.exclude)
            if not ok:
                continue
            value = (ev.value if eo.use_value else eo.start) if ev.active else eo.end
            address = eo.address.format(event=ev.address_suffix)
            if eo.integer:
                msg = encode(address, "i", (round(value),))
            else:
                msg = encode(address, "f", (float(value),))
            out.append(element(msg))


# --- the stage --------------------------------------------------------------------------------


@dataclass
class OscCounters(SendCounts):
    """What OSC out sent (datagrams, bytes, messages) and lost (oversize, failed and refused sends)."""

    messages: int = 0
    oversize: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _TargetState(Destination):
    encoder: FrameEncoder | None = None
    period: float = 0.0
    next_due: float = 0.0
    pending: list[Event] = field(default_factory=list)
    last_status: float = -math.inf


class OscOutStage(Stage):
    """Sends the newest poses and every event to each target; never blocks, never raises on the network.

    ``events`` is drained every step so that no event is lost even when frames are. Stage stats
    record capture-to-send latency; :attr:`frame_to_osc` holds the same measure for the stats file
    and :attr:`counters` the datagram, byte, message and oversize counts.
    """

    def __init__(
        self,
        stats: Stats,
        poses: Slot[Poses],
        events: EventLog[Any] | None,
        config: Osc,
        clock: WallClock | None = None,
        input_loss: InputLoss | None = None,
    ) -> None:
        super().__init__("osc", stats)
        self.config = config
        self.input_loss = input_loss
        self._last_poses: Poses | None = None
        self._fade_sent = -math.inf
        self._faded_out = False
        self.reader: Reader[Poses] = poses.reader("osc")
        self.stats.dropped_fn = lambda: self.reader.dropped
        self.cursor: EventCursor[Any] | None = events.cursor() if events is not None else None
        self.clock = clock if clock is not None else WallClock()
        self.frame_to_osc = LatencyHistogram()
        self.counters = OscCounters()
        self.targets = [
            _TargetState(
                t, encoder=FrameEncoder(t.effective_mapping), period=1.0 / t.rate_hz if t.rate_hz else 0.0
            )
            for t in (config.targets if config.enabled else [])
        ]
        self.udp = UdpOut(self.report_error, "osc", send_buffer=1 << 20)
        self._heartbeat = 0
        self._frames_since = 0
        self._fps = 0.0
        self._last_latency_ms = 0.0
        self._last_people = 0
        self._status_t = time.monotonic()
        self._last_frame_t = -math.inf

    # frames

    def _status(self, now: float) -> Status | None:
        if not self.config.heartbeat or now - self._status_t < STATUS_PERIOD_S:
            return None
        dt = now - self._status_t
        self._fps = self._frames_since / dt if dt > 0 else 0.0
        self._frames_since = 0
        self._status_t = now
        self._heartbeat += 1
        return Status(
            self._heartbeat, round(self._fps, 3), round(self._last_latency_ms, 3), self._last_people
        )

    def send_frame(
        self, poses: Poses | None, events: list[Any], now: float | None = None, record: bool = True
    ) -> int:
        """Encode and send one frame (``poses`` None: events and status only) to every target that is
        due; returns the datagrams sent. ``record=False``: not a new frame (a fade), no latency."""
        now = time.monotonic() if now is None else now
        evs = [e for e in (as_event(x) for x in events) if e is not None]
        if poses is not None:
            self._frames_since += 1
            self._last_people = len(poses.bodies)
        status = self._status(now)
        if poses is not None:
            t = poses.t_capture
        else:
            t = max((e.t for e in evs), default=now)
        timetag = self.clock.timetag(t)
        sent = 0
        for ts in self.targets:
            if evs:
                ts.pending.extend(evs)
            due = now + 0.1 * ts.period >= ts.next_due
            if poses is not None and not due and status is None and not ts.pending:
                continue  # rate-limited: frames wait, events never do
            if poses is None and not ts.pending and status is None:
                continue
            if not self.udp.ready(ts, now):
                ts.pending.clear()
                continue
            frame = poses if due else None
            elements = ts.encoder.encode(frame, ts.pending, t, status)
            ts.pending = []
            if frame is not None and ts.period:
                ts.next_due = max(ts.next_due + ts.period, now)
            if not elements:
                continue
            datagrams, oversize = pack_bundles(timetag, elements, self.config.max_datagram)
            self.counters.messages += len(elements)
            if oversize:
                self.counters.oversize += oversize
                self.report_error(f"{ts.target.label}: {oversize} message(s) larger than max_datagram")
            self.udp.send(ts, datagrams, self.counters)
            sent += len(datagrams)
        if poses is not None and sent and record:
            done = time.monotonic()
            latency = done - poses.t_capture
            self.stats.record(poses.t_capture, done)
            self.frame_to_osc.add(latency)
            self._last_latency_ms = latency * 1000.0
        return sent

    def step(self) -> None:
        poses = self.reader.get(timeout=POLL_S)
        events = self.cursor.drain() if self.cursor is not None else []
        if poses is None and self.reader.slot.closed:
            if events:
                self.send_frame(None, events)
            self.state = StageState.ENDED
            return
        try:
            if poses is not None:
                self._last_poses, self._faded_out = poses, False
                self.send_frame(poses, events)
            elif not self._fade_stale(events):
                self.send_frame(None, events)
        except Exception as exc:  # a bad frame must not stop the show
            self.report_error(f"{type(exc).__name__}: {exc}")

    def _fade_stale(self, events: list[Any]) -> bool:
        """Tracking lost: send the last poses fading to 0 (15 times a second) rather than freeze them."""
        last, loss = self._last_poses, self.input_loss
        now = time.monotonic()
        if last is None or loss is None or self._faded_out or now - self._fade_sent < 1 / 15:
            return False
        keep = loss.keep(now - last.t_capture)
        if keep is None:
            return False
        self._fade_sent = now
        self._faded_out = keep == 0.0
        self.send_frame(last.faded(keep), events, now, record=False)
        return True

    def on_stop(self) -> None:
        self.udp.close()

    def report(self) -> dict[str, object]:
        """For the stats file: the counters and ``frame_to_osc`` p50/p95/p99 in ms."""
        return {**self.counters.as_dict(), "frame_to_osc_ms": self.frame_to_osc.summary_ms()}
