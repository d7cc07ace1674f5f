"""``perform style train | apply | list``. perform.cli wires these in; errors are PerformErrors."""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
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
from perform.style.config import StyleConfig
from perform.style.model import ModelError, find_models, read_model_file
from perform.style.nets import ARCHITECTURES
from perform.style.stage import Stylizer, pick_device
from perform.style.train import IMAGE_SUFFIXES, TrainSettings, train

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}


def add_style_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``style`` with its sub-commands to perform's sub-parsers."""
    style = subparsers.add_parser("style", help="train, apply and list style transfer models")
    sub = style.add_subparsers(dest="style_command", metavar="STYLE_COMMAND", required=True)

    t = sub.add_parser("train", help="train a style model from a style image and content photos")
    t.add_argument("style_image", type=Path, metavar="STYLE_IMAGE", help="the painting or picture to imitate")
    t.add_argument("--content", type=Path, required=True, metavar="DIR", help="folder of content photographs")
    t.add_argument("--out", type=Path, required=True, metavar="MODEL", help="model file to write (.pt)")
    t.add_argument("--steps", type=int, default=1000, metavar="N", help="training steps (default 1000)")
    t.add_argument("--size", type=int, default=128, metavar="PX", help="crop size in pixels (default 128)")
    t.add_argument("--batch", type=int, default=4, metavar="N", help="crops per step (default 4)")
    t.add_argument(
        "--arch", choices=sorted(ARCHITECTURES), default="realtime", help="network (default realtime)"
    )
    t.add_argument("--resume", type=Path, metavar="CKPT", help="go on from a checkpoint (MODEL.ckpt)")
    t.add_argument(
        "--vgg", type=Path, metavar="PATH",
        help="torchvision's vgg16-397923af.pth or a torch hub cache with it: VGG16 perceptual loss",
    )  # fmt: skip
    t.add_argument("--style-weight", type=float, default=1.0, metavar="X", help="style terms x X (default 1)")
    t.add_argument(
        "--content-weight", type=float, default=1.0, metavar="X",
        help="content terms x X (default 1); lower gives a stronger style, a less readable figure",
    )  # fmt: skip
    t.add_argument("--name", help="model name (default: the file name)")
    t.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], default="auto")

    a = sub.add_parser("apply", help="stylise a still image or a video file")
    a.add_argument("model", metavar="MODEL", help="model name (from the models folders) or .pt file")
    a.add_argument("input", type=Path, metavar="INPUT", help="image or video file")
    a.add_argument("output", type=Path, metavar="OUTPUT", help="image or video file to write")
    a.add_argument("--max-side", type=int, default=1280, metavar="PX", help="longest side the network sees")
    a.add_argument("--strength", type=float, default=1.0, help="blend over the original, 0..1")
    a.add_argument("--no-stabilise", action="store_true", help="videos: no temporal stabilisation")
    a.add_argument(
        "--models", type=Path, action="append", default=[], metavar="DIR", help="more model folders"
    )
    a.add_argument("--device", choices=["auto", "cuda", "mps", "cpu"], default="auto")

    ls = sub.add_parser("list", help="the models found in models/ and --models folders")
    ls.add_argument(
        "--models", type=Path, action="append", default=[], metavar="DIR", help="more model folders"
    )
    return style


def cmd_style(args: argparse.Namespace, console: Console) -> int:
    """Run ``perform style ...``; returns the exit code (0), raises PerformError on bad input."""
    if args.style_command == "train":
        return _train(args, console)
    if args.style_command == "apply":
        return _apply(args, console)
    if args.style_command == "list":
        return _list(args, console)
    raise PerformError(f"expected a style command (train, apply, list), got {args.style_command!r}")


def _train(args: argparse.Namespace, console: Console) -> int:
    if args.steps < 1 or args.size < 32 or args.batch < 1:
        raise PerformError(
            f"expected --steps >= 1, --size >= 32, --batch >= 1, got {args.steps}, {args.size}, {args.batch}"
        )
    if args.resume is not None and not args.resume.is_file():
        raise PerformError(f"{args.resume}: no such checkpoint")
    if args.style_weight <= 0 or args.content_weight < 0:
        raise PerformError(
            "expected --style-weight > 0 and --content-weight >= 0, "
            f"got {args.style_weight} and {args.content_weight}"
        )
    settings = TrainSettings(
        architecture=args.arch, steps=args.steps, size=args.size, batch=args.batch,
        style_weight=args.style_weight, content_weight=args.content_weight,
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
                       vgg=args.vgg, progress=report, device=device)  # fmt: skip
    first, last = result["history"][0], result["history"][-1]
    console.print(
        f"wrote {result['model']} ({result['steps']} steps, {result['seconds']:.0f} s; eval loss "
        f"{first['eval']:.4f} -> {last['eval']:.4f}); checkpoint {result['checkpoint']}"
    )
    return 0


def _apply(args: argparse.Namespace, console: Console) -> int:
    if not args.input.is_file():
        raise PerformError(f"{args.input}: no such file")
    if not 0.0 <= args.strength <= 1.0:
        raise PerformError(f"expected --strength within 0..1, got {args.strength}")
    video = args.input.suffix.lower() in VIDEO_SUFFIXES
    config = StyleConfig(
        device=args.device, scales=[1.0], max_side=args.max_side, budget_ms=1e4, models_dirs=args.models,
        stabilise={"enabled": video and not args.no_stabilise},
    )  # fmt: skip
    stylizer = Stylizer(config)
    model = stylizer.load(args.model)
    if not video:
        image = cv2.imread(str(args.input), cv2.IMREAD_COLOR)
        if image is None:
            raise PerformError(
                f"{args.input}: expected an image ({', '.join(sorted(IMAGE_SUFFIXES))}) or a video"
            )
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        out = _blend(rgb, stylizer.run(rgb)[0], args.strength)
        if not cv2.imwrite(str(args.output), cv2.cvtColor(out, cv2.COLOR_RGB2BGR)):
            raise PerformError(
                f"{args.output}: could not write an image there (is the suffix an image type?)"
            )
        console.print(f"wrote {args.output} ({model.name}, {rgb.shape[1]}x{rgb.shape[0]})")
        return 0
    cap = cv2.VideoCapture(str(args.input))
    if not cap.isOpened():
        raise PerformError(f"{args.input}: expected a video file OpenCV can read")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    writer: cv2.VideoWriter | None = None
    frames = 0
    try:
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"styling {args.input.name}", total=total)
            while True:
                ok, bgr = cap.read()
                if not ok:
                    break
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                out = _blend(rgb, stylizer.run(rgb)[0], args.strength)
                if writer is None:
                    fourcc = cv2.VideoWriter_fourcc(
                        *("MJPG" if args.output.suffix.lower() == ".avi" else "mp4v")
                    )
                    writer = cv2.VideoWriter(str(args.output), fourcc, fps, (out.shape[1], out.shape[0]))
                    if not writer.isOpened():
                        raise PerformError(f"{args.output}: could not open a video writer (use .mp4 or .avi)")
                writer.write(cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
                frames += 1
                progress.update(task, advance=1)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if frames == 0:
        raise PerformError(f"{args.input}: the video has no frames OpenCV can decode")
    console.print(f"wrote {args.output} ({model.name}, {frames} frames at {fps:g} fps)")
    return 0


def _blend(camera: np.ndarray, styled: np.ndarray, strength: float) -> np.ndarray:
    if strength >= 1.0:
        return styled
    return cv2.addWeighted(styled, strength, camera, 1.0 - strength, 0.0)


def _list(args: argparse.Namespace, console: Console) -> int:
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


__all__ = ["add_style_parser", "cmd_style"]
