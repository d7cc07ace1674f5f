"""The stage picture in a running show: the newest inputs drawn at the render rate, shown, recorded."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from perform.audio.analysis import AudioFeatures
from perform.control import Controls
from perform.errors import PerformError
from perform.events.types import Event
from perform.pipeline import EventLog, Frame, Slot, Stats
from perform.pipeline.stats import LatencyHistogram
from perform.render.bindings import Inputs
from perform.render.config import Render
from perform.render.output import Headless, Output, ProjectorWindow
from perform.render.renderer import Renderer
from perform.style.stage import Styled
from perform.vision.types import Poses

log = logging.getLogger(__name__)


class Projector:
    """Draws, shows and records; called by the main thread, it never waits on a stage."""

    def __init__(
        self,
        config: Render,
        stats: Stats,
        controls: Controls,
        frames: Slot[Frame],
        poses: Slot[Poses] | None = None,
        styled: Slot[Styled] | None = None,
        audio: Slot[AudioFeatures] | None = None,
        events: EventLog[Event] | None = None,
        *,
        window: bool = False,
        record: Path | None = None,
        show_dir: Path | None = None,
        title: str = "perform",
    ) -> None:
        self.config = config
        self.output: Output = Headless()
        if window:
            try:
                self.output.close()
                self.output = ProjectorWindow(config.window, (config.width, config.height), title)
            except PerformError as exc:
                log.warning("render: %s; drawing headless", exc)
                self.output = Headless()
        try:
            self.renderer = Renderer(self.output.ctx, config, show_dir)
        except Exception:
            self.output.close()
            raise
        self.stats = stats.stage("render")
        self.stats.state = "running"
        self.t0 = stats.t_start
        self.controls, self.frames, self.poses, self.styled, self.audio = (
            controls,
            frames,
            poses,
            styled,
            audio,
        )
        self.cues = controls.listen()
        self.events = events.cursor() if events is not None else None
        self.frame_to_render = LatencyHistogram()
        self.pose_to_render = LatencyHistogram()
        self.draw_ms = LatencyHistogram()
        self.upload_ms = LatencyHistogram()
        self._seen = {"frame": -1, "poses": -1}
        self._screenshot = False
        self.screenshots: list[Path] = []
        self.recorder = None
        if record is not None:
            from perform.render.record import VideoRecorder

            self.recorder = VideoRecorder(record, config.width, config.height, config.fps)
        self.quit = False

    def tick(self) -> None:
        """Handle commands, cues and triggers, then draw one frame from the newest inputs."""
        now = time.monotonic()
        show_time = now - self.t0
        for command in self.output.poll():
            self.command(command, show_time)
        for cue in self.cues.drain():
            if cue.name == "scene" and cue.args:
                self.renderer.switch(cue.args[0], show_time)  # type: ignore[arg-type]
            elif cue.name == "screenshot":
                self._screenshot = True
        fired: set[str] = set()
        if self.events is not None:
            for event in self.events.drain():
                if event.active:
                    fired.update((event.name, event.address_suffix))
        for trigger in self.config.triggers:
            if trigger.event in fired:
                self.renderer.switch(trigger.scene, show_time)
        poses = self.poses.latest() if self.poses is not None else None
        frame = self.frames.latest()
        inputs = Inputs(
            now=now,
            show_time=show_time,
            frame=frame,
            poses=poses,
            styled=self.styled.latest() if self.styled is not None else None,
            audio=self.audio.latest() if self.audio is not None else None,
            features=poses.features if poses is not None else {},
            params=self.controls.snapshot(),
            fired=fired,
        )
        picture = self.renderer.draw(inputs)
        self.upload_ms.add(self.renderer.canvas.upload_ms / 1000.0)
        pixels = self.renderer.read(picture) if self.recorder is not None or self._screenshot else None
        self.output.present(picture)
        done = time.monotonic()
        self.draw_ms.add(done - now)
        self.stats.record(now, done)
        if frame is not None and frame.seq != self._seen["frame"]:
            self._seen["frame"] = frame.seq
            self.frame_to_render.add(done - frame.t_capture)
        if poses is not None and poses.seq != self._seen["poses"]:
            self._seen["poses"] = poses.seq
            self.pose_to_render.add(done - poses.t_capture)
        if pixels is not None:
            if self.recorder is not None:
                self.recorder.submit(pixels, now)
            if self._screenshot:
                self._screenshot = False
                self.take_screenshot(pixels)

    def command(self, command: str, show_time: float) -> None:
        if command == "quit":
            self.quit = True
        elif command == "next":
            self.renderer.step(1, show_time)
        elif command == "previous":
            self.renderer.step(-1, show_time)
        elif command == "screenshot":
            self._screenshot = True
        elif command.startswith("scene "):
            self.renderer.switch(int(command.split()[1]), show_time)

    def take_screenshot(self, pixels: object) -> None:
        from perform.render.record import save_screenshot

        try:
            path = save_screenshot(self.config.screenshots, pixels)  # type: ignore[arg-type]
        except PerformError as exc:
            log.warning("screenshot: %s", exc)
            return
        self.screenshots.append(path)
        log.info("screenshot: %s", path)

    def report(self) -> dict[str, object]:
        out: dict[str, object] = {
            "scene": self.renderer.current.name,
            "size": list(self.renderer.size),
            "draw_ms": self.draw_ms.summary_ms(),
            "upload_ms": self.upload_ms.summary_ms(),
            "pose_to_render_ms": self.pose_to_render.summary_ms(),
        }
        if self.recorder is not None:
            out["record"] = self.recorder.close()
        if self.screenshots:
            out["screenshots"] = [str(p) for p in self.screenshots]
        return out

    def close(self) -> dict[str, object]:
        """Stop recording, give back the window; the render report."""
        report = self.report()
        self.stats.state = "stopped"
        self.renderer.release()
        self.output.close()
        return report
