"""The rule engine: feature conditions with hysteresis, hold and cooldown, turned into start/end events.

Semantics, per rule and per key (the performer's slot for ``per: person``, the stage otherwise):

- A test reads the feature's raw value (``hands_up``: 1 at the top of the head) or, when its
  name ends with ``.ctl`` (``hands_up.ctl``), its control value: the range mapped onto 0..1,
  clamped, the number OSC sends (docs/features.md lists both).

- A test ``above: a`` turns true when the value is > ``a`` and, once true, stays true while the
  value is >= ``release`` (default ``a``). ``below: b`` turns true when the value is < ``b`` and
  stays true while it is <= ``release`` (default ``b``). ``above`` and ``below`` together form a
  band ``a < value < b`` without hysteresis. A feature missing from a frame (a performer
  number not on stage) makes its test false and forgets its latch.
- ``all``/``any``/``not`` combine the tests' latched truths.
- The start edge fires on the first frame at which the condition has been true for ``hold_s``
  seconds (measured from the first frame it was true) and at least ``cooldown_s`` seconds have
  passed since the rule's last end edge for that key. The end edge fires on the first frame the
  condition is false again. Both carry the capture time of that frame.
- ``per: anyone`` evaluates the tests for each performer (each with its own latches) and is true
  while at least one performer's condition is true; its events are for the whole stage.
- A performer who leaves ends their active per-person events and is forgotten.
- Time going backwards (a take looping) restarts every hold and cooldown.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from perform.events.config import Condition, Rule, feature_scope
from perform.events.types import Event
from perform.pipeline.features import control_name, normalise
from perform.vision.features import PERSON
from perform.vision.types import Poses

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class _Leaf:
    feature: str
    per_person: bool
    above: float | None
    below: float | None
    release: float | None
    control: bool = False  # read the 0..1 control value (``hands_up.ctl``), not the raw value

    def test(self, v: float | None, was: bool) -> bool:
        if v is None or not math.isfinite(v):
            return False
        lo, hi = self.above, self.below
        if lo is not None and hi is not None:
            return lo < v < hi
        if lo is not None:
            return v >= (lo if self.release is None else self.release) if was else v > lo
        assert hi is not None
        return v <= (hi if self.release is None else self.release) if was else v < hi


def _compile(cond: Condition, leaves: list[_Leaf]) -> Callable[[list[bool]], bool]:
    """A function of the leaves' truths; appends this condition's leaves to ``leaves``."""
    if cond.feature is not None:
        i = len(leaves)
        per_person = feature_scope(cond.feature) == PERSON
        name, control = control_name(cond.feature)
        leaves.append(_Leaf(name, per_person, cond.above, cond.below, cond.release, control))
        return lambda s: s[i]
    if cond.all is not None:
        parts = [_compile(c, leaves) for c in cond.all]
        return lambda s: all(f(s) for f in parts)
    if cond.any is not None:
        parts = [_compile(c, leaves) for c in cond.any]
        return lambda s: any(f(s) for f in parts)
    assert cond.not_ is not None
    inner = _compile(cond.not_, leaves)
    return lambda s: not inner(s)


@dataclass(slots=True)
class _Edge:
    """Hold, cooldown and the active flag of one rule for one key."""

    since: float | None = None
    active: bool = False
    ready_at: float = -math.inf  # the end edge plus the cooldown

    def advance(self, true: bool, t: float, rule: Rule) -> bool | None:
        """True on a start edge, False on an end edge, None otherwise."""
        if true:
            if self.since is None:
                self.since = t
            if not self.active and t - self.since >= rule.hold_s - _EPS and t >= self.ready_at - _EPS:
                self.active = True
                return True
            return None
        self.since = None
        if self.active:
            self.active = False
            self.ready_at = t + rule.cooldown_s
            return False
        return None


@dataclass(slots=True)
class _Compiled:
    rule: Rule
    scope: str
    leaves: list[_Leaf]
    truth: Callable[[list[bool]], bool]
    latches: dict[int | None, list[bool]] = field(default_factory=dict)
    edges: dict[int | None, _Edge] = field(default_factory=dict)

    def evaluate(self, key: int | None, features: Mapping[str, float], slot: int | None) -> bool:
        """The condition for performer ``slot`` (None: stage features only), latches under ``key``."""
        latches = self.latches.get(key)
        if latches is None:
            latches = self.latches[key] = [False] * len(self.leaves)
        for i, leaf in enumerate(self.leaves):
            name = leaf.feature
            if leaf.per_person:
                if slot is None:
                    latches[i] = False
                    continue
                name = f"p{slot}.{name}"
            value = features.get(name)
            if leaf.control and value is not None:
                value = normalise(name, value)
            latches[i] = leaf.test(value, latches[i])
        return self.truth(latches)


class RuleEngine:
    """Evaluates rules on each frame's features; stateful per (rule, performer). One thread."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._rules: list[_Compiled] = []
        for rule in rules:
            leaves: list[_Leaf] = []
            truth = _compile(rule, leaves)
            self._rules.append(_Compiled(rule, rule.scope, leaves, truth))
        self._t = -math.inf

    @property
    def names(self) -> list[str]:
        return [c.rule.name for c in self._rules]

    def reset(self) -> None:
        """Forget every latch, hold, cooldown and active state (sends nothing)."""
        for c in self._rules:
            c.latches.clear()
            c.edges.clear()
        self._t = -math.inf

    def update(self, poses: Poses) -> list[Event]:
        """Events of this frame, from its features and the performers on stage."""
        return self.step(poses.t_capture, poses.features, [b.slot for b in poses.bodies])

    def step(self, t: float, features: Mapping[str, float], slots: Iterable[int]) -> list[Event]:
        """Events at capture time ``t`` for feature values ``features`` with ``slots`` on stage."""
        slots = list(slots)
        if t < self._t:  # a replay looped: start every hold and cooldown afresh
            for c in self._rules:
                for edge in c.edges.values():
                    edge.since, edge.ready_at = None, -math.inf
        self._t = t
        present = set(slots)
        out: list[Event] = []
        for c in self._rules:
            rule = c.rule
            if c.scope == "person":
                for slot in [s for s in c.edges if s not in present]:
                    edge = c.edges.pop(slot)
                    c.latches.pop(slot, None)
                    if edge.active and rule.edges != "start":
                        out.append(Event(rule.name, slot, False, t))
                for slot in slots:
                    true = c.evaluate(slot, features, slot)
                    edge = c.edges.get(slot)
                    if edge is None:
                        edge = c.edges[slot] = _Edge()
                    self._emit(out, rule, edge.advance(true, t, rule), slot, t)
                continue
            if c.scope == "anyone":
                for slot in [s for s in c.latches if s not in present]:
                    del c.latches[slot]
                true = any([c.evaluate(slot, features, slot) for slot in slots])
            else:
                true = c.evaluate(None, features, None)
            edge = c.edges.get(None)
            if edge is None:
                edge = c.edges[None] = _Edge()
            self._emit(out, rule, edge.advance(true, t, rule), None, t)
        return out

    @staticmethod
    def _emit(out: list[Event], rule: Rule, edge: bool | None, slot: int | None, t: float) -> None:
        if edge is None:
            return
        if (edge and rule.edges != "end") or (not edge and rule.edges != "start"):
            out.append(Event(rule.name, slot, edge, t))

    def active(self) -> set[tuple[str, int | None]]:
        """(rule name, slot or None) of every rule whose condition currently holds past its hold."""
        return {(c.rule.name, key) for c in self._rules for key, e in c.edges.items() if e.active}
