"""Running a show: build its pipeline, drive it from the main thread, stop cleanly, report."""

from __future__ import annotations

import difflib
import errno
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np
from rich.console import Console

from perform import __version__
from perform.audio.analysis import AudioFeatures, audio_features
from perform.audio.input import AudioStage
from perform.capture import CaptureStage, Transform, make_source
from perform.console import StatusDisplay, WarningLog, status_table
from perform.control import Controls, Cue, CueRefused
from perform.errors import PerformError
from perform.events.config import EventsConfig
from perform.events.stage import EventStage, matcher
from perform.events.types import Event
from perform.midi.out import MidiOutStage
from perform.osc.doc import describe, describe_status
from perform.osc.out import OscOutStage
from perform.osc.remote import RemoteSourceStage, StreamOutStage
from perform.osc.server import ControlServer, ListingPortError
from perform.osc.status import StatusSender, status_targets
from perform.pipeline import EventLog, Frame, Pipeline, Reader, Slot, Stage, Stats
from perform.pipeline.features import register_features
from perform.share import VideoOut, open_outputs, stage_sinks
from perform.share.base import VideoSink
from perform.show.models import POSE_SOURCES, RemoteSource, Show
from perform.style.types import Styled
from perform.vision.config import TakeSource, VirtualSource
from perform.vision.draw import draw_bodies, slot_color
from perform.vision.recorder import TakeRecorder
from perform.vision.sources import TakeSourceStage, VirtualSourceStage
from perform.vision.stage import PoseStage
from perform.vision.types import PersonEvent, Poses

if TYPE_CHECKING:
    from perform.panel.server import PanelServer
    from perform.render.projector import Projector
    from perform.render.renderer import Renderer
    from perform.style.stage import StyleStage

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 0.5  # Ctrl-C or SIGTERM must end the process within 1 s, teardown included
#: How long a Python thread may keep the GIL while another waits for it (Python's default: 5 ms).
#: The render loop and the stages each need it for short stretches many times a frame; 1 ms keeps
#: a frame from waiting several 5 ms turns (measured in benchmarks/RESULTS.md, soak).
SWITCH_INTERVAL_S = 0.001
#: Seconds into a show when what has been made so far (models, sessions) is frozen too.
FREEZE_AGAIN_S = 5.0
#: The stage of each source that brings poses rather than frames.
POSE_SOURCE_STAGES = {
    VirtualSource: VirtualSourceStage,
    TakeSource: TakeSourceStage,
    RemoteSource: RemoteSourceStage,
}

S = TypeVar("S", bound=Stage)


def freeze_heap() -> None:
    """Move every object alive now out of the garbage collector's reach.

    With torch and MediaPipe loaded, one full collection walks millions of objects: 150 ms here,
    with the GIL held, so every thread stops. Frozen objects are never walked again; what the
    show makes from now on is collected as usual. (gc.freeze, as long-running servers do.)
    """
    gc.freeze()


def prepare_process() -> None:
    """Before a show starts: short turns at the GIL, and what is loaded so far frozen."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gc.collect()
    freeze_heap()


@dataclass
class RunOptions:
    """What the command line adds to a show file."""

    seconds: float | None = None
    headless: bool = False
    stats_path: Path | None = None
    take_path: Path | None = None
    take_masks: bool = False
    record_path: Path | None = None
    show_dir: Path | None = None


class ShowPipeline(Pipeline):
    """The pipeline of a show, with its named slots: ``frames`` and ``poses``.

    Built in steps, in the order the data flows: the source, perception, audio, events, outputs.
    """

    def __init__(self, show: Show, take_path: Path | None = None, take_masks: bool = False) -> None:
        super().__init__(Stats())
        self.show = show
        self.frames: Slot[Frame] = Slot("frames")
        self.poses: Slot[Poses] = Slot("poses")
        self.person_events: EventLog[PersonEvent] = EventLog()  # the tracker's enter/leave
        self.events: EventLog[Event] = EventLog()  # every event, for OSC, MIDI and the console
        self.audio: Slot[AudioFeatures] = Slot("audio")
        # events, OSC and MIDI see the poses after the events stage, with floor positions and
        # the newest audio features added
        self.event_poses: Slot[Poses] = Slot("event_poses")
        self.styled: Slot[Styled] = Slot("styled")
        self.controls = Controls()
        self.control: ControlServer | None = None
        self.status_targets = status_targets(show.osc)
        self.event_stage: EventStage | None = None
        self.has_poses = isinstance(show.source, POSE_SOURCES) or show.pose.enabled
        self.capture = self.add(self._source())
        self._add_perception()
        self.audio_stage = self._add_audio()
        if self.has_poses:
            self._add_events(take_path, take_masks)
        self.osc = self._add_osc()
        self.style = self._add_style()
        self._add_senders()

    def add(self, stage: S) -> S:
        """Add ``stage``, watched (if it has a ``stall_budget_scale``) with that many stall budgets."""
        if stage.stall_budget_scale is not None:
            stage.stall_budget_s = stage.stall_budget_scale * self.show.stages.stall_budget_s
        super().add(stage)
        return stage

    def _source(self) -> CaptureStage | VirtualSourceStage | TakeSourceStage | RemoteSourceStage:
        """Frames from a camera or a file, or poses from virtual performers, a take or other machines."""
        show, source = self.show, self.show.source
        for kind, stage in POSE_SOURCE_STAGES.items():
            if isinstance(source, kind):
                return stage(self.stats, self.frames, self.poses, source, show.pose, self.person_events)
        return CaptureStage(
            self.stats, lambda: make_source(source), self.frames, Transform.of(source), show.stages.capture
        )

    def _add_perception(self) -> None:
        """Pose detection on the camera's frames (a pose source brings its own poses)."""
        show = self.show
        if show.pose.enabled and not isinstance(show.source, POSE_SOURCES):
            self.add(PoseStage(self.stats, self.frames, self.poses, show.pose, self.person_events))

    def _add_audio(self) -> AudioStage | None:
        a = self.show.audio
        if not a.enabled:
            return None
        register_features(audio_features(a.bands, a.tempo_min, a.tempo_max))
        return self.add(AudioStage(a, self.stats, self.audio))

    def _add_events(self, take_path: Path | None, take_masks: bool) -> None:
        """Events from the poses, and the take recorder (also without --take: a cue can start one)."""
        show = self.show
        extra = self._audio_features if show.audio.enabled else None
        self.event_stage = self.add(
            EventStage(
                self.stats,
                self.poses,
                self.event_poses,
                self.events,
                show.events,
                self.controls,
                person_events=self.person_events,
                extra_features=extra,
            )
        )
        takes = show.control.takes
        self.add(TakeRecorder(self.stats, self.poses, take_path, take_masks, show.name, self.controls, takes))
        check = event_check(show.events)
        self.controls.check("events.arm", check)
        self.controls.check("events.disarm", check)

    def _add_osc(self) -> OscOutStage | None:
        osc = self.show.osc
        if not (self.has_poses and osc.enabled and osc.targets):
            return None
        stage = OscOutStage(self.stats, self.event_poses, self.events, osc, input_loss=self.show.input_loss)
        return self.add(stage)

    def _add_style(self) -> StyleStage | None:
        """The styled picture for the render: only on a camera's frames with pose detection."""
        show = self.show
        if not (show.style.enabled and show.pose.enabled and not isinstance(show.source, POSE_SOURCES)):
            return None
        from perform.style.stage import StyleStage  # torch: only for shows that style

        return self.add(StyleStage(self.stats, self.poses, self.styled, show.style, self.controls))

    def _add_senders(self) -> None:
        """The pose stream to other machines, MIDI out, and per-stage health once a second."""
        show = self.show
        if self.has_poses and show.osc.enabled and show.osc.stream:
            self.add(StreamOutStage(self.stats, self.poses, show.osc.stream, show.osc.max_datagram))
        if self.has_poses and show.midi.enabled and (show.midi.cc or show.midi.notes):
            self.add(MidiOutStage(self.stats, self.event_poses, self.events, show.midi))
        if self.status_targets:  # for TouchDesigner or QLab
            self.add(StatusSender(self.stats, self.status_targets, max_datagram=show.osc.max_datagram))

    def _audio_features(self) -> dict[str, float]:
        latest = self.audio.latest()
        return latest.features_dict() if latest is not None else {}

    def start(self) -> None:
        """Open the control ports (PerformError, before any stage runs, when one is taken), start."""
        c = self.show.control
        server = self.open_control() if c.enabled else None
        super().start()
        if server is not None:
            self.control = server.start()
            server.attach(self.stats.stage("control"))
            listing = f", listing on http://{server.http_host}:{server.http_port}" if server.http_port else ""
            log.info("control: OSC cues on UDP %s:%d%s", server.host, server.port, listing)

    def open_control(self) -> ControlServer:
        c = self.show.control
        sends = [
            (d.address, d.tags, d.meaning)
            for t in self.show.osc.targets
            for d in describe(t.effective_mapping)
        ]
        if self.status_targets:
            sends += [(d.address, d.tags, d.meaning) for d in describe_status()]
        try:
            return ControlServer(
                self.controls,
                c.port,
                c.host,
                http_port=c.http_port,
                http_host=c.http_host,
                sends=sends,
                max_delay_s=c.max_delay_s,
                allow=c.allow or None,
            )
        except OSError as exc:
            raise PerformError(control_port_message(exc, c.port, c.host, c.http_port, c.http_host)) from None

    def stop(self, timeout: float = 0.8) -> list[str]:
        if self.control is not None:
            self.control.stop(0.1)
        return super().stop(timeout)


def control_port_message(exc: OSError, port: int, host: str, http_port: int | None, http_host: str) -> str:
    """One line for a control port that cannot be opened: which, why, and how to choose another."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    if isinstance(exc, ListingPortError):
        return (
            f"control: cannot serve the OSC listing on TCP {http_host}:{http_port} ({reason}); "
            "choose another with control.http_port (0: any free port)"
        )
    taken = " (another perform or OSC program uses it?)" if exc.errno == errno.EADDRINUSE else ""
    return (
        f"control: cannot listen for OSC cues on UDP {host}:{port}: {reason}{taken}; "
        "choose another port with --control PORT, or control.port: 0 in the show file for any free port"
    )


def display_available() -> bool:
    """Whether a window can be opened (a desktop session on Linux; always elsewhere)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Preview:
    """An operator window with the newest camera frame, drawn from the main thread."""

    WINDOW = "perform"

    def __init__(self, frames: Slot[Frame], stats: Stats) -> None:
        self.reader: Reader[Frame] = frames.reader("preview")
        self.stats = stats.stage("preview")
        self.stats.dropped_fn = lambda: self.reader.dropped
        self.stats.state = "running"
        self.quit = False
        cv2.namedWindow(self.WINDOW, cv2.WINDOW_NORMAL)

    def poll(self, timeout: float) -> None:
        frame = self.reader.get(timeout)
        if frame is not None:
            cv2.imshow(self.WINDOW, cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR))
            self.stats.record(frame.t_capture)
        if cv2.waitKey(1) & 0xFF in (27, ord("q")):
            self.quit = True

    def close(self) -> None:
        self.stats.state = "stopped"
        cv2.destroyAllWindows()


class ShowMonitor:
    """What the operator wants beside stage stats: who is on stage, how they move, what happened."""

    def __init__(self, pipeline: ShowPipeline, panel: PanelServer | None = None) -> None:
        self.pipeline = pipeline
        self.panel = panel
        self.cursor = pipeline.events.cursor()
        self.recent: deque[str] = deque(maxlen=3)
        self.counts: Counter[str] = Counter()
        self.most_people = 0
        self._people_sum = 0
        self._people_frames = 0
        self._seq = -1

    def poll(self) -> None:
        for event in self.cursor.drain():
            if not event.active:
                continue
            self.counts[event.name] += 1
            self.recent.append(f"{time.strftime('%H:%M:%S')} {event.address_suffix}")
        poses = self.pipeline.poses.latest()
        if poses is not None and poses.seq != self._seq:
            self._seq = poses.seq
            self.most_people = max(self.most_people, len(poses.bodies))
            self._people_sum += len(poses.bodies)
            self._people_frames += 1

    def report(self) -> dict[str, object]:
        """For the stats file: people on stage (most at once, mean over the frames seen), events by name."""
        self.poll()
        mean = self._people_sum / self._people_frames if self._people_frames else 0.0
        return {
            "people": {"most": self.most_people, "mean": round(mean, 2)},
            "events": dict(sorted(self.counts.items())),
        }

    def lines(self) -> list[str]:
        self.poll()
        panel = self.panel_lines()
        poses = self.pipeline.poses.latest()
        if poses is None:
            return [*panel, *self.cue_lines()]
        f = poses.features
        people = [
            f"p{b.slot} energy {f.get(f'p{b.slot}.energy_level', 0.0):.2f} "
            f"hands {f.get(f'p{b.slot}.hands_up', 0.0):+.2f}"
            for b in poses.bodies
        ]
        head = f"people {len(poses.bodies)}" + ("  " + " | ".join(people) if people else "")
        events = ["events: " + ", ".join(self.recent)] if self.recent else []
        return [*panel, head, *events, *self.cue_lines()]

    def panel_lines(self) -> list[str]:
        """Where the operator's panel is, its passcode and the pages open."""
        p = self.panel
        if p is None or not p.port:
            return []
        return [f"panel {p.url}  passcode {p.passcode}  pages open {p.pages}"]

    def cue_lines(self) -> list[str]:
        """The last few cues received, each with what it did or why it was refused."""
        return [f"cue {line}" for line in self.pipeline.controls.recent_lines()]

    def summary(self) -> str:
        self.poll()
        if not self.pipeline.has_poses:
            return ""
        events = ", ".join(f"{kind} {n}" for kind, n in sorted(self.counts.items())) or "none"
        return f"pose: up to {self.most_people} people at once; events: {events}"


class StopSignals:
    """Turns SIGINT and SIGTERM into an event while installed (main thread only).

    The event is set by a watcher thread, never by the handler: a Python signal handler runs on
    the main thread, which may be inside ``event.wait()`` holding the event's lock, and setting
    it there deadlocks the show at its stop. Python's own C handler writes each signal's number
    to a socket (``signal.set_wakeup_fd``), which the watcher reads.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, object] = {}
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._previous_fd = -1
        self._watcher: threading.Thread | None = None

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is not threading.main_thread():
            return self
        read, write = socket.socketpair()
        write.setblocking(False)
        self._wakeup = (read, write)
        self._previous_fd = signal.set_wakeup_fd(write.fileno(), warn_on_full_buffer=False)
        self._watcher = threading.Thread(target=self._watch, args=(read,), name="perform-signals")
        self._watcher.daemon = True
        self._watcher.start()
        for sig in self.SIGNALS:
            self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        """Nothing: the watcher sets the event (see the class)."""

    def _watch(self, read: socket.socket) -> None:
        while data := read.recv(64):  # b"" once __exit__ closes the other end
            if any(number in self.SIGNALS for number in data):
                self.event.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if self._wakeup is not None:
            signal.set_wakeup_fd(self._previous_fd)
            self._wakeup[1].close()
            self._watcher.join(1.0)  # type: ignore[union-attr]
            self._wakeup[0].close()


class ShowLoop:
    """The main thread's part of a running show, one pass per :meth:`tick`.

    A pass draws a projector frame when one is due, polls the preview window and the monitor,
    freezes the heap once the stages have loaded their models, and updates the status display.
    Made once the pipeline has started; ``on_frame`` is called after every frame drawn.
    """

    def __init__(
        self,
        pipeline: ShowPipeline,
        stop: threading.Event,
        seconds: float | None = None,
        *,
        projector: Projector | None = None,
        preview: Preview | None = None,
        monitor: ShowMonitor | None = None,
        status: StatusDisplay | None = None,
        on_frame: Callable[[], None] | None = None,
    ) -> None:
        self.pipeline, self.stop, self.seconds = pipeline, stop, seconds
        self.projector, self.preview, self.monitor, self.status = projector, preview, monitor, status
        self.on_frame = on_frame
        show, t0, now = pipeline.show, pipeline.stats.t_start, time.monotonic()
        self.deadline = t0 + seconds if seconds else None
        self.frame_period = 1.0 / show.render.fps
        self.status_period = 1.0 / show.outputs.status_hz
        self.next_frame = self.next_status = now
        self.freeze_at: float | None = t0 + FREEZE_AGAIN_S

    def tick(self, now: float) -> str | None:
        """One pass at ``now`` (``time.monotonic()``); why the show ends, or None to go on."""
        if self.stop.is_set():
            return "stop signal"
        if self.deadline is not None and now >= self.deadline:
            return f"{self.seconds:g} s elapsed"
        if self.pipeline.ended:
            return "input ended"
        if self.projector is not None:
            if now >= self.next_frame:
                self.projector.tick()
                # a slow frame is not made up for: the next is due one period from now
                self.next_frame = max(self.next_frame + self.frame_period, time.monotonic())
                if self.on_frame is not None:
                    self.on_frame()
            if self.projector.quit:
                return "window closed"
        if self.preview is not None:
            self.preview.poll(min(self.status_period, 0.02))
            if self.preview.quit:
                return "window closed"
        if self.monitor is not None:
            self.monitor.poll()
        if self.freeze_at is not None and time.monotonic() >= self.freeze_at:
            freeze_heap()  # the models the stages loaded on their first frames
            self.freeze_at = None
        if time.monotonic() >= self.next_status:
            if self.status is not None:
                self.status.update()
            self.next_status += self.status_period
        return None

    def due(self) -> float:
        """When the next pass has work: a frame, a status update or the end (a preview's poll waits)."""
        if self.preview is not None:
            return 0.0
        times = [self.next_status]
        if self.projector is not None:
            times.append(self.next_frame)
        if self.deadline is not None:
            times.append(self.deadline)
        return min(times)

    def run(self) -> str:
        """Pass after pass until the show ends; why it ended."""
        while (reason := self.tick(time.monotonic())) is None:
            self.stop.wait(max(0.0, self.due() - time.monotonic()))
        return reason


def run_show(show: Show, options: RunOptions, console: Console, warnings: WarningLog | None = None) -> int:
    """Run ``show`` until its time is up, its input ends, or a stop signal; 0 on success."""
    stats_path = options.stats_path or show.outputs.stats
    if stats_path is not None:  # find out now, not after the show, that the stats cannot be written
        check_stats_path(stats_path)
    prepare_process()
    takes = show.control.takes
    if not takes.is_absolute() and options.show_dir is not None:  # a show file without `control:`
        show = show.model_copy(
            update={"control": show.control.model_copy(update={"takes": options.show_dir / takes})}
        )
    show = without_own_port(show)
    pipeline = ShowPipeline(show, options.take_path, options.take_masks)
    projector = make_projector(pipeline, show, options) if show.render.enabled else None
    outputs = show.outputs
    if projector is None and (outputs.ndi.name or outputs.texture or outputs.virtual_camera):
        log.warning("outputs: NDI, texture and virtual camera send the stage picture: turn render on")
    if projector is not None:
        pipeline.controls.check("scene", scene_check(projector.renderer))
    preview = make_preview(pipeline, show, options) if projector is None else None
    extras = extra_outputs(pipeline, show)
    panel = make_panel(pipeline, show, projector) if show.panel.enabled else None
    monitor = ShowMonitor(pipeline, panel)
    with StopSignals() as signals:
        try:
            if panel is not None:
                panel.start()
                log.info("panel: %s  passcode %s", panel.url, panel.passcode)
            pipeline.start()
        except BaseException:
            if panel is not None:
                panel.stop()
            if projector is not None:
                projector.close()
            for out in extras:
                out.close()
            raise
        hz = show.outputs.status_hz
        with StatusDisplay(console, pipeline, show.name, warnings, hz, detail=monitor.lines) as status:
            loop = ShowLoop(
                pipeline,
                signals.event,
                options.seconds,
                projector=projector,
                preview=preview,
                monitor=monitor,
                status=status,
            )
            reason = loop.run()
        if preview is not None:
            preview.close()
        if panel is not None:
            panel.stop(0.2)
        pipeline.stop(STOP_TIMEOUT_S)
    render_report = projector.close() if projector is not None else None
    report = make_report(pipeline, show, panel)
    if extras:
        report["video_outs"] = [out.close() for out in extras]
    if pipeline.has_poses:
        report.update(monitor.report())
    if projector is not None and render_report is not None:
        report["frame_to_render"] = projector.frame_to_render.summary_ms()
        report["render"] = render_report
        for out in render_report.get("video_outs", []):  # type: ignore[attr-defined]
            if str(out["name"]).startswith("ndi "):
                report["frame_to_ndi"] = {**out["frame_to_out_ms"], "dropped": out["dropped"]}
                break
    console.print(summary(pipeline, report, reason))
    if monitor.summary():
        console.print(monitor.summary(), highlight=False)
    if render_report is not None and "record" in render_report:
        rec = render_report["record"]
        console.print(f"video written to {rec['path']} ({rec['frames']} frames)", highlight=False)  # type: ignore[index]
    if stats_path is not None:
        write_stats(stats_path, report)
        console.print(f"stats written to {stats_path}")
    return 0


def without_own_port(show: Show) -> Show:
    """``show`` without the OSC targets aimed at its own cue port, each left out with a warning:
    perform would hear itself, thousands of unknown addresses a second."""
    looping = show.looping_targets()
    for t in looping:
        log.warning(
            "osc target %s:%d is perform's own cue port (control.port %d): not sent there, perform "
            "would hear itself; send to another port (TouchDesigner's OSC In CHOP: 7000, say)",
            t.host,
            t.port,
            t.port,
        )
    keep = [t for t in show.osc.targets if t not in looping]
    if len(keep) == len(show.osc.targets):
        return show
    return show.model_copy(update={"osc": show.osc.model_copy(update={"targets": keep})})


def event_check(config: EventsConfig) -> Callable[[Cue], str]:
    """The check of ``events.arm`` and ``events.disarm`` cues: a name or pattern that matches none
    of the show's events is refused (``*`` always matches)."""
    names = config.names()
    taught = config.poses.library is not None

    def check(cue: Cue) -> str:
        pattern = str(cue.args[0]) if cue.args else "*"
        verb = "armed" if cue.name == "events.arm" else "disarmed"
        match = matcher(pattern)
        if (taught and pattern.startswith("pose.")) or any(match(n) for n in names):
            return f"{verb} {pattern}"
        shown = [n for n in names if not n.endswith(".dwell")]
        close = difflib.get_close_matches(pattern, shown, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        known = ", ".join(shown[:12]) + (", ..." if len(shown) > 12 else "")
        raise CueRefused("unknown_event", f"no event {pattern!r} in this show; {hint}events: {known}")

    return check


def scene_check(renderer: Renderer) -> Callable[[Cue], str]:
    """The check of ``scene`` cues: a scene the show cannot find, or an index past its list, is
    refused with what there is."""

    def check(cue: Cue) -> str:
        key = cue.args[0] if cue.args else ""
        try:
            name = renderer.scene_name(key)  # type: ignore[arg-type]
        except PerformError as exc:
            kind = "out_of_range" if isinstance(key, int) else "unknown_scene"
            raise CueRefused(kind, str(exc).removeprefix("render: ")) from None
        return f"scene {name}"

    return check


def check_stats_path(path: Path) -> None:
    """Raise :class:`PerformError` when the stats cannot be written to ``path`` (its folder is made)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PerformError(f"{path}: cannot write stats: {exc.strerror}") from None
    if not os.access(path.parent, os.W_OK):
        raise PerformError(f"{path}: cannot write stats: the folder is not writable")


def make_preview(pipeline: ShowPipeline, show: Show, options: RunOptions) -> Preview | None:
    """The operator's camera window, when the show has one and a display can show it."""
    if options.headless or not show.outputs.preview:
        return None
    if not display_available():
        log.info("no display: running headless")
        return None
    try:
        return Preview(pipeline.frames, pipeline.stats)
    except cv2.error as exc:
        log.warning("no preview window: %s", exc)
        return None


def make_projector(pipeline: ShowPipeline, show: Show, options: RunOptions) -> Projector:
    """The render side of a show: a window unless headless or no display, recording and video
    outputs (NDI, Syphon, Spout, a virtual camera) if asked."""
    from perform.render.projector import Projector

    record = options.record_path or show.render.record
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
    r = show.render
    outs = open_outputs(stage_sinks(show.outputs, r.width, r.height, r.fps), bottom_up=True)
    try:
        return Projector(
            show.render,
            pipeline.stats,
            pipeline.controls,
            pipeline.frames,
            pipeline.event_poses if pipeline.has_poses else None,
            pipeline.styled if pipeline.style is not None else None,
            pipeline.audio if pipeline.audio_stage is not None else None,
            pipeline.events,
            window=not options.headless and show.outputs.preview and display_available(),
            record=record,
            show_dir=options.show_dir,
            title=show.name,
            input_loss=show.input_loss,
            video_outs=outs,
        )
    except BaseException:
        for out in outs:
            out.close()
        raise


def make_panel(pipeline: ShowPipeline, show: Show, projector: Projector | None) -> PanelServer:
    """The operator's web panel of this show (not yet serving: :meth:`PanelServer.start`)."""
    from perform.panel.config import PanelParam
    from perform.panel.server import PanelServer
    from perform.panel.state import PanelState, ShowView, scene_params
    from perform.render.thumbnail import Thumbnail

    config = show.panel
    params = list(config.params)
    view = ShowView(show.name, pipeline.stats, pipeline.controls, pipeline.frames, takes=pipeline.has_poses)
    if projector is not None:
        renderer = projector.renderer
        files = [renderer.scenes.get(name, report=False).value for name in renderer.order]
        params += scene_params(f for f in files if f is not None)
        projector.thumbnail = view.thumbnail = Thumbnail(config.preview_fps, config.preview_width)
        view.scenes = lambda: (renderer.order, renderer.current.name, renderer.fading is not None)
        view.crossfade_s, view.render_fps = show.render.crossfade_s, show.render.fps
    if pipeline.style is not None:
        params.append(PanelParam(name="style.strength", label="style strength", default=show.style.strength))
    if pipeline.has_poses:
        view.poses, view.events = pipeline.event_poses, pipeline.events
    if pipeline.event_stage is not None:
        view.event_names = show.events.names()
        view.armed = pipeline.event_stage.engine.armed_now
    view.params = list({p.name: p for p in params}.values())  # the show file's own first
    return PanelServer(PanelState(view, config), config, pipeline.stats.stage("panel"))


def extra_outputs(pipeline: ShowPipeline, show: Show) -> list[VideoOut]:
    """NDI sources beside the stage picture (``outputs.ndi``): the stylised camera image, the
    performers' mask, the camera with skeletons; each at the render size, on its own thread."""
    ndi, size = show.outputs.ndi, (show.render.width, show.render.height)
    if ndi.name is None:
        return []
    from perform.share.ndi import NdiSink

    def sink(suffix: str) -> Callable[[], VideoSink]:
        return lambda: NdiSink(f"{ndi.name} {suffix}", *size, show.render.fps)

    outs: list[VideoOut] = []
    if ndi.styled:
        if pipeline.style is None:
            log.warning("outputs.ndi.styled: the show has no style stage (style.enabled); left out")
        else:
            outs += open_outputs(
                [sink("styled")], follow=pipeline.styled, convert=lambda s: styled_rgba(s, size)
            )
    wanted = [("mask", lambda p: mask_rgba(p, size, ndi.mask))] if ndi.mask != "off" else []
    wanted += [("skeleton", lambda p: skeleton_rgba(p, size))] if ndi.skeleton else []
    for suffix, convert in wanted:
        if not pipeline.has_poses:
            log.warning("outputs.ndi.%s: the show finds no poses (pose.enabled); left out", suffix)
            continue
        outs += open_outputs([sink(suffix)], follow=pipeline.event_poses, convert=convert)
    return outs


def _rgba(image: np.ndarray, size: tuple[int, int], alpha: np.ndarray | None = None) -> np.ndarray:
    if image.shape[1::-1] != size:
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    if alpha is None:
        return cv2.cvtColor(image, cv2.COLOR_RGB2RGBA)
    if alpha.shape[1::-1] != size:
        alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_LINEAR)
    return np.dstack([image, alpha])


def styled_rgba(styled: Styled, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The stylised camera image as RGBA at ``size``."""
    return _rgba(styled.image, size), styled.t_capture


def mask_rgba(poses: Poses, size: tuple[int, int], mode: str) -> tuple[np.ndarray, float]:
    """The performers' mask: as the camera image's alpha, or as grey (opaque)."""
    w, h = size
    mask = (
        np.zeros((h, w), np.uint8)
        if poses.mask is None
        else np.clip(poses.mask * 255.0, 0, 255).astype(np.uint8)
    )
    if mode == "grey":
        if mask.shape[1::-1] != size:
            mask = cv2.resize(mask, size, interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(mask, cv2.COLOR_GRAY2RGBA), poses.t_capture
    camera = poses.frame.image if poses.frame is not None else np.zeros((h, w, 3), np.uint8)
    return _rgba(camera, size, mask), poses.t_capture


def skeleton_rgba(poses: Poses, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """The camera image (black without one) with each performer's skeleton drawn."""
    w, h = size
    image = np.zeros((h, w, 3), np.uint8) if poses.frame is None else cv2.resize(poses.frame.image, size)
    bodies = [b.landmarks for b in poses.bodies]
    draw_bodies(image, bodies, [slot_color(b.slot) for b in poses.bodies])
    return _rgba(image, size), poses.t_capture


def make_report(pipeline: ShowPipeline, show: Show, panel: PanelServer | None = None) -> dict[str, object]:
    report = pipeline.stats.report("capture")
    take = pipeline.stats.stages.get("take")
    if take is not None and take.frames == 0 and take.errors == 0:  # no take asked for: no row
        for key in ("dropped", "latency_ms", "errors", "restarts"):
            report[key].pop("take", None)  # type: ignore[attr-defined]
    report["show"] = show.name
    report["source"] = pipeline.capture.source_name
    report["version"] = __version__
    if pipeline.osc is not None:
        osc = pipeline.osc.report()
        report["frame_to_osc"] = osc.get("frame_to_osc_ms")
        report["osc"] = osc
    if pipeline.control is not None:
        report["control"] = dict(pipeline.control.counts)
    if panel is not None:
        report["panel"] = dict(panel.counts)
    report["cues"] = dict(sorted(pipeline.controls.outcomes.items()))
    if pipeline.style is not None:
        report["style"] = pipeline.style.report()
    return report


def summary(pipeline: Pipeline, report: dict[str, object], reason: str) -> object:
    title = (
        f"{report['show']}: {report['frames']} frames in {report['seconds']} s "
        f"({report['fps']} fps) from {report['source']} — {reason}"
    )
    return status_table(pipeline, title)


def write_stats(path: Path, report: dict[str, object]) -> None:
    """Write the stats JSON atomically (a reader never sees half a file)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise PerformError(f"{path}: cannot write stats: {exc.strerror}") from None
