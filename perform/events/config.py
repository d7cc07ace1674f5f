"""The ``events:`` section of a show file: built-ins, rules, floor zones and taught poses.

Each field's description is its documentation (see ``docs/events.md``). Feature names are
checked against :data:`perform.pipeline.features.REGISTRY` here, at the boundary, so the rule
engine can trust them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from perform.audio import analysis as _audio  # noqa: F401  (registers the audio features)
from perform.pipeline.features import PERSON, REGISTRY, STAGE, control_name
from perform.schema import Model, resolve_path
from perform.vision import features as _body  # noqa: F401  (registers the body and floor features)
from perform.vision.gestures import GESTURES

#: Every built-in event (see :mod:`perform.events.builtin`).
BUILTIN_NAMES: tuple[str, ...] = (
    "hands_up",
    "t_pose",
    "jump",
    "clap",
    "crouch",
    "spin",
    "stillness",
    "enter",
    "leave",
    "people_changed",
    # hand gestures (pose.detail.hands): start and end per performer and hand
    *(f"{side}_hand_{g}" for side in ("left", "right") for g in GESTURES),
)
#: Defaults of the body floor (``EventsConfig.min_body_height``, ``min_confidence``).
MIN_BODY_HEIGHT, MIN_CONFIDENCE = 0.1, 0.6

BuiltinName = Literal[
    "hands_up", "t_pose", "jump", "clap", "crouch", "spin", "stillness", "enter", "leave", "people_changed",
    "left_hand_open_palm", "left_hand_fist", "left_hand_pinch", "left_hand_point", "left_hand_thumbs_up",
    "left_hand_victory", "right_hand_open_palm", "right_hand_fist", "right_hand_pinch", "right_hand_point",
    "right_hand_thumbs_up", "right_hand_victory",
]  # fmt: skip

_EVENT_NAME = re.compile(r"[a-z][a-z0-9_]*")
_SLOT_FEATURE = re.compile(r"p(\d+)\.(\w+)")


def feature_scope(name: str) -> str:
    """``person`` for a bare per-person feature (``energy_level``), ``stage`` for a stage feature
    (``stage.energy``, ``people``) or one performer's (``p2.energy_level``).

    A name may end with ``.ctl`` (``hands_up.ctl``): the feature's 0..1 control value. Raises
    ``ValueError`` naming the feature and the closest known names.
    """
    name = control_name(name)[0]
    info = REGISTRY.get(name)
    if info is not None:
        return info.scope
    m = _SLOT_FEATURE.fullmatch(name)
    if m is not None and int(m.group(1)) >= 1:
        info = REGISTRY.get(m.group(2))
        if info is not None and info.scope == PERSON:
            return STAGE
    bare = m.group(2) if m is not None else name
    person = REGISTRY.names(PERSON)
    close = difflib.get_close_matches(bare, person + REGISTRY.names(STAGE), n=3, cutoff=0.5)
    if m is not None:
        close = [f"p{m.group(1)}.{c}" if c in person else c for c in close]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"unknown feature {name!r}{hint} (per-person features: energy_level, hands_up, ...; "
        "stage features: stage.energy, people, ...; one performer's: p2.energy_level; "
        "see docs/features.md)"
    )


class Condition(Model):
    """A test on one feature (``feature`` with ``above`` and/or ``below``), or a combination of
    conditions (exactly one of ``all``, ``any``, ``not``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    feature: str | None = Field(
        None,
        description="Feature tested: a per-person name (energy_level, evaluated for each performer), "
        "a stage name (stage.energy, people) or one performer's (p2.hands_up); the raw value, in the "
        "feature's unit, or with `.ctl` added (hands_up.ctl) its control value, the range mapped onto "
        "0..1 as OSC sends it. See docs/features.md.",
    )
    above: float | None = Field(None, description="True when the feature is above this value.")
    below: float | None = Field(None, description="True when the feature is below this value.")
    release: float | None = Field(
        None,
        description="Hysteresis: once true, the condition stays true until the feature falls below "
        "`release` (with `above`; must be <= above) or rises above it (with `below`; >= below). "
        "Default: the threshold itself.",
    )
    all: list[Condition] | None = Field(None, description="True when every one of these is true.")
    any: list[Condition] | None = Field(None, description="True when at least one of these is true.")
    not_: Condition | None = Field(None, alias="not", description="True when this condition is false.")

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, v: str | None) -> str | None:
        if v is not None:
            feature_scope(v)
        return v

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        combos = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        if self.feature is None:
            if self.above is not None or self.below is not None or self.release is not None:
                raise ValueError("above/below/release need a `feature`")
            if len(combos) != 1:
                raise ValueError(
                    "expected a condition: `feature` with `above` and/or `below`, or one of "
                    f"`all`, `any`, `not`; got {_form(combos)}"
                )
            if combos[0] in ("all", "any") and not getattr(self, combos[0]):
                raise ValueError(f"`{combos[0]}` needs at least one condition")
            return self
        if combos:
            raise ValueError(f"`feature` cannot be combined with {_form(combos)} in the same condition")
        if self.above is None and self.below is None:
            raise ValueError(f"feature {self.feature!r}: expected `above` and/or `below`")
        if self.above is not None and self.below is not None:
            if self.release is not None:
                raise ValueError("`release` applies to one threshold: give `above` or `below`, not both")
            if not self.above < self.below:
                raise ValueError(f"a band needs above < below, got above {self.above}, below {self.below}")
        bare, control = control_name(self.feature)
        for key in ("above", "below", "release") if control else ():
            value = getattr(self, key)
            if value is not None and not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"{self.feature} is a control value, 0..1: {key} {value:g} is outside it "
                    f"(for the raw value, in the feature's unit, write {bare})"
                )
        if self.release is not None:
            if self.above is not None and self.release > self.above:
                raise ValueError(f"release {self.release} must be <= above {self.above}")
            if self.below is not None and self.release < self.below:
                raise ValueError(f"release {self.release} must be >= below {self.below}")
        return self

    def features(self) -> list[str]:
        """Every feature this condition reads."""
        if self.feature is not None:
            return [self.feature]
        children = self.all or self.any or [self.not_]
        return [f for c in children if c is not None for f in c.features()]


def _form(keys: list[str]) -> str:
    names = [k.rstrip("_") for k in keys]
    return ", ".join(f"`{n}`" for n in names) if names else "none of them"


class Rule(Condition):
    """A named event that starts when its condition has held for ``hold_s`` and ends when it stops."""

    name: str = Field(description="Event name (lower case, digits, `_`), sent as /p1/NAME or /NAME.")
    hold_s: float = Field(
        0.0, ge=0, le=600, description="Seconds the condition must hold before the start edge fires."
    )
    cooldown_s: float = Field(
        0.0,
        ge=0,
        le=3600,
        description="Seconds after an end before the rule may start again (for the same performer).",
    )
    edges: Literal["start", "end", "both"] = Field(
        "both", description="Which edges are sent: start (active true), end (active false) or both."
    )
    per: Literal["person", "anyone", "stage"] | None = Field(
        None,
        description="person: one event per performer (p1/NAME); anyone: one stage event while any "
        "performer satisfies it; stage: a condition on stage features only. "
        "Default: person when a per-person feature is used, else stage.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _EVENT_NAME.fullmatch(v):
            raise ValueError(f"rule name {v!r}: expected lower case letters, digits and _, e.g. big_energy")
        return v

    @model_validator(mode="after")
    def _scope_fits(self) -> Rule:
        person = [f for f in self.features() if feature_scope(f) == PERSON]
        if self.per == "stage" and person:
            raise ValueError(
                f"per: stage cannot use per-person feature {person[0]!r}; use per: person or anyone, "
                f"or a stage feature"
            )
        return self

    @property
    def scope(self) -> str:
        """``person``, ``anyone`` or ``stage``."""
        if self.per is not None:
            return self.per
        return "person" if any(feature_scope(f) == PERSON for f in self.features()) else "stage"


Point = tuple[float, float]


class Floor(Model):
    """Floor calibration: where four floor marks are seen in the image, and where they are on stage."""

    image: list[Point] = Field(
        min_length=4,
        max_length=4,
        description="Four floor points as seen in the image, normalised 0..1 (x right, y down), e.g. "
        "where a performer's feet are when standing on four tape marks.",
    )
    stage: list[Point] = Field(
        min_length=4,
        max_length=4,
        description="The same four points on the stage floor in metres (x right, y away from the "
        "audience or camera), in the same order.",
    )

    @model_validator(mode="after")
    def _not_degenerate(self) -> Floor:
        for which in ("image", "stage"):
            pts = getattr(self, which)
            for i in range(4):
                a, b, c = pts[i], pts[(i + 1) % 4], pts[(i + 2) % 4]
                cross = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
                if abs(cross) < 1e-9:
                    raise ValueError(
                        f"floor.{which}: points {i + 1}, {(i + 1) % 4 + 1}, {(i + 2) % 4 + 1} are on one "
                        "line; expected four corners of a quadrilateral"
                    )
        return self


class Zone(Model):
    """A named area of the stage floor."""

    name: str = Field(description="Zone name; events are zone.NAME and zone.NAME.dwell.")
    polygon: list[Point] = Field(
        min_length=3, description="Corners in stage metres (the floor calibration's `stage` frame), in order."
    )
    dwell_s: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Send zone.NAME.dwell every this many seconds while a performer stays inside "
        "(value: seconds inside). None: no dwell events.",
    )
    margin_m: float = Field(
        0.1,
        ge=0,
        le=5,
        description="Hysteresis: a performer inside leaves only once this far outside the polygon.",
    )

    @field_validator("name")
    @classmethod
    def _valid_name(cls, v: str) -> str:
        if not _EVENT_NAME.fullmatch(v):
            raise ValueError(f"zone name {v!r}: expected lower case letters, digits and _, e.g. front_left")
        return v

    @model_validator(mode="after")
    def _has_area(self) -> Zone:
        p = self.polygon
        area = 0.5 * sum(p[i][0] * p[i - 1][1] - p[i - 1][0] * p[i][1] for i in range(len(p)))
        if abs(area) < 1e-6:
            raise ValueError(f"zone {self.name!r}: the polygon has no area")
        return self


class TaughtPoses(Model):
    """Poses taught by example (``perform teach NAME``), recognised on every performer."""

    library: Path | None = Field(
        None, description="Pose library (JSON written by `perform teach`), relative to the show file."
    )
    min_confidence: float = Field(
        0.5, gt=0, le=1, description="Confidence 0..1 a pose needs to start its pose.NAME event."
    )
    release: float = Field(
        0.3, ge=0, le=1, description="Confidence below which an active pose ends (hysteresis)."
    )
    hold_s: float = Field(
        0.2, ge=0, le=60, description="Seconds a pose must be recognised before its start edge fires."
    )

    _resolve_library = field_validator("library")(resolve_path)

    @model_validator(mode="after")
    def _release_below(self) -> TaughtPoses:
        if self.release > self.min_confidence:
            raise ValueError(f"release {self.release} must be <= min_confidence {self.min_confidence}")
        return self


class EventsConfig(Model):
    """Events: named moments (hands up, a jump, a zone entered, a taught pose) sent to OSC and MIDI."""

    builtins: list[BuiltinName] = Field(
        default_factory=lambda: list(BUILTIN_NAMES),
        description="Built-in events that are on (default: all). See docs/events.md for each trigger.",
    )
    min_body_height: float = Field(
        MIN_BODY_HEIGHT,
        ge=0,
        le=1,
        description="Built-in events ignore a performer smaller than this, as a fraction of the image "
        "height (standing height estimated from the torso or legs; never below 40 pixels). Far, small "
        "people's landmarks jitter by a tenth of their height from frame to frame, which looks like "
        "jumps and claps. 0.1: 72 px at 720p; 0: only the 40 px minimum.",
    )
    min_confidence: float = Field(
        MIN_CONFIDENCE,
        ge=0,
        le=1,
        description="Visibility 0..1 every landmark a built-in event reads must have (the torso's "
        "for all; also the ankles for jump; wrists, index and pinky for clap; wrists for hands_up; "
        "elbows and wrists for t_pose; knees and ankles for crouch); below it the event does not "
        "judge that performer. Hidden or guessed joints (an arm behind the body, feet behind "
        "someone) mostly read below 0.5; 0.6 leaves some margin.",
    )
    rules: list[Rule] = Field(default_factory=list, description="Your own events, from feature conditions.")
    floor: Floor | None = Field(None, description="Floor calibration, needed by `zones`.")
    zones: list[Zone] = Field(default_factory=list, description="Named floor areas (stage metres).")
    poses: TaughtPoses = Field(default_factory=TaughtPoses, description="Poses taught by example.")
    disarmed: list[str] = Field(
        default_factory=list,
        description="Events that start disarmed: names or patterns (pose.*, zone.front). "
        "Cue events.arm NAME to arm one.",
    )

    def names(self) -> list[str]:
        """The events this configuration can fire by name (taught poses aside: ``pose.NAME``)."""
        zones = [f"zone.{z.name}" for z in self.zones]
        rules = [r.name for r in self.rules]
        dwell = [f"{z}.dwell" for z in zones]
        return list(dict.fromkeys([*self.builtins, "enter", "leave", *rules, *zones, *dwell]))

    @model_validator(mode="after")
    def _consistent(self) -> EventsConfig:
        if self.zones and self.floor is None:
            raise ValueError("zones need a `floor` calibration (four image points and four stage points)")
        names: dict[str, str] = {b: "a built-in" for b in self.builtins}
        for rule in self.rules:
            if rule.name in names:
                raise ValueError(f"rule name {rule.name!r} is already {names[rule.name]} event")
            names[rule.name] = "a rule's"
        zones: set[str] = set()
        for zone in self.zones:
            if zone.name in zones:
                raise ValueError(f"zone name {zone.name!r} appears twice")
            zones.add(zone.name)
        return self
