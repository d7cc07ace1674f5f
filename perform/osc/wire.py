"""OSC on the wire: messages, bundles and time tags out; datagrams checked and parsed in.

Out, messages are written with python-osc's own type writers (:mod:`pythonosc.parsing.osc_types`),
the bytes its ``OscMessageBuilder`` and ``OscBundleBuilder`` produce (the tests compare them). The
builders parse every datagram back after building it, about 3 ms for six performers' landmarks,
so here each address's header (address and type tags) is written once and cached, and numbers
are packed with :mod:`struct`. A frame larger than ``max_datagram`` goes out as several bundles
with the same time tag (:func:`pack_bundles`); a message is never split.

In, every datagram is checked (:func:`check_datagram`) before python-osc parses it: python-osc
would loop forever on a bundle element of negative size and only logs unknown type tags.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from pythonosc.osc_bundle import OscBundle
from pythonosc.osc_message import OscMessage
from pythonosc.parsing import osc_types

BUNDLE = b"#bundle\x00"
BUNDLE_HEADER = 16  # "#bundle\0" and the 8-byte time tag
#: OSC's "immediately" time tag.
IMMEDIATELY = b"\x00" * 7 + b"\x01"
#: The time :func:`parse_datagram` gives a message that is to be applied at once.
IMMEDIATE_TIME = 0.0
NTP_DELTA = 2208988800  # seconds from 1900-01-01 to 1970-01-01

_I32 = struct.Struct(">i")
_F32 = struct.Struct(">f")
_U64 = struct.Struct(">Q")


# --- out --------------------------------------------------------------------------------------


def string(text: str) -> bytes:
    """An OSC string: UTF-8, null-terminated, padded to 4 bytes."""
    return osc_types.write_string(text)


def blob(data: bytes) -> bytes:
    """An OSC blob: its size, the bytes, padded to 4 bytes (empty allowed)."""
    return _I32.pack(len(data)) + data + b"\x00" * (-len(data) % 4)


_HEADERS: dict[tuple[str, str], bytes] = {}


def header(address: str, tags: str) -> bytes:
    """Address and type-tag string of a message, OSC-padded (cached)."""
    key = (address, tags)
    h = _HEADERS.get(key)
    if h is None:
        if len(_HEADERS) > 100_000:
            _HEADERS.clear()
        h = _HEADERS[key] = string(address) + string("," + tags)
    return h


def encode(address: str, tags: str, values: Sequence[float]) -> bytes:
    """One OSC message with int32 (``i``) and float32 (``f``) arguments."""
    return header(address, tags) + struct.pack(">" + tags, *values)


def encode_message(address: str, *args: int | float | str | bool | bytes) -> bytes:
    """One OSC message: ints as i, floats as f, strings as s, bools as T/F, bytes as b."""
    tags = []
    payload = []
    for arg in args:
        if isinstance(arg, bool):
            tags.append("T" if arg else "F")
        elif isinstance(arg, int):
            tags.append("i")
            payload.append(_I32.pack(arg))
        elif isinstance(arg, float):
            tags.append("f")
            payload.append(_F32.pack(arg))
        elif isinstance(arg, str):
            tags.append("s")
            payload.append(string(arg))
        elif isinstance(arg, bytes):
            tags.append("b")
            payload.append(blob(arg))
        else:
            raise TypeError(
                f"OSC argument: expected int, float, str, bool or bytes, got {type(arg).__name__}"
            )
    return string(address) + string("," + "".join(tags)) + b"".join(payload)


#: One int32 or float32 argument, packed (after a :func:`header`).
int32 = _I32.pack
float32 = _F32.pack


def element(msg: bytes) -> bytes:
    """A message as a bundle element: its size, then the message."""
    return _I32.pack(len(msg)) + msg


def timetag(t_wall: float) -> bytes:
    """The 8-byte OSC (NTP) time tag of a wall-clock time (Unix seconds); never "immediately"."""
    return _U64.pack(max(int((t_wall + NTP_DELTA) * 2.0**32), 2))


def bundle(tag: bytes, elements: Sequence[bytes]) -> bytes:
    """A bundle of ``elements`` (sized, :func:`element`) with the 8-byte time tag ``tag``."""
    return BUNDLE + tag + b"".join(elements)


def pack_bundles(tag: bytes, elements: list[bytes], max_datagram: int) -> tuple[list[bytes], int]:
    """Bundles of whole elements, each datagram at most ``max_datagram`` bytes, all with ``tag``.

    Returns the datagrams and how many elements were too large to fit any bundle (each of those
    goes alone in a bundle of its own, over the limit).
    """
    head = BUNDLE + tag
    out: list[bytes] = []
    oversize = 0
    batch: list[bytes] = []
    size = BUNDLE_HEADER
    for el in elements:
        n = len(el)
        if BUNDLE_HEADER + n > max_datagram:
            oversize += 1
            if batch:  # keep the frame's order
                out.append(head + b"".join(batch))
                batch, size = [], BUNDLE_HEADER
            out.append(head + el)
            continue
        if size + n > max_datagram:
            out.append(head + b"".join(batch))
            batch, size = [], BUNDLE_HEADER
        batch.append(el)
        size += n
    if batch:
        out.append(head + b"".join(batch))
    return out, oversize


# --- in ---------------------------------------------------------------------------------------

#: Kinds of malformed datagrams (:attr:`MalformedDatagram.kind`).
MALFORMED_KINDS = ("empty", "garbage", "address", "typetag", "truncated", "encoding", "bundle", "parse")

_MAX_DEPTH = 8
# Type tags python-osc parses, and the bytes each takes ("s" and "b" vary).
_TAG_SIZE = {"i": 4, "f": 4, "r": 4, "m": 4, "h": 8, "d": 8, "t": 8, "T": 0, "F": 0, "N": 0, "[": 0, "]": 0}


class MalformedDatagram(ValueError):
    """A datagram that is not valid OSC; ``kind`` is one of :data:`MALFORMED_KINDS`."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def clip(text: str, keep: int = 32) -> str:
    """``text``, or its start and its length when it is longer than ``keep`` (for log lines)."""
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text)} characters)"


def read_timetag(data: bytes, index: int) -> float:
    """The time tag at ``index`` as Unix seconds (:data:`IMMEDIATE_TIME` for "immediately")."""
    return float(osc_types.get_date(data, index)[0])


def _string_end(data: bytes, start: int) -> int | None:
    """Index after the padded OSC string at ``start``; None when it is unterminated or truncated."""
    nul = data.find(b"\x00", start)
    if nul < 0:
        return None
    end = start + ((nul - start) // 4 + 1) * 4
    return end if end <= len(data) else None


def _decodes(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _check_message(data: bytes) -> None:
    end = _string_end(data, 0)
    if end is None:
        raise MalformedDatagram("address", "address string is not null-terminated and padded to 4 bytes")
    address = data[: data.index(b"\x00")]
    if not _decodes(address):
        raise MalformedDatagram("encoding", "address is not UTF-8")
    if end == len(data):
        return  # no type tag: a message without arguments
    if data[end : end + 1] != b",":
        raise MalformedDatagram(
            "typetag", f"type tag string must start with ',', got {data[end : end + 4]!r}"
        )
    tags_end = _string_end(data, end)
    if tags_end is None:
        raise MalformedDatagram("typetag", "type tag string is not null-terminated and padded")
    tags = data[end + 1 : data.index(b"\x00", end)].decode("latin-1")
    depth = 0
    for tag in tags:
        if tag == "[":
            depth += 1
        elif tag == "]":
            depth -= 1
            if depth < 0:
                raise MalformedDatagram("typetag", f"unbalanced ']' in type tags ,{clip(tags)}")
        elif tag not in _TAG_SIZE and tag not in "sb":
            raise MalformedDatagram("typetag", f"unsupported type tag {tag!r} in ,{clip(tags)}")
    if depth:
        raise MalformedDatagram("typetag", f"unbalanced '[' in type tags ,{clip(tags)}")
    index = tags_end
    for n, tag in enumerate(tags):
        if tag == "s":
            after = _string_end(data, index)
            if after is None:
                raise MalformedDatagram("truncated", f"argument {n} (s) runs past the end")
            if not _decodes(data[index : data.index(b"\x00", index)]):
                raise MalformedDatagram("encoding", f"argument {n} (s) is not UTF-8")
            index = after
        elif tag == "b":
            if index + 4 > len(data):
                raise MalformedDatagram("truncated", f"argument {n} (b) has no size")
            (size,) = _I32.unpack_from(data, index)
            if size < 0 or index + 4 + size + (-size % 4) > len(data):
                raise MalformedDatagram(
                    "truncated", f"argument {n} (b) of {size} bytes, {len(data) - index - 4} left"
                )
            index += 4 + size + (-size % 4)
        else:
            index += _TAG_SIZE[tag]
            if index > len(data):
                raise MalformedDatagram("truncated", f"argument {n} ({tag}) runs past the end")


def _check_bundle(data: bytes, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise MalformedDatagram("bundle", f"bundles nested deeper than {_MAX_DEPTH}")
    if len(data) < BUNDLE_HEADER:
        raise MalformedDatagram("bundle", f"bundle header needs 16 bytes, got {len(data)}")
    index = BUNDLE_HEADER
    while index < len(data):
        if index + 4 > len(data):
            raise MalformedDatagram("bundle", f"element size at byte {index} is cut off")
        (size,) = _I32.unpack_from(data, index)
        index += 4
        if size <= 0 or size % 4 or index + size > len(data):
            raise MalformedDatagram(
                "bundle", f"element of {size} bytes at byte {index - 4}, {len(data) - index} left"
            )
        _check(data[index : index + size], depth + 1)
        index += size


def _check(data: bytes, depth: int = 0) -> None:
    if not data:
        raise MalformedDatagram("empty", "empty datagram")
    if data.startswith(BUNDLE):
        _check_bundle(data, depth)
    elif data[:1] == b"/":
        _check_message(data)
    else:
        raise MalformedDatagram("garbage", f"neither a message nor a bundle: starts {data[:8]!r}")


def check_datagram(data: bytes) -> None:
    """Raise :class:`MalformedDatagram` unless ``data`` is a complete, valid OSC packet."""
    _check(data)


def _walk(b: OscBundle, outer: float) -> list[tuple[float, OscMessage]]:
    tag = b.timestamp if b.timestamp != IMMEDIATE_TIME else outer
    out: list[tuple[float, OscMessage]] = []
    for content in b:
        if isinstance(content, OscBundle):
            out.extend(_walk(content, tag))
        else:
            out.append((tag, content))
    return out


def parse_datagram(data: bytes) -> list[tuple[float, OscMessage]]:
    """The messages of a datagram with their time tags (Unix seconds; 0.0 = immediately).

    Raises :class:`MalformedDatagram` for anything that is not valid OSC.
    """
    check_datagram(data)
    try:
        if data.startswith(BUNDLE):
            return _walk(OscBundle(data), IMMEDIATE_TIME)
        return [(IMMEDIATE_TIME, OscMessage(data))]
    except Exception as exc:  # validated above; anything python-osc still refuses is counted
        raise MalformedDatagram("parse", f"{type(exc).__name__}: {exc}") from None
