"""The ``perform`` command. Bad input exits 2 with one message, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from perform import __version__
from perform.errors import PerformError

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="perform",
        description="Real-time interactive performance: camera -> pose, style, scenes, OSC.",
    )
    parser.add_argument("--version", action="version", version=f"perform {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run a show")
    run.add_argument("config", type=Path, help="show file, e.g. config/show.yaml")
    run.add_argument(
        "--source",
        metavar="SRC",
        help="replace the show's source: camera:N, FILE, folder:DIR, pattern, virtual, take:FILE, ndi:NAME",
    )
    run.add_argument("--headless", action="store_true", help="open no window")
    run.add_argument("--seconds", type=_positive, metavar="N", help="stop after N seconds")
    run.add_argument("--stats", type=Path, metavar="FILE", help="write run stats as JSON when it ends")
    run.add_argument("--fast", action="store_true", help="play a file, pattern or take as fast as it can")
    run.add_argument(
        "--osc",
        action="append",
        default=[],
        metavar="HOST:PORT[/PRESET]",
        help="send OSC there too (repeatable); presets: default, touchdesigner, ableton, lights, "
        "lights_percent, packed, wekinator",
    )
    run.add_argument("--control", type=int, metavar="PORT", help="OSC cue input port (0: any free port)")
    run.add_argument("--take", type=Path, metavar="FILE", help="record the pose stream to a take file")
    run.add_argument("--take-masks", action="store_true", help="include person masks in the take")
    run.add_argument("--record", type=Path, metavar="OUT.mp4", help="record the stage picture to a video")
    run.add_argument("--scene", metavar="NAME", help="start with this scene (turns rendering on)")
    run.add_argument(
        "--ndi", metavar="NAME", help="publish the stage picture as the NDI source NAME (turns rendering on)"
    )
    run.add_argument(
        "--panel",
        metavar="[HOST:]PORT",
        help="serve the operator's web panel there (a passcode is printed; docs/panel.md)",
    )

    render = sub.add_parser("render", help="render a scene to a video from a video, take or virtual source")
    render.add_argument("scene", help="scene name (scenes/NAME.yaml) or a scene file")
    render.add_argument("--source", required=True, metavar="SRC", help="video FILE, take:FILE, virtual, ...")
    render.add_argument("--out", type=Path, required=True, metavar="OUT.mp4", help="video file to write")
    render.add_argument("--seconds", type=_positive, metavar="N", help="stop after N seconds (default: 10)")
    render.add_argument(
        "--show", type=Path, metavar="CONFIG", help="take everything else from this show file (default: none)"
    )
    render.add_argument("--size", metavar="WxH", help="picture size, e.g. 1920x1080 (default: the show's)")

    check = sub.add_parser("check", help="validate a show and everything it refers to, without running it")
    check.add_argument("config", type=Path)
    check.add_argument("--source", metavar="SRC", help="check with this source instead")

    pose = sub.add_parser("pose", help="find the people in an image, a folder of images, a video or a take")
    pose.add_argument(
        "image",
        type=Path,
        nargs="?",
        metavar="INPUT",
        help="an image, a folder of images, a video or a .take",
    )
    pose.add_argument(
        "--json",
        nargs="?",
        const=True,
        default=False,
        metavar="FILE",
        help="print JSON (landmark names, x, y, z, visibility); a video, folder or take: JSON Lines, "
        "one object a frame, to FILE if given",
    )
    pose.add_argument(
        "--out",
        type=Path,
        metavar="IMAGE",
        help="write the image with skeletons and masks drawn (a video: OUT.mp4; a folder: a folder)",
    )
    pose.add_argument(
        "--csv", type=Path, metavar="FILE", help="one row per frame and performer (docs/offline.md)"
    )
    pose.add_argument("--features", action="store_true", help="add the movement features to --csv/--json")
    pose.add_argument(
        "--events", action="store_true", help="write the events that fired to FILE.events.csv (or .jsonl)"
    )
    pose.add_argument(
        "--max-people", type=int, default=10, metavar="N", help="look for up to N people (default 10)"
    )
    pose.add_argument(
        "--min-confidence", type=float, default=0.5, metavar="C", help="detection threshold 0..1"
    )
    pose.add_argument("--hands", action="store_true", help="find each person's hands too (21 landmarks each)")
    pose.add_argument("--face", action="store_true", help="find each person's face too (named face points)")

    # each package adds its own subcommand; its command module imports the heavy parts (torch,
    # the pose backends) only inside the command, so `perform --version` stays light
    from perform.audio.cli import add_audio_parser
    from perform.events.cli import add_teach_parser
    from perform.offline.cli import add_plot_parser
    from perform.style.cli import add_style_parser

    add_teach_parser(sub)
    add_audio_parser(sub)
    add_style_parser(sub)
    add_plot_parser(sub)

    devices = sub.add_parser(
        "devices", help="list cameras, audio inputs, displays, MIDI ports and NDI sources"
    )
    devices.add_argument("--json", action="store_true", help="print JSON instead of a table")

    bench = sub.add_parser("bench", help="measure every stage and the whole pipeline, write a report")
    bench.add_argument("--quick", action="store_true", help="short runs (under a minute)")
    bench.add_argument(
        "--json", type=Path, default=Path("bench.json"), metavar="FILE", help="default: bench.json"
    )
    bench.add_argument("--md", type=Path, metavar="FILE", help="also write the Markdown tables here")
    bench.add_argument(
        "--only",
        metavar="SECTION[,SECTION]",
        help="run only these sections: core, pose, pose_distance, hands, style, render, window, audio, osc, "
        "ndi, end_to_end, end_to_end_render, panel",
    )
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from perform.console import make_console, setup_logging

    console = make_console()
    warnings = setup_logging(console, logging.DEBUG if args.verbose else logging.INFO)
    try:
        if args.command == "run":
            return cmd_run(args, console, warnings)
        if args.command == "render":
            return cmd_render(args, console, warnings)
        if args.command == "check":
            return cmd_check(args, console)
        if args.command == "pose":
            return cmd_pose(args, console)
        if args.command == "audio":
            from perform.audio.cli import cmd_audio

            return cmd_audio(args, console)
        if args.command == "style":
            from perform.style.cli import cmd_style

            return cmd_style(args, console)
        if args.command == "plot":
            from perform.offline.cli import cmd_plot

            return cmd_plot(args, console)
        if args.command == "teach":
            from perform.events.cli import cmd_teach

            return cmd_teach(args, console)
        if args.command == "devices":
            return cmd_devices(args, console)
        if args.command == "bench":
            return cmd_bench(args, console)
    except PerformError as exc:
        console.print(f"[bold red]perform:[/] {exc}", highlight=False, markup=True)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `perform audio x.wav --json | head`: the reader has had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if args.debug:
            raise
        console.print(
            f"[bold red]perform: internal error:[/] {type(exc).__name__}: {exc} (--debug shows where)"
        )
        return EXIT_INTERNAL
    return EXIT_BAD_INPUT


def _load(config: Path, source: str | None, fast: bool = False):  # -> Show
    from perform.show import load_show, parse_source

    show = load_show(config, inputs=source is None)
    if source is not None:
        show = show.model_copy(update={"source": parse_source(source, keep=show.source)})
    if fast:
        if "fast" in type(show.source).model_fields:
            show = show.model_copy(update={"source": show.source.model_copy(update={"fast": True})})
        else:
            logging.getLogger("perform").warning(
                "--fast applies to video, pattern, virtual and take sources only"
            )
    return show


def cmd_run(args: argparse.Namespace, console: Console, warnings: object) -> int:
    from perform.runtime import RunOptions, run_show

    show = _load(args.config, args.source, args.fast)
    if args.osc:
        from perform.osc.config import parse_target

        targets = [*show.osc.targets, *(parse_target(spec) for spec in args.osc)]
        show = show.model_copy(
            update={"osc": show.osc.model_copy(update={"targets": targets, "enabled": True})}
        )
    if args.control is not None:
        if not 0 <= args.control <= 65535:
            raise PerformError(f"--control {args.control}: expected a UDP port 0..65535")
        control = show.control.model_copy(update={"port": args.control, "enabled": True})
        show = show.model_copy(update={"control": control})
    if args.panel is not None:
        from perform.panel.config import panel_address

        try:
            host, port = panel_address(args.panel)
        except ValueError as exc:
            raise PerformError(str(exc)) from None
        where = {"enabled": True, "port": port, **({"host": host} if host is not None else {})}
        show = show.model_copy(update={"panel": show.panel.model_copy(update=where)})
    if args.ndi is not None:
        ndi = show.outputs.ndi.model_copy(update={"name": args.ndi})
        show = show.model_copy(update={"outputs": show.outputs.model_copy(update={"ndi": ndi})})
    if args.scene is not None or args.record is not None or args.ndi is not None:
        update: dict[str, object] = {"enabled": True}
        if args.scene is not None:
            update["scene"] = args.scene
            if show.render.scenes and args.scene not in show.render.scenes:
                update["scenes"] = [*show.render.scenes, args.scene]
        show = show.model_copy(update={"render": show.render.model_copy(update=update)})
    options = RunOptions(
        seconds=args.seconds,
        headless=args.headless,
        stats_path=args.stats,
        take_path=args.take,
        take_masks=args.take_masks,
        record_path=args.record,
        show_dir=args.config.resolve().parent,
    )
    return run_show(show, options, console, warnings)  # type: ignore[arg-type]


def cmd_render(args: argparse.Namespace, console: Console, warnings: object) -> int:
    """``perform render SCENE --source SRC --out OUT.mp4``: a show with one scene, headless, recorded."""
    from perform.runtime import RunOptions, run_show
    from perform.show import parse_source
    from perform.show.models import Show

    if args.out.suffix.lower() not in (".mp4", ".mov", ".mkv"):
        raise PerformError(f"--out {args.out}: expected a video file name ending in .mp4, .mov or .mkv")
    folders: list[Path] = []
    files: list[Path] = []
    scene = args.scene
    if scene.endswith((".yaml", ".yml")):
        path = Path(scene)
        if not path.is_file():
            raise PerformError(f"{path}: no such scene file")
        files.append(path.resolve())
        folders += [path.resolve().parent, path.resolve().parent.parent]  # for its shaders/
        scene = path.name.rsplit(".", 1)[0]
    if args.show is not None:
        show = _load(args.show, args.source)
        show_dir = args.show.resolve().parent
    else:
        show = Show.model_validate({"name": f"render {scene}", "source": {"kind": "pattern"}})
        show = show.model_copy(update={"source": parse_source(args.source, keep=show.source)})
        show_dir = Path.cwd()
    if "loop" in type(show.source).model_fields:  # a file renders once, then the video ends
        show = show.model_copy(update={"source": show.source.model_copy(update={"loop": False})})
    update: dict[str, object] = {
        "enabled": True,
        "scene": scene,
        "scenes": [scene],
        "folders": folders,
        "scene_files": files,
    }
    if args.size is not None:
        try:
            w, h = (int(v) for v in args.size.lower().split("x"))
        except ValueError:
            raise PerformError(f"--size {args.size}: expected WIDTHxHEIGHT such as 1280x720") from None
        if not (16 <= w <= 7680 and 16 <= h <= 4320):
            raise PerformError(f"--size {args.size}: expected 16..7680 x 16..4320")
        update.update(width=w, height=h)
    render = show.render.model_copy(update=update)
    control = show.control.model_copy(update={"enabled": False})
    show = show.model_copy(update={"render": render, "control": control})
    options = RunOptions(seconds=args.seconds or 10.0, headless=True, record_path=args.out, show_dir=show_dir)
    return run_show(show, options, console, warnings)  # type: ignore[arg-type]


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from perform.check import check_show

    show = _load(args.config, args.source)
    problems, notes = check_show(show, args.config.resolve().parent)
    for note in notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    for problem in problems:
        console.print(f"[bold red]{args.config}:[/] {problem}", highlight=False)
    if problems:
        return EXIT_BAD_INPUT
    console.print(f"{args.config}: ok ({show.name!r}, source {show.source.kind})", highlight=False)
    return EXIT_OK


def cmd_pose(args: argparse.Namespace, console: Console) -> int:
    from perform.offline.run import input_kind
    from perform.vision.still import as_json, detail_lines, detect_image, draw, write_image
    from perform.vision.types import LANDMARK_NAMES

    if args.max_people < 1 or not 0.0 <= args.min_confidence <= 1.0:
        raise PerformError("--max-people must be 1 or more and --min-confidence within 0..1")
    if args.image is None and isinstance(args.json, str):  # `perform pose --json photo.jpg`
        args.image, args.json = Path(args.json), True
    if args.image is None:
        raise PerformError("pose: expected an INPUT: an image, a folder of images, a video or a take")
    kind = input_kind(args.image)
    if kind != "image":
        from perform.offline.cli import cmd_analyse

        return cmd_analyse(args, console, kind)
    if args.csv is not None or args.features or args.events or isinstance(args.json, str):
        raise PerformError(
            f"{args.image}: --csv, --json FILE, --features and --events are for videos, folders and takes"
        )
    image, people = detect_image(
        args.image, args.max_people, args.min_confidence, hands=args.hands, face=args.face
    )
    if args.out is not None:
        write_image(args.out, draw(image, people))
    if args.json:
        print(json.dumps(as_json(args.image, image, people, args.hands, args.face), indent=1))
    else:
        h, w = image.shape[:2]
        console.print(f"{args.image}: {w}x{h}, {len(people)} people", highlight=False)
        for n, person in enumerate(people, start=1):
            console.print(f"person {n} (score {person.score:.2f})", highlight=False)
            for i, name in enumerate(LANDMARK_NAMES):
                x, y, z, v = person.landmarks[i]
                console.print(
                    f"  {name:17s} x {x:6.3f} y {y:6.3f} z {z:7.3f} vis {v:4.2f}"
                    f"  ({x * w:6.0f}, {y * h:6.0f}) px",
                    highlight=False,
                )
            for line in detail_lines(person, w, h, args.hands, args.face):
                console.print(line, highlight=False)
    if args.out is not None:
        console.print(f"drawn to {args.out}", highlight=False)
    return EXIT_OK


def cmd_devices(args: argparse.Namespace, console: Console) -> int:
    from perform.devices import probe_all

    probes = probe_all()
    if args.json:
        print(json.dumps([p.as_dict() for p in probes], indent=2))
        return EXIT_OK
    for probe in probes:
        console.print(f"[bold]{probe.kind}[/]", highlight=False)
        for item in probe.found:
            console.print("  " + "  ".join(f"{k}={v}" for k, v in item.items()), highlight=False)
        if probe.problem:
            console.print(f"  [yellow]{probe.problem}[/]", highlight=False)
    return EXIT_OK


def cmd_bench(args: argparse.Namespace, console: Console) -> int:
    from perform.bench import SECTIONS, markdown, run_bench, write_json

    only = None
    if args.only is not None:
        only = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in only if name not in SECTIONS]
        if unknown or not only:
            raise PerformError(f"--only {args.only}: expected sections from {', '.join(SECTIONS)}")
    console.print(f"benchmarking ({'quick' if args.quick else 'full'}) ...")
    result = run_bench(
        quick=args.quick,
        only=only,
        progress=lambda name, s: console.print(f"  {name}: {s:g} s", highlight=False),
    )
    table = markdown(result)
    write_json(args.json, result)
    if args.md is not None:
        args.md.parent.mkdir(parents=True, exist_ok=True)
        args.md.write_text(table, encoding="utf-8")
    print(table)
    console.print(f"written to {args.json}" + (f" and {args.md}" if args.md else ""))
    return EXIT_OK


def entry() -> None:
    """The console script: :func:`main`, then a quick exit.

    Everything a run makes is written and closed by then (stats, takes, logs); skipping the
    interpreter's slow teardown of torch and MediaPipe keeps Ctrl-C under a second.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
