"""``perform style train | apply | list | import``. perform.cli wires these in; errors are PerformErrors.

torch (and every module that imports it) is imported inside the commands, so building the
parser, ``perform --version`` and ``perform check`` stay fast.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from perform.errors import PerformError
from perform.style.config import ARCHITECTURES, LOSSES, StyleConfig

DEVICES = ["auto", "cuda", "mps", "cpu"]


def add_style_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``style`` with its sub-commands to perform's sub-parsers."""
    style = subparsers.add_parser("style", help="train, apply, import and list style transfer models")
    sub = style.add_subparsers(dest="style_command", metavar="STYLE_COMMAND", required=True)

    t = sub.add_parser("train", help="train a style model from a style image and content photos")
    t.add_argument("style_image", type=Path, metavar="STYLE_IMAGE", help="the painting or picture to imitate")
    t.add_argument("--content", type=Path, required=True, metavar="DIR", help="folder of content photographs")
    t.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file to write (.pt)")
    t.add_argument("--steps", type=int, default=1000, metavar="N", help="training steps (default 1000)")
    t.add_argument("--size", type=int, default=128, metavar="PX", help="crop size in pixels (default 128)")
    t.add_argument("--batch", type=int, default=4, metavar="N", help="crops per step (default 4)")
    t.add_argument("--lr", type=float, default=1e-3, metavar="X", help="Adam learning rate (default 0.001)")
    t.add_argument(
        "--style-size", type=int, default=256, metavar="PX",
        help="width the style image is resized to (default 256); larger gives larger marks",
    )  # fmt: skip
    t.add_argument(
        "--arch", choices=sorted(ARCHITECTURES), default="realtime", help="network (default realtime)"
    )
    t.add_argument(
        "--loss", choices=LOSSES, default="mediapipe",
        help="mediapipe: palm-detector features (default); offline: random features; vgg: needs --vgg",
    )  # fmt: skip
    t.add_argument(
        "--resume", type=Path, metavar="CKPT",
        help="go on from a checkpoint (MODEL.ckpt), or fine-tune a model file (.pt)",
    )  # fmt: skip
    t.add_argument(
        "--vgg", metavar="PATH|download",
        help="VGG16 perceptual loss: torchvision's vgg16-397923af.pth, a torch hub cache with it, "
        "or 'download' to fetch it once into the torch hub cache",
    )  # fmt: skip
    t.add_argument("--style-weight", type=float, default=1.0, metavar="X", help="style terms x X (default 1)")
    t.add_argument(
        "--content-weight", type=float, default=1.0, metavar="X",
        help="content terms x X (default 1); lower gives a stronger style, a less readable figure",
    )  # fmt: skip
    t.add_argument(
        "--pose-weight", type=float, default=0.0, metavar="X",
        help="mediapipe loss: weight of a content term on the pose model's features, which keeps "
        "performers findable by the pose model (default 0: off)",
    )  # fmt: skip
    t.add_argument(
        "--edge-weight", type=float, metavar="X",
        help="weight of the edge term within content (default 0.5 for mediapipe, 1 for offline); "
        "lower lets strokes replace the photograph's fine edges",
    )  # fmt: skip
    t.add_argument("--name", help="model name (default: the file name)")
    t.add_argument("--device", choices=DEVICES, default="auto")

    a = sub.add_parser("apply", help="stylise an image, a video file or a folder of them")
    a.add_argument("model", metavar="MODEL", help="model name (from the models folders) or .pt file")
    a.add_argument("input", type=Path, metavar="INPUT", help="image, video file or folder")
    a.add_argument("output", type=Path, metavar="OUTPUT", help="image, video file or folder to write")
    a.add_argument("--max-side", type=int, default=1280, metavar="PX", help="longest side the network sees")
    a.add_argument("--strength", type=float, default=1.0, help="blend over the original, 0..1")
    a.add_argument("--batch", type=int, default=4, metavar="N", help="video frames per network pass")
    a.add_argument("--no-stabilise", action="store_true", help="videos: no temporal stabilisation")
    a.add_argument(
        "--models", type=Path, action="append", default=[], metavar="DIR", help="more model folders"
    )
    a.add_argument("--device", choices=DEVICES, default="auto")

    ls = sub.add_parser("list", help="the models in models/, the user's models folder and --models folders")
    ls.add_argument(
        "--models", type=Path, action="append", default=[], metavar="DIR", help="more model folders"
    )

    i = sub.add_parser(
        "import", help="turn a pytorch/examples fast_neural_style model (.pth) into a perform model"
    )
    i.add_argument("file", type=Path, metavar="FILE", help="the published .pth (or .model) file")
    i.add_argument("name", metavar="NAME", help="model name to give it (a name, not a path)")
    i.add_argument(
        "--to", type=Path, metavar="DIR", help="models folder to write to (default: the user's models folder)"
    )
    i.add_argument("--force", action="store_true", help="replace a model of that name")
    return style


def cmd_style(args: argparse.Namespace, console: Console) -> int:
    """Run ``perform style ...``; returns the exit code, raises PerformError on bad input."""
    commands = {"train": _train, "apply": _apply, "list": _list, "import": _import}
    if args.style_command not in commands:
        raise PerformError(f"expected a style command ({', '.join(commands)}), got {args.style_command!r}")
    return commands[args.style_command](args, console)


def _train(args: argparse.Namespace, console: Console) -> int:
    if args.steps < 1 or args.size < 32 or args.batch < 1 or args.style_size < 32:
        raise PerformError(
            "expected --steps >= 1, --size >= 32, --batch >= 1, --style-size >= 32, "
            f"got {args.steps}, {args.size}, {args.batch}, {args.style_size}"
        )
    if args.resume is not None and not args.resume.is_file():
        raise PerformError(f"{args.resume}: no such checkpoint")
    if not 0 < args.lr < 1:
        raise PerformError(f"expected --lr within (0, 1), got {args.lr}")
    if args.style_weight <= 0 or args.content_weight < 0 or args.pose_weight < 0:
        raise PerformError(
            "expected --style-weight > 0, --content-weight >= 0 and --pose-weight >= 0, "
            f"got {args.style_weight}, {args.content_weight} and {args.pose_weight}"
        )
    if args.pose_weight and (args.loss != "mediapipe" or args.vgg is not None):
        raise PerformError(f"--pose-weight needs the mediapipe loss, got --loss {args.loss}")
    if args.edge_weight is not None and not args.edge_weight >= 0:  # NaN too
        raise PerformError(f"expected --edge-weight >= 0, got {args.edge_weight}")
    if args.edge_weight is not None and (args.loss == "vgg" or args.vgg is not None):
        raise PerformError("--edge-weight needs the mediapipe or offline loss, got --loss vgg")
    if args.loss == "vgg" and args.vgg is None:
        raise PerformError("--loss vgg needs --vgg FILE (torchvision's VGG16 weights) or --vgg download")
    from perform.style.stage import pick_device
    from perform.style.train import TrainSettings, train

    vgg = _vgg_weights(args.vgg, console) if args.vgg is not None else None
    settings = TrainSettings(
        architecture=args.arch, steps=args.steps, size=args.size, batch=args.batch, lr=args.lr,
        style_size=args.style_size, loss="vgg" if vgg is not None else args.loss,
        style_weight=args.style_weight, content_weight=args.content_weight, pose_weight=args.pose_weight,
        edge_weight=args.edge_weight,
    )  # fmt: skip
    device = str(pick_device(args.device))
    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.4f}"), TimeElapsedColumn(), TimeRemainingColumn(),
    )  # fmt: skip
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(f"training {args.out.name}", total=args.steps, loss=float("nan"))

        def report(step: int, total: int, loss: float) -> None:
            progress.update(task, completed=step, loss=loss)

        result = train(args.style_image, args.content, args.out, settings, name=args.name, resume=args.resume,
                       vgg=vgg, progress=report, device=device)  # fmt: skip
    first, last = result["history"][0], result["history"][-1]
    console.print(
        f"wrote {result['model']} ({result['steps']} steps, {result['seconds']:.0f} s; eval loss "
        f"{first['eval']:.4f} -> {last['eval']:.4f}); checkpoint {result['checkpoint']}"
    )
    return 0


def _vgg_weights(value: str, console: Console) -> Path:
    """``--vgg``: a file or folder as given, or ``download`` (once, into the torch hub cache)."""
    from perform.style.features import VGG_FILE, download_vgg16, vgg_cache_dir

    if value != "download":
        return Path(value)
    cached = vgg_cache_dir() / VGG_FILE
    if cached.is_file():
        return cached
    with Progress(TextColumn("downloading VGG16 weights"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console, transient=True) as progress:  # fmt: skip
        task = progress.add_task("vgg", total=None)

        def report(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        path = download_vgg16(progress=report)
    console.print(f"VGG16 weights in {path}")
    return path


def _apply(args: argparse.Namespace, console: Console) -> int:
    from perform.style.media import Result, folder_jobs, kind_of, probe_video, style_image, style_video

    if not args.input.exists():
        raise PerformError(f"{args.input}: no such file or folder")
    if not 0.0 <= args.strength <= 1.0:
        raise PerformError(f"expected --strength within 0..1, got {args.strength}")
    if args.batch < 1:
        raise PerformError(f"expected --batch >= 1, got {args.batch}")
    kind = kind_of(args.input)
    jobs = folder_jobs(args.input, args.output) if kind == "folder" else [(args.input, args.output)]
    if kind != "folder" and args.output.is_dir():
        raise PerformError(f"{args.output}: a folder; give a file name for the output of a {kind}")
    from perform.style.stage import Stylizer

    config = StyleConfig(
        device=args.device, scales=[1.0], max_side=args.max_side, budget_ms=1e4, models_dirs=args.models,
        stabilise={"enabled": not args.no_stabilise},
    )  # fmt: skip
    stylizer = Stylizer(config)
    name = stylizer.load(args.model).name

    def stylise(frames: list) -> list:
        styled, _ = stylizer.run_batch(frames)
        return [_blend(f, o, args.strength) for f, o in zip(frames, styled, strict=True)]

    columns = (
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"), TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(),
    )  # fmt: skip
    results: list[Result] = []
    with Progress(*columns, console=console, transient=False) as progress:
        files = progress.add_task(args.input.name, total=len(jobs), speed="") if kind == "folder" else None
        try:
            for src, dst in jobs:
                stylizer.reset()  # stabilisation starts afresh: a still is never blended
                if kind_of(src) == "image":
                    try:
                        results.append(style_image(src, dst, stylise))
                    except Exception as exc:
                        if kind != "folder":
                            raise
                        results.append(Result(dst, 0, 1, stopped=f"{type(exc).__name__}: {exc}"))
                        break  # the files done so far stay written
                else:
                    task = progress.add_task(src.name, total=probe_video(src)[0], speed="")
                    t0 = time.monotonic()

                    def report(done: int, total: int | None, task: Any = task, t0: float = t0) -> None:
                        fps = done / max(time.monotonic() - t0, 1e-6)
                        progress.update(task, completed=done, total=total, speed=f"{fps:.1f} fps")

                    results.append(style_video(src, dst, stylise, batch=args.batch, progress=report))
                    if not results[-1].complete:
                        break
                if files is not None:
                    progress.advance(files)
        except KeyboardInterrupt:  # between files, or inside a still image
            results.append(Result(args.output, 0, None, stopped="interrupted"))
    for r in results:
        if r.fps and r.done:
            sound = {"copied": ", sound copied", "aac": ", sound as AAC"}.get(r.audio, "")
            of = f" of {r.total}" if r.total else ""
            console.print(f"wrote {r.output} ({r.done}{of} frames at {r.fps:g} fps{sound})", highlight=False)
    written = sum(1 for r in results if r.complete)
    if kind == "folder":
        console.print(f"wrote {written} of {len(jobs)} files under {args.output} ({name})", highlight=False)
    elif kind == "image" and written:
        console.print(f"wrote {args.output} ({name})", highlight=False)
    stopped = next((r for r in results if not r.complete), None)
    if stopped is None:
        return 0
    kept = (
        f"{stopped.output} holds the {stopped.done} frames done so far and plays"
        if stopped.fps
        else "the files done before it are written"
    )
    console.print(f"[yellow]stopped[/yellow] ({stopped.stopped}); {kept}", highlight=False)
    return 130 if stopped.stopped == "interrupted" else 1


def _blend(camera: Any, styled: Any, strength: float) -> Any:
    if strength >= 1.0:
        return styled
    import cv2

    return cv2.addWeighted(styled, strength, camera, 1.0 - strength, 0.0)


def _list(args: argparse.Namespace, console: Console) -> int:
    from perform.style.model import ModelError, find_models, read_model_file

    models = find_models(args.models)
    if not models:
        console.print("no style models found")
        return 0
    for name, path in models.items():
        try:
            data = read_model_file(path)
            steps = data.get("training", {}).get("steps_done", "?")
            console.print(
                f"{name}  {data['architecture']}  style {data.get('style_image') or '-'}  "
                f"loss {data.get('loss', {}).get('kind', '?')}  {steps} steps  {path}",
                highlight=False, soft_wrap=True,
            )  # fmt: skip
        except ModelError as exc:
            console.print(f"{name}  [red]unreadable[/red]: {exc}", highlight=False, soft_wrap=True)
    return 0


def _import(args: argparse.Namespace, console: Console) -> int:
    from perform.style.published import import_examples_model

    path = import_examples_model(args.file, args.name, args.to, force=args.force)
    console.print(f"wrote {path}; use it as style.model: {args.name} or perform style apply {args.name} ...")
    return 0


__all__ = ["add_style_parser", "cmd_style"]
