"""The domain errors of perform. Each message says what was expected and what came."""

from __future__ import annotations

from pathlib import Path


class PerformError(Exception):
    """Base of every error perform reports to a user (exit code 2, never a traceback)."""


class ConfigError(PerformError):
    """A show file, scene file or command-line option is not what perform expects."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.line = line
        self.message = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(f"{where}{message}")


class SourceError(PerformError):
    """A capture source could not be opened or read (missing camera, unreadable file)."""


class StageError(PerformError):
    """A pipeline stage failed in a way it cannot recover from by itself."""


class BadName(PerformError):
    """A name from outside (a scene, a take, an event pattern) that is not a plain, short name."""
