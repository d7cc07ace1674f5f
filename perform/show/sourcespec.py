"""``--source`` strings: ``camera:0``, ``0``, ``/dev/video2``, ``video:clip.mp4``, ``clip.mp4``,
``image:still.png``, ``folder:frames/``, ``pattern``, ``pattern:1280x720@60``, ``virtual``,
``virtual:3`` (people), ``take:rehearsal.take``, ``rehearsal.take`` or ``ndi:NAME``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from perform.capture.files import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from perform.errors import ConfigError
from perform.schema import SourceBase
from perform.show.loader import missing_input
from perform.show.models import SourceConfig

_SIZE = re.compile(r"^(?:(\d+)x(\d+))?(?:@(\d+(?:\.\d+)?))?$")
_ADAPTER: TypeAdapter[SourceConfig] = TypeAdapter(SourceConfig)


def parse_source(spec: str, keep: SourceBase | None = None) -> SourceConfig:
    """Turn a ``--source`` string into a source config, keeping ``keep``'s mirror/rotate/crop.

    Paths are taken relative to the working directory; a file or folder that is not there is a
    :class:`ConfigError`.
    """
    data = _spec_fields(spec.strip())
    if keep is not None:
        data.update(mirror=keep.mirror, rotate=keep.rotate, crop=keep.crop)
    try:
        source = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise ConfigError(f"--source {spec!r}: {first['msg']}") from None
    problem = missing_input(source)
    if problem is not None:
        raise ConfigError(f"--source {spec!r}: {problem}")
    return source


def _spec_fields(spec: str) -> dict[str, Any]:
    kind, sep, rest = spec.partition(":")
    if not sep or (len(kind) == 1 and kind.isalpha()):  # no prefix (or a Windows drive letter)
        return _guess(spec)
    kind = kind.lower()
    if kind == "camera":
        return {"kind": "camera", "device": int(rest) if rest.isdigit() else rest}
    if kind in ("video", "image", "folder", "take"):
        if not rest:
            raise ConfigError(f"--source {spec!r}: expected {kind}:PATH")
        return {"kind": kind, "path": Path(rest).expanduser().resolve()}
    if kind == "pattern":
        match = _SIZE.match(rest)
        if match is None:
            raise ConfigError(
                f"--source {spec!r}: expected pattern:WIDTHxHEIGHT@FPS, e.g. pattern:1280x720@30"
            )
        width, height, fps = match.groups()
        fields: dict[str, Any] = {"kind": "pattern"}
        if width:
            fields.update(width=int(width), height=int(height))
        if fps:
            fields["fps"] = float(fps)
        return fields
    if kind == "ndi":
        if not rest.strip():
            raise ConfigError(f"--source {spec!r}: expected ndi:NAME, e.g. ndi:TouchDesigner")
        return {"kind": "ndi", "name": rest.strip()}
    if kind == "virtual":
        if rest and not rest.isdigit():
            raise ConfigError(f"--source {spec!r}: expected virtual:PEOPLE, e.g. virtual:3")
        return {"kind": "virtual", **({"people": int(rest)} if rest else {})}
    raise ConfigError(
        f"--source {spec!r}: unknown kind {kind!r}; "
        "expected camera, video, image, folder, pattern, virtual, take or ndi"
    )


def _guess(spec: str) -> dict[str, Any]:
    if spec.isdigit():
        return {"kind": "camera", "device": int(spec)}
    if spec.startswith("/dev/"):
        return {"kind": "camera", "device": spec}
    if spec in ("pattern", "virtual"):
        return {"kind": spec}
    path = Path(spec).expanduser()
    if path.is_dir():
        return {"kind": "folder", "path": path.resolve()}
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return {"kind": "video", "path": path.resolve()}
    if suffix in IMAGE_EXTENSIONS:
        return {"kind": "image", "path": path.resolve()}
    if suffix == ".take":
        return {"kind": "take", "path": path.resolve()}
    raise ConfigError(
        f"--source {spec!r}: not a camera index, device, folder, video or image; "
        "write it as camera:N, video:PATH, image:PATH, folder:PATH, take:PATH, pattern or virtual"
    )
