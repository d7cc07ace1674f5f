"""Takes: the pose stream recorded to a compact file, and read back.

Format (little-endian), documented in docs/takes.md::

    b"PERFTAKE" | u16 version | u32 n | n bytes of JSON header
    then records, each: u32 n | n bytes record
    record: u32 m | m bytes of JSON meta | float32 landmarks (k,33,4) | float32 world (k,33,3)
            | float32 feature values (f) | [u32 p | p bytes PNG of the combined mask, when meta["mask"]]

The header holds the landmark names, image size and what was recorded; each record's meta holds
``seq``, ``t`` (seconds since the take began), ``slots``, ``scores``, ``ages``, ``events``, ``nf``
(number of feature values) and, only when the set of features changed since the previous record,
``fkeys`` (their names). A take cut short (the show was killed) reads up to its last whole record.
"""

from __future__ import annotations

import json
import os
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from perform import __version__
from perform.errors import PerformError
from perform.vision.types import LANDMARK_NAMES, NUM_LANDMARKS, Body, PersonEvent, Poses

MAGIC = b"PERFTAKE"
VERSION = 1
#: Numbered names tried after a take name that is taken (``name-2.take`` ... ``name-1000.take``).
MAX_NUMBERED = 1000
# A new regular file or nothing: O_EXCL fails on anything that exists (a file, a link, a FIFO),
# O_NOFOLLOW never follows a link, O_NONBLOCK never waits on a device.
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_U32 = struct.Struct("<I")


class TakeError(PerformError):
    """A take file that is not one, is damaged, or is of a newer version."""


@dataclass(frozen=True)
class TakeRecord:
    """One frame of a take."""

    seq: int
    t: float
    bodies: tuple[Body, ...]
    features: dict[str, float]
    events: tuple[PersonEvent, ...]
    mask: np.ndarray | None


class TakeWriter:
    """Appends :class:`Poses` to a take file; flushes every record so a crash loses at most one."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        masks: bool = False,
        show: str = "",
        file: BinaryIO | None = None,
    ) -> None:
        """``file``: already opened for writing (by :func:`open_new_take`); otherwise ``path`` is."""
        self.path = path
        self.masks = masks
        self.records = 0
        self._t0: float | None = None
        self._keys: list[str] = []
        if file is not None:
            self._file: BinaryIO = file
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("wb")
            except OSError as exc:
                raise TakeError(f"{path}: cannot write the take: {exc.strerror}") from None
        header = {
            "version": VERSION,
            "perform": __version__,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "show": show,
            "width": width,
            "height": height,
            "landmarks": list(LANDMARK_NAMES),
            "masks": masks,
        }
        blob = json.dumps(header).encode()
        self._file.write(MAGIC + struct.pack("<H", VERSION) + _U32.pack(len(blob)) + blob)

    def write(self, poses: Poses) -> None:
        if self._t0 is None:
            self._t0 = poses.t_capture
        bodies = poses.bodies
        t = poses.t_capture - self._t0
        mask_png = b""
        if self.masks and poses.mask is not None:
            ok, png = cv2.imencode(".png", np.clip(poses.mask * 255, 0, 255).astype(np.uint8))
            mask_png = png.tobytes() if ok else b""
        meta = {
            "seq": poses.seq,
            "t": t,
            "slots": [b.slot for b in bodies],
            "scores": [round(float(b.score), 4) for b in bodies],
            "ages": [round(float(b.age_s), 4) for b in bodies],
            "events": [[e.kind, e.slot, round(e.t - self._t0, 6)] for e in poses.events],
            "nf": len(poses.features),
            "mask": bool(mask_png),
        }
        keys = list(poses.features)
        if keys != self._keys:
            meta["fkeys"] = self._keys = keys
        values = np.array([poses.features[k] for k in keys], dtype="<f4")
        meta_blob = json.dumps(meta).encode()
        landmarks = np.array([b.landmarks for b in bodies], dtype="<f4").reshape(-1, NUM_LANDMARKS, 4)
        world = np.array([b.world for b in bodies], dtype="<f4").reshape(-1, NUM_LANDMARKS, 3)
        parts = [_U32.pack(len(meta_blob)), meta_blob, landmarks.tobytes(), world.tobytes(), values.tobytes()]
        if mask_png:
            parts += [_U32.pack(len(mask_png)), mask_png]
        record = b"".join(parts)
        self._file.write(_U32.pack(len(record)) + record)
        self._file.flush()
        self.records += 1

    def close(self) -> None:
        self._file.close()


def open_new_take(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    """Create take file ``name`` in ``folder`` (``name-2.take``, ``-3``... when taken), open for writing.

    ``name`` must be a plain file name (see :func:`perform.control.take_name`). Never overwrites,
    never follows a link, never opens anything but a new regular file; :class:`TakeError` says why not.
    """
    if not name.endswith(".take") or os.sep in name or (os.altsep and os.altsep in name) or name[0] == ".":
        raise TakeError(f"take name: expected a plain file name ending in .take, got {name!r}")
    stem = name[: -len(".take")]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        raise TakeError(f"{folder}: cannot write takes here: {exc.strerror}") from None
    try:
        for n in range(1, MAX_NUMBERED + 1):
            candidate = name if n == 1 else f"{stem}-{n}.take"
            try:
                fd = os.open(candidate, _NEW_FILE, 0o644, dir_fd=dir_fd)
            except FileExistsError:
                continue
            except OSError as exc:
                raise TakeError(f"{folder / candidate}: cannot write the take: {exc.strerror}") from None
            os.set_blocking(fd, True)
            return folder / candidate, os.fdopen(fd, "wb")
    finally:
        os.close(dir_fd)
    raise TakeError(f"{folder}: {name} and {MAX_NUMBERED - 1} numbered names after it are all taken")


def read_take(path: Path) -> tuple[dict, Iterator[TakeRecord]]:
    """The header of a take and an iterator over its records."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise TakeError(f"{path}: no such take file") from None
    except OSError as exc:
        raise TakeError(f"{path}: cannot read: {exc.strerror}") from None
    head = f.read(len(MAGIC) + 2 + 4)
    if len(head) < len(MAGIC) + 6 or not head.startswith(MAGIC):
        f.close()
        raise TakeError(f"{path}: not a perform take (expected it to start with {MAGIC!r})")
    (version,) = struct.unpack("<H", head[len(MAGIC) : len(MAGIC) + 2])
    if version > VERSION:
        f.close()
        raise TakeError(f"{path}: take version {version} is newer than this perform reads ({VERSION})")
    (n,) = _U32.unpack(head[-4:])
    try:
        header = json.loads(f.read(n))
    except ValueError:
        f.close()
        raise TakeError(f"{path}: damaged header") from None
    if not isinstance(header, dict) or not all(
        isinstance(header.get(k), int) and header[k] > 0 for k in ("width", "height")
    ):
        f.close()
        raise TakeError(f"{path}: damaged header (expected width and height)")
    if header.get("landmarks") != list(LANDMARK_NAMES):
        f.close()
        raise TakeError(f"{path}: recorded with another landmark set")
    return header, _records(f, path)


def _records(f: BinaryIO, path: Path) -> Iterator[TakeRecord]:
    keys: list[str] = []
    with f:
        while True:
            size = f.read(4)
            if len(size) < 4:
                return
            (n,) = _U32.unpack(size)
            blob = f.read(n)
            if len(blob) < n:
                return  # the take was cut short mid-record: keep what is whole
            try:
                record, keys = _parse(blob, keys)
                yield record
            except (ValueError, KeyError, IndexError, TypeError, struct.error) as exc:
                raise TakeError(f"{path}: damaged record at byte {f.tell() - n}: {exc}") from None


def _parse(blob: bytes, keys: list[str]) -> tuple[TakeRecord, list[str]]:
    (m,) = _U32.unpack_from(blob, 0)
    meta = json.loads(blob[4 : 4 + m])
    keys = meta.get("fkeys", keys)
    nf = int(meta["nf"])
    if nf != len(keys):
        raise ValueError(f"{nf} feature values for {len(keys)} names")
    k = len(meta["slots"])
    offset = 4 + m
    lm_bytes, w_bytes = k * NUM_LANDMARKS * 4 * 4, k * NUM_LANDMARKS * 3 * 4
    landmarks = np.frombuffer(blob, "<f4", k * NUM_LANDMARKS * 4, offset).reshape(k, NUM_LANDMARKS, 4)
    world = np.frombuffer(blob, "<f4", k * NUM_LANDMARKS * 3, offset + lm_bytes).reshape(k, NUM_LANDMARKS, 3)
    offset += lm_bytes + w_bytes
    values = np.frombuffer(blob, "<f4", nf, offset)
    offset += nf * 4
    mask = None
    if meta.get("mask"):
        (p,) = _U32.unpack_from(blob, offset)
        png = np.frombuffer(blob, np.uint8, p, offset + 4)
        decoded = cv2.imdecode(png, cv2.IMREAD_GRAYSCALE)
        mask = decoded.astype(np.float32) / 255.0 if decoded is not None else None
    bodies = tuple(
        Body(int(s), landmarks[i], world[i], float(meta["scores"][i]), None, float(meta["ages"][i]))
        for i, s in enumerate(meta["slots"])
    )
    events = tuple(PersonEvent(str(kind), int(slot), float(t)) for kind, slot, t in meta["events"])
    features = {k: float(v) for k, v in zip(keys, values, strict=True)}
    return TakeRecord(int(meta["seq"]), float(meta["t"]), bodies, features, events, mask), keys
