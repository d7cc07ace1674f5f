"""The stage picture in a running show: the newest inputs drawn at the render rate, shown, recorded."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import moderngl

from perform.audio.analysis import AudioFeatures
from perform.control import Controls
from perform.errors import PerformError
from perform.events.types import Event
from perform.pipeline import EventLog, Frame, Slot, Stats
from perform.pipeline.ratelog import RateLimitedLog
from perform.pipeline.stats import LatencyHistogram
from perform.render.bindings import Inputs
from perform.render.config import Render
from perform.render.output import Headless, Output, ProjectorWindow
from perform.render.renderer import Renderer
from perform.render.thumbnail import Thumbnail
from perform.schema import InputLoss
from perform.share import VideoOut
from perform.style.types import Styled
from perform.vision.types import Poses

log = logging.getLogger(__name__)

#: Cues acted on per frame at most; the rest wait in their queue for the next frame.
MAX_CUES_PER_TICK = 8
#: Least time between two screenshots (a flood of cues must not fill a disk with pictures).
SCREENSHOT_INTERVAL_S = 1.0


#: Cues that step through the show's scenes, with their direction.
SCENE_STEPS = {"scene.next": 1, "scene.previous": -1}


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
        input_loss: InputLoss | None = None,
        video_outs: Sequence[VideoOut] = (),
        thumbnail: Thumbnail | None = None,
    ) -> None:
        self.config = config
        self.video_outs = list(video_outs)  # NDI, Syphon, Spout, a virtual camera: each on its thread
        self.thumbnail = thumbnail  # the operator panel's preview: read back only while watched
        self.input_loss = input_loss if input_loss is not None else InputLoss()
        self.output = self._open_output(window, title)
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
        # a queue each: a flood of screenshot cues never keeps a scene cue out
        self.scene_cues = controls.listen("scene", *SCENE_STEPS)
        self.shot_cues = controls.listen("screenshot", capacity=4)
        self.cue_errors = 0  # cues that failed (a scene that does not load, a screenshot refused)
        self._warn = RateLimitedLog(log, "", 5.0)
        # read with latest(), never waited on; the reader only says "an image is wanted", so
        # sources without a camera (virtual performers, takes) draw one for camera layers
        self._wants_frames = frames.reader("render")
        self.events = events.cursor() if events is not None else None
        self.frame_to_render = LatencyHistogram()
        self.pose_to_render = LatencyHistogram()
        self.draw_ms = LatencyHistogram()
        self.upload_ms = LatencyHistogram()
        self._seen = {"frame": -1, "poses": -1}
        self._screenshot = False
        self.screenshots: list[Path] = []
        self._shot: threading.Thread | None = None  # the screenshot being written: one at a time
        self._last_shot = -SCREENSHOT_INTERVAL_S
        self.recorder = None
        if record is not None:
            from perform.render.record import VideoRecorder

            self.recorder = VideoRecorder(record, config.width, config.height, config.fps)
        self.quit = False
        self.pose_stale = False
        self.picture: moderngl.Texture | None = None  # what was shown last
        self.camera_lost = False
        self._resume: str | None = None

    def _open_output(self, window: bool, title: str) -> Output:
        """The window when asked for and one opens, else headless: one GL context per show."""
        if window:
            try:
                return ProjectorWindow(self.config.window, (self.config.width, self.config.height), title)
            except PerformError as exc:
                log.warning("render: %s; drawing headless", exc)
        return Headless()

    @property
    def drawn(self) -> dict[str, int]:
        """The frame numbers (``seq``) of the newest ``frame`` and ``poses`` drawn (-1: none yet)."""
        return dict(self._seen)

    def tick(self) -> None:
        """Handle commands, cues and triggers, then draw one frame from the newest inputs."""
        now = time.monotonic()
        show_time = now - self.t0
        for command in self.output.poll():
            self.command(command, show_time)
        for cue in [*self.scene_cues.drain(MAX_CUES_PER_TICK), *self.shot_cues.drain(1)]:
            self.cue(cue.name, cue.args, show_time)
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
        poses, features = self.fade_stale(poses, now)
        inputs = Inputs(
            now=now,
            show_time=show_time,
            frame=frame,
            poses=poses,
            styled=self.styled.latest() if self.styled is not None else None,
            audio=self.audio.latest() if self.audio is not None else None,
            features=features,
            params=self.controls.snapshot(),
            fired=fired,
        )
        picture = self.renderer.draw(inputs)
        picture = self.camera_loss(picture, frame, poses, now, show_time)
        self.picture = picture
        self.upload_ms.add(self.renderer.canvas.upload_ms / 1000.0)
        pixels = None
        thumbnail = self.thumbnail if self.thumbnail is not None and self.thumbnail.wanted(now) else None
        if self.recorder is not None or self._screenshot or self.video_outs:
            self.output.finish()  # wait with the GIL let go; the read then only copies
            pixels = self.renderer.read(picture)
        if thumbnail is not None:  # a few times a second, shrunk on the GPU first: a small read
            if pixels is None:
                self.output.finish()
            small = pixels if pixels is not None else self.renderer.read_small(picture, thumbnail.width)
            thumbnail.submit(small, bottom_up=True, now=now)
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
            for out in self.video_outs:
                out.submit(pixels, frame.t_capture if frame is not None else now)
            if self._screenshot:
                self._screenshot = False
                self.take_screenshot(pixels)

    def cue(self, name: str, args: tuple[object, ...], show_time: float) -> None:
        """Act on one cue from outside; a failure is counted and logged (once per kind a while)."""
        try:
            fade_s = next((a for a in args if isinstance(a, float)), None)  # a crossfade's length
            ok = True
            if name == "scene" and args and isinstance(args[0], str | int):
                ok = self.renderer.switch(args[0], show_time, fade_s, warn=self._warn_scene)
            elif name in SCENE_STEPS:
                ok = self.renderer.step(SCENE_STEPS[name], show_time, fade_s)
            elif name == "screenshot":
                self._screenshot = True
            self.cue_errors += not ok
        except Exception as exc:  # nothing a cue does ends the show
            self.cue_errors += 1
            self._warn.warn(f"cue.{name}", f"render: cue {name}: {type(exc).__name__}: {exc}")

    def _warn_scene(self, message: str) -> None:
        self._warn.warn("scene", message)

    def fade_stale(self, poses: Poses | None, now: float) -> tuple[Poses | None, dict[str, float]]:
        """Stale poses fade out, their features fade to 0, rather than freezing on stage."""
        if poses is None:
            return None, {}
        keep = self.input_loss.keep(now - poses.t_capture)
        self.pose_stale = keep is not None
        if keep is None:
            return poses, poses.features
        faded = poses.faded(keep)
        return faded, faded.features

    def camera_loss(
        self,
        picture: moderngl.Texture,
        frame: Frame | None,
        poses: Poses | None,
        now: float,
        show_time: float,
    ) -> moderngl.Texture:
        """Hold the last image for ``hold_s``, then fade to black or switch to the fallback scene.

        The input is what comes first: camera images, or poses from a source that has no camera
        (virtual performers, a take, remote machines).
        """
        loss = self.input_loss
        newest = max((x.t_capture for x in (frame, poses) if x is not None), default=self.t0)
        age = now - newest
        lost = age > loss.hold_s
        if lost != self.camera_lost:
            self.camera_lost = lost
            if lost:
                log.warning("render: no camera image for %.1f s; fading to %s", age, loss.fallback)
            else:
                log.info("render: camera image back")
            if loss.fallback != "black":
                if lost:
                    self._resume = self.renderer.current.name
                    self.renderer.switch(loss.fallback, show_time, loss.fade_s)
                elif self._resume is not None:
                    self.renderer.switch(self._resume, show_time, min(loss.fade_s, 0.5))
        if not lost or loss.fallback != "black":
            return picture
        amount = 1.0 if loss.fade_s == 0 else (age - loss.hold_s) / loss.fade_s
        return self.renderer.fade_to_black(picture, amount)

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
        """Write ``pixels`` as a PNG on a thread of its own; refused while the last is still written
        or was taken less than :data:`SCREENSHOT_INTERVAL_S` ago."""
        now = time.monotonic()
        busy = self._shot is not None and self._shot.is_alive()
        if busy or now - self._last_shot < SCREENSHOT_INTERVAL_S:
            self.cue_errors += 1
            message = f"screenshot: at most one every {SCREENSHOT_INTERVAL_S:g} s; this one dropped"
            self._warn.warn("screenshot", message)
            return
        self._last_shot = now
        try:
            self._shot = threading.Thread(
                target=self._write_screenshot, args=(pixels,), name="perform-screenshot", daemon=True
            )
            self._shot.start()
        except Exception as exc:  # no thread to be had (out of resources): no screenshot, the show goes on
            self.cue_errors += 1
            self._warn.warn("screenshot", f"screenshot: {type(exc).__name__}: {exc}")

    def _write_screenshot(self, pixels: object) -> None:
        try:
            from perform.render.record import save_screenshot

            path = save_screenshot(self.config.screenshots, pixels)  # type: ignore[arg-type]
        except Exception as exc:
            self.cue_errors += 1
            self._warn.warn("screenshot", f"screenshot: {exc}")
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
            "output": self.output.report(),
            "cue_errors": self.cue_errors,
        }
        if self.recorder is not None:
            out["record"] = self.recorder.close()
        if self.video_outs:
            out["video_outs"] = [video_out.close() for video_out in self.video_outs]
        if self.screenshots:
            out["screenshots"] = [str(p) for p in self.screenshots]
        return out

    def close(self) -> dict[str, object]:
        """Stop recording and the video outputs, give back the window; the render report."""
        if self._shot is not None:
            self._shot.join(5.0)
        report = self.report()
        self.stats.state = "stopped"
        self.renderer.release()
        self.output.close()
        return report
