"""Shaders and scenes found by name in registered folders, reloaded when their files change.

A file that breaks keeps its last good version in use; the error (file:line) is reported once
per change. Fixing the file brings the new version in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import moderngl

from perform.errors import ConfigError, PerformError
from perform.render.config import SceneFile
from perform.render.gl import ShaderError, compile_fragment
from perform.resources import resource_folder
from perform.schema import load_model

log = logging.getLogger(__name__)


T = TypeVar("T")


def search_folders(kind: str, show_dir: Path | None, extra: list[Path]) -> list[Path]:
    """Where ``kind`` (scenes or shaders) are looked for: extra folders, the show's, perform's."""
    folders = [f / kind for f in extra]
    if show_dir is not None:
        folders += [show_dir / kind, show_dir.parent / kind]
    folders.append(resource_folder(kind))
    seen: list[Path] = []
    for f in folders:
        f = f.resolve()
        if f not in seen:
            seen.append(f)
    return seen


@dataclass
class Entry(Generic[T]):
    """One named file: its last good value and its current error."""

    path: Path
    value: T | None = None
    error: str | None = None
    mtime: float = -1.0
    version: int = 0  # bumped whenever a new good value comes in


@dataclass
class Library(Generic[T]):
    """Named files of one suffix in ordered folders, loaded with ``load`` and watched for changes."""

    folders: list[Path]
    suffix: str
    load: Callable[[Path], T]
    entries: dict[str, Entry[T]] = field(default_factory=dict)
    on_error: Callable[[str], None] = log.warning

    def names(self) -> list[str]:
        found: dict[str, None] = {}
        for folder in self.folders:
            if folder.is_dir():
                for p in sorted(folder.glob(f"*{self.suffix}")):
                    found.setdefault(p.name[: -len(self.suffix)], None)
        return list(found)

    def find(self, name: str) -> Path | None:
        """The file of ``name`` in the first folder that has it; None when none has (or can say)."""
        for folder in self.folders:
            p = folder / f"{name}{self.suffix}"
            try:
                if p.is_file():
                    return p
            except (OSError, ValueError):  # a name too long, with a NUL: not a file here
                continue
        return None

    def register(self, path: Path) -> str:
        """Make a file outside the folders known by its name (the file name without suffix)."""
        name = path.name[: -len(self.suffix)] if path.name.endswith(self.suffix) else path.stem
        self.entries[name] = Entry(path.resolve())
        return name

    def get(self, name: str, report: bool = True) -> Entry[T]:
        """The entry for ``name``, loaded on first use; raises :class:`PerformError` when missing.

        ``report=False``: a file that does not load on first use is not reported (the caller
        raises its ``error``), so the message is said once.
        """
        entry = self.entries.get(name)
        if entry is None:
            path = self.find(name)
            if path is None:
                have = ", ".join(self.names()) or "none"
                where = ", ".join(str(f) for f in self.folders)
                kind = "shader" if self.suffix == ".glsl" else "scene"
                raise PerformError(f"no {kind} {name!r} ({name}{self.suffix}) in {where}; found: {have}")
            entry = self.entries[name] = Entry(path)
        if entry.mtime == -1.0:
            self._refresh(entry, report)
        return entry

    def poll(self) -> list[str]:
        """Reload every entry whose file changed; the names that got a new good value."""
        return [name for name, entry in self.entries.items() if self._refresh(entry)]

    def _refresh(self, entry: Entry[T], report: bool = True) -> bool:
        try:
            mtime = entry.path.stat().st_mtime_ns / 1e9
        except OSError:
            mtime = -2.0
        if mtime == entry.mtime:
            return False
        entry.mtime = mtime
        try:
            value = self.load(entry.path)
        except PerformError as exc:
            message = str(exc)
            if entry.value is not None:
                message += " (keeping the last good version on stage)"
            if message != entry.error and report:
                self.on_error(message)
            entry.error = message
            return False
        except OSError as exc:
            entry.error = f"{entry.path}: cannot read: {exc.strerror}"
            if report:
                self.on_error(entry.error)
            return False
        if entry.error is not None and entry.value is not None:
            log.info("%s: fixed, back on stage", entry.path)
        old, entry.value, entry.error = entry.value, value, None
        if old is not None and hasattr(old, "release"):
            old.release()
        entry.version += 1
        return True


def shader_library(ctx: moderngl.Context, folders: list[Path]) -> Library[moderngl.Program]:
    def load(path: Path) -> moderngl.Program:
        source = _read_text(path)
        return compile_fragment(ctx, source, path)

    return Library(folders, ".glsl", load)


def scene_library(folders: list[Path]) -> Library[SceneFile]:
    return Library(folders, ".yaml", lambda path: load_model(path, SceneFile))


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", path, line) from None


class Throttle:
    """True at most every ``period_s`` (hot reload looks at files 4 times a second)."""

    def __init__(self, period_s: float = 0.25) -> None:
        self.period_s = period_s
        self._next = 0.0

    def __call__(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        if now < self._next:
            return False
        self._next = now + self.period_s
        return True


__all__ = ["Entry", "Library", "ShaderError", "Throttle", "scene_library", "search_folders", "shader_library"]
