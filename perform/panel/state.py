"""What the operator's panel shows and does, with no thread or socket: testable on its own.

:class:`PanelState` turns a running show (a :class:`ShowView` of references into it) into the
page's messages, ``welcome`` once and ``state`` many times a second, and applies the page's
controls through the same :class:`~perform.control.Controls` as OSC cues, with the same checks.
The page's messages are validated here: a control names one of the show's scenes, events or
offered parameters, never a path; a value is a finite number within its slider's range.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel

from perform import __version__
from perform.control import MAX_FADE_S, Controls, CueOutcome, event_pattern, fade_seconds, scene_name
from perform.errors import BadName
from perform.events.types import Event
from perform.osc.status import Health, health
from perform.panel.config import Panel, PanelParam
from perform.pipeline import EventLog, Frame, Slot, Stats
from perform.pipeline.stats import bins_percentile
from perform.render.config import Binding
from perform.render.thumbnail import Thumbnail
from perform.vision.draw import SLOT_COLORS
from perform.vision.types import CONNECTIONS, Poses

#: Events sent with one state at most (a burst beyond is cut, the newest kept).
MAX_EVENTS = 20
#: Seconds a producing stage may hand nothing on before the panel warns.
STALE_S = 2.0
#: The render's rate below this share of its target: the show falls behind.
BEHIND = 0.8
#: Latency p95 of the poses beyond this: the performers' picture lags the stage.
LAG_S = 0.25
#: Seconds after the start before "falls behind" is said (models load, the first frames are slow).
SETTLE_S = 5.0


@dataclass
class ShowView:
    """The parts of a running show the panel reads, and how it reads the projector's scenes."""

    name: str
    stats: Stats
    controls: Controls
    frames: Slot[Frame]
    poses: Slot[Poses] | None = None
    events: EventLog[Event] | None = None
    event_names: list[str] = field(default_factory=list)
    armed: Callable[[list[str]], dict[str, bool]] | None = None
    #: The scenes in order, the current one and whether a crossfade runs (None: no render).
    scenes: Callable[[], tuple[list[str], str, bool]] | None = None
    crossfade_s: float = 1.0
    render_fps: float | None = None
    params: list[PanelParam] = field(default_factory=list)
    #: The stage picture, when the show draws one (else the camera's newest frame is shown).
    thumbnail: Thumbnail | None = None
    takes: bool = False


def scene_params(scenes: Iterable[BaseModel]) -> list[PanelParam]:
    """A slider for every ``param:NAME`` a scene binds, over the binding's input range."""
    found: dict[str, PanelParam] = {}

    def walk(value: object) -> None:
        if isinstance(value, Binding):
            if value.source.startswith("param:") and value.source[6:] not in found:
                lo, hi = sorted(value.range)
                name = value.source[6:]
                with contextlib.suppress(ValueError):  # a name the page cannot offer; OSC still sets it
                    found[name] = PanelParam(
                        name=name, min=lo, max=hi, step=(hi - lo) / 100, default=value.default
                    )
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)

    for scene in scenes:
        walk(scene)
    return list(found.values())


class PanelState:
    """The panel's messages for one show, and its controls applied through the show's Controls."""

    def __init__(self, view: ShowView, config: Panel) -> None:
        self.view = view
        self.config = config
        self.params = {p.name: p for p in view.params}
        self.cursor = view.events.cursor() if view.events is not None else None
        #: One sample a second, each as JSON text (a new page's first state carries them all).
        self.history: deque[str] = deque(maxlen=config.history_s)
        self.sample: dict[str, Any] | None = None  # the newest second's numbers
        self._bins = {s.name: s.latency.bins() for s in view.stats}
        self._next_sample = view.stats.t_start + 1.0
        # the camera's frame as the preview when the show draws no stage picture
        self.camera = Thumbnail(config.preview_fps, config.preview_width) if view.thumbnail is None else None
        self._camera_seq = -1

    # -- page -> show --------------------------------------------------------------------------

    def apply(self, message: object, who: str) -> dict[str, Any]:
        """Act on one control from a page; the ``result`` to send back (never raises)."""
        try:
            outcome = self._apply(message, who)
        except (BadName, ValueError, TypeError, KeyError) as exc:
            return {"type": "result", "ok": False, "detail": f"refused: {exc}"}
        except Exception as exc:  # a control that fails is refused, never the panel's end
            return {"type": "result", "ok": False, "detail": f"failed: {type(exc).__name__}"}
        if isinstance(outcome, str):
            return {"type": "result", "ok": True, "detail": outcome}
        line = outcome.line().split(" ", 1)[1]
        return {"type": "result", "ok": bool(outcome), "detail": line}

    def _apply(self, message: object, who: str) -> CueOutcome | str:
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise ValueError("expected a JSON object with a type")
        kind = message["type"]
        cue = self.view.controls.cue
        if kind == "scene":
            fade = _fade(message.get("fade_s"))
            return cue("scene", scene_name(message.get("name")), *fade, source=who)  # type: ignore[arg-type]
        if kind in ("scene.next", "scene.previous"):
            return cue(kind, *_fade(message.get("fade_s")), source=who)
        if kind in ("arm", "disarm"):
            event = event_pattern(message.get("event"))  # type: ignore[arg-type]
            if event not in self.view.event_names:  # the page's rows only, no patterns
                raise ValueError(f"no event {event!r} on this panel")
            return cue(f"events.{kind}", event, source=who)
        if kind in ("take.start", "take.stop"):
            return cue(kind, source=who)
        if kind == "param":
            return self._param(message.get("name"), message.get("value"))
        raise ValueError(f"unknown control {kind[:32]!r}")

    def _param(self, name: object, value: object) -> str:
        param = self.params.get(name) if isinstance(name, str) else None
        if param is None:
            raise ValueError(f"no parameter {str(name)[:64]!r} on this panel")
        if param.kind == "toggle":
            if not isinstance(value, bool):
                raise ValueError(f"{param.name}: expected true or false, got {str(value)[:16]}")
            number: float | bool = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{param.name}: expected a number, got {str(value)[:16]}")
            number = min(param.max, max(param.min, float(value)))
        if not self.view.controls.set(param.name, number):
            raise ValueError(f"{param.name}: the parameter store is full")
        return f"{param.name} = {number}"

    # -- show -> page --------------------------------------------------------------------------

    def welcome(self) -> dict[str, Any]:
        v, c = self.view, self.config
        scenes = v.scenes()[0] if v.scenes is not None else []
        return {
            "type": "welcome",
            "show": v.name,
            "version": __version__,
            "scenes": scenes,
            "events": v.event_names,
            "params": [self._param_info(p) for p in v.params],
            "slot_colors": [list(c) for c in SLOT_COLORS],
            "connections": [list(pair) for pair in CONNECTIONS],
            "updates_hz": c.updates_hz,
            "preview_fps": c.preview_fps,
            "history_s": c.history_s,
            "crossfade_s": v.crossfade_s,
            "takes": v.takes,
        }

    def _param_info(self, p: PanelParam) -> dict[str, Any]:
        info = {"name": p.name, "kind": p.kind, "label": p.label or p.name, "value": self._value(p)}
        if p.kind == "slider":
            info.update(min=p.min, max=p.max, step=p.step)
        return info

    def _value(self, p: PanelParam, values: dict[str, Any] | None = None) -> float | bool:
        value = (values if values is not None else self.view.controls.snapshot()).get(p.name, p.default)
        if p.kind == "toggle":
            return bool(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return p.min
        return min(p.max, max(p.min, float(value)))

    def state(self, now: float | None = None) -> dict[str, Any]:
        """The page's live picture of the show at ``now``; a ``sample`` rides along once a second."""
        now = time.monotonic() if now is None else now
        v = self.view
        poses = v.poses.latest() if v.poses is not None else None
        bodies = poses.bodies if poses is not None else []
        rows = health(v.stats, now, STALE_S)
        sample = self.tick(now)
        values = v.controls.snapshot()
        _, current, fading = v.scenes() if v.scenes is not None else ([], None, False)
        take = v.stats.stages.get("take")
        warnings = self.warnings(now, rows)
        state: dict[str, Any] = {
            "type": "state",
            "t": round(v.stats.seconds, 3),
            "scene": current,
            "fading": fading,
            "people": len(bodies),
            "bodies": [{"slot": b.slot, "points": _points(b.landmarks)} for b in bodies],
            "aspect": _aspect(poses),
            "armed": v.armed(v.event_names) if v.armed is not None else {},
            "params": {p.name: self._value(p, values) for p in v.params},
            "take": {"recording": take is not None and take.state == "recording"},
            "events": self._events(),
            "health": {
                "ok": rows.ok and not warnings,
                "stages": [
                    {
                        "name": r.name,
                        "state": r.state,
                        "fps": r.fps,
                        "dropped": r.dropped,
                        "errors": r.errors,
                        "restarts": r.restarts,
                        "stale": r.stale,
                        **(self.sample or {}).get("stages", {}).get(r.name, {"p50": None, "p95": None}),
                    }
                    for r in rows.stages
                ],
                "render_fps": _fps(v.stats, "render", now),
                "warnings": warnings,
            },
            "cues": v.controls.recent_lines(),
        }
        if sample is not None:
            state["sample"] = sample
        return state

    def _events(self) -> list[dict[str, Any]]:
        if self.cursor is None:
            return []
        fired = [e for e in self.cursor.drain() if e.active]
        t0 = self.view.stats.t_start
        return [{"t": round(e.t - t0, 3), "name": e.address_suffix} for e in fired[-MAX_EVENTS:]]

    def tick(self, now: float | None = None) -> dict[str, Any] | None:
        """Once a second (also with no page open): each stage's fps and latency percentiles over
        that second, kept in :attr:`history`; None between seconds."""
        now = time.monotonic() if now is None else now
        if now < self._next_sample:
            return None
        self._next_sample = now + 1.0
        stages: dict[str, dict[str, float | None]] = {}
        for s in self.view.stats:
            bins = s.latency.bins()
            previous = self._bins.get(s.name)
            self._bins[s.name] = bins
            # a histogram replaced since (a benchmark resets them) starts a new window
            fresh = previous is None or previous.shape != bins.shape or bool((bins < previous).any())
            window = bins if fresh else bins - previous
            seen = int(window.sum()) > 0
            stages[s.name] = {
                "fps": _fps(self.view.stats, s.name, now),
                "p50": round(bins_percentile(window, 50) * 1000, 2) if seen else None,
                "p95": round(bins_percentile(window, 95) * 1000, 2) if seen else None,
            }
        sample = {"t": round(self.view.stats.seconds, 1), "stages": stages}
        sample["render_fps"] = _fps(self.view.stats, "render", now)
        self.sample = sample
        self.history.append(json.dumps(sample, separators=(",", ":")))
        return sample

    def warnings(self, now: float, rows: Health | None = None) -> list[str]:
        """What the operator must see at once: a stalled stage, a lost camera, a show falling behind."""
        v, out = self.view, []
        rows = rows if rows is not None else health(v.stats, now, STALE_S)
        for r in rows.stages:
            if r.name == "capture" and (r.state == "stalled" or r.stale):
                out.append(f"camera lost: reopening it (restarts {r.restarts})")
            elif r.state == "stalled":
                out.append(f"{r.name} stalled (restarts {r.restarts})")
            elif r.stale:
                quiet = r.age_ms / 1000 if r.age_ms >= 0 else v.stats.seconds
                out.append(f"{r.name}: nothing for {quiet:.1f} s")
        if v.stats.seconds > SETTLE_S:
            fps = _fps(v.stats, "render", now)
            if v.render_fps and fps is not None and fps < BEHIND * v.render_fps:
                out.append(f"the show falls behind: render {fps:.0f} of {v.render_fps:.0f} fps")
            pose = (self.sample or {}).get("stages", {}).get("pose", {})
            if pose.get("p95") is not None and pose["p95"] > LAG_S * 1000:
                out.append(f"pose lags: p95 {pose['p95']:.0f} ms from the camera")
        return out

    def preview(self) -> Thumbnail | None:
        """The picture to send now: the stage picture, or else the camera's newest frame."""
        if self.view.thumbnail is not None:
            return self.view.thumbnail
        if self.camera is None:
            return None
        frame = self.view.frames.latest()
        if frame is not None and frame.seq != self._camera_seq:
            self._camera_seq = frame.seq
            self.camera.submit(frame.image, bottom_up=False)
        return self.camera


def _fade(value: object) -> tuple[float, ...]:
    if value is None:
        return ()
    fade = fade_seconds(value)
    if fade is None:
        raise ValueError(f"fade_s: expected seconds 0..{MAX_FADE_S:g}, got {str(value)[:16]}")
    return fade


def _points(landmarks: np.ndarray) -> list[list[float]]:
    """33 rows of x, y (0..1, image) and visibility, rounded for the wire."""
    rows = np.round(landmarks[:, [0, 1, 3]].astype(np.float64), 3)
    return np.nan_to_num(rows, nan=0.0, posinf=0.0, neginf=0.0).tolist()


def _aspect(poses: Poses | None) -> float:
    if poses is not None and poses.width > 0 and poses.height > 0:
        return round(poses.width / poses.height, 4)
    return round(16 / 9, 4)


def _fps(stats: Stats, name: str, now: float) -> float | None:
    s = stats.stages.get(name)
    return round(s.rate.rate(now), 2) if s is not None else None
