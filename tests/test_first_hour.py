"""A new user's first hour (issue 20): each mistake they made, with its message and exit code."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from perform.console import StatusDisplay, WarningLog
from perform.control import Controls
from perform.errors import PerformError
from perform.events.config import EventsConfig, Rule
from perform.events.rules import RuleEngine
from perform.osc.config import Osc
from perform.osc.server import ControlServer
from perform.osc.status import Health, StageHealth, encode_health
from perform.osc.wire import encode_message, parse_datagram
from perform.runtime import ShowMonitor, ShowPipeline, event_check, scene_check
from perform.show.models import Show
from tests.tools import RunningShow, needs, wait_for

ROOT = Path(__file__).resolve().parents[1]
SENDER = ("127.0.0.1", 50000)


def perform(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "400"}  # one log record, one line
    return subprocess.run(
        [sys.executable, "-m", "perform", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def one_line(text: str) -> str:
    return " ".join(text.split())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- 1. a missing input file is bad input -----------------------------------------------------


def test_missing_video_in_the_show_file_exits_2_naming_line_and_option(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text("name: first hour\nsource:\n  kind: video\n  path: videos/vtest.avi\n")
    for args in (("run", str(show), "--headless", "--seconds", "5"), ("check", str(show))):
        result = perform(*args)
        assert result.returncode == 2, result.stderr
        err = one_line(result.stderr)
        assert f"{show}:4: source.path: {tmp_path / 'videos' / 'vtest.avi'}: no such video file" in err
        assert "control:" not in err and "Traceback" not in err  # nothing started


def test_missing_video_on_the_command_line_exits_2(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text("source: {kind: pattern}\n")
    result = perform("run", str(show), "--source", "vtest.mp4", "--headless", "--seconds", "5", cwd=tmp_path)
    assert result.returncode == 2
    assert f"--source 'vtest.mp4': {tmp_path / 'vtest.mp4'}: no such video file" in one_line(result.stderr)


def test_missing_take_and_folder_are_bad_input_too(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text("source:\n  kind: take\n  path: rehearsal.take\n")
    result = perform("check", str(show))
    assert result.returncode == 2
    assert f"{show}:3: source.path: {tmp_path / 'rehearsal.take'}: no such take file" in one_line(
        result.stderr
    )
    result = perform("check", str(show), "--source", f"folder:{tmp_path / 'frames'}")
    assert result.returncode == 2
    assert "no such folder" in result.stderr


def test_an_absent_camera_stays_a_note(tmp_path):
    result = perform("check", "config/show.yaml", "--source", "camera:63")
    assert result.returncode == 0 and "not connected" in result.stderr


# -- 6. YAML braces -------------------------------------------------------------------------------


def test_an_unquoted_brace_in_a_flow_mapping_gets_a_hint_to_quote_it(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text(
        "source: {kind: virtual}\n"
        "osc:\n"
        "  targets:\n"
        "    - {host: 127.0.0.1, port: 7000, mapping: {events: {address: /td/cue/{event}}}}\n"
    )
    result = perform("check", str(show))
    assert result.returncode == 2
    err = one_line(result.stderr)
    assert f"{show}:4: YAML syntax: expected ',' or '}}', but got '{{'" in err
    assert "must be in quotes, e.g. address: '/td/cue/{event}'" in err


def test_an_unquoted_colon_in_a_value_gets_the_hint(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text("name: Act 1: the storm\nsource: {kind: virtual}\n")
    result = perform("check", str(show))
    assert result.returncode == 2
    assert f"{show}:1: YAML syntax:" in result.stderr and "must be in quotes" in result.stderr


# -- 4. one unit story: raw values and .ctl control values --------------------------------------


def test_a_rule_reads_the_control_value_under_ctl_and_the_raw_value_bare():
    raw = Rule(name="raw", feature="hands_up", above=1.1)
    ctl = Rule(name="ctl", feature="hands_up.ctl", above=0.8)  # (1.1 + 0.5) / 2 = 0.8: the same line
    engine = RuleEngine([raw, ctl])
    assert engine.step(0.0, {"p1.hands_up": 1.0}, [1]) == []
    fired = engine.step(0.1, {"p1.hands_up": 1.28}, [1])  # what OSC sends as 0.89
    assert sorted(e.name for e in fired) == ["ctl", "raw"]


def test_a_control_threshold_outside_0_1_is_refused_at_the_boundary(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text(
        "source: {kind: virtual}\nevents:\n  rules:\n    - {name: up, feature: hands_up.ctl, above: 1.28}\n"
    )
    result = perform("check", str(show))
    assert result.returncode == 2
    assert (
        "hands_up.ctl is a control value, 0..1: above 1.28 is outside it "
        "(for the raw value, in the feature's unit, write hands_up)"
    ) in one_line(result.stderr)
    assert f"{show}:4:" in result.stderr


def test_docs_features_lists_raw_and_control_side_by_side():
    text = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert "| raw range | control value, 0..1 (rules: `<name>.ctl`) |" in text
    assert (
        "| `p<slot>.hands_up` | person | hip to head top | -0.5 .. 1.5 | `hands_up.ctl` = (v + 0.5) / 2 |"
        in text
    )


# -- 2. cues that do nothing say so ---------------------------------------------------------------


class FakeRenderer:
    order = ("dawn", "storm")

    def scene_name(self, key: str | int) -> str:
        if isinstance(key, int):
            if not 0 <= key < len(self.order):
                raise PerformError(f"no scene number {key}: the show has 2 (0..1)")
            return self.order[key]
        if key not in self.order:
            raise PerformError(f"no scene {key!r}; scenes: dawn, storm")
        return key


@pytest.fixture
def server():
    controls = Controls()
    controls.listen("scene")
    controls.listen("events.arm", "events.disarm")
    controls.check("scene", scene_check(FakeRenderer()))  # type: ignore[arg-type]
    check = event_check(EventsConfig())
    controls.check("events.arm", check)
    controls.check("events.disarm", check)
    srv = ControlServer(controls, 0, "127.0.0.1", log_every_s=60.0)
    yield srv
    srv.stop()


def test_an_unknown_event_cue_is_refused_with_a_suggestion(server, caplog):
    server.receive(encode_message("/perform/events/disarm", "hand"), SENDER)
    assert server.counts["cue_refused"] == 1 and server.counts["handled"] == 0
    outcome = server.controls.recent[-1]
    assert not outcome and outcome.kind == "unknown_event"
    assert (
        "events.disarm hand: refused: no event 'hand' in this show; did you mean 'hands_up'?"
        in outcome.line()
    )
    assert "did you mean 'hands_up'?" in caplog.text


def test_an_unknown_scene_and_an_index_out_of_range_are_refused(server):
    server.receive(encode_message("/perform/scene", "intro"), SENDER)
    server.receive(encode_message("/perform/scene", 5), SENDER)
    server.receive(encode_message("/perform/scene", "storm"), SENDER)
    kinds = [o.kind for o in server.controls.recent]
    assert kinds == ["unknown_scene", "out_of_range", "applied"]
    assert (
        server.controls.recent[0]
        .line()
        .endswith("scene intro: refused: no scene 'intro'; scenes: dawn, storm")
    )
    assert server.controls.recent[2].line().endswith("scene storm: scene storm")
    assert server.counts["cue_refused"] == 2 and server.counts["handled"] == 1


def test_a_refusal_is_logged_once_per_kind_however_many_come(server, caplog):
    caplog.set_level(logging.WARNING, logger="perform")
    for _ in range(50):
        server.receive(encode_message("/perform/events/arm", "hand"), SENDER)
        server.receive(encode_message("/perform/scene", "intro"), SENDER)
    assert server.counts["cue_refused"] == 100
    assert caplog.text.count("no event 'hand'") == 1
    assert caplog.text.count("no scene 'intro'") == 1
    assert dict(server.controls.outcomes) == {"unknown_event": 50, "unknown_scene": 50}


def test_a_cue_nothing_acts_on_is_refused():
    controls = Controls()
    outcome = controls.cue("scene", "intro")
    assert not outcome and outcome.kind == "unheard"
    assert "nothing in this show acts on scene cues" in outcome.line()


def test_the_live_status_lists_cues_and_shows_warnings_whole():
    show = Show.model_validate({"source": {"kind": "virtual"}, "control": {"port": 0}})
    pipeline = ShowPipeline(show)  # built, not started
    monitor = ShowMonitor(pipeline)
    pipeline.controls.cue("events.disarm", "hand")
    pipeline.controls.cue("events.arm", "hands_up")
    warnings = WarningLog()
    record = logging.LogRecord("perform", logging.WARNING, "", 0, "osc in: " + "x " * 60 + "END", None, None)
    warnings.emit(record)
    out = io.StringIO()
    console = Console(file=out, width=60, force_terminal=True, color_system=None, soft_wrap=True)
    display = StatusDisplay(console, pipeline, "first hour", warnings, detail=monitor.lines)
    console.print(display._render())
    text = out.getvalue()
    assert "events.disarm hand: refused: no event 'hand'" in one_line(text)
    assert "events.arm hands_up: armed hands_up" in one_line(text)
    assert "END" in text  # wrapped, not cut at the terminal's edge
    assert "percentiles over the whole run so far" in one_line(text)


# -- 5. the TouchDesigner preset sends numbers only ----------------------------------------------


def test_numbers_only_status_has_one_number_per_message():
    h = Health((StageHealth("pose", "running", 29.5, 1, 0, 3, 12.5, False),), True, 4.0)
    messages = [m for e in encode_health(h, numbers_only=True) for _, m in parse_datagram(e[4:])]
    got = {m.address: m.params for m in messages}
    assert got["/perform/status/pose/state"] == [1]
    assert got["/perform/status/pose/dropped"] == [3]
    assert got["/perform/status/pose/age_ms"] == [12.5]
    assert got["/perform/status/ok"] == [1]
    assert all(isinstance(v, int | float) for params in got.values() for v in params)


# -- 3. the docs' examples never send to perform's own cue port ---------------------------------


def test_no_example_sends_to_performs_own_cue_port():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"--osc\s+\S+:9000\b|\S:9000/\w", text), path
        for block in text.split("```yaml\n")[1:]:
            data = yaml.safe_load(block.split("```", 1)[0])
            targets = ((data or {}).get("osc") or {}).get("targets") or [] if isinstance(data, dict) else []
            assert all(t.get("port") != 9000 for t in targets), path


def test_the_readme_recipe_for_touchdesigner_is_a_valid_osc_section():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(b for b in text.split("```yaml\n")[1:] if "numbers_only" in b)
    osc = Osc.model_validate(yaml.safe_load(block.split("```", 1)[0])["osc"])
    mapping = osc.targets[0].effective_mapping
    assert mapping.numbers_only and mapping.pose is not None and len(mapping.pose.names) == 5


# -- a running show: cues, its own port, the TouchDesigner preset read by oscdump -----------------


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    pytest.importorskip("mediapipe")
    folder = tmp_path_factory.mktemp("first_run")
    control, dump_port = free_port(), free_port()
    dump = subprocess.Popen(
        ["oscdump", "-L", str(dump_port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    dumped: list[str] = []
    threading.Thread(target=lambda: dumped.extend(dump.stdout), daemon=True).start()  # type: ignore[arg-type]
    show = folder / "show.yaml"
    show.write_text(
        "name: first hour\n"
        "source: {kind: virtual, people: 2}\n"
        f"control: {{port: {control}, host: 127.0.0.1}}\n"
        f"outputs: {{preview: false, stats: {folder / 'stats.json'}}}\n"
        "osc:\n"
        "  targets:\n"
        f"    - {{host: 127.0.0.1, port: {dump_port}, preset: touchdesigner}}\n"
        f"    - {{host: 127.0.0.1, port: {control}, preset: ableton}}   # perform's own cue port\n"
    )
    run = RunningShow(show, seconds=5, cwd=ROOT)
    try:
        assert wait_for(lambda: "control: OSC cues on UDP" in run.text, timeout=30), run.text
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for datagram in (
                encode_message("/perform/events/disarm", "hand"),
                encode_message("/perform/scene", "intro"),
                encode_message("/perform/events/arm", "hands_up"),
            ):
                s.sendto(datagram, ("127.0.0.1", control))
        code = run.wait(timeout=60)
    finally:
        if run.proc.poll() is None:
            run.proc.kill()
        time.sleep(0.2)
        dump.terminate()
        dump.wait(timeout=5)
    stats = json.loads((folder / "stats.json").read_text())
    return code, one_line(run.text), stats, dumped


@needs("oscdump")
def test_cues_that_do_nothing_are_refused_and_counted(first_run):
    code, err, stats, _ = first_run
    assert code == 0, err
    assert stats["cues"] == {"applied": 1, "unheard": 1, "unknown_event": 1}
    assert stats["control"]["cue_refused"] == 2 and stats["control"]["handled"] == 1
    assert "/perform/events/disarm from osc 127.0.0.1" in err
    assert "no event 'hand' in this show; did you mean 'hands_up'?" in err
    assert "cue scene intro: refused: nothing in this show acts on scene cues" in err


@needs("oscdump")
def test_a_target_on_the_own_cue_port_warns_once_and_does_not_flood(first_run):
    code, err, stats, _ = first_run
    assert code == 0, err
    assert err.count("is perform's own cue port") == 1
    assert stats["control"]["unknown_address"] == 0
    assert stats["control"]["datagrams"] == 3  # the three cues, nothing of its own


@needs("oscdump")
def test_the_touchdesigner_preset_sends_only_ints_and_floats(first_run):
    code, err, _, dumped = first_run
    assert code == 0, err
    messages = [line.split() for line in dumped if line.startswith(tuple("0123456789abcdef"))]
    assert len(messages) > 100
    assert {m[2] for m in messages} <= {"i", "f"}, {m[2] for m in messages}
    addresses = {m[1] for m in messages}
    assert any(re.fullmatch(r"/perform/status/\w+/state", a) for a in addresses), sorted(addresses)[:20]


@needs("oscdump")
def test_no_take_row_when_no_take_was_asked_for(first_run):
    code, err, stats, _ = first_run
    assert code == 0, err
    assert "take" not in stats["latency_ms"] and "take" not in stats["dropped"]


def test_check_notes_a_target_on_the_own_cue_port(tmp_path):
    show = tmp_path / "show.yaml"
    target = "{host: 127.0.0.1, port: 9000, preset: ableton}"
    show.write_text(f"source: {{kind: virtual}}\nosc:\n  targets:\n    - {target}\n")
    result = perform("check", str(show))
    assert result.returncode == 0
    assert "osc target 127.0.0.1:9000 is perform's own cue port (control.port)" in one_line(result.stderr)
