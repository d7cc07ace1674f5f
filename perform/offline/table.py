"""What an offline run writes: CSV rows (one per frame and performer), JSON Lines (one object per
frame) and the events that fired. Column order is documented in docs/offline.md."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO

import numpy as np

from perform.offline.run import Analysed
from perform.pipeline.features import PERSON, STAGE
from perform.vision.features import FEATURES
from perform.vision.still import Person, as_json
from perform.vision.types import LANDMARK_NAMES

BASE_COLUMNS = ("frame", "time_s", "person", "score")
LANDMARK_COLUMNS = tuple(f"{n}_{c}" for n in LANDMARK_NAMES for c in ("x", "y", "z", "visibility"))
#: Feature columns: each performer's body features (bare names), then the stage's.
PERSON_FEATURES = tuple(n for n, f in FEATURES.items() if f.scope == PERSON)
STAGE_FEATURES = tuple(n for n, f in FEATURES.items() if f.scope == STAGE)
EVENT_COLUMNS = ("frame", "time_s", "event", "person", "active", "value")


def columns(features: bool) -> tuple[str, ...]:
    """The CSV header."""
    extra = PERSON_FEATURES + STAGE_FEATURES if features else ()
    return BASE_COLUMNS + LANDMARK_COLUMNS + extra


def events_path(path: Path) -> Path:
    """Where the events of a run writing ``path`` go: ``run.csv`` -> ``run.events.csv``."""
    return path.with_name(f"{path.stem}.events{path.suffix}")


def _num(value: float) -> str:
    return f"{float(value):.7g}"


class CsvTable:
    """One row per frame per performer; a frame nobody is in writes no row."""

    def __init__(self, out: IO[str], features: bool) -> None:
        self.features = features
        self._writer = csv.writer(out, lineterminator="\n")
        self._writer.writerow(columns(features))

    def write(self, item: Analysed) -> None:
        f = item.poses.features
        stage = [_num(f[n]) if n in f else "" for n in STAGE_FEATURES]
        for body in item.poses.bodies:
            row = [str(item.index), _num(item.time_s), str(body.slot), _num(body.score)]
            row += [_num(v) for v in np.asarray(body.landmarks, np.float64).ravel()]
            if self.features:
                keys = (f"p{body.slot}.{n}" for n in PERSON_FEATURES)
                row += [_num(f[k]) if k in f else "" for k in keys]
                row += stage
            self._writer.writerow(row)


class JsonLines:
    """One object per frame: ``perform pose IMAGE --json``'s, plus frame, time and features."""

    def __init__(self, out: IO[str], features: bool, hands: bool = False, face: bool = False) -> None:
        self.features, self.hands, self.face = features, hands, face
        self._out = out

    def write(self, item: Analysed) -> None:
        p = item.poses
        image = item.image if item.image is not None else np.broadcast_to(np.uint8(0), (p.height, p.width))
        people = [Person(b.landmarks, b.world, b.score, None, p.details.get(b.slot)) for b in p.bodies]
        found = as_json(Path(item.name), image, people, self.hands, self.face)  # type: ignore[arg-type]
        for person, body in zip(found["people"], p.bodies, strict=True):
            person["person"] = body.slot
        obj = {"frame": item.index, "time_s": round(item.time_s, 6), **found}
        if self.features:
            obj["features"] = {k: round(float(v), 6) for k, v in p.features.items()}
        self._out.write(json.dumps(obj, separators=(",", ":")) + "\n")


class EventTable:
    """The events that fired, one row (CSV) or object (JSON Lines) each."""

    def __init__(self, out: IO[str], json_lines: bool) -> None:
        self._out = out
        self._writer = None if json_lines else csv.writer(out, lineterminator="\n")
        if self._writer is not None:
            self._writer.writerow(EVENT_COLUMNS)

    def write(self, item: Analysed) -> None:
        for e in item.events:
            values = (item.index, round(e.t, 6), e.name, e.slot, int(e.active), round(e.value, 6))
            if self._writer is None:
                self._out.write(
                    json.dumps(dict(zip(EVENT_COLUMNS, values, strict=True)), separators=(",", ":")) + "\n"
                )
            else:
                self._writer.writerow(["" if v is None else v for v in values])
