"""Style network cost against pytorch/examples' fast_neural_style network, same run.

Each architecture runs on the same frame (the bundled astronaut photograph, resized) at
320x180, 640x360 and 1280x720; the three alternate frame by frame so all see the same machine
load. The reference is the network of pytorch/examples ``fast_neural_style/neural_style/
transformer_net.py`` (width 32, 5 residual blocks, 0..255 in and out), defined below, not
imported. Flicker (mean absolute change of the output where the input is still, 0..255) is
measured on a still, noisy input with stabilisation off and on. ``style apply`` on a video is
timed end to end (decode, network in batches, stabilisation, encode) for the shipped
``starry_night`` and the reference network, on a clip cut from opencv-doc's ``vtest.avi``
(768x576, the size of the clip in issue 15) or a synthetic one when that is missing.
"""

from __future__ import annotations

import tempfile
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from perform.pipeline import LatencyHistogram
from perform.style.config import ARCHITECTURES, StyleConfig
from perform.style.model import StyleModel, find_models, load_model
from perform.style.nets import build_net
from perform.style.stage import FlickerMeter, Stylizer, pick_device

PHOTO = Path(__file__).resolve().parents[1] / "data" / "astronaut.jpg"
SIZES = ((320, 180), (640, 360), (1280, 720))
VIDEO = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")


class _RefConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class _RefResidual(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _RefConv(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = _RefConv(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.in2(self.conv2(self.relu(self.in1(self.conv1(x))))) + x


class _RefUpsample(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int, upsample: int | None = None) -> None:
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel // 2)
        self.conv2d = nn.Conv2d(cin, cout, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = nn.functional.interpolate(x, mode="nearest", scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class ReferenceNet(nn.Module):
    """pytorch/examples' fast_neural_style TransformerNet, layer for layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = _RefConv(3, 32, 9, 1), nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = _RefConv(32, 64, 3, 2), nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = _RefConv(64, 128, 3, 2), nn.InstanceNorm2d(128, affine=True)
        self.res = nn.Sequential(*[_RefResidual(128) for _ in range(5)])
        self.deconv1, self.in4 = _RefUpsample(128, 64, 3, 1, 2), nn.InstanceNorm2d(64, affine=True)
        self.deconv2, self.in5 = _RefUpsample(64, 32, 3, 1, 2), nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = _RefUpsample(32, 3, 9, 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def photo(width: int, height: int) -> np.ndarray:
    image = cv2.cvtColor(cv2.imread(str(PHOTO)), cv2.COLOR_BGR2RGB)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _frame_ms(net: nn.Module, image: np.ndarray, device: torch.device, scale255: bool) -> float:
    """One frame as the stage does it: upload, run, download as uint8."""
    t = time.perf_counter()
    with torch.inference_mode():
        x = torch.from_numpy(image).to(device).permute(2, 0, 1)[None].float()
        y = net(x if scale255 else x / 255.0)
        y = (y if scale255 else y * 255.0).clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).cpu().numpy()
    if device.type == "cuda":
        torch.cuda.synchronize()
    del y
    return time.perf_counter() - t


def bench_style(
    quick: bool = False,
    frames: int | None = None,
    device: str = "auto",
    sizes: tuple[tuple[int, int], ...] = SIZES,
) -> dict[str, object]:
    """ms/frame p50/p95/p99 per size and network (ours and the reference) and flicker off/on."""
    if frames is None:
        frames = 5 if quick else 20
    dev = pick_device(device)
    torch.manual_seed(0)
    nets: dict[str, tuple[nn.Module, bool]] = {
        name: (build_net(name).eval().to(dev), False) for name in ARCHITECTURES
    }
    nets["reference (pytorch/examples)"] = (ReferenceNet().eval().to(dev), True)
    params = {name: sum(p.numel() for p in net.parameters()) for name, (net, _) in nets.items()}
    rows = []
    for width, height in sizes:
        image = photo(width, height)
        hist = {name: LatencyHistogram() for name in nets}
        for n in range(frames + 2):  # two warm-up frames
            for name, (net, scale255) in nets.items():
                ms = _frame_ms(net, image, dev, scale255)
                if n >= 2:
                    hist[name].add(ms)
        ref = hist["reference (pytorch/examples)"].percentile(50)
        for name in nets:
            p50 = hist[name].percentile(50)
            rows.append({
                "net": name, "size": f"{width}x{height}", "params": params[name],
                "ms": hist[name].summary_ms(), "vs_reference_p50": round(p50 / max(ref, 1e-9), 3),
            })  # fmt: skip
    return {"device": str(dev), "threads": torch.get_num_threads(), "frames": frames, "rows": rows,
            "flicker": bench_flicker(dev, 12 if quick else 40),
            "apply": bench_apply(dev, 6 if quick else 24)}  # fmt: skip


def _shipped_model() -> StyleModel:
    """The shipped ``starry_night``, or a random ``realtime`` network where it is missing."""
    shipped = find_models()
    if "starry_night" in shipped:
        return load_model(shipped["starry_night"])
    return StyleModel("random", "realtime", dict(ARCHITECTURES["realtime"]), build_net("realtime").eval())


def bench_flicker(device: torch.device, frames: int = 40, noise: float = 2.0) -> dict[str, object]:
    """Flicker of the shipped ``starry_night`` (or a random network) on a still, noisy 320x180 input."""
    model = _shipped_model()
    still = photo(320, 180).astype(np.float32)
    result: dict[str, object] = {"model": model.name, "noise_sigma": noise}
    for label, enabled in (("off", False), ("on", True)):
        config = StyleConfig(scales=[1.0], budget_ms=1e4, max_side=320, stabilise={"enabled": enabled})
        stylizer = Stylizer(config, device=device)
        stylizer.add_model(model)
        meter = FlickerMeter()
        rng = np.random.default_rng(0)
        for _ in range(frames):
            noisy = np.clip(still + rng.normal(0, noise, still.shape), 0, 255).astype(np.uint8)
            meter.add(noisy, stylizer.run(noisy)[0])
        result[f"stabilise_{label}"] = round(meter.value, 3)
    return result


class _Scaled(nn.Module):
    """The reference network behind perform's 0..1 interface (it works in 0..255)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 255.0) / 255.0


def _clip(path: Path, frames: int) -> tuple[int, int]:
    """The first ``frames`` frames of :data:`VIDEO` (or moving stripes at 768x576) as an mp4."""
    import av

    source = av.open(str(VIDEO)) if VIDEO.is_file() else None
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 768, 576, "yuv420p"
        decoded = source.decode(video=0) if source is not None else iter(())
        for i in range(frames):
            frame = next(decoded, None)
            if frame is None:
                x = (np.arange(768)[None, :, None] + 8 * i) % 64 < 32
                image = np.broadcast_to(x * 180 + 40, (576, 768, 3)).astype(np.uint8)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            frame = frame.reformat(768, 576)
            frame.pts, frame.time_base = i, Fraction(1, 25)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    if source is not None:
        source.close()
    return 768, 576


def bench_apply(device: torch.device, frames: int = 24, batch: int = 4) -> dict[str, object]:
    """Frames per second of ``perform style apply`` on a 768x576 video, per network, same run."""
    from perform.style.media import style_video

    ours = _shipped_model()
    models = {
        f"{ours.name} ({ours.architecture})": ours,
        "reference (pytorch/examples)": StyleModel(
            "reference",
            "johnson",
            dict(ARCHITECTURES["johnson"]),
            _Scaled(ReferenceNet().eval()),  # type: ignore[arg-type]
        ),
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        width, height = _clip(clip, frames)
        for label, model in models.items():
            config = StyleConfig(scales=[1.0], budget_ms=1e4, max_side=max(width, height))
            stylizer = Stylizer(config, device=device)
            stylizer.add_model(model)
            t0 = time.perf_counter()
            run = stylizer.run_batch
            result = style_video(clip, Path(tmp) / "out.mp4", lambda f, run=run: run(f)[0], batch=batch)
            seconds = time.perf_counter() - t0
            rows.append({"net": label, "frames": result.done, "seconds": round(seconds, 2),
                         "fps": round(result.done / seconds, 2)})  # fmt: skip
    ref = rows[-1]["fps"]
    for r in rows:
        r["vs_reference"] = round(float(r["fps"]) / max(float(ref), 1e-9), 2)  # type: ignore[arg-type]
    return {"size": f"{width}x{height}", "batch": batch, "rows": rows}


def markdown(result: dict[str, object]) -> list[str]:
    lines = [
        f"Style networks on {result['device']} ({result['threads']} threads), "
        f"{result['frames']} frames each:",
        "",
        "| network | params | size | p50 / p95 / p99 ms | vs reference p50 |",
        "|---|---:|---|---|---:|",
    ]
    for r in result["rows"]:  # type: ignore[union-attr]
        ms = r["ms"]
        lines.append(
            f"| {r['net']} | {r['params']:,} | {r['size']} "
            f"| {ms['p50']:.1f} / {ms['p95']:.1f} / {ms['p99']:.1f} | {r['vs_reference_p50']} |"
        )
    f = result["flicker"]
    lines += ["", f"Flicker ({f['model']}, still input + noise sigma {f['noise_sigma']}): "  # type: ignore[index]
              f"{f['stabilise_off']} without stabilisation, {f['stabilise_on']} with."]  # type: ignore[index]  # fmt: skip
    a = result.get("apply")
    if isinstance(a, dict):
        lines += ["", f"`perform style apply` on a {a['size']} video (decode, network in batches of "
                  f"{a['batch']}, stabilisation, H.264 encode):", "",
                  "| network | frames | seconds | fps | vs reference |",
                  "|---|---:|---:|---:|---:|"]  # fmt: skip
        lines += [f"| {r['net']} | {r['frames']} | {r['seconds']} | {r['fps']} | {r['vs_reference']} |"
                  for r in a["rows"]]  # fmt: skip
    return lines


if __name__ == "__main__":
    import json
    import sys

    out = bench_style(quick="--quick" in sys.argv)
    print(json.dumps(out, indent=1))
    print("\n".join(markdown(out)))
