"""The operator's terminal: live status while a show runs, a summary when it ends."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType

from rich import box
from rich.console import Console, Group
from rich.live import Live
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from perform.pipeline import Pipeline


def make_console() -> Console:
    """The console perform writes to: stderr, so stdout stays free for --json output."""
    return Console(stderr=True, soft_wrap=True)


class WarningLog(logging.Handler):
    """Keeps the last few warnings for the status panel."""

    def __init__(self, keep: int = 5) -> None:
        super().__init__(level=logging.WARNING)
        self.recent: deque[str] = deque(maxlen=keep)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        self.recent.append(f"{time.strftime('%H:%M:%S')} {record.getMessage()}")


def setup_logging(console: Console, level: int = logging.INFO) -> WarningLog:
    """Route perform's log through rich on ``console``; returns the warning collector."""
    warnings = WarningLog()
    root = logging.getLogger("perform")
    root.handlers.clear()
    root.setLevel(level)
    root.addHandler(RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False))
    root.addHandler(warnings)
    root.propagate = False
    return warnings


def status_table(pipeline: Pipeline, title: str) -> Table:
    """One row per stage: state, rate, frames, drops, errors, latency from capture.

    The percentiles cover the whole run so far, as the summary at the end does: the live p95
    early in a show (models loading) reads higher than the final one. A stage that waits for a
    cue (``idle``, the take recorder) and has handed nothing on shows ``-`` for its rate.
    """
    table = Table(
        title=title,
        title_justify="left",
        caption="latency in ms from capture, percentiles over the whole run so far",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
    )
    for column in ("stage", "state", "fps", "frames", "drop", "err", "rst", "p50", "p95", "p99"):
        table.add_column(column, justify="left" if column in ("stage", "state") else "right", no_wrap=True)
    now = time.monotonic()
    for s in pipeline.stats:
        lat = s.latency.summary_ms()
        style = {"running": "green", "recording": "bold red", "stalled": "bold red", "ended": "yellow"}.get(
            s.state, ""
        )
        waiting = s.state == "idle" and s.frames == 0
        table.add_row(
            s.name,
            Text(s.state, style=style),
            "-" if waiting else f"{s.rate.rate(now):.1f}",
            str(s.frames),
            str(s.dropped),
            str(s.errors),
            str(s.restarts),
            _ms(lat["p50"]),
            _ms(lat["p95"]),
            _ms(lat["p99"]),
        )
    return table


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 1000 else f"{value:.0f}"


class StatusDisplay:
    """Live status on a terminal; a plain line every ``plain_every_s`` when output is a log."""

    def __init__(
        self,
        console: Console,
        pipeline: Pipeline,
        title: str,
        warnings: WarningLog | None = None,
        refresh_hz: float = 4.0,
        plain_every_s: float = 5.0,
        detail: Callable[[], list[str]] | None = None,
    ) -> None:
        self.detail = detail
        self.console = console
        self.pipeline = pipeline
        self.title = title
        self.warnings = warnings
        self.refresh_hz = refresh_hz
        self.plain_every_s = plain_every_s
        self._live: Live | None = None
        self._last_plain = time.monotonic()

    def __enter__(self) -> StatusDisplay:
        if self.console.is_terminal:
            self._live = Live(
                self._render(), console=self.console, refresh_per_second=self.refresh_hz, transient=True
            )
            self._live.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def update(self) -> None:
        if self._live is not None:
            self._live.update(self._render())
            return
        now = time.monotonic()
        if now - self._last_plain >= self.plain_every_s:
            self._last_plain = now
            parts = []
            for s in self.pipeline.stats:
                if s.state == "idle" and s.frames == 0:
                    parts.append(f"{s.name} idle")
                    continue
                lat = s.latency.summary_ms()
                parts.append(f"{s.name} {s.rate.rate(now):.1f} fps p95 {lat['p95']:.1f} ms drop {s.dropped}")
            self.console.print(
                f"[{self.pipeline.stats.seconds:6.1f} s] " + " | ".join(parts), highlight=False
            )
            if self.detail is not None:
                for line in self.detail():
                    self.console.print(f"           {line}", highlight=False)

    def _render(self) -> Group:
        elapsed = self.pipeline.stats.seconds
        parts: list[Table | Text] = [
            status_table(self.pipeline, f"{self.title}  {elapsed:6.1f} s  (Ctrl-C stops)")
        ]
        # no_wrap=False: a long warning wraps onto the next line rather than being cut at the edge
        if self.detail is not None:
            parts.append(Text("\n".join(self.detail()), no_wrap=False, overflow="fold"))
        if self.warnings is not None and self.warnings.recent:
            parts.append(
                Text("\n".join(self.warnings.recent), style="yellow", no_wrap=False, overflow="fold")
            )
        return Group(*parts)
