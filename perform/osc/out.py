"""OSC out: each frame's poses, features and events as timetagged bundles to several targets.

Messages are encoded with python-osc's own type writers (:mod:`pythonosc.parsing.osc_types`), the
bytes its ``OscMessageBuilder`` and ``OscBundleBuilder`` produce (the tests compare them). The
builders themselves parse every datagram back after building it, about 3 ms for six performers'
landmarks, so here each address's header (address and type tags) is written once and cached,
and the arguments are packed with :mod:`struct` and numpy.

A frame is one bundle timetagged with its capture time on the wall clock: ``t_capture`` is
``time.monotonic()``, and the offset to ``time.time()`` is measured once, so timetags of
successive frames keep their spacing even if the system clock is stepped. A frame larger than
``max_datagram`` goes out as several bundles carrying the same timetag; a message is never split,
and one that alone exceeds the limit is sent in a bundle of its own and counted as oversize.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pythonosc.parsing import osc_types

from perform.events.types import Event
from perform.osc.config import FIELDS, PRESET_NOTES, PRESETS, Mapping, Osc, PoseOut, ValueMap
from perform.osc.udp import Destination, UdpOut
from perform.pipeline import POLL_S, EventCursor, EventLog, LatencyHistogram, Reader, Slot, Stage, Stats
from perform.pipeline.stage import StageState
from perform.render.config import InputLoss
from perform.vision.features import FEATURES, feature_info, normalise
from perform.vision.types import LM, Poses

log = logging.getLogger(__name__)

STATUS_PREFIX = "/perform/status/"
STATUS_PERIOD_S = 1.0
BUNDLE_HEADER = 16  # "#bundle\0" and the 8-byte timetag
_I32 = struct.Struct(">i")
_F32 = struct.Struct(">f")


# --- clock ------------------------------------------------------------------------------------


class WallClock:
    """Capture times (``time.monotonic()``) on the wall clock, with the offset measured once."""

    def __init__(self, offset: float | None = None) -> None:
        self.offset = time.time() - time.monotonic() if offset is None else offset

    def wall(self, t_monotonic: float) -> float:
        return t_monotonic + self.offset

    def timetag(self, t_monotonic: float) -> bytes:
        """The 8-byte OSC (NTP) timetag of a capture time."""
        return osc_types.write_date(t_monotonic + self.offset)


# --- encoding ---------------------------------------------------------------------------------

_HEADERS: dict[tuple[str, str], bytes] = {}


def header(address: str, tags: str) -> bytes:
    """Address and type-tag string of a message, OSC-padded (cached)."""
    key = (address, tags)
    h = _HEADERS.get(key)
    if h is None:
        if len(_HEADERS) > 100_000:
            _HEADERS.clear()
        h = _HEADERS[key] = osc_types.write_string(address) + osc_types.write_string("," + tags)
    return h


def element(msg: bytes) -> bytes:
    """A message as a bundle element: its size, then the message."""
    return _I32.pack(len(msg)) + msg


def encode(address: str, tags: str, values: list[float] | tuple[float, ...]) -> bytes:
    """One OSC message with int32 (``i``) and float32 (``f``) arguments."""
    return header(address, tags) + struct.pack(">" + tags, *values)


def pack_bundles(timetag: bytes, elements: list[bytes], max_datagram: int) -> tuple[list[bytes], int]:
    """Bundles of whole elements, each datagram at most ``max_datagram`` bytes, all with ``timetag``.

    Returns the datagrams and how many elements were too large to fit any bundle (each of those
    goes alone in a bundle of its own, over the limit).
    """
    head = b"#bundle\x00" + timetag
    out: list[bytes] = []
    oversize = 0
    batch: list[bytes] = []
    size = BUNDLE_HEADER
    for el in elements:
        n = len(el)
        if BUNDLE_HEADER + n > max_datagram:
            oversize += 1
            if batch:  # keep the frame's order
                out.append(head + b"".join(batch))
                batch, size = [], BUNDLE_HEADER
            out.append(head + el)
            continue
        if size + n > max_datagram:
            out.append(head + b"".join(batch))
            batch, size = [], BUNDLE_HEADER
        batch.append(el)
        size += n
    if batch:
        out.append(head + b"".join(batch))
    return out, oversize


# --- value mapping ----------------------------------------------------------------------------


def apply_curve(u: np.ndarray, curve: str, power: float) -> np.ndarray:
    """A curve on 0..1 values (non-linear curves clamp first)."""
    if curve == "linear":
        return u
    u = np.clip(u, 0.0, 1.0)
    if curve == "exponential":
        return u**power
    if curve == "logarithmic":
        return 1.0 - (1.0 - u) ** power
    if curve == "smoothstep":
        return u * u * (3.0 - 2.0 * u)
    if curve == "smootherstep":
        return u * u * u * (u * (6.0 * u - 15.0) + 10.0)
    raise ValueError(f"unknown curve {curve!r}")


class Smoother:
    """Exponential smoothing of named value arrays, time constant ``tau`` seconds on capture time."""

    def __init__(self) -> None:
        self._state: dict[Any, tuple[float, np.ndarray]] = {}

    def __call__(self, key: Any, u: np.ndarray, t: float, tau: float) -> np.ndarray:
        old = self._state.get(key)
        if old is not None and old[1].shape == u.shape:
            dt = t - old[0]
            if dt > 0:
                u = old[1] + (1.0 - math.exp(-dt / tau)) * (u - old[1])
            elif dt == 0:
                u = old[1]
        self._state[key] = (t, u)
        return u

    def forget(self, keys: set[Any] | None = None) -> None:
        if keys is None:
            self._state.clear()
        else:
            for k in keys:
                self._state.pop(k, None)


def map_values(
    vm: ValueMap,
    values: np.ndarray,
    lo: np.ndarray | float,
    hi: np.ndarray | float,
    smoother: Smoother | None = None,
    key: Any = None,
    t: float = 0.0,
) -> np.ndarray:
    """``values`` through ``vm``; ``lo``/``hi`` are the input range where ``vm`` leaves it open."""
    in_lo = lo if vm.in_lo is None else vm.in_lo
    in_hi = hi if vm.in_hi is None else vm.in_hi
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        u = (v - in_lo) / (np.asarray(in_hi) - in_lo)
    u = np.nan_to_num(u, nan=0.0, posinf=1.0, neginf=0.0)
    if vm.clamp:
        u = np.clip(u, 0.0, 1.0)
    if vm.smoothing_s > 0 and smoother is not None:
        u = smoother(key, u, t, vm.smoothing_s)
    u = apply_curve(u, vm.curve, vm.power)
    out = vm.out_lo + u * (vm.out_hi - vm.out_lo)
    if vm.integer:
        out = np.rint(out)
    return out


def map_value(vm: ValueMap, value: float, lo: float = 0.0, hi: float = 1.0) -> float:
    """One value through ``vm`` (no smoothing)."""
    return float(map_values(vm, np.array([value]), lo, hi)[0])


# --- events -----------------------------------------------------------------------------------


def as_event(item: object) -> Event | None:
    """An :class:`Event`; a tracker's person event (``kind`` enter/leave) becomes an instant one."""
    if isinstance(item, Event):
        return item
    kind, slot, t = getattr(item, "kind", None), getattr(item, "slot", None), getattr(item, "t", None)
    if isinstance(kind, str) and t is not None:
        return Event(kind, slot, True, float(t))
    return None


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
                out.append(_I32.pack(len(msg)) + msg)
        present = {b.slot for b in poses.bodies}
        gone = [s for s in self._pose_plans if s not in present]
        if gone:  # forget a performer who left once, not on every later frame
            self.smoother.forget({("pose", s) for s in gone})
            for s in gone:
                del self._pose_plans[s]

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
                info = feature_info(name)
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
            pack = _I32.pack if vm.integer else _F32.pack
            for i, v in zip(idx, values.tolist(), strict=True):
                name = names[i]
                h = heads.get((name, tag))
                if h is None:
                    h = heads[(name, tag)] = header(fo.address.format(feature=name.replace(".", "/")), tag)
                msg = h + pack(int(v) if vm.integer else v)
                out.append(_I32.pack(len(msg)) + msg)

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
            feats = [
                normalise(f"p{slot}.{n}", f.get(f"p{slot}.{n}", FEATURES[n].default)) for n in vo.features
            ]
            parts.append(np.concatenate([lm, np.array(feats)]))
        parts.append(np.array([normalise(n, f.get(n, FEATURES[n].default)) for n in vo.stage_features]))
        values = np.concatenate(parts).astype(">f4")
        msg = header(vo.address, "f" * len(values)) + values.tobytes()
        out.append(_I32.pack(len(msg)) + msg)

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


# --- documentation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AddressDoc:
    """One documented address pattern: ``<N>``, ``<landmark>``, ``<field>``, ``<feature>``, ``<event>``."""

    address: str
    tags: str
    meaning: str


def _tags_text(tags: str) -> str:
    return tags if len(tags) <= 8 else f"{len(tags)} x `{tags[0]}`"


def describe(mapping: Mapping) -> list[AddressDoc]:
    """Every address pattern a mapping sends, with its type tags."""
    rows: list[AddressDoc] = []
    pose = mapping.pose
    if pose is not None:
        tag = "i" if pose.map is not None and pose.map.integer else "f"
        where = "image x, y (0..1, y down), z depth" if pose.coordinates == "image" else "world metres"
        fields = " ".join(pose.fields)
        if pose.layout == "landmark":
            a = pose.address.format(slot="<N>", landmark="<landmark>")
            rows.append(
                AddressDoc(a, tag * len(pose.fields), f"{fields} of a landmark of performer N ({where})")
            )
        elif pose.layout == "value":
            a = pose.address.format(slot="<N>", landmark="<landmark>", field="<field>")
            rows.append(AddressDoc(a, tag, f"one value ({'/'.join(pose.fields)}) of a landmark ({where})"))
        else:
            n = len(pose.names) * len(pose.fields)
            rows.append(
                AddressDoc(
                    pose.address.format(slot="<N>"),
                    tag * n,
                    f"performer N: {len(pose.names)} landmarks in MediaPipe's order, {fields} each ({where})",
                )
            )
    fo = mapping.features
    if fo is not None:
        tag = "i" if fo.map.integer else "f"
        vm = fo.map
        span = f"{vm.out_lo:g}..{vm.out_hi:g}"
        rows.append(
            AddressDoc(
                fo.address.format(feature="p<N>/<feature>"),
                tag,
                f"per-person feature, its range mapped onto {span}",
            )
        )
        rows.append(AddressDoc(fo.address.format(feature="stage/<feature>"), tag, f"stage feature, {span}"))
        rows.append(
            AddressDoc(fo.address.format(feature="people"), tag, f"performers on stage, 0..6 as {span}")
        )
    eo = mapping.events
    if eo is not None:
        tag = "i" if eo.integer else "f"
        on = "value" if eo.use_value else f"{eo.start:g}"
        rows.append(
            AddressDoc(
                eo.address.format(event="<event>"), tag, f"stage event: {on} on start, {eo.end:g} on end"
            )
        )
        rows.append(
            AddressDoc(
                eo.address.format(event="p<N>/<event>"), tag, f"performer N's event: {on} / {eo.end:g}"
            )
        )
    vo = mapping.vector
    if vo is not None:
        rows.append(
            AddressDoc(
                vo.address,
                "f" * vo.length,
                f"performers 1..{vo.slots}: {len(vo.landmarks)} landmarks, {' '.join(vo.fields)} each"
                + (f", {len(vo.features)} features" if vo.features else "")
                + (f"; {len(vo.stage_features)} stage features" if vo.stage_features else "")
                + "; 0 when absent",
            )
        )
    if mapping.status:
        rows += [
            AddressDoc(STATUS_PREFIX + "heartbeat", "i", "once a second: a counter, 1, 2, ..."),
            AddressDoc(STATUS_PREFIX + "fps", "f", "once a second: pose frames per second"),
            AddressDoc(
                STATUS_PREFIX + "latency_ms", "f", "once a second: capture to send of the last frame, ms"
            ),
            AddressDoc(STATUS_PREFIX + "people", "i", "once a second: performers on stage"),
        ]
    return rows


def osc_markdown() -> str:
    """``docs/osc.md``: the addresses of every preset, then how TouchDesigner, Ableton and desks use them."""
    from perform.osc.status import status_markdown  # imported here: perform.osc.status imports this module

    lines = [
        "<!-- generated by `python -m perform.osc.out`; do not edit by hand -->",
        "# OSC out",
        "",
        "perform sends each frame as one OSC bundle per target over UDP, timetagged with the frame's",
        "capture time on the wall clock (NTP format). A frame larger than `osc.max_datagram` (default",
        "1472 bytes, one Ethernet packet) is split into several bundles with the same timetag; a message",
        "is never split. Events arrive in the bundle of the frame during which they happened, none is",
        "skipped; a target with `rate_hz` gets fewer frames, but its events at once, in a bundle of their",
        "own between frames.",
        "",
        "Targets come from the show file (`osc.targets`) or the command line, `HOST:PORT[/PRESET]`",
        "(`127.0.0.1:7000/touchdesigner`, `[::1]:9000/ableton`).",
        "",
        "Placeholders: `<N>` performer number (1, 2, ...), `<landmark>` one of MediaPipe's 33 names",
        "(`nose`, `left_wrist`, ...), `<field>` `x`, `y`, `z` or `visibility`, `<feature>` a feature",
        "of [features.md](features.md), `<event>` an event name. Type tags: `f` float32, `i` int32.",
        "",
    ]
    for name, mapping in PRESETS.items():
        lines += [
            f"## `{name}`",
            "",
            PRESET_NOTES[name],
            "",
            "| address | types | meaning |",
            "|---|---|---|",
        ]
        for row in describe(mapping):
            lines.append(f"| `{row.address}` | {_tags_text(row.tags)} | {row.meaning} |")
        lines.append("")
    lines += [
        "## Custom mappings",
        "",
        "A target's `mapping` picks landmarks, features and events, address templates (`{slot}`,",
        "`{landmark}`, `{field}`, `{feature}`, `{event}`) and how values are mapped: `in_lo`..`in_hi`",
        "onto 0..1 (default: the feature's documented range), clamped, smoothed (`smoothing_s`, an",
        "exponential time constant on capture time), shaped by a `curve` (`linear`, `exponential` u^power,",
        "`logarithmic` 1-(1-u)^power, `smoothstep`, `smootherstep`), then onto `out_lo`..`out_hi`, as an",
        "int32 when `integer`. Every option: [show-file.md](show-file.md).",
        "",
        "```yaml",
        "osc:",
        "  max_datagram: 1472",
        "  heartbeat: true",
        "  targets:",
        "    - {host: 192.168.1.20, port: 7000, preset: touchdesigner}",
        "    - {host: 127.0.0.1, port: 9000, preset: ableton, rate_hz: 60}",
        "    - host: 192.168.1.50",
        "      port: 8000",
        "      rate_hz: 30",
        "      mapping:",
        "        features:",
        "          include: ['stage.*', 'p1.hands_up']",
        "          address: /desk/{feature}",
        "          map: {out_hi: 255, integer: true, curve: smoothstep, smoothing_s: 0.2}",
        "        events: {include: [hands_up, jump], address: '/desk/go/{event}', start: 255, end: 0}",
        "```",
        "",
        "## TouchDesigner",
        "",
        "Use the `touchdesigner` preset and an **OSC In CHOP** on the target's port. The CHOP takes",
        "channel names from the addresses and accepts only int and float arguments; a message with",
        "several arguments becomes several channels suffixed `_1`, `_2`, ... . With one value per",
        "message each landmark coordinate is a channel named after its address (`perform/p1/nose/x`),",
        "features read 0..1 (`perform/p1/energy`, `perform/stage/energy`, `perform/people`) and events",
        "1 / 0 (`perform/evt/p1/hands_up`), so a Select CHOP with a pattern such as `*p1/*/x` picks",
        "channels without renaming. A performer who leaves stops sending: their channels hold their",
        "last values; watch `perform/people` or the `leave` events. Every bundle carries its frame's",
        "capture time as its timetag, for receivers that schedule by it.",
        "",
        "## Ableton Live",
        "",
        "Use the `ableton` preset: only 0..1 floats under `/perform/ctl/`, the range a Max for Live",
        "device maps straight onto a Live parameter. In a Max for Live device that receives OSC (one of",
        "Connection Kit's, or your own with `udpreceive`), set the port and an address such as",
        "`/perform/ctl/p1/energy`, then map it; `rate_hz: 60` keeps the load on Live low.",
        "Without Max for Live, send MIDI instead: the `midi:` section maps",
        "features to CCs and events to notes on a port Live sees (`virtual: true` creates one on Linux",
        "and macOS; on Windows use loopMIDI), and Live's MIDI Map mode learns them by moving them.",
        "",
        "```yaml",
        "midi:",
        "  port: perform",
        "  virtual: true",
        "  cc:",
        "    - {feature: stage.energy, channel: 1, cc: 20}",
        "    - {feature: p1.hands_up, channel: 1, cc: 21}",
        "  notes:",
        "    - {event: jump, channel: 10, note: 36, hold: false}",
        "    - {event: p1/hands_up, channel: 1, note: 60, velocity: value}",
        "```",
        "",
        "## Lighting desks",
        "",
        "`lights` sends features as 0..255 integers and events as 255 / 0 under `/perform/lights/`;",
        "`lights_percent` sends 0..100 floats for desks whose faders are percentages. Most desks map",
        "an incoming OSC address onto a fader or a cue in their OSC input settings; a custom mapping",
        "sets the address prefix (`/desk/{feature}`), the range and the curve. Keep `rate_hz` near the",
        "desk's refresh (often 30-44 Hz) and use `smoothing_s` for fades that do not flicker.",
        "",
        "## Status",
        "",
        "Targets with `status` (the `default` and `touchdesigner` presets) get `/perform/status/*` once",
        "a second while `osc.heartbeat` is on, also when no frame arrives, so a receiver can tell a",
        "silent stage from a stopped perform.",
        "",
        *status_markdown(),
    ]
    return "\n".join(lines)


# --- the stage --------------------------------------------------------------------------------


@dataclass
class OscCounters:
    """What OSC out sent: datagrams, bytes, messages; oversize messages, failed and refused sends."""

    datagrams: int = 0
    bytes: int = 0
    messages: int = 0
    oversize: int = 0
    send_errors: int = 0
    would_block: int = 0

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

    # sockets

    def _send(self, ts: _TargetState, datagrams: list[bytes]) -> None:
        sock = self.udp.socket(ts.family)
        c = self.counters
        for d in datagrams:
            try:
                sock.sendto(d, ts.address)
            except BlockingIOError:
                c.would_block += 1
                self.report_error(f"{ts.target.label}: send buffer full, datagram dropped")
            except OSError as exc:
                c.send_errors += 1
                self.report_error(f"{ts.target.label}: {exc.strerror or exc}")
            else:
                c.datagrams += 1
                c.bytes += len(d)

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
            self._send(ts, datagrams)
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


if __name__ == "__main__":
    print(osc_markdown(), end="")
