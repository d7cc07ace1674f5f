"""Loss networks: the palm and pose landmark models rebuilt in torch, VGG16 weights (no network here)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
import torch

from perform.style.features import (
    POSE_DETECTOR_MODEL,
    POSE_MODEL,
    VGG_FILE,
    FeatureModelError,
    PalmFeatures,
    PoseDetectorFeatures,
    PoseFeatures,
    VGG16Features,
    download_vgg16,
    load_vgg16,
    palm_model_path,
    wheel_model_path,
)

torch.set_num_threads(1)


@pytest.mark.filterwarnings("ignore:Warning. Enabling .experimental_preserve_all_tensors")
@pytest.mark.parametrize(
    ("features", "model", "channels", "size"),
    [
        (PalmFeatures, None, (32, 32, 64, 128, 256), 192),
        (PoseFeatures, POSE_MODEL, (24, 64, 144, 192, 528), 256),
        (PoseDetectorFeatures, POSE_DETECTOR_MODEL, (24, 64, 144, 240, 672), 224),  # sparse weights, -1..1
    ],
)
def test_features_match_litert_on_a_photograph(
    features: type, model: Path | None, channels: tuple[int, ...], size: int
) -> None:
    """The rebuilt layers give LiteRT's own intermediate tensors (the wheel's model, run by LiteRT)."""
    import cv2
    from ai_edge_litert.interpreter import Interpreter

    net = features()
    assert net.channels == channels
    path = palm_model_path() if model is None else wheel_model_path(model)
    interpreter = Interpreter(model_path=str(path), experimental_preserve_all_tensors=True)
    interpreter.allocate_tensors()
    image = cv2.imread("/usr/share/doc/opencv-doc/examples/data/messi5.jpg")
    if image is None:
        image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    rgb = cv2.resize(image, (size, size))[:, :, ::-1].astype(np.float32) / 255.0
    lo, hi = net.input_range
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], rgb[None] * (hi - lo) + lo)
    interpreter.invoke()
    with torch.no_grad():
        ours = net(torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None])
    for tap, feat in zip(net.taps, ours, strict=True):
        want = interpreter.get_tensor(tap)[0]
        got = feat[0].permute(1, 2, 0).numpy()
        assert got.shape == want.shape
        assert np.abs(got - want).max() < 1e-3 * max(1.0, float(np.abs(want).max()))


def test_palm_features_take_any_size_and_pass_gradients() -> None:
    net = PalmFeatures()
    x = torch.rand(2, 3, 50, 70, requires_grad=True)
    feats = net(x)
    assert [f.shape[1] for f in feats] == [32, 32, 64, 128, 256]
    assert feats[-1].shape[-2:] == (4, 5)  # ceil(50/16), ceil(70/16): TensorFlow's SAME padding
    sum(f.mean() for f in feats).backward()
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
    assert not any(p.requires_grad for p in net.parameters())


def test_reader_refuses_models_with_ops_it_does_not_know() -> None:
    # the selfie segmenter's first layers use HARD_SWISH
    with pytest.raises(FeatureModelError, match="is HARD_SWISH"):
        PalmFeatures(wheel_model_path(Path("modules/selfie_segmentation/selfie_segmentation.tflite")))


# VGG16 download ---------------------------------------------------------------------------------


def vgg_file_bytes() -> bytes:
    torch.manual_seed(0)
    state = {k: v for k, v in VGG16Features().state_dict().items() if k.startswith("features.")}
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_vgg_download_checks_the_sha256_and_loads(tmp_path: Path) -> None:
    data = vgg_file_bytes()
    prefix = hashlib.sha256(data).hexdigest()[:8]
    calls: list[str] = []

    def opener(url: str, timeout: float) -> FakeResponse:
        calls.append(url)
        return FakeResponse(data)

    seen: list[tuple[int, int | None]] = []
    path = download_vgg16(
        tmp_path, sha256_prefix=prefix, opener=opener, progress=lambda d, t: seen.append((d, t))
    )
    assert path == tmp_path / VGG_FILE and path.read_bytes() == data
    assert seen[-1] == (len(data), len(data))
    assert isinstance(load_vgg16(path), VGG16Features)
    assert download_vgg16(tmp_path, sha256_prefix=prefix, opener=opener) == path  # cached: no second fetch
    assert len(calls) == 1


def test_vgg_download_with_a_wrong_checksum_keeps_nothing(tmp_path: Path) -> None:
    data = vgg_file_bytes()
    with pytest.raises(FeatureModelError, match="expected a file whose SHA-256 starts with 00000000"):
        download_vgg16(tmp_path, sha256_prefix="00000000", opener=lambda url, timeout: FakeResponse(data))
    assert list(tmp_path.iterdir()) == []


def test_vgg_download_without_network_is_one_line(tmp_path: Path) -> None:
    def offline(url: str, timeout: float) -> FakeResponse:
        raise URLError("[Errno -3] Temporary failure in name resolution")

    with pytest.raises(FeatureModelError) as info:
        download_vgg16(tmp_path / "cache", opener=offline)
    message = str(info.value)
    assert "\n" not in message and "could not download the VGG16 weights" in message
    assert "--vgg FILE" in message and not (tmp_path / "cache" / VGG_FILE).exists()


def test_cli_vgg_download_uses_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    from perform.style import features
    from perform.style.cli import _vgg_weights

    data = vgg_file_bytes()
    monkeypatch.setattr(features, "VGG_SHA256_PREFIX", hashlib.sha256(data).hexdigest()[:8])
    monkeypatch.setattr(features, "vgg_cache_dir", lambda: tmp_path / "hub" / "checkpoints")
    monkeypatch.setattr(features, "urlopen", lambda url, timeout: FakeResponse(data))
    path = _vgg_weights("download", Console(record=True))
    assert path == tmp_path / "hub" / "checkpoints" / VGG_FILE and path.is_file()
    assert _vgg_weights(str(tmp_path / "x.pth"), Console()) == tmp_path / "x.pth"


def test_cli_vgg_loss_needs_weights(tmp_path: Path) -> None:
    import argparse

    from rich.console import Console

    from perform.errors import PerformError
    from perform.style.cli import add_style_parser, cmd_style

    parser = argparse.ArgumentParser()
    add_style_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["style", "train", "s.png", "--content", str(tmp_path), "--out", "m.pt", "--loss", "vgg"]
    )
    with pytest.raises(PerformError, match="--loss vgg needs --vgg FILE"):
        cmd_style(args, Console())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--loss", "offline", "--pose-weight", "2"], "--pose-weight needs the mediapipe loss, got --loss"),
        (["--edge-weight", "-1"], "expected --edge-weight >= 0, got -1.0"),
        (["--edge-weight", "nan"], "expected --edge-weight >= 0, got nan"),
        (["--loss", "vgg", "--edge-weight", "0.1"], "--edge-weight needs the mediapipe or offline loss"),
    ],
)
def test_cli_loss_weights_that_do_not_apply_are_refused(tmp_path: Path, extra: list, message: str) -> None:
    import argparse
    import re

    from rich.console import Console

    from perform.errors import PerformError
    from perform.style.cli import add_style_parser, cmd_style

    parser = argparse.ArgumentParser()
    add_style_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["style", "train", "s.png", "--content", str(tmp_path), "--out", "m.pt", *extra])
    with pytest.raises(PerformError, match=re.escape(message)):
        cmd_style(args, Console())
