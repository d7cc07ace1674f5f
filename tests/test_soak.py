"""Soak: the verdict's arithmetic on made-up runs, then the real show headless for SOAK_MINUTES (2)."""

import json
import math
import os
import subprocess
import sys

import pytest

from perform.errors import PerformError
from perform.osc.config import Target
from perform.pipeline import LatencyHistogram
from perform.show.loader import load_show
from perform.show.models import Show
from perform.soak import (
    DEFAULT_CONFIG,
    Counts,
    Limits,
    RenderTap,
    SoakResult,
    Window,
    judge,
    plan,
    redirect_osc,
    report,
)

MINUTES = float(os.environ.get("SOAK_MINUTES", "2"))


def counts(t: float, rss: float = 300.0, restarts: int = 0) -> Counts:
    return Counts(
        t=t,
        rss_mb=rss,
        seq=0,
        t_seq=t,
        missed={},
        renders=0,
        restarts=restarts,
        errors=0,
        osc_datagrams=0,
        cpu_own_s=0.0,
        cpu_busy_s=0.0,
    )


def window(index: int, draw: float = 10.0, latency: float = 30.0, **changes: object) -> Window:
    values: dict = dict(
        index=index,
        start_s=40.0 * index,
        end_s=40.0 * (index + 1),
        warmup=index == 0,
        full=True,
        rss_mb=300.0,
        draw_p99_ms=draw,
        draw_max_ms=2 * draw,
        latency_p99_ms=latency,
        expected=1200.0,
        made=1200,
        slots=1200.0,
        missed={"events": 0, "render": 0},
        renders=2400,
        renders_due=2400.0,
        restarts=0,
        errors=0,
        cpu_own=1.0,
        cpu_others=0.0,
    )
    values.update(changes)
    return Window(**values)


def result(windows: list[Window], samples: list[Counts] | None = None) -> SoakResult:
    end = windows[-1].end_s
    samples = samples or [counts(0.0), counts(40.0), counts(end)]
    r = SoakResult("t", end, 40.0, 40.0, 30.0, 60.0, f"{end:g} s elapsed", windows, samples)
    judge(r, Limits())
    return r


def verdict(r: SoakResult) -> dict[str, bool | None]:
    return {c.name: c.passed for c in r.checks}


def test_a_steady_run_passes():
    r = result([window(0, draw=50.0), window(1), window(2), window(3, draw=10.5, latency=31.0)])
    assert r.passed, r.checks
    assert (r.draw_p99_first_ms, r.draw_p99_last_ms) == (10.0, 10.5)  # the warm-up window is not judged
    assert (r.latency_p99_first_ms, r.latency_p99_last_ms) == (30.0, 31.0)
    assert r.dropped_share == 0.0 and r.rss_growth == 0.0


def test_memory_growth_fails():
    r = result(
        [window(0), window(1), window(2)], [counts(0.0, 250.0), counts(40.0, 300.0), counts(120.0, 316.0)]
    )
    assert not verdict(r)["memory (RSS)"]
    assert r.rss_start_mb == 300.0 and r.rss_growth == pytest.approx(16 / 300)  # warm-up growth not counted


def test_drift_is_judged_on_medians_of_windows_at_each_end():
    slow_one = [window(0)] + [window(i, draw=30.0 if i == 2 else 10.0) for i in range(1, 8)]
    assert verdict(result(slow_one))["draw p99 drift"]  # one disturbed window does not decide
    creeping = [window(0)] + [window(i, latency=30.0 + 2.0 * i) for i in range(1, 8)]
    r = result(creeping)
    assert not verdict(r)["capture to render p99 drift"]
    assert (r.latency_p99_first_ms, r.latency_p99_last_ms) == (34.0, 42.0)


def test_dropped_frames_count_late_source_frames_and_every_consumer():
    r = result([window(0), window(1, made=1199, missed={"events": 1, "render": 1}), window(2)])
    assert r.dropped == {"source late": 1, "events": 1, "render": 1}
    assert r.dropped_share == pytest.approx(3 / 2400)
    assert not verdict(r)["dropped frames"]
    # a frame made late is not lost: it is counted in the next window
    assert verdict(result([window(0), window(1, made=1199), window(2, made=1201)]))["dropped frames"]


def test_restarts_and_stopped_stages_fail():
    assert not verdict(result([window(0), window(1, restarts=1), window(2)]))["restarts"]
    r = result([window(0), window(1), window(2)])
    r.stopped_stages, r.reason = ["events"], "120 s elapsed"
    judge(r, Limits())
    assert not verdict(r)["ran to the end"]


def test_a_run_that_ends_in_its_warm_up_fails():
    r = result([window(0, full=False, end_s=12.0)], [counts(0.0), counts(12.0)])
    assert not r.passed and r.checks[0].name == "run"


class FakeProjector:
    """What the tap reads of a projector: cumulative histograms and the frame numbers drawn."""

    def __init__(self) -> None:
        self.draw_ms, self.pose_to_render = LatencyHistogram(), LatencyHistogram()
        self.frame_to_render = LatencyHistogram()
        self.drawn = {"frame": -1, "poses": -1}

    def tick(self, seq: int, draw: float, latency: float) -> None:
        self.draw_ms.add(draw)
        if seq != self.drawn["poses"]:
            self.pose_to_render.add(latency)
        self.drawn["poses"] = seq


def test_the_render_tap_counts_frame_numbers_it_never_drew_and_times_each_frame():
    projector = FakeProjector()
    tap = RenderTap(projector, poses=True)  # type: ignore[arg-type]
    for seq in (0, 1, 1, 4, 5, 9):  # drawn twice, then frames 2, 3 and 6, 7, 8 never drawn
        projector.tick(seq, draw=0.010 + seq / 1000, latency=0.030)
        tap.frame_drawn()
    assert tap.missed == 5 and tap.renders == 6
    draw, latency = tap.swap()
    assert draw.count == 6 and draw.max == pytest.approx(0.019)
    assert latency.count == 5 and latency.max == pytest.approx(0.030)  # frame 1 once
    projector.tick(10, draw=0.012, latency=0.040)
    tap.frame_drawn()
    draw, latency = tap.swap()  # the next part holds the next frame only
    assert draw.count == 1 and draw.max == pytest.approx(0.012) and latency.max == pytest.approx(0.040)


def test_plan_rounds_the_warm_up_to_whole_windows_and_wants_two_windows_after_it():
    assert plan(120.0, 40.0) == 40.0
    assert plan(3600.0, 40.0) == 720.0
    assert plan(3600.0, 30.0) == 720.0
    with pytest.raises(PerformError, match="at least 120 s"):
        plan(100.0, 40.0)


def test_loopback_osc_targets_go_to_the_soak_receiver():
    show = load_show(DEFAULT_CONFIG)
    targets = [Target(host="127.0.0.1", port=9999), Target(host="10.0.0.2", port=9999)]
    show = show.model_copy(update={"osc": show.osc.model_copy(update={"targets": targets})})
    assert [t.port for t in redirect_osc(show, 4242).osc.targets] == [4242, 9999]


def test_the_soak_show_is_what_the_soak_expects():
    show: Show = load_show(DEFAULT_CONFIG)
    assert show.source.kind == "virtual" and show.render.enabled
    assert show.osc.targets and len(show.render.scenes) > 1
    assert show.render.fps >= 2 * show.source.fps  # every pose is drawn at least once
    assert show.render.fps % show.source.fps != 0  # and the clocks' phase sweeps


@pytest.mark.timeout(int(MINUTES * 60) + 120)
def test_soak(tmp_path):
    """The CI soak: SOAK_MINUTES (default 2; 0 skips it) of the soak show, each criterion with its measure.

    It judges what another job on the machine cannot change: memory, restarts, running to the
    end, and dropped frames within a sanity bound (2 %; `make soak` judges 0.1 %). Frame time
    drift is reported, not asserted: between two 40 s windows it moves with whatever else the
    machine runs (10 % idle, 88 % seen beside a CPU-bound job), and `make soak` (an hour, medians
    of three windows at each end) is where it is judged.
    """
    if MINUTES <= 0:
        pytest.skip("SOAK_MINUTES=0")
    # its own process, as `make soak` runs it: the RSS is the show's alone, not the test session's
    out = tmp_path / "soak.json"
    proc = subprocess.run(
        [sys.executable, "-m", "perform.soak", "--minutes", str(MINUTES), "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=MINUTES * 60 + 100,
    )
    assert out.exists(), proc.stdout + proc.stderr
    r = json.loads(out.read_text())
    checks = {c["name"]: c for c in r["checks"]}
    summary = "; ".join(f"{c['name']}: {c['measured']}" for c in r["checks"]) + (
        f"; other processes used {r['cpu_others_first']:.2f} then {r['cpu_others_last']:.2f} CPU cores"
    )
    print(proc.stdout[-3000:])  # the verdict table, drift included (pytest -s or -rA shows it)
    c = checks["memory (RSS)"]
    assert c["passed"], f"memory (RSS): {c['measured']}, limit {c['limit']} ({summary})"
    # `make soak` holds drops to 0.1 %; beside another CPU-bound job a latest-wins stage skips
    # more, so here the bound is a sanity one: the show kept up with 98 % of its frames
    assert r["dropped_share"] < 0.02, f"dropped frames: {checks['dropped frames']['measured']} ({summary})"
    assert r["restarts"] == 0, f"restarts: {checks['restarts']['measured']} ({summary})"
    assert checks["ran to the end"]["passed"], f"{checks['ran to the end']['measured']} ({summary})"
    assert r["osc_datagrams"] > 0, "no OSC datagram reached the loopback receiver"
    for name in ("draw p99 drift", "capture to render p99 drift"):
        assert math.isfinite(checks[name]["value"]), f"{name}: {checks[name]['measured']}"  # measured


def test_drift_pairs_like_parts_of_the_script():
    # a script whose first quarter is busy: like quarters compared, the run is steady
    steady = [window(i, draw_parts_ms=[20.0, 10.0, 10.0, 10.0]) for i in range(4)]
    r = result(steady)
    assert verdict(r)["draw p99 drift"] and (r.draw_p99_first_ms, r.draw_p99_last_ms) == (10.0, 10.0)
    # every quarter 20 % slower at the end: drift
    slower = steady[:2] + [window(i, draw_parts_ms=[24.0, 12.0, 12.0, 12.0]) for i in (2, 3)]
    r = result(slower)
    assert not verdict(r)["draw p99 drift"] and r.draw_p99_last_ms == pytest.approx(12.0)
    # one disturbed quarter at the end does not decide
    one = steady[:3] + [window(3, draw_parts_ms=[20.0, 10.0, 40.0, 10.0])]
    assert verdict(result(one))["draw p99 drift"]


def test_capture_to_render_drift_is_judged_only_from_three_windows_at_each_end():
    short = [window(0), window(1, latency=30.0), window(2, latency=36.0)]
    r = result(short)
    check = next(c for c in r.checks if c.name == "capture to render p99 drift")
    assert check.passed is None and check.value == pytest.approx(0.2)  # reported, not judged
    assert r.passed  # and it counts neither way
    assert "not judged" in report(r)
    assert not verdict(result(short[:1] + [window(i, latency=30.0 + 2 * i) for i in range(1, 8)]))[
        "capture to render p99 drift"
    ]
