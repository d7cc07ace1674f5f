"""``perform teach NAME --source SRC``: record a held pose and add it to a pose library."""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from perform.errors import ConfigError
from perform.events.teach import _NAME, PoseLibrary, record_examples, record_hand_examples, teach
from perform.pipeline import POLL_S
from perform.vision.types import Poses

DEFAULT_LIBRARY = Path("poses.json")
#: How long to wait for a first performer before giving up, beyond the recording itself.
FIND_TIMEOUT_S = 20.0


def add_teach_parser(subparsers: Any) -> None:
    """Add ``teach`` to the ``perform`` command's subparsers."""
    p = subparsers.add_parser(
        "teach",
        help="record a held pose from a source and add it to a pose library",
        description="Record SECONDS of one performer holding a pose and store it as NAME in the pose "
        "library; pose.NAME events then fire when anyone takes that pose (see docs/events.md).",
    )
    p.add_argument("name", metavar="NAME", help="pose name: lower case letters, digits and _, e.g. star")
    p.add_argument(
        "--source",
        metavar="SRC",
        help="camera:N, FILE, image:FILE, folder:DIR, virtual, take:FILE (default: the show's source)",
    )
    p.add_argument("--seconds", type=float, default=3.0, metavar="N", help="seconds to record (default 3)")
    p.add_argument(
        "--library",
        type=Path,
        metavar="FILE",
        help="pose library to write (default: the show's events.poses.library, else poses.json)",
    )
    p.add_argument("--show", type=Path, metavar="CONFIG", help="show file for the pose settings and source")
    p.add_argument("--slot", type=int, metavar="N", help="record performer N (default: the nearest)")
    p.add_argument("--delay", type=float, default=0.0, metavar="S", help="wait S seconds before recording")
    p.add_argument("--add", action="store_true", help="add to the pose's examples instead of replacing them")
    p.add_argument(
        "--hand",
        choices=("left", "right"),
        help="teach a hand shape instead: record that hand's shape (hand.NAME events; finds hands)",
    )


def _poses(pipeline: Any, deadline: float) -> Iterator[Poses]:
    reader = pipeline.poses.reader("teach")
    while time.monotonic() < deadline:
        item = reader.get(POLL_S)
        if item is not None:
            yield item
        elif pipeline.poses.closed or pipeline.ended:
            return


def cmd_teach(args: argparse.Namespace, console: Console) -> int:
    """Run ``perform teach``; 0 on success. Raises :class:`PerformError` for bad input."""
    from perform.runtime import ShowPipeline  # a command sits above runtime; loads the pose backends
    from perform.show import Show, load_show, parse_source

    if not args.seconds > 0:
        raise ConfigError(f"--seconds: expected > 0, got {args.seconds}")
    if not args.delay >= 0:
        raise ConfigError(f"--delay: expected >= 0, got {args.delay}")
    if args.show is not None:
        show = load_show(args.show)
        if args.source:
            show = show.model_copy(update={"source": parse_source(args.source, keep=show.source)})
    elif args.source:
        show = Show(source=parse_source(args.source))
    else:
        raise ConfigError("teach needs --source SRC or --show CONFIG")
    library = args.library
    if library is None:
        events = getattr(show, "events", None)
        configured = getattr(getattr(events, "poses", None), "library", None)
        library = Path(configured) if configured is not None else DEFAULT_LIBRARY
    if not (args.slot is None or args.slot >= 1):
        raise ConfigError(f"--slot: expected a performer number 1 or more, got {args.slot}")
    if not _NAME.fullmatch(args.name):
        raise ConfigError(f"pose name {args.name!r}: expected lower case letters, digits and _, e.g. star")
    # a broken or unwritable library is reported before anyone holds a pose
    if Path(library).exists():
        PoseLibrary.load(library)
    folder = next((p for p in Path(library).resolve().parents if p.exists()), None)
    if folder is None or not os.access(folder, os.W_OK):
        raise ConfigError("cannot write the pose library there", library)
    show = show.model_copy(update={"control": show.control.model_copy(update={"enabled": False})})
    if args.hand is not None:  # every frame's hands of the chosen performer
        detail = show.pose.detail.model_copy(update={"hands": True, "every": 1})
        show = show.model_copy(update={"pose": show.pose.model_copy(update={"detail": detail})})
    pipeline = ShowPipeline(show)
    if not pipeline.has_poses:
        raise ConfigError("the show's pose detection is off (pose.enabled: false); nothing to learn from")
    source = args.source or show.source.kind
    pipeline.start()
    try:
        if args.delay:
            console.print(f"get into the pose {args.name!r}: recording in {args.delay:g} s")
            time.sleep(args.delay)
        console.print(f"recording {args.name!r} for {args.seconds:g} s from {source}")
        stream = _poses(pipeline, time.monotonic() + args.seconds + FIND_TIMEOUT_S)
        if args.hand is not None:
            pose = record_hand_examples(stream, args.name, args.seconds, args.hand, args.slot, source)
        else:
            pose = record_examples(stream, args.name, args.seconds, slot=args.slot, source=source)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    finally:
        pipeline.stop()
    lib = teach(library, pose, replace=not args.add)
    taught = lib.hands[pose.name] if args.hand is not None else lib.poses[pose.name]
    unit = "hand sizes" if args.hand is not None else "torso lengths"
    others = ", ".join(f"{n} ({len(p.examples)})" for n, p in sorted({**lib.poses, **lib.hands}.items()))
    console.print(
        f"taught {pose.name!r}: {len(pose.examples)} examples "
        f"(threshold {taught.effective_threshold:.2f} {unit}) -> {library}"
    )
    console.print(f"library: {others}")
    return 0


__all__ = ["add_teach_parser", "cmd_teach"]
