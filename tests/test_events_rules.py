import math

import numpy as np
import pytest
from pydantic import ValidationError

from perform.events.config import EventsConfig, Rule
from perform.events.rules import RuleEngine
from perform.events.types import Event


def rule(**kw) -> Rule:
    return Rule.model_validate({"name": "r", **kw})


def run(engine: RuleEngine, stream, slots=(1,)) -> list[Event]:
    """``stream``: (t, features) pairs; per-person values given as bare names mean performer 1's."""
    out = []
    for t, features in stream:
        out += engine.step(t, features, slots)
    return out


def edges(events):
    return [(e.name, e.slot, e.active, round(e.t, 6)) for e in events]


def person(values, name="energy_level", dt=0.1, slot=1):
    return [(round(i * dt, 6), {f"p{slot}.{name}": v}) for i, v in enumerate(values)]


def test_threshold_with_hysteresis_fires_exact_edges():
    engine = RuleEngine([rule(feature="energy_level", above=0.7, release=0.5)])
    values = [0.1, 0.8, 0.6, 0.55, 0.4, 0.69, 0.71, 0.7, 0.5, 0.49]
    got = edges(run(engine, person(values)))
    # on above 0.7 (strictly), stays on while >= 0.5, off below 0.5
    assert got == [("r", 1, True, 0.1), ("r", 1, False, 0.4), ("r", 1, True, 0.6), ("r", 1, False, 0.9)]


def test_below_with_release():
    engine = RuleEngine([rule(feature="energy_level", below=0.1, release=0.2)])
    got = edges(run(engine, person([0.5, 0.05, 0.15, 0.2, 0.21, 0.09])))
    assert got == [("r", 1, True, 0.1), ("r", 1, False, 0.4), ("r", 1, True, 0.5)]


def test_hold_delays_the_start_and_a_short_blip_fires_nothing():
    engine = RuleEngine([rule(feature="energy_level", above=0.5, hold_s=0.3)])
    values = [0, 1, 1, 0, 1, 1, 1, 1, 0]  # true 0.1-0.2 (too short), then 0.4-0.7
    got = edges(run(engine, person(values)))
    assert got == [("r", 1, True, 0.7), ("r", 1, False, 0.8)]


def test_cooldown_counts_from_the_end_edge():
    engine = RuleEngine([rule(feature="energy_level", above=0.5, cooldown_s=0.35)])
    values = [1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1]
    got = edges(run(engine, person(values)))
    # ended at 0.1, so it may start again from 0.45: first true frame at or after is 0.5
    assert got == [
        ("r", 1, True, 0.0),
        ("r", 1, False, 0.1),
        ("r", 1, True, 0.5),
        ("r", 1, False, 0.6),
        ("r", 1, True, 1.1),
    ]


def test_edges_start_only_and_end_only():
    values = [0, 1, 0, 1, 0]
    starts = RuleEngine([rule(feature="energy_level", above=0.5, edges="start")])
    ends = RuleEngine([rule(feature="energy_level", above=0.5, edges="end")])
    assert [e.active for e in run(starts, person(values))] == [True, True]
    assert [(e.active, e.t) for e in run(ends, person(values))] == [(False, 0.2), (False, 0.4)]


def test_all_any_not():
    cond = {
        "all": [
            {"feature": "hands_up", "above": 0.8},
            {"any": [{"feature": "energy_level", "above": 0.5}, {"feature": "stage.energy", "above": 0.9}]},
            {"not": {"feature": "people", "above": 2}},
        ]
    }
    engine = RuleEngine([rule(**cond)])
    frames = [
        {"p1.hands_up": 1.0, "p1.energy_level": 0.1, "stage.energy": 0.1, "people": 1},  # any false
        {"p1.hands_up": 1.0, "p1.energy_level": 0.6, "stage.energy": 0.1, "people": 1},  # on
        {"p1.hands_up": 1.0, "p1.energy_level": 0.1, "stage.energy": 0.95, "people": 1},  # still on
        {"p1.hands_up": 1.0, "p1.energy_level": 0.6, "stage.energy": 0.1, "people": 3},  # not fails
        {"p1.hands_up": 0.5, "p1.energy_level": 0.6, "stage.energy": 0.1, "people": 1},  # all fails
    ]
    got = edges(run(engine, [(i * 1.0, f) for i, f in enumerate(frames)]))
    assert got == [("r", 1, True, 1.0), ("r", 1, False, 3.0)]


def test_per_person_events_are_separate_and_a_leaving_performer_ends_theirs():
    engine = RuleEngine([rule(feature="hands_up", above=0.8)])
    out = engine.step(0.0, {"p1.hands_up": 1.0, "p2.hands_up": 0.0}, [1, 2])
    out += engine.step(0.1, {"p1.hands_up": 1.0, "p2.hands_up": 1.0}, [1, 2])
    out += engine.step(0.2, {"p2.hands_up": 1.0}, [2])  # p1 left
    out += engine.step(0.3, {"p1.hands_up": 1.0, "p2.hands_up": 1.0}, [1, 2])  # p1 is back: a new start
    assert edges(out) == [
        ("r", 1, True, 0.0),
        ("r", 2, True, 0.1),
        ("r", 1, False, 0.2),
        ("r", 1, True, 0.3),
    ]
    assert engine.active() == {("r", 1), ("r", 2)}


def test_anyone_is_one_stage_event_while_any_performer_satisfies_it():
    engine = RuleEngine([rule(feature="hands_up", above=0.8, release=0.5, per="anyone")])
    frames = [
        ({"p1.hands_up": 1.0, "p2.hands_up": 0.0}, [1, 2]),
        ({"p1.hands_up": 0.6, "p2.hands_up": 1.0}, [1, 2]),  # p1 latched by hysteresis, p2 on
        ({"p1.hands_up": 0.0, "p2.hands_up": 0.9}, [1, 2]),
        ({"p1.hands_up": 0.0}, [1]),  # p2 left: nobody
        ({"p1.hands_up": 0.6}, [1]),  # 0.6 is not above 0.8 without a latch
    ]
    out = []
    for i, (f, slots) in enumerate(frames):
        out += engine.step(float(i), f, slots)
    assert edges(out) == [("r", None, True, 0.0), ("r", None, False, 3.0)]


def test_stage_rule_and_one_performers_feature():
    engine = RuleEngine(
        [
            Rule(name="crowd", feature="people", above=2.5),
            Rule(name="p2_up", feature="p2.hands_up", above=0.8),
        ]
    )
    assert [r.scope for r in (Rule(name="a", feature="people", above=1),)] == ["stage"]
    out = engine.step(0.0, {"people": 3, "p2.hands_up": 1.0}, [1, 2, 3])
    out += engine.step(1.0, {"people": 1}, [1])  # p2 is gone: its test is false
    assert edges(out) == [
        ("crowd", None, True, 0.0),
        ("p2_up", None, True, 0.0),
        ("crowd", None, False, 1.0),
        ("p2_up", None, False, 1.0),
    ]


def test_time_going_back_restarts_holds():
    engine = RuleEngine([rule(feature="energy_level", above=0.5, hold_s=0.2)])
    out = run(engine, person([1, 1]))  # 0.0, 0.1: held 0.1 s
    out += engine.step(0.0, {"p1.energy_level": 1.0}, [1])  # replay looped
    out += engine.step(0.1, {"p1.energy_level": 1.0}, [1])
    assert out == []
    assert edges(engine.step(0.2, {"p1.energy_level": 1.0}, [1])) == [("r", 1, True, 0.2)]


def test_deterministic():
    def once():
        engine = RuleEngine(
            [rule(feature="energy_level", above=0.5, release=0.3, hold_s=0.2, cooldown_s=0.5)]
        )
        values = [0.45 + 0.4 * math.sin(i / 10) + ((i * 7919) % 100) / 500 for i in range(300)]
        return edges(run(engine, person(values, dt=1 / 30)))

    assert once() == once() and once()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"rules": [{"name": "x", "feature": "enrgy_level", "above": 1}]}, "did you mean 'energy_level'"),
        ({"rules": [{"name": "x", "feature": "p2.hnds_up", "above": 1}]}, "'p2.hands_up'"),
        ({"rules": [{"name": "x", "feature": "stage.energi", "above": 1}]}, "'stage.energy'"),
        ({"rules": [{"name": "x", "feature": "energy_level"}]}, "expected `above` and/or `below`"),
        ({"rules": [{"name": "x", "feature": "energy", "above": 1, "release": 2}]}, "must be <= above"),
        ({"rules": [{"name": "x", "feature": "energy", "below": 1, "release": 0.5}]}, "must be >= below"),
        ({"rules": [{"name": "x", "above": 1}]}, "need a `feature`"),
        ({"rules": [{"name": "x", "all": []}]}, "at least one condition"),
        ({"rules": [{"name": "x", "feature": "energy", "above": 1, "any": []}]}, "cannot be combined"),
        ({"rules": [{"name": "x", "feature": "energy", "above": 1, "per": "stage"}]}, "per: stage cannot"),
        ({"rules": [{"name": "hands_up", "feature": "energy", "above": 1}]}, "already a built-in"),
        ({"rules": [{"name": "Big!", "feature": "energy", "above": 1}]}, "rule name 'Big!'"),
        ({"rules": [{"name": "x", "feature": "energy", "above": 1, "when": 2}]}, "Extra inputs"),
        ({"zones": [{"name": "a", "polygon": [[0, 0], [1, 0], [1, 1]]}]}, "zones need a `floor`"),
    ],
)
def test_bad_config_says_what_is_wrong(data, message):
    with pytest.raises(ValidationError) as info:
        EventsConfig.model_validate(data)
    assert message in str(info.value)


def test_rules_from_yaml():
    import yaml

    config = EventsConfig.model_validate(
        yaml.safe_load(
            """
            builtins: [hands_up, jump]
            rules:
              - name: wild
                feature: energy_level
                above: 0.7
                release: 0.5
                hold_s: 0.5
                cooldown_s: 2
              - name: together
                all:
                  - {feature: stage.synchrony, above: 0.6}
                  - not: {feature: people, below: 2}
            """
        )
    )
    assert [r.scope for r in config.rules] == ["person", "stage"]
    assert config.rules[1].all[1].not_.feature == "people"


# --- the events stage: arming, the active set, the log ------------------------------------------


def _poses(t: float, hands: dict[int, float]):
    from perform.vision.types import NUM_LANDMARKS, Body, Poses

    bodies = tuple(
        Body(s, np.zeros((NUM_LANDMARKS, 4), np.float32), np.zeros((NUM_LANDMARKS, 3), np.float32))
        for s in hands
    )
    features = {f"p{s}.hands_up": v for s, v in hands.items()} | {"people": float(len(hands))}
    return Poses(int(t * 10), t, 1280, 720, bodies, features)


def _engine():
    from perform.events.stage import EventEngine

    config = EventsConfig(builtins=["people_changed"], rules=[Rule(name="up", feature="hands_up", above=0.8)])
    return EventEngine(config)


def test_disarm_ends_active_states_and_silences_until_armed():
    engine = _engine()
    assert edges(engine.update(_poses(0.0, {1: 1.0, 2: 1.0}))) == [
        ("people_changed", None, True, 0.0),
        ("up", 1, True, 0.0),
        ("up", 2, True, 0.0),
    ]
    assert engine.active() == {("up", 1), ("up", 2)}
    assert edges(engine.disarm("up", t=0.5)) == [("up", 1, False, 0.5), ("up", 2, False, 0.5)]
    assert engine.active() == set()
    assert engine.update(_poses(1.0, {1: 0.0, 2: 1.0})) == []  # p1's end was already sent
    engine.arm("up")
    assert engine.update(_poses(2.0, {1: 1.0, 2: 1.0})) == [Event("up", 1, True, 2.0)]  # p2: next start
    assert edges(engine.update(_poses(3.0, {1: 1.0, 2: 0.0}))) == []  # p2's start was never sent
    assert edges(engine.update(_poses(4.0, {1: 1.0, 2: 1.0}))) == [("up", 2, True, 4.0)]


def test_patterns_and_everything():
    engine = _engine()
    engine.disarm("*")
    assert not engine.armed("up") and not engine.armed("zone.front.dwell")
    engine.arm("u*")
    assert engine.armed("up") and not engine.armed("people_changed")
    engine.arm()
    engine.disarm("zone.front")
    assert not engine.armed("zone.front.dwell") and engine.armed("zone.frontier") and engine.armed("up")


def test_configured_disarmed_events_start_silent():
    from perform.events.stage import EventEngine

    engine = EventEngine(EventsConfig(builtins=["people_changed"], disarmed=["people_changed"]))
    assert engine.update(_poses(0.0, {1: 0.0})) == []


def test_event_stage_publishes_events_passes_poses_and_obeys_cues():
    from perform.control import Controls
    from perform.events.stage import EventStage
    from perform.pipeline import EventLog, Slot, Stats

    source, output = Slot("poses"), Slot("out")
    log = EventLog()
    controls = Controls()
    config = EventsConfig(builtins=[], rules=[Rule(name="up", feature="hands_up", above=0.8)])
    stage = EventStage(Stats(), source, output, log, config, controls)
    cursor, reader = log.cursor(), output.reader("test")
    stage.start()
    try:
        first = _poses(0.0, {1: 1.0})
        source.publish(first)
        assert reader.get(timeout=5.0) is first
        assert stage.active() == {("up", 1)}
        controls.cue("events.disarm", "up")
        source.publish(_poses(0.1, {1: 1.0}))
        assert reader.get(timeout=5.0) is not None
        assert stage.active() == set()
        controls.cue("events.arm", "up")
        source.publish(_poses(0.2, {1: 0.0}))
        source_ok = reader.get(timeout=5.0)
        assert source_ok is not None
        source.publish(_poses(0.3, {1: 1.0}))
        assert reader.get(timeout=5.0) is not None
    finally:
        stage.stop()
        assert stage.join(5.0)
    assert edges(cursor.drain()) == [("up", 1, True, 0.0), ("up", 1, False, 0.1), ("up", 1, True, 0.3)]
    assert output.closed
