"""What perform's OSC outputs send, written down: ``docs/osc.md`` and the OSCQuery listing.

Regenerate the page with ``python -m perform.osc.doc > docs/osc.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from perform.osc.config import PRESET_NOTES, PRESETS, STATUS_PREFIX, Mapping
from perform.osc.status import NUMERIC_CHANNELS, STAGE_TAGS, STATE_CODES


@dataclass(frozen=True)
class AddressDoc:
    """One documented address pattern: ``<N>``, ``<landmark>``, ``<field>``, ``<feature>``, ``<event>``."""

    address: str
    tags: str
    meaning: str


def _tags_text(tags: str) -> str:
    return tags if len(tags) <= 8 else f"{len(tags)} x `{tags[0]}`"


def describe(mapping: Mapping) -> list[AddressDoc]:
    """Every address pattern a mapping sends, with its type tags."""
    rows: list[AddressDoc] = []
    pose = mapping.pose
    if pose is not None:
        tag = "i" if pose.map is not None and pose.map.integer else "f"
        where = "image x, y (0..1, y down), z depth" if pose.coordinates == "image" else "world metres"
        fields = " ".join(pose.fields)
        if pose.layout == "landmark":
            a = pose.address.format(slot="<N>", landmark="<landmark>")
            rows.append(
                AddressDoc(a, tag * len(pose.fields), f"{fields} of a landmark of performer N ({where})")
            )
        elif pose.layout == "value":
            a = pose.address.format(slot="<N>", landmark="<landmark>", field="<field>")
            rows.append(AddressDoc(a, tag, f"one value ({'/'.join(pose.fields)}) of a landmark ({where})"))
        else:
            n = len(pose.names) * len(pose.fields)
            rows.append(
                AddressDoc(
                    pose.address.format(slot="<N>"),
                    tag * n,
                    f"performer N: {len(pose.names)} landmarks in MediaPipe's order, {fields} each ({where})",
                )
            )
    do = mapping.detail
    if do is not None:
        fields, parts = " ".join(do.fields), "/".join(do.parts)
        where = f"{parts} of performer N (pose.detail; image x, y, z; nothing when not found)"
        if do.layout == "landmark":
            a = do.address.format(slot="<N>", part="<part>", landmark="<landmark>")
            rows.append(AddressDoc(a, "f" * len(do.fields), f"{fields} of a landmark of the {where}"))
        elif do.layout == "value":
            a = do.address.format(slot="<N>", part="<part>", landmark="<landmark>", field="<field>")
            rows.append(AddressDoc(a, "f", f"one value ({'/'.join(do.fields)}) of a landmark of the {where}"))
        else:
            n = len(do.fields)
            hands = [p for p in do.parts if p != "face"]
            if hands:
                part = hands[0] if len(hands) == 1 else "<hand>"
                rows.append(
                    AddressDoc(
                        do.address.format(slot="<N>", part=part),
                        "f" * (21 * n),
                        f"{'/'.join(hands)} of performer N (pose.detail; nothing when not found): 21 "
                        f"landmarks in docs/hands-face.md's order, {fields} each (image x, y, z)",
                    )
                )
            if "face" in do.parts:
                rows.append(
                    AddressDoc(
                        do.address.format(slot="<N>", part="face"),
                        "f" * (20 * n),
                        f"face of performer N (pose.detail; nothing when not found): its 20 named points "
                        f"in docs/hands-face.md's order, {fields} each (image x, y, z)",
                    )
                )
    fo = mapping.features
    if fo is not None:
        tag = "i" if fo.map.integer else "f"
        vm = fo.map
        span = f"{vm.out_lo:g}..{vm.out_hi:g}"
        rows.append(
            AddressDoc(
                fo.address.format(feature="p<N>/<feature>"),
                tag,
                f"per-person feature, its range mapped onto {span}",
            )
        )
        rows.append(AddressDoc(fo.address.format(feature="stage/<feature>"), tag, f"stage feature, {span}"))
        count = fo.address.format(feature="people_count")
        rows.append(
            AddressDoc(
                fo.address.format(feature="people"),
                tag,
                f"performers on stage, 0..6 as {span}" + (f" (count: {count})" if fo.people_count else ""),
            )
        )
        if fo.people_count:
            rows.append(AddressDoc(count, "i", "performers on stage, the count"))
    eo = mapping.events
    if eo is not None:
        tag = "i" if eo.integer else "f"
        on = "value" if eo.use_value else f"{eo.start:g}"
        rows.append(
            AddressDoc(
                eo.address.format(event="<event>"), tag, f"stage event: {on} on start, {eo.end:g} on end"
            )
        )
        rows.append(
            AddressDoc(
                eo.address.format(event="p<N>/<event>"), tag, f"performer N's event: {on} / {eo.end:g}"
            )
        )
    vo = mapping.vector
    if vo is not None:
        rows.append(
            AddressDoc(
                vo.address,
                "f" * vo.length,
                f"performers 1..{vo.slots}: {len(vo.landmarks)} landmarks, {' '.join(vo.fields)} each"
                + (f", {len(vo.features)} features" if vo.features else "")
                + (f"; {len(vo.stage_features)} stage features" if vo.stage_features else "")
                + "; 0 when absent",
            )
        )
    if mapping.status:
        rows += [
            AddressDoc(STATUS_PREFIX + "heartbeat", "i", "once a second: a counter, 1, 2, ..."),
            AddressDoc(STATUS_PREFIX + "fps", "f", "once a second: pose frames per second"),
            AddressDoc(
                STATUS_PREFIX + "latency_ms", "f", "once a second: capture to send of the last frame, ms"
            ),
            AddressDoc(STATUS_PREFIX + "people", "i", "once a second: performers on stage"),
        ]
    return rows


def describe_status(numbers_only: bool | None = False) -> list[AddressDoc]:
    """The addresses :class:`~perform.osc.status.StatusSender` sends (``numbers_only``: to a target
    that takes numbers only; None: both forms)."""
    codes = ", ".join(f"{n} {state}" for state, n in STATE_CODES.items())
    meaning = {
        "state": f"once a second per stage: its state, {codes} (-1 other)",
        "fps": "once a second per stage: frames handed on per second",
        "errors": "once a second per stage: errors so far",
        "restarts": "once a second per stage: restarts so far",
        "dropped": "once a second per stage: frames dropped so far",
        "age_ms": "once a second per stage: ms since its last output (-1: none yet)",
    }
    text = [
        AddressDoc(
            STATUS_PREFIX + "<stage>",
            STAGE_TAGS,
            "once a second per stage: state (running, stalled, ...), fps, errors, restarts, dropped, "
            "ms since its last output (-1: none yet)",
        )
    ]
    numbers = [AddressDoc(f"{STATUS_PREFIX}<stage>/{c}", t, meaning[c]) for c, t in NUMERIC_CHANNELS]
    forms = {False: text, True: numbers, None: text + numbers}[numbers_only]
    return [
        *forms,
        AddressDoc(
            STATUS_PREFIX + "ok", "i", "once a second: 1 when every stage runs and none is stale, else 0"
        ),
        AddressDoc(STATUS_PREFIX + "uptime", "f", "once a second: seconds since the show started"),
    ]


def status_markdown() -> list[str]:
    """The stage-health part of docs/osc.md."""
    lines = [
        "### Stage health",
        "",
        "The same targets get every stage's health once a second, in one bundle (timetag:",
        "immediately):",
        "",
        "| address | types | meaning |",
        "|---|---|---|",
    ]
    lines += [f"| `{d.address}` | {d.tags} | {d.meaning} |" for d in describe_status(None)]
    lines += [
        "",
        "`<stage>` is a pipeline stage: `capture`, `pose`, `events`, `take`, `osc`, `style`, `midi`,",
        "`audio`, `stream`, `preview`. A stage is stale when it is `running` or `recording` and has",
        "handed nothing on for `stale_s` (default 2 s); `idle` counts as running (a take recorder",
        "waiting for a cue). `ok` is 0 while anything is `stalled`, `stopped` or `ended`, or stale, so a",
        "light or a QLab cue can watch one number. TouchDesigner's OSC In CHOP takes only numbers, so",
        "the `touchdesigner` preset (any mapping with `numbers_only: true`) gets each stage as one",
        "number per message instead of the `sfiiif` row: `/perform/status/<stage>/state` (a number),",
        "`/fps`, `/errors`, `/restarts`, `/dropped`, `/age_ms`, a channel each.",
        "",
        "The OSC control input has a row `control` (state `listening`): `dropped` counts what it refused",
        "(senders outside `control.allow`, cues whose queue was full, parameters refused, replies over",
        "the rate, HTTP connections over the cap), `errors` what was malformed or failed (docs/osc-in.md).",
        "",
    ]
    return lines


def osc_markdown() -> str:
    """``docs/osc.md``: the addresses of every preset, then how TouchDesigner, Ableton and desks use them."""
    lines = [
        "<!-- generated by `python -m perform.osc.doc`; do not edit by hand -->",
        "# OSC out",
        "",
        "perform sends each frame as one OSC bundle per target over UDP, timetagged with the frame's",
        "capture time on the wall clock (NTP format). A frame larger than `osc.max_datagram` (default",
        "1472 bytes, one Ethernet packet) is split into several bundles with the same timetag; a message",
        "is never split. Events arrive in the bundle of the frame during which they happened, none is",
        "skipped; a target with `rate_hz` gets fewer frames, but its events at once, in a bundle of their",
        "own between frames.",
        "",
        "Targets come from the show file (`osc.targets`) or the command line, `HOST:PORT[/PRESET]`",
        "(`127.0.0.1:7000/touchdesigner`, `[::1]:7400/ableton`).",
        "",
        "Placeholders: `<N>` performer number (1, 2, ...), `<landmark>` one of MediaPipe's 33 names",
        "(`nose`, `left_wrist`, ...), `<field>` `x`, `y`, `z` or `visibility`, `<feature>` a feature",
        "of [features.md](features.md), `<event>` an event name. Type tags: `f` float32, `i` int32.",
        "",
    ]
    for name, mapping in PRESETS.items():
        lines += [
            f"## `{name}`",
            "",
            PRESET_NOTES[name],
            "",
            "| address | types | meaning |",
            "|---|---|---|",
        ]
        for row in describe(mapping):
            lines.append(f"| `{row.address}` | {_tags_text(row.tags)} | {row.meaning} |")
        lines.append("")
    lines += [
        "## Custom mappings",
        "",
        "A target's `mapping` picks landmarks, features and events, address templates (`{slot}`,",
        "`{landmark}`, `{field}`, `{feature}`, `{event}`) and how values are mapped: `in_lo`..`in_hi`",
        "onto 0..1 (default: the feature's documented range), clamped, smoothed (`smoothing_s`, an",
        "exponential time constant on capture time), shaped by a `curve` (`linear`, `exponential` u^power,",
        "`logarithmic` 1-(1-u)^power, `smoothstep`, `smootherstep`), then onto `out_lo`..`out_hi`, as an",
        "int32 when `integer`. Every option: [show-file.md](show-file.md).",
        "",
        "Port 9000 is perform's own cue input (`control.port`): a target there would make perform hear",
        "itself, so perform leaves such a target out with a warning. Send to another port.",
        "",
        "```yaml",
        "osc:",
        "  max_datagram: 1472",
        "  heartbeat: true",
        "  targets:",
        "    - {host: 192.168.1.20, port: 7000, preset: touchdesigner}",
        "    - {host: 127.0.0.1, port: 7400, preset: ableton, rate_hz: 60}",
        "    - host: 192.168.1.50",
        "      port: 8000",
        "      rate_hz: 30",
        "      mapping:",
        "        features:",
        "          include: ['stage.*', 'p1.hands_up']",
        "          address: /desk/{feature}",
        "          map: {out_hi: 255, integer: true, curve: smoothstep, smoothing_s: 0.2}",
        "        events: {include: [hands_up, jump], address: '/desk/go/{event}', start: 255, end: 0}",
        "```",
        "",
        "## TouchDesigner",
        "",
        "Use the `touchdesigner` preset and an **OSC In CHOP** on the target's port. The CHOP takes",
        "channel names from the addresses and accepts only int and float arguments; a message with",
        "several arguments becomes several channels suffixed `_1`, `_2`, ... . With one value per",
        "message each landmark coordinate is a channel named after its address (`perform/p1/nose/x`),",
        "features read 0..1 (`perform/p1/energy`, `perform/stage/energy`, `perform/people`) and events",
        "1 / 0 (`perform/evt/p1/hands_up`), so a Select CHOP with a pattern such as `*p1/*/x` picks",
        "channels without renaming. A performer who leaves stops sending: their channels hold their",
        "last values; watch `perform/status/people` (the count itself, once a second; `perform/people`",
        "is the count divided by 6, like every feature mapped onto 0..1) or the `leave` events. Features",
        "arrive mapped onto 0..1 (the *control value*), while rules compare raw values unless they name",
        "the control value: `hands_up.ctl` in a rule reads what the CHOP shows (docs/features.md lists",
        "both). Every bundle carries its frame's",
        "capture time as its timetag, for receivers that schedule by it.",
        "",
        "## Ableton Live",
        "",
        "Use the `ableton` preset: only 0..1 floats under `/perform/ctl/`, the range a Max for Live",
        "device maps straight onto a Live parameter. In a Max for Live device that receives OSC (one of",
        "Connection Kit's, or your own with `udpreceive`), set the port and an address such as",
        "`/perform/ctl/p1/energy`, then map it; `rate_hz: 60` keeps the load on Live low.",
        "Without Max for Live, send MIDI instead: the `midi:` section maps",
        "features to CCs and events to notes on a port Live sees (`virtual: true` creates one on Linux",
        "and macOS; on Windows use loopMIDI), and Live's MIDI Map mode learns them by moving them.",
        "",
        "```yaml",
        "midi:",
        "  port: perform",
        "  virtual: true",
        "  cc:",
        "    - {feature: stage.energy, channel: 1, cc: 20}",
        "    - {feature: p1.hands_up, channel: 1, cc: 21}",
        "  notes:",
        "    - {event: jump, channel: 10, note: 36, hold: false}",
        "    - {event: p1/hands_up, channel: 1, note: 60, velocity: value}",
        "```",
        "",
        "## Lighting desks",
        "",
        "`lights` sends features as 0..255 integers and events as 255 / 0 under `/perform/lights/`;",
        "`lights_percent` sends 0..100 floats for desks whose faders are percentages. Most desks map",
        "an incoming OSC address onto a fader or a cue in their OSC input settings; a custom mapping",
        "sets the address prefix (`/desk/{feature}`), the range and the curve. Keep `rate_hz` near the",
        "desk's refresh (often 30-44 Hz) and use `smoothing_s` for fades that do not flicker.",
        "",
        "## Status",
        "",
        "Targets with `status` (the `default` and `touchdesigner` presets) get `/perform/status/*` once",
        "a second while `osc.heartbeat` is on, also when no frame arrives, so a receiver can tell a",
        "silent stage from a stopped perform.",
        "",
        *status_markdown(),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(osc_markdown(), end="")
