"""``perform plot FILE.csv``: features over time, one line per performer, with event markers.

matplotlib is imported inside :func:`plot` (with the Agg backend, no window), so commands that
never plot do not pay for it.
"""

from __future__ import annotations

import csv
import math
from itertools import pairwise
from pathlib import Path

from perform.errors import PerformError
from perform.offline.table import events_path
from perform.vision.draw import SLOT_COLORS, slot_color

DEFAULT_FEATURES = ("energy", "hands_up")
#: Tracking events, frequent on a busy stage, left unmarked unless asked for by name.
TRACKING_EVENTS = frozenset({"enter", "leave", "people_changed"})


def read_series(path: Path, names: list[str]) -> dict[str, dict[int, tuple[list[float], list[float]]]]:
    """``{column: {person: (times, values)}}`` from a CSV written by ``perform pose --csv``."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [n for n in names if n not in header]
            if missing or "time_s" not in header or "person" not in header:
                raise PerformError(
                    f"{path}: no column {', '.join(missing or ['time_s/person'])} "
                    "(expected a CSV from `perform pose INPUT --csv FILE --features`)"
                )
            series: dict[str, dict[int, tuple[list[float], list[float]]]] = {n: {} for n in names}
            for row in reader:
                t, person = float(row["time_s"]), int(row["person"])
                for n in names:
                    value = float(row[n]) if row[n] else math.nan
                    times, values = series[n].setdefault(person, ([], []))
                    times.append(t)
                    values.append(value)
    except OSError as exc:
        raise PerformError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise PerformError(f"{path}: not a pose CSV ({exc})") from None
    return series


def read_events(path: Path, names: list[str] | None = None) -> dict[float, list[str]]:
    """Labels of the event starts at each time, from the events CSV beside ``path`` if there is one:
    the events ``names`` (all but the tracking ones when None)."""
    found = events_path(path)
    starts: dict[float, list[str]] = {}
    if found.is_file():
        with found.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                wanted = r["event"] in names if names is not None else r["event"] not in TRACKING_EVENTS
                if wanted and r.get("active") == "1" and r.get("time_s"):
                    label = r["event"] + (f" p{r['person']}" if r["person"] else "")
                    starts.setdefault(float(r["time_s"]), []).append(label)
    return starts


def _gaps(times: list[float], values: list[float], step: float) -> tuple[list[float], list[float]]:
    """The series with a break (NaN) wherever the performer was away for more than a frame."""
    t_out, v_out = times[:1], values[:1]
    for i in range(1, len(times)):
        if times[i] - times[i - 1] > 1.5 * step:
            t_out.append(times[i - 1])
            v_out.append(math.nan)
        t_out.append(times[i])
        v_out.append(values[i])
    return t_out, v_out


def plot(
    path: Path,
    out: Path,
    names: list[str] | None = None,
    events: list[str] | None = None,
    width: float = 10.0,
) -> Path:
    """Plot ``names`` (default energy, hands_up) of the CSV at ``path`` into the image ``out``, with
    markers at the starts of ``events`` (default: all but enter, leave and people_changed)."""
    names = names or list(DEFAULT_FEATURES)
    series = read_series(path, names)
    marks = read_events(path, events)
    all_times = sorted({t for per in series.values() for times, _ in per.values() for t in times})
    steps = [b - a for a, b in pairwise(all_times)]
    step = min(steps) if steps else 1.0
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 1.0 + 2.0 * len(names)), dpi=100, layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name in zip(axes, names, strict=True):
        for person, (times, values) in sorted(series[name].items()):
            color = tuple(c / 255 for c in slot_color(person))
            style = "-" if person <= len(SLOT_COLORS) else "--"  # the palette repeats after 6
            ax.plot(*_gaps(times, values, step), style, color=color, linewidth=1.2, label=f"p{person}")
        for t, labels in marks.items():
            ax.axvline(t, color="0.5", linewidth=0.7, linestyle="--")
            if ax is axes[0]:
                ax.annotate(", ".join(labels), (t, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                            fontsize=7, va="top", ha="right", color="0.35")  # fmt: skip
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        if series[name]:
            n = len(series[name])
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, ncols=1 if n <= 6 else 2)
    axes[-1].set_xlabel("time (s)")
    axes[0].set_title(path.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        fig.savefig(out)
    except (OSError, ValueError) as exc:
        raise PerformError(f"{out}: cannot write the plot ({exc})") from None
    return out
