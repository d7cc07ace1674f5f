"""The show's pipeline as wired from a show file, and the show loop that drives it, with no thread."""

import threading
import time

import pytest

from perform.runtime import ShowLoop, ShowPipeline
from perform.show.models import Show


def show(**fields: object) -> Show:
    return Show.model_validate({"name": "t", "control": {"enabled": False}, **fields})


def test_stages_declare_their_share_of_the_stall_budget():
    pipeline = ShowPipeline(show(source={"kind": "pattern"}, stages={"stall_budget_s": 0.5}))
    budgets = {s.name: s.stall_budget_s for s in pipeline.stages}
    assert budgets == {"capture": None, "pose": 0.5, "events": 0.5, "take": None}
    from perform.style.stage import StyleStage  # torch

    assert StyleStage.stall_budget_scale == 5.0  # a style step may take five budgets


class Projector:
    """Counts its frames; each takes ``draw_s``; asks to quit after ``quit_after`` of them."""

    def __init__(self, draw_s: float = 0.0, quit_after: int | None = None) -> None:
        self.draw_s, self.quit_after = draw_s, quit_after
        self.frames, self.quit = 0, False

    def tick(self) -> None:
        time.sleep(self.draw_s)
        self.frames += 1
        self.quit = self.quit_after is not None and self.frames >= self.quit_after


def loop(seconds: float | None, projector: Projector, fps: float = 50.0, **kwargs: object) -> ShowLoop:
    pipeline = ShowPipeline(show(source={"kind": "virtual"}, render={"fps": fps}))
    pipeline.stats.t_start = time.monotonic()  # as start() sets it
    return ShowLoop(pipeline, threading.Event(), seconds, projector=projector, **kwargs)  # type: ignore[arg-type]


def test_the_loop_draws_at_the_render_rate_until_its_time_is_up():
    projector, drawn = Projector(), []
    reason = loop(1.0, projector, on_frame=lambda: drawn.append(projector.frames)).run()
    assert reason == "1 s elapsed"
    # 50 fps: 50 frames, one more at most; far fewer when another job on the machine costs frames
    assert 15 <= projector.frames <= 51 and drawn == list(range(1, projector.frames + 1))


def test_a_slow_frame_is_not_made_up_for():
    projector = Projector(draw_s=0.05)  # 50 ms frames at 50 fps: every frame is late
    loop(0.4, projector).run()
    assert projector.frames <= 9


def test_the_loop_ends_on_a_closed_window_and_on_a_stop_signal():
    assert loop(None, Projector(quit_after=3)).run() == "window closed"
    stopping = loop(None, Projector())
    assert stopping.tick(time.monotonic()) is None
    stopping.stop.set()
    assert stopping.tick(time.monotonic()) == "stop signal"


def test_the_next_pass_is_due_with_the_next_frame():
    running = loop(None, Projector(), fps=40.0)
    now = time.monotonic()
    running.tick(now)
    assert running.due() == pytest.approx(now + 1 / 40, abs=0.01)


STOP_WHILE_HOLDING = """
import os, signal, threading
from perform.runtime import StopSignals
before = signal.getsignal(signal.SIGTERM)
with StopSignals() as stop:
    with stop.event._cond:  # what the main thread holds inside stop.event.wait()
        os.kill(os.getpid(), signal.SIGTERM)
        for _ in range(10000):  # the Python handler runs here, between bytecodes, lock held
            pass
    print("stopped" if stop.event.wait(10) else "not set")
watchers = [t for t in threading.enumerate() if t.name == "perform-signals"]
print("restored" if signal.getsignal(signal.SIGTERM) is before and not watchers else "left behind")
"""


def test_a_stop_signal_while_the_main_thread_holds_the_stop_events_lock_still_stops() -> None:
    """SIGTERM arriving inside ``event.wait()`` once hung a show at its stop (the handler set the event)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", STOP_WHILE_HOLDING], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["stopped", "restored"], result.stdout + result.stderr
