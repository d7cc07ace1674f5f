"""``perform pose INPUT`` for a video, a folder of images or a take, and ``perform plot FILE.csv``."""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from perform.errors import PerformError

if TYPE_CHECKING:
    from rich.console import Console

VIDEO_OUT = {".mp4": "mp4v", ".avi": "MJPG"}


def add_plot_parser(sub: Any) -> None:
    plot = sub.add_parser("plot", help="plot features over time from a `perform pose --csv` file")
    plot.add_argument(
        "csv", type=Path, metavar="FILE.csv", help="written by perform pose INPUT --csv FILE --features"
    )
    plot.add_argument(
        "--features",
        default="energy,hands_up",
        metavar="NAME[,NAME]",
        help="columns to plot, one panel each (default: energy,hands_up)",
    )
    plot.add_argument(
        "--events",
        metavar="NAME[,NAME]",
        help="mark the starts of these events, from FILE.events.csv (default: all but enter, leave, "
        "people_changed)",
    )
    plot.add_argument(
        "--out", type=Path, required=True, metavar="PLOT.png", help="image to write (.png, .svg, .pdf)"
    )


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    from perform.offline.plot import plot

    names = [n.strip() for n in args.features.split(",") if n.strip()]
    if not names:
        raise PerformError(f"--features {args.features!r}: expected column names such as energy,hands_up")
    events = [n.strip() for n in args.events.split(",") if n.strip()] if args.events is not None else None
    plot(args.csv, args.out, names, events)
    console.print(f"plotted {', '.join(names)} to {args.out}", highlight=False)
    return 0


def cmd_analyse(args: argparse.Namespace, console: Console, kind: str) -> int:
    """``perform pose`` on a video, folder or take: CSV, JSON Lines, events, drawn frames."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from perform.offline.run import Skipped, probe, read_input
    from perform.offline.table import CsvTable, EventTable, JsonLines, events_path
    from perform.vision.config import PoseConfig

    source: Path = args.image
    json_file = Path(args.json) if isinstance(args.json, str) else None
    if args.csv is None and not args.json and args.out is None:
        raise PerformError(f"{source}: a {kind}: expected --csv FILE, --json [FILE] or --out")
    if args.events and args.csv is None and json_file is None:
        raise PerformError("--events writes its table beside --csv FILE or --json FILE: give one")
    if args.out is not None and kind == "take":
        raise PerformError(f"--out {args.out}: a take holds no pictures (perform render draws takes)")
    if args.out is not None and kind == "video" and args.out.suffix.lower() not in VIDEO_OUT:
        raise PerformError(f"--out {args.out}: expected a video file name ending in .mp4 or .avi")
    if args.out is not None and kind == "folder" and args.out.is_file():
        raise PerformError(f"--out {args.out}: expected a folder for the drawn images, got a file")
    total, fps = probe(source, kind)
    hands, face = getattr(args, "hands", False), getattr(args, "face", False)
    pose = PoseConfig(
        max_people=args.max_people,
        min_detection_confidence=args.min_confidence,
        masks=kind == "folder",
        detail={"hands": hands, "face": face, "every": 1},
    )
    skipped: list[Skipped] = []
    done = rows = 0
    written: list[Path] = []
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"), TextColumn("left"), TimeRemainingColumn(),
    )  # fmt: skip
    with ExitStack() as stack:
        sinks: list[Any] = []

        def open_text(path: Path) -> Any:
            path.parent.mkdir(parents=True, exist_ok=True)
            written.append(path)
            return stack.enter_context(path.open("w", newline="", encoding="utf-8"))

        if args.csv is not None:
            sinks.append(CsvTable(open_text(args.csv), args.features))
        if args.json:
            sinks.append(
                JsonLines(open_text(json_file) if json_file else sys.stdout, args.features, hands, face)
            )
        if args.events:
            target = args.csv if args.csv is not None else json_file
            assert target is not None
            sinks.append(EventTable(open_text(events_path(target)), json_lines=args.csv is None))
        drawn = _Drawn(args.out, kind, fps) if args.out is not None else None
        if drawn is not None:
            stack.callback(drawn.close)
            written.append(args.out)
        progress = stack.enter_context(Progress(*columns, console=console, transient=False))
        task = progress.add_task(source.name, total=total, speed="")

        def skip(s: Skipped) -> None:
            skipped.append(s)
            progress.console.print(f"[yellow]skipped[/] {s.name}: {s.reason}", highlight=False)

        t0 = time.monotonic()
        try:
            for item in read_input(source, kind, pose, skipped=skip):
                for sink in sinks:
                    sink.write(item)
                if drawn is not None:
                    drawn.write(item)
                done += 1
                rows += len(item.poses.bodies)
                speed = done / max(time.monotonic() - t0, 1e-6)
                progress.update(task, completed=done + len(skipped), speed=f"{speed:.1f} fps")
            interrupted = False
        except KeyboardInterrupt:  # what was done is written: the files close on the way out
            interrupted = True
    what = f"{done} frames" if kind != "folder" else f"{done} images"
    if args.csv is not None:
        what += f", {rows} rows"
    if skipped:
        what += f", {len(skipped)} skipped"
    files = ", ".join(str(p) for p in written) or "stdout"
    if interrupted:
        console.print(f"[yellow]interrupted[/] after {what}; wrote what was done to {files}", highlight=False)
        return 130
    console.print(f"{source}: {what} -> {files}", highlight=False)
    return 0


class _Drawn:
    """Each analysed frame with its skeletons drawn: a video for a video, images for a folder."""

    def __init__(self, out: Path, kind: str, fps: float) -> None:
        self.out, self.kind, self.fps = out, kind, fps
        self._writer: Any = None

    def write(self, item: Any) -> None:
        import cv2

        from perform.vision.draw import draw_bodies, slot_color
        from perform.vision.still import draw, write_image

        bodies = list(item.poses.bodies)
        if self.kind == "folder":  # as `perform pose IMAGE --out` draws it
            write_image(self.out / Path(item.name).name, draw(item.image, bodies))
            return
        image = draw_bodies(
            item.image.copy(), [b.landmarks for b in bodies], [slot_color(b.slot) for b in bodies]
        )
        if self._writer is None:
            self.out.parent.mkdir(parents=True, exist_ok=True)
            h, w = image.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*VIDEO_OUT[self.out.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.out), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise PerformError(f"--out {self.out}: cannot write a video there")
        self._writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
