"""MIDI out: the mapping through a fake port (with a fault knob), and the real backend's failure report."""

from __future__ import annotations

import time

import mido
import pytest

from perform.events.types import Event
from perform.mapping import ValueMap
from perform.midi import MidiOut, MidiOutStage, open_port
from perform.midi.config import Midi, MidiCC, MidiNote
from perform.pipeline import EventLog, Slot, StageState, Stats
from perform.pipeline.features import normalise
from perform.vision.types import Poses
from tests.tools import wait_for


class FakePort:
    """Records what is sent; ``fail_sends`` makes the next N sends raise, as an unplugged device does."""

    def __init__(self, fail_sends: int = 0) -> None:
        self.sent: list[mido.Message] = []
        self.fail_sends = fail_sends
        self.closed = False

    def send(self, msg: mido.Message) -> None:
        if self.fail_sends > 0:
            self.fail_sends -= 1
            raise OSError("device unplugged")
        self.sent.append(msg)

    def close(self) -> None:
        self.closed = True


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def _config(**kw) -> Midi:
    return Midi(
        cc=[
            MidiCC(feature="stage.energy", channel=1, cc=20),
            MidiCC(
                feature="p1.hands_up", channel=2, cc=21, map=ValueMap(in_lo=0, in_hi=1, curve="smoothstep")
            ),
        ],
        notes=[
            MidiNote(event="hands_up", channel=1, note=60),
            MidiNote(event="p2/jump", channel=10, note=36, velocity=100, hold=False),
        ],
        **kw,
    )


def test_features_become_control_changes_only_when_they_change():
    port, clock = FakePort(), Clock()
    out = MidiOut(_config(rate_hz=10), port, clock=clock)
    assert out.controls({"stage.energy": 0.5, "p1.hands_up": 0.25}) == 2
    cc = {(m.channel, m.control): m.value for m in port.sent}
    assert cc[(0, 20)] == round(normalise("stage.energy", 0.5) * 127)
    assert cc[(1, 21)] == round(0.25 * 0.25 * (3 - 0.5) * 127)  # smoothstep(0.25)
    clock.t = 0.05
    assert out.controls({"stage.energy": 0.9}) == 0  # within 1 / rate_hz
    clock.t = 0.1
    assert out.controls({"stage.energy": 0.5, "p1.hands_up": 0.25}) == 0  # unchanged values
    clock.t = 0.2
    assert out.controls({"stage.energy": 2.0}) == 1 and port.sent[-1].value == 127  # clamped


def test_events_become_notes_with_velocity_from_their_value():
    port = FakePort()
    out = MidiOut(_config(), port)
    out.events(
        [Event("hands_up", 1, True, 0.0, 0.5), Event("jump", 2, True, 0.0), Event("jump", 1, True, 0.0)]
    )
    assert [(m.type, m.channel, m.note, m.velocity) for m in port.sent] == [
        ("note_on", 0, 60, 64),  # velocity from value 0.5
        ("note_on", 9, 36, 100),
        ("note_off", 9, 36, 0),  # not held: a trigger
    ]
    port.sent.clear()
    out.events([Event("hands_up", 2, False, 0.0)])  # someone else's end does not stop p1's note
    assert port.sent == []
    out.events([Event("hands_up", 1, False, 0.0)])
    assert [(m.type, m.note) for m in port.sent] == [("note_off", 60)]


def test_held_notes_are_released_on_close():
    port = FakePort()
    out = MidiOut(_config(), port)
    out.events([Event("hands_up", None, True, 0.0, 1.0)])
    out.close()
    assert [(m.type, m.note) for m in port.sent] == [("note_on", 60), ("note_off", 60)]
    assert port.closed and out.port is None
    assert out.frame(None, [Event("hands_up", None, True, 0.0)]) == 0  # closed: nothing, no error


def test_a_port_that_fails_to_send_is_counted_and_the_show_goes_on():
    port = FakePort(fail_sends=1)
    out = MidiOut(_config(), port, clock=Clock())
    sent = out.controls({"stage.energy": 0.5, "p1.hands_up": 0.25})
    assert sent == 1 and out.errors == 1 and "device unplugged" in out.last_error
    out.clock.t = 1.0
    assert out.controls({"stage.energy": 0.5, "p1.hands_up": 0.25}) == 1  # the failed CC is sent again


def test_stage_drains_every_event_and_reads_the_newest_poses():
    port = FakePort(fail_sends=2)
    slot: Slot[Poses] = Slot("poses")
    log: EventLog[Event] = EventLog()
    stats = Stats()
    stage = MidiOutStage(stats, slot, log, _config(), port)
    stage.start()
    try:
        for i in range(4):
            log.publish(Event("hands_up", 1, i % 2 == 0, time.monotonic(), 1.0))
            slot.publish(Poses(i, time.monotonic(), 64, 48, (), {"stage.energy": 0.1 * i, "people": 0.0}))
            time.sleep(0.03)
        assert wait_for(lambda: stats.stage("midi").frames > 0)
    finally:
        slot.close()  # the stage hands on the events left and ends by itself
        ended = stage.join(5.0)
        stage.stop()
        stage.join(1.0)
    assert ended and stage.state is StageState.ENDED
    notes = [(m.type, m.note) for m in port.sent if m.type.startswith("note")]
    assert ("note_on", 60) in notes and notes[-1] == ("note_off", 60)
    assert stats.stage("midi").errors == 2 and stats.stage("midi").frames >= 1
    assert port.closed


def test_without_a_midi_system_the_failure_is_reported_not_raised():
    try:
        import rtmidi  # noqa: F401
    except ImportError:
        port, problem = open_port(Midi(virtual=True))
        assert port is None and "python-rtmidi is not installed" in problem
        return
    port, problem = open_port(Midi(port="perform test", virtual=True))
    if port is not None:  # a machine with a MIDI system: the virtual port works
        port.close()
        pytest.skip("this machine has a MIDI system; the failure path cannot be shown here")
    assert problem.startswith("MIDI off: ")
    out = MidiOut(_config(port="no such port"))
    assert out.problem and not out.active
    assert out.frame(Poses(0, 0.0, 1, 1, (), {"stage.energy": 1.0}), [Event("hands_up", 1, True, 0.0)]) == 0
    stage = MidiOutStage(Stats(), Slot("poses"), None, _config(port="no such port"))
    assert stage.problem
    stage.step()  # does nothing, raises nothing
    stage.on_stop()


def test_audio_features_are_valid_midi_cc_sources():
    """README says audio features work for MIDI: the show file must accept them before audio runs."""
    from pydantic import ValidationError

    from perform.midi.config import MidiCC

    assert MidiCC(feature="audio.level", cc=7).feature == "audio.level"
    assert MidiCC(feature="audio.band3", cc=8).feature == "audio.band3"
    with pytest.raises(ValidationError, match=r"audio\.<name>"):
        MidiCC(feature="audio.nope", cc=9)
