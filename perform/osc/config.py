"""The ``osc:`` section of a show file: targets, presets, mappings, the pose stream's show machines.

A target names a preset or carries its own :class:`Mapping`. Address templates take
placeholders in braces: ``{slot}`` (performer number, 1, 2, ...), ``{landmark}`` (MediaPipe's
name, ``left_wrist``), ``{field}`` (``x``, ``y``, ``z``, ``visibility``), ``{feature}`` (the
feature name with dots as slashes: ``p1/energy``, ``stage/energy``, ``people``) and ``{event}``
(the event's address suffix: ``hands_up``, ``p2/hands_up``).
"""

from __future__ import annotations

import difflib
import re
import string
from typing import Literal

from pydantic import Field, field_validator, model_validator

from perform.audio import analysis as _audio  # noqa: F401  (registers the audio features)
from perform.errors import ConfigError
from perform.mapping import ValueMap
from perform.pipeline.features import PERSON, REGISTRY, STAGE
from perform.schema import Model, Network, SourceBase
from perform.vision import features as _body  # noqa: F401  (registers the body and floor features)
from perform.vision.face import FACE_POINTS
from perform.vision.hands import HAND_LANDMARK_NAMES
from perform.vision.types import LANDMARK_NAMES

FieldName = Literal["x", "y", "z", "visibility"]
FIELDS: tuple[str, ...] = ("x", "y", "z", "visibility")
#: Where status goes: OSC out's heartbeat, fps, latency and people, and every stage's health.
STATUS_PREFIX = "/perform/status/"
#: OSC address characters other than letters, digits and these are not allowed in templates.
_ADDRESS = re.compile(r"(/[A-Za-z0-9_.:\-{}]+)+")


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _check_address(template: str, allowed: set[str], required: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    if not _ADDRESS.fullmatch(template):
        raise ValueError(
            f"expected an OSC address such as /perform/ctl/{{feature}} (slash-separated letters, digits, "
            f"_ . : -), got {template!r}"
        )
    try:
        names = _placeholders(template)
    except ValueError as exc:
        raise ValueError(f"{template!r}: {exc}") from None
    unknown = names - allowed
    if unknown:
        raise ValueError(
            f"{template!r}: unknown placeholder {{{sorted(unknown)[0]}}}; expected "
            + ", ".join(f"{{{n}}}" for n in sorted(allowed))
        )
    missing = required - names
    if missing:
        raise ValueError(f"{template!r}: needs {', '.join(f'{{{n}}}' for n in sorted(missing))}")
    return template


class PoseOut(Model):
    """Landmarks of every performer."""

    landmarks: list[str] | Literal["all"] = Field(
        "all", description="MediaPipe landmark names to send (`nose`, `left_wrist`...), or all 33."
    )
    fields: list[FieldName] = Field(
        ["x", "y", "z", "visibility"], min_length=1, description="Which values of each landmark, in order."
    )
    coordinates: Literal["image", "world"] = Field(
        "image",
        description="image: x, y normalised 0..1 (y down), z relative depth; "
        "world: metres around the hips. visibility is 0..1 in both.",
    )
    layout: Literal["landmark", "value", "person"] = Field(
        "landmark",
        description="landmark: one message per landmark with its fields as arguments; value: one message "
        "per value (address needs {field}); person: one message per performer with every value.",
    )
    address: str = Field(
        "/perform/pose/p{slot}/{landmark}",
        description="Address template: {slot}, and {landmark} and {field} as the layout needs.",
    )
    map: ValueMap | None = Field(None, description="Mapping of every value (null: sent as measured).")

    @field_validator("landmarks")
    @classmethod
    def _known(cls, value: list[str] | str) -> list[str] | str:
        if isinstance(value, list):
            for name in value:
                if name not in LANDMARK_NAMES:
                    close = difflib.get_close_matches(name, LANDMARK_NAMES, 1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise ValueError(f"unknown landmark {name!r}{hint}")
        return value

    @model_validator(mode="after")
    def _template(self) -> PoseOut:
        need = {"landmark": {"slot", "landmark"}, "value": {"slot", "landmark", "field"}, "person": {"slot"}}
        _check_address(self.address, need[self.layout], need[self.layout])
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return LANDMARK_NAMES if self.landmarks == "all" else tuple(self.landmarks)


#: Parts of a performer's detail as ``{part}`` names them in addresses.
DETAIL_PARTS: tuple[str, ...] = ("left_hand", "right_hand", "face")
HandField = Literal["x", "y", "z"]


class DetailOut(Model):
    """Hands (21 joints each) and face points of the performers who have them; nothing when not found."""

    parts: list[Literal["left_hand", "right_hand", "face"]] = Field(
        list(DETAIL_PARTS), description="Which parts to send: left_hand, right_hand, face."
    )
    fields: list[HandField] = Field(
        ["x", "y", "z"],
        min_length=1,
        description="Which values of each landmark, in order (image coordinates).",
    )
    layout: Literal["landmark", "value", "person"] = Field(
        "landmark",
        description="landmark: one message per landmark with its fields as arguments; value: one message "
        "per value (address needs {field}); person: one message per part with every value.",
    )
    address: str = Field(
        "/perform/pose/p{slot}/{part}/{landmark}",
        description="Address template: {slot} and {part} (left_hand, right_hand, face), and {landmark} "
        "and {field} as the layout needs.",
    )

    @model_validator(mode="after")
    def _template(self) -> DetailOut:
        base = {"slot", "part"}
        need = {"landmark": base | {"landmark"}, "value": base | {"landmark", "field"}, "person": base}
        _check_address(self.address, need[self.layout], need[self.layout])
        return self

    @staticmethod
    def names(part: str) -> tuple[str, ...]:
        """Landmark names of a part, in the order sent: the hand's 21, or the named face points."""
        return tuple(FACE_POINTS) if part == "face" else HAND_LANDMARK_NAMES


class FeaturesOut(Model):
    """Movement features (see docs/features.md), each as its own message."""

    include: list[str] = Field(
        ["*"], description="Shell patterns over feature names as emitted: `people`, `stage.*`, `p*.energy`."
    )
    exclude: list[str] = Field([], description="Patterns left out even when included.")
    address: str = Field(
        "/perform/ctl/{feature}",
        description="Address template; {feature} is the name with dots as slashes (p1/energy).",
    )
    map: ValueMap = Field(
        default_factory=ValueMap, description="Mapping of every feature (default: its range onto 0..1)."
    )
    maps: dict[str, ValueMap] = Field(
        {}, description="Mappings for the features matching a pattern (first match wins) instead of `map`."
    )
    people_count: bool = Field(
        True,
        description="Also send the number of performers itself, as an int at `{feature}` = people_count.",
    )

    @field_validator("address")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_address(value, {"feature"}, {"feature"})


class EventsOut(Model):
    """Events: a message on the start edge and one on the end edge."""

    include: list[str] = Field(["*"], description="Shell patterns over event names (`hands_up`, `zone_*`).")
    exclude: list[str] = Field([], description="Patterns left out even when included.")
    address: str = Field(
        "/perform/evt/{event}", description="Address template; {event} is `hands_up` or `p2/hands_up`."
    )
    start: float = Field(1.0, description="Sent on the start edge.")
    end: float = Field(0.0, description="Sent on the end edge (instant events have none).")
    use_value: bool = Field(
        False, description="Send the event's own value (confidence, dwell time) on start instead of `start`."
    )
    integer: bool = Field(True, description="Send as int32 (rounded) instead of float32.")

    @field_validator("address")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_address(value, {"event"}, {"event"})


class VectorOut(Model):
    """One fixed-length float vector per frame (Wekinator's `/wek/inputs`); absent performers send 0."""

    address: str = Field("/wek/inputs", description="Address of the vector message.")
    slots: int = Field(1, ge=1, le=10, description="Performers 1..slots, each in the same place.")
    landmarks: list[str] = Field(
        list(LANDMARK_NAMES), description="Landmarks per performer (image coordinates)."
    )
    fields: list[FieldName] = Field(["x", "y"], description="Values per landmark.")
    features: list[str] = Field(
        [], description="Per-person features (bare names: `energy`), normalised to 0..1."
    )
    stage_features: list[str] = Field(
        [], description="Stage features (`people`, `stage.energy`), normalised to 0..1, after the performers."
    )

    @field_validator("address")
    @classmethod
    def _template(cls, value: str) -> str:
        return _check_address(value, set())

    @field_validator("landmarks")
    @classmethod
    def _known_landmarks(cls, value: list[str]) -> list[str]:
        return PoseOut._known(value)  # type: ignore[return-value]

    @field_validator("features")
    @classmethod
    def _person_features(cls, value: list[str]) -> list[str]:
        for name in value:
            info = REGISTRY.get(name)
            if info is None or info.scope != PERSON:
                raise ValueError(f"unknown per-person feature {name!r}; expected one of docs/features.md")
        return value

    @field_validator("stage_features")
    @classmethod
    def _stage_features(cls, value: list[str]) -> list[str]:
        for name in value:
            info = REGISTRY.get(name)
            if info is None or info.scope != STAGE:
                raise ValueError(f"unknown stage feature {name!r}; expected `people` or `stage.<name>`")
        return value

    @property
    def length(self) -> int:
        per = len(self.landmarks) * len(self.fields) + len(self.features)
        return self.slots * per + len(self.stage_features)


class Mapping(Model):
    """What one target receives; every part is optional."""

    pose: PoseOut | None = Field(None, description="Landmarks (null: none).")
    detail: DetailOut | None = Field(
        None, description="Hand and face landmarks, when the pose stage finds them (null: none)."
    )
    features: FeaturesOut | None = Field(None, description="Features (null: none).")
    events: EventsOut | None = Field(None, description="Events (null: none).")
    vector: VectorOut | None = Field(None, description="A fixed-length vector (null: none).")
    status: bool = Field(
        False, description="Send /perform/status/* (heartbeat, fps, latency_ms, people) once a second."
    )
    numbers_only: bool = Field(
        False,
        description="Only int and float arguments (what TouchDesigner's OSC In CHOP takes): each stage's "
        "status as numeric channels, its state as a number.",
    )


Preset = Literal["default", "touchdesigner", "ableton", "lights", "lights_percent", "packed", "wekinator"]

_LIGHT_EVENTS = EventsOut(address="/perform/lights/evt/{event}", start=255, end=0)

#: The presets: a name on the command line (``HOST:PORT/touchdesigner``) or in a target.
PRESETS: dict[str, Mapping] = {
    "default": Mapping(
        pose=PoseOut(), detail=DetailOut(), features=FeaturesOut(), events=EventsOut(), status=True
    ),
    "touchdesigner": Mapping(
        pose=PoseOut(layout="value", address="/perform/p{slot}/{landmark}/{field}"),
        detail=DetailOut(layout="value", address="/perform/p{slot}/{part}/{landmark}/{field}"),
        features=FeaturesOut(address="/perform/{feature}"),
        events=EventsOut(),
        status=True,
        numbers_only=True,
    ),
    "ableton": Mapping(
        features=FeaturesOut(people_count=False),  # only 0..1 floats
        events=EventsOut(address="/perform/ctl/evt/{event}", integer=False),
    ),
    "lights": Mapping(
        features=FeaturesOut(
            address="/perform/lights/{feature}", map=ValueMap(out_hi=255, integer=True), people_count=False
        ),
        events=_LIGHT_EVENTS,
    ),
    "lights_percent": Mapping(
        features=FeaturesOut(
            address="/perform/lights/{feature}", map=ValueMap(out_hi=100), people_count=False
        ),
        events=_LIGHT_EVENTS.model_copy(update={"start": 100.0, "integer": False}),
    ),
    "packed": Mapping(
        pose=PoseOut(layout="person", address="/perform/pose/p{slot}"),
        detail=DetailOut(layout="person", address="/perform/pose/p{slot}/{part}"),
    ),
    "wekinator": Mapping(vector=VectorOut()),
}

#: Why each preset looks as it does (docs/osc.md).
PRESET_NOTES: dict[str, str] = {
    "default": "Everything, one message per landmark (x y z visibility), features 0..1, events 1/0, status.",
    "touchdesigner": "One number per message, so the OSC In CHOP makes one channel per value named after the "
    "address (`perform/p1/nose/x`), instead of `_1`.. `_4` suffixed channels; only int and float arguments, "
    "the only types the CHOP accepts. Hands and face likewise (`perform/p1/left_hand/index_tip/x`, "
    "`perform/p1/face/nose_tip/x`) when the show finds them.",
    "ableton": "Only 0..1 floats under /perform/ctl/, what Connection Kit's OSC devices and Max for Live "
    "mappings expect (hand and face features too, `/perform/ctl/p1/left_hand_pinch`); events are 1.0 / 0.0.",
    "lights": "Features as 0..255 integers and events as 255 / 0 under /perform/lights/, for desks that "
    "take DMX-style levels.",
    "lights_percent": "As `lights`, with 0..100 floats for desks whose faders are percentages.",
    "packed": "One message per performer with all 33 x 4 floats (x y z visibility per landmark, "
    "MediaPipe's order), as MediaPipe-to-OSC bridges send; with hands and face on, one per hand "
    "(21 x 3) and face (20 named points x 3).",
    "wekinator": "One /wek/inputs message of 66 floats every frame: performer 1's 33 landmarks, x and y "
    "(0 when nobody is there), Wekinator's default input port 6448.",
}


class Target(Model):
    """One OSC receiver."""

    host: str = Field("127.0.0.1", min_length=1, description="Host name or IP address of the receiver.")
    port: int = Field(ge=1, le=65535, description="UDP port of the receiver.")
    preset: Preset | None = Field(
        None, description="A ready-made mapping (see docs/osc.md); `default` when no mapping is given."
    )
    mapping: Mapping | None = Field(None, description="A custom mapping instead of a preset.")
    rate_hz: float | None = Field(
        None, gt=0, le=1000, description="Send at most this many frames per second (null: every frame)."
    )

    @model_validator(mode="after")
    def _one_of(self) -> Target:
        if self.preset is not None and self.mapping is not None:
            raise ValueError("give a preset or a mapping, not both")
        return self

    @property
    def effective_mapping(self) -> Mapping:
        if self.mapping is not None:
            return self.mapping
        return PRESETS[self.preset or "default"]

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        kind = self.preset or ("custom" if self.mapping is not None else "default")
        return f"{host}:{self.port}/{kind}"


class StreamTarget(Model):
    """A show machine to stream this machine's poses to (its `remote` source): one stage, several cameras."""

    host: str = Field(min_length=1, description="The show machine's address.")
    port: int = Field(9100, ge=1, le=65535, description="Its remote source's UDP port.")
    id: str = Field(
        min_length=1, description="This machine's name there, as in its `senders` list (e.g. left, right)."
    )
    key: str | None = Field(
        None,
        min_length=8,
        description="Shared key: sign every datagram with it (the show machine's remote source `key`).",
    )


class Osc(Model):
    """OSC out: where to, what, and how big a datagram may be."""

    enabled: bool = Field(True, description="Send OSC when there are targets.")
    targets: list[Target] = Field([], description="Receivers, each with its preset or mapping.")
    max_datagram: int = Field(
        1472,
        ge=128,
        le=65507,
        description="Largest datagram in bytes; a frame is split into bundles under it "
        "(1472: Ethernet's 1500 minus IP and UDP headers, so no datagram is fragmented).",
    )
    heartbeat: bool = Field(
        True,
        description="Send the status messages (heartbeat, fps, latency, people) to targets that want them.",
    )
    stream: list[StreamTarget] = Field(
        [], description="Show machines to stream the pose stream to (their `kind: remote` source)."
    )


_TARGET = re.compile(r"(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:/\[\]]+)):(?P<port>[^/]*)(?:/(?P<preset>.*))?")


def loops_back(host: str, port: int, control_host: str, control_port: int) -> bool:
    """Whether sending to ``host:port`` reaches perform's own cue port (it would hear itself)."""
    if port != control_port or control_port == 0:
        return False
    import socket

    local = {"localhost", "0.0.0.0", "::1", socket.gethostname(), control_host}
    return host in local or host.startswith("127.")


def parse_target(spec: str) -> Target:
    """A target from the command-line form ``HOST:PORT[/PRESET]`` (``[::1]:7400/ableton`` for IPv6)."""
    m = _TARGET.fullmatch(spec.strip())
    if m is None:
        raise ConfigError(
            f"OSC target {spec!r}: expected HOST:PORT or HOST:PORT/PRESET, e.g. 127.0.0.1:7000/touchdesigner"
        )
    host = m["v6"] or m["host"]
    port_text = m["port"]
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"OSC target {spec!r}: expected a port 1..65535 after the colon, got {port_text!r}")
    preset = m["preset"]
    if preset is not None and preset not in PRESETS:
        close = difflib.get_close_matches(preset, PRESETS, 1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"OSC target {spec!r}: unknown preset {preset!r}; {hint}expected one of {', '.join(PRESETS)}"
        )
    return Target(host=host, port=int(port_text), preset=preset or None)  # type: ignore[arg-type]


class SenderPlacement(Model):
    """Where one sender's picture goes in the combined frame."""

    id: str = Field(min_length=1, description="The sender's source id (its `RemoteSender` source_id).")
    x: float = Field(0.0, ge=-10, le=10, description="Left edge, as a fraction of the combined width.")
    y: float = Field(0.0, ge=-10, le=10, description="Top edge, as a fraction of the combined height.")
    scale: float = Field(
        1.0,
        gt=0,
        le=10,
        description="Width of the sender's picture as a fraction of the combined width; "
        "its height follows from the sender's aspect ratio.",
    )
    address: Network | None = Field(
        None,
        description="The address or network this sender streams from (192.168.1.21); its id is "
        "accepted from nowhere else (null: pinned to the first address it streams from).",
    )


class RemoteSource(SourceBase):
    """Poses streamed over OSC from other perform instances (one per camera), merged into one stage.

    Delivers poses directly, and a drawing of the skeletons as the camera image. mirror, rotate
    and crop are not applied here: set them on the sending machines.
    """

    kind: Literal["remote"]
    port: int = Field(9100, ge=0, le=65535, description="UDP port the senders stream to (0: any free port).")
    host: str = Field("0.0.0.0", description="Interface to listen on; 0.0.0.0 is every interface.")
    senders: list[SenderPlacement] = Field(
        default_factory=list,
        description="Each sender's place in the combined frame. Empty: every sender fills the whole "
        "frame; otherwise senders not listed are ignored (and counted).",
    )
    timeout_s: float = Field(
        1.0, gt=0, le=60, description="A sender silent this long is dropped and its people leave."
    )
    width: int = Field(1280, gt=0, le=7680, description="Width of the combined frame in pixels.")
    height: int = Field(720, gt=0, le=4320, description="Height of the combined frame in pixels.")
    fps: float = Field(30.0, gt=0, le=480, description="Rate at which the merged poses are published.")
    max_people: int = Field(
        4, ge=1, le=10, description="Most people tracked over all senders (at least pose.max_people)."
    )
    allow: list[Network] = Field(
        default_factory=list,
        description="Addresses or networks senders may stream from (192.168.1.0/24); empty: any. "
        "See docs/remote-security.md.",
    )
    key: str | None = Field(
        None,
        min_length=8,
        description="Shared key: accept only datagrams signed with it (the senders' osc.stream `key`).",
    )
    pin_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="A sender id is pinned to the address it streams from until it has been silent "
        "this long; datagrams claiming it from elsewhere are dropped (0: not pinned).",
    )
    max_skew_s: float = Field(
        1.0,
        gt=0,
        le=60,
        description="A frame time-tagged further than this from this machine's clock takes its arrival "
        "time instead (dropped when `key` is set), so a wrong clock cannot make real frames stale.",
    )
    max_senders: int = Field(
        16, ge=1, le=256, description="Most sender ids known at once; the longest silent makes room."
    )
    max_datagrams: int = Field(
        128,
        ge=1,
        le=4096,
        description="Most datagrams decoded per published frame; beyond it a flood is discarded unread "
        "(counted as `shed`), so the merged poses keep their rate.",
    )

    @model_validator(mode="after")
    def _unique_ids(self) -> RemoteSource:
        ids = [s.id for s in self.senders]
        doubles = sorted({i for i in ids if ids.count(i) > 1})
        if doubles:
            raise ValueError(f"senders: each id once, got {', '.join(doubles)} more than once")
        return self
