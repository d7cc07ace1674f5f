"""The fixed networks whose features the style losses compare (never trained here).

* :class:`PalmFeatures`: trained image features with nothing downloaded, the first layers of
  MediaPipe's palm detector (BlazePalm, in the mediapipe wheel) rebuilt in torch from its TFLite
  flatbuffer.
* :class:`PoseFeatures`, :class:`PoseDetectorFeatures`: the same for BlazePose's landmark model and
  person detector (trained on people): what the pose model reads, for a content term that keeps
  performers findable.
* :class:`RandomFeatures`: a random conv net from a fixed seed (palette and fine grain only).
* :class:`VGG16Features`: VGG16 to relu4_3 with torchvision's ImageNet weights, from a file the
  user gives or downloaded once into the torch hub cache (:func:`download_vgg16`).

The flatbuffers are read as data (``ai_edge_litert``'s schema), never run. Weights are stored as
float16 behind DEQUANTIZE ops (the detector's also sparse, behind DENSIFY); they are read from the
buffers, not from an interpreter (which reports zeros for them once it has run). The rebuilt
layers match LiteRT's own intermediate tensors (``tests/test_style_features.py``). MediaPipe's
palm and pose landmark graphs feed their networks RGB in 0..1 (ImageToTensorCalculator's
``output_tensor_float_range``), the pose detector's in -1..1; these modules take 0..1 and map it
to their network's range.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from perform.errors import PerformError

#: The palm detector inside the mediapipe wheel, relative to the mediapipe package.
PALM_MODEL = Path("modules/palm_detection/palm_detection_full.tflite")
#: BlazePose's landmark model (full) inside the mediapipe wheel.
POSE_MODEL = Path("modules/pose_landmark/pose_landmark_full.tflite")
#: BlazePose's person detector inside the mediapipe wheel.
POSE_DETECTOR_MODEL = Path("modules/pose_detection/pose_detection.tflite")
#: Deepest stride whose features are used (the network goes on to 32, then to its heads).
MAX_STRIDE = 16


#: torchvision's VGG16 ImageNet weights; the name carries the first hex digits of their SHA-256.
VGG_FILE = "vgg16-397923af.pth"
VGG_URL = f"https://download.pytorch.org/models/{VGG_FILE}"
VGG_SHA256_PREFIX = "397923af"


class FeatureModelError(PerformError):
    """A loss network cannot be built: a missing or unknown model file, weights that do not fit."""


def wheel_model_path(relative: Path = PALM_MODEL) -> Path:
    """A model file in the installed mediapipe package (default: the palm detector)."""
    import importlib.util

    spec = importlib.util.find_spec("mediapipe")
    if spec is None or spec.origin is None:
        raise FeatureModelError("the mediapipe loss needs the mediapipe wheel (mediapipe==0.10.21)")
    path = Path(spec.origin).parent / relative
    if not path.is_file():
        raise FeatureModelError(f"expected {relative.name} at {path} (mediapipe==0.10.21)")
    return path


def palm_model_path() -> Path:
    """``palm_detection_full.tflite`` in the installed mediapipe package."""
    return wheel_model_path(PALM_MODEL)


def _densify(values: np.ndarray, sparsity: Any, shape: tuple[int, ...], where: str) -> np.ndarray:
    """TFLite's sparse layout as MediaPipe's models use it: dense leading dimensions, the last CSR."""
    dims = sparsity.dimMetadata
    order = list(sparsity.traversalOrder)
    blocks = sparsity.blockMap is not None and len(sparsity.blockMap)
    if blocks or order != list(range(len(shape))) or any(d.format for d in dims[:-1]) or dims[-1].format != 1:
        raise FeatureModelError(f"{where}: expected sparse weights with only the last dimension CSR")
    segments, indices = dims[-1].arraySegments.values, dims[-1].arrayIndices.values
    dense = np.zeros((int(np.prod(shape[:-1])), shape[-1]), values.dtype)
    dense[np.repeat(np.arange(dense.shape[0]), np.diff(segments)), indices] = values
    return dense


def _same_pad(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's SAME padding (before, after): the extra pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


#: TFLite's fused activations the reader knows (ActivationFunctionType: 1 RELU, 3 RELU6).
_FUSED = (1, 3)


class TFLiteFeatures(nn.Module):
    """A MediaPipe convolutional network from its input down to stride :data:`MAX_STRIDE`.

    ``forward`` takes (B, 3, H, W) RGB in 0..1 (H and W multiples of 16 are exact; other sizes
    work) and returns the activations listed in ``taps`` (PReLU or a fused ReLU/ReLU6): the
    first one (stride 2) and, at each stride 2, 4, 8 and 16, the last of the widest ones.
    ``input_range`` is the range the network was trained on; 0..1 is mapped to it.
    """

    def __init__(self, path: Path | str, input_range: tuple[float, float] = (0.0, 1.0)) -> None:
        super().__init__()
        from ai_edge_litert import schema_py_generated as schema

        path = Path(path)
        self.input_range = input_range
        model = schema.ModelT.InitFromPackedBuf(path.read_bytes(), 0)
        graph = model.subgraphs[0]
        names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
        consts: dict[int, np.ndarray] = {}

        def const(index: int) -> np.ndarray:
            if index in consts:
                return consts[index]
            tensor = graph.tensors[index]
            data = model.buffers[tensor.buffer].data
            if data is None:
                raise FeatureModelError(f"{path}: tensor {index} has no constant data")
            dtype = {schema.TensorType.FLOAT16: np.float16, schema.TensorType.FLOAT32: np.float32,
                     schema.TensorType.INT32: np.int32}[tensor.type]  # fmt: skip
            values = np.frombuffer(data.tobytes(), dtype=dtype)
            if tensor.sparsity is not None:
                values = _densify(values, tensor.sparsity, tuple(tensor.shape), f"{path}: tensor {index}")
            return values.reshape(tensor.shape).astype(np.float32)

        self.ops: list[tuple[str, tuple[int, ...], int, dict[str, int]]] = []
        self.input = int(graph.inputs[0])
        acts_by_size: dict[int, list[int]] = {}
        in_size = int(graph.tensors[self.input].shape[1])
        for i, op in enumerate(graph.operators):
            code = model.operatorCodes[op.opcodeIndex]
            kind = names[max(code.builtinCode, code.deprecatedBuiltinCode)]
            out = int(op.outputs[0])
            ins = tuple(int(x) for x in op.inputs if x >= 0)
            shape = graph.tensors[out].shape
            if kind in ("DEQUANTIZE", "DENSIFY"):
                consts[out] = const(ins[0])
                continue
            if kind not in ("CONV_2D", "DEPTHWISE_CONV_2D", "PRELU", "ADD", "MAX_POOL_2D", "PAD"):
                raise FeatureModelError(
                    f"{path}: op {i} is {kind}; the feature reader knows only CONV_2D, "
                    "DEPTHWISE_CONV_2D, PRELU, ADD, MAX_POOL_2D and PAD"
                )
            if in_size // int(shape[1]) > MAX_STRIDE:
                break
            opts = op.builtinOptions
            act = int(getattr(opts, "fusedActivationFunction", 0) or 0)
            if act and (act not in _FUSED or kind not in ("CONV_2D", "DEPTHWISE_CONV_2D")):
                raise FeatureModelError(f"{path}: op {i} ({kind}) has fused activation {act}, not supported")
            if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                w = torch.from_numpy(const(ins[1]))
                w = w.permute(0, 3, 1, 2) if kind == "CONV_2D" else w.permute(3, 0, 1, 2)
                self.register_buffer(f"w{i}", w.contiguous())
                self.register_buffer(f"b{i}", torch.from_numpy(const(ins[2])))
                args = {"stride": int(opts.strideH), "same": int(opts.padding == schema.Padding.SAME)}
                self.ops.append((kind, ins[:1], out, {**args, "i": i, "act": act}))
                if act:
                    acts_by_size.setdefault(int(shape[1]), []).append(out)
            elif kind == "PRELU":
                self.register_buffer(f"a{i}", torch.from_numpy(const(ins[1])).reshape(1, -1, 1, 1))
                self.ops.append((kind, ins[:1], out, {"i": i}))
                acts_by_size.setdefault(int(shape[1]), []).append(out)
            elif kind == "ADD":
                self.ops.append((kind, ins, out, {}))
            elif kind == "MAX_POOL_2D":
                if opts.filterHeight != opts.strideH:
                    raise FeatureModelError(f"{path}: op {i}: expected a k x k max pool of stride k")
                # SAME pads the end with -inf: ceil mode
                same = int(opts.padding == schema.Padding.SAME)
                self.ops.append((kind, ins[:1], out, {"k": int(opts.filterHeight), "same": same}))
            elif kind == "PAD":
                pads = const(ins[1]).astype(int)  # NHWC (before, after) pairs
                if pads[0].any():
                    raise FeatureModelError(f"{path}: op {i}: expected no padding of the batch")
                self.ops.append((kind, ins[:1], out, {"pad": tuple(int(v) for v in pads[[2, 1, 3]].ravel())}))
        if not acts_by_size:
            raise FeatureModelError(f"{path}: expected activations (PRELU, ReLU) above stride {MAX_STRIDE}")
        width = {t: int(graph.tensors[t].shape[3]) for acts in acts_by_size.values() for t in acts}
        sizes = sorted(acts_by_size, reverse=True)
        widest = [max(reversed(acts_by_size[s]), key=width.__getitem__) for s in sizes]  # the last on ties
        self.taps = (acts_by_size[sizes[0]][0], *widest)
        self.channels = tuple(width[t] for t in self.taps)
        last = max(i for i, (_k, _ins, out, _a) in enumerate(self.ops) if out == self.taps[-1])
        self.ops = self.ops[: last + 1]
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected (B,3,H,W), got {tuple(x.shape)}")
        lo, hi = self.input_range
        values: dict[int, torch.Tensor] = {self.input: x * (hi - lo) + lo if (lo, hi) != (0.0, 1.0) else x}
        for kind, ins, out, a in self.ops:
            v = values[ins[0]]
            if kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                w, b = getattr(self, f"w{a['i']}"), getattr(self, f"b{a['i']}")
                k, s = w.shape[-1], a["stride"]
                if a["same"]:
                    (t, bo), (le, r) = _same_pad(v.shape[2], k, s), _same_pad(v.shape[3], k, s)
                    v = F.pad(v, (le, r, t, bo))
                groups = v.shape[1] if kind == "DEPTHWISE_CONV_2D" else 1
                v = F.conv2d(v, w, b, stride=s, groups=groups)
                if a["act"]:
                    v = F.relu(v) if a["act"] == 1 else F.relu6(v)
            elif kind == "PRELU":
                v = F.relu(v) - getattr(self, f"a{a['i']}") * F.relu(-v)
            elif kind == "ADD":
                v = v + values[ins[1]]
            elif kind == "MAX_POOL_2D":
                v = F.max_pool2d(v, a["k"], a["k"], ceil_mode=bool(a["same"]))
            else:  # PAD: (left, right, top, bottom, channel before, after) in torch's order
                p = a["pad"]
                v = F.pad(v, (p[0], p[1], p[2], p[3], p[4], p[5]))
            values[out] = v
        return [values[t] for t in self.taps]


class PalmFeatures(TFLiteFeatures):
    """The palm detector's features: 32, 32, 64, 128 and 256 channels at strides 2, 2, 4, 8, 16."""

    def __init__(self, path: Path | str | None = None) -> None:
        super().__init__(path if path is not None else palm_model_path())


class PoseFeatures(TFLiteFeatures):
    """BlazePose's landmark model: 24, 64, 144, 192 and 528 channels at strides 2, 2, 4, 8, 16."""

    def __init__(self, path: Path | str | None = None) -> None:
        super().__init__(path if path is not None else wheel_model_path(POSE_MODEL))


class PoseDetectorFeatures(TFLiteFeatures):
    """BlazePose's person detector (input -1..1): 24, 64, 144, 240 and 672 channels, strides 2 to 16."""

    def __init__(self, path: Path | str | None = None) -> None:
        super().__init__(path if path is not None else wheel_model_path(POSE_DETECTOR_MODEL), (-1.0, 1.0))


class RandomFeatures(nn.Module):
    """A fixed random conv net, never trained: 3-64-128-256-256, ReLU, 2x average pooling."""

    def __init__(self, channels: tuple[int, ...] = (64, 128, 256, 256), seed: int = 1234) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        layers, cin = [], 3
        for cout in channels:
            conv = nn.Conv2d(cin, cout, 3, padding=1, padding_mode="reflect")
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * math.sqrt(2.0 / (cin * 9)))
                conv.bias.zero_()
            layers.append(conv)
            cin = cout
        self.layers = nn.ModuleList(layers)
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor, depth: int | None = None) -> list[torch.Tensor]:
        x = (x - 0.45) / 0.25
        out = []
        for i, conv in enumerate(self.layers[:depth]):
            if i:
                x = F.avg_pool2d(x, 2)
            x = F.relu(conv(x))
            out.append(x)
        return out


# VGG16's convolutional part, in torchvision's layer order so its state dict loads as is.
_VGG16_CFG: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)
#: Indices of relu1_2, relu2_2, relu3_3, relu4_3 in the features sequence.
_VGG_TAPS = (3, 8, 15, 22)


class VGG16Features(nn.Module):
    """VGG16 up to relu4_3, with the same module indices as ``torchvision.models.vgg16().features``."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.mean) / self.std
        out = []
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in _VGG_TAPS:
                out.append(x)
        return out


def vgg_cache_dir() -> Path:
    """Where torchvision keeps downloaded weights: ``$TORCH_HOME/hub/checkpoints``."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints"


def find_vgg_weights(path: Path | str) -> Path:
    """The VGG16 weights file: ``path`` itself, or ``vgg16-*.pth`` in it (a torch hub cache)."""
    p = Path(path).expanduser()
    if p.is_dir():
        for folder in (p, p / "checkpoints", p / "hub" / "checkpoints"):
            hits = sorted(folder.glob("vgg16-*.pth")) if folder.is_dir() else []
            if hits:
                return hits[0]
        raise FeatureModelError(
            f"{p}: expected {VGG_FILE} (torchvision's VGG16 weights) in this folder, found none"
        )
    if not p.is_file():
        raise FeatureModelError(f"{p}: no such file; expected torchvision's VGG16 weights ({VGG_FILE})")
    return p


def download_vgg16(
    folder: Path | str | None = None,
    *,
    url: str = VGG_URL,
    sha256_prefix: str | None = None,
    opener: Callable[..., Any] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """torchvision's VGG16 weights in ``folder`` (default :func:`vgg_cache_dir`), downloaded once.

    The file is written beside its final name and renamed only once its SHA-256 starts with
    ``sha256_prefix`` (default :data:`VGG_SHA256_PREFIX`, torch.hub's check), so a broken
    download never stays in the cache. ``opener`` defaults to urllib's ``urlopen``;
    ``progress(done_bytes, total_bytes)`` is called as it comes in.
    """
    folder = Path(folder).expanduser() if folder is not None else vgg_cache_dir()
    sha256_prefix = sha256_prefix or VGG_SHA256_PREFIX
    opener = opener or urlopen
    target = folder / url.rsplit("/", 1)[-1]
    if target.is_file():
        return target
    tmp = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with opener(url, timeout=30) as response, open(tmp, "wb") as f:
            total = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            total_bytes, done = (int(total) if total else None), 0
            while chunk := response.read(1 << 20):
                f.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total_bytes)
    except OSError as exc:  # URLError, timeouts and a full disk are all OSErrors
        tmp.unlink(missing_ok=True)
        reason = getattr(exc, "reason", None) or exc
        raise FeatureModelError(
            f"could not download the VGG16 weights from {url} ({reason}); without network, "
            f"copy {target.name} into {folder} or give --vgg FILE"
        ) from None
    if not digest.hexdigest().startswith(sha256_prefix):
        tmp.unlink(missing_ok=True)
        raise FeatureModelError(
            f"{url}: expected a file whose SHA-256 starts with {sha256_prefix}, "
            f"got {digest.hexdigest()[:16]}...; nothing was kept"
        )
    os.replace(tmp, target)
    return target


def load_vgg16(path: Path | str) -> VGG16Features:
    """Our VGG16 feature module with torchvision's weights from ``path`` (a file or a folder)."""
    p = find_vgg_weights(path)
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise FeatureModelError(f"{p}: could not read VGG16 weights: {exc}") from None
    net = VGG16Features()
    wanted = {k for k in net.state_dict() if k.startswith("features.")}
    picked = {k: v for k, v in state.items() if k in wanted} if isinstance(state, dict) else {}
    if set(picked) != wanted:
        missing = sorted(wanted - set(picked))[:3]
        raise FeatureModelError(f"{p}: expected torchvision VGG16 weights, missing {missing}")
    try:
        net.load_state_dict(picked, strict=False)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1].strip()
        raise FeatureModelError(f"{p}: expected torchvision VGG16 weights: {first:.200}") from None
    return net
