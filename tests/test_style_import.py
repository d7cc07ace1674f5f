"""``perform style import``: pytorch/examples' fast_neural_style models become perform models."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
from rich.console import Console

from perform.style.model import CorruptModelError, ModelError, find_models, load_model
from perform.style.published import import_examples_model
from perform.style.stage import Stylizer

torch.set_num_threads(1)


# pytorch/examples fast_neural_style/neural_style/transformer_net.py, written from its published
# architecture: the module names are what its state_dict files carry.
class ConvLayer(torch.nn.Module):
    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int) -> None:
        super().__init__()
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = torch.nn.InstanceNorm2d(channels, affine=True)
        self.relu = torch.nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.in2(self.conv2(self.relu(self.in1(self.conv1(x))))) + x


class UpsampleConvLayer(torch.nn.Module):
    def __init__(
        self, cin: int, cout: int, kernel_size: int, stride: int, upsample: int | None = None
    ) -> None:
        super().__init__()
        self.upsample = upsample
        if upsample:
            self.upsample_layer = torch.nn.Upsample(mode="nearest", scale_factor=upsample)
        self.reflection_pad = torch.nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = torch.nn.Conv2d(cin, cout, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample:
            x = self.upsample_layer(x)
        return self.conv2d(self.reflection_pad(x))


class ExamplesTransformerNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.in1 = ConvLayer(3, 32, 9, 1), torch.nn.InstanceNorm2d(32, affine=True)
        self.conv2, self.in2 = ConvLayer(32, 64, 3, 2), torch.nn.InstanceNorm2d(64, affine=True)
        self.conv3, self.in3 = ConvLayer(64, 128, 3, 2), torch.nn.InstanceNorm2d(128, affine=True)
        self.res1, self.res2, self.res3 = ResidualBlock(128), ResidualBlock(128), ResidualBlock(128)
        self.res4, self.res5 = ResidualBlock(128), ResidualBlock(128)
        self.deconv1 = UpsampleConvLayer(128, 64, 3, 1, upsample=2)
        self.in4 = torch.nn.InstanceNorm2d(64, affine=True)
        self.deconv2 = UpsampleConvLayer(64, 32, 3, 1, upsample=2)
        self.in5 = torch.nn.InstanceNorm2d(32, affine=True)
        self.deconv3 = ConvLayer(32, 3, 9, 1)
        self.relu = torch.nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def published_file(path: Path, seed: int = 0, old_checkpoint: bool = True) -> ExamplesTransformerNet:
    """A random network saved as pytorch/examples saves it; old checkpoints had running stats."""
    torch.manual_seed(seed)
    net = ExamplesTransformerNet().eval()
    with torch.no_grad():  # non-trivial norms, and an output that leaves 0..255 (clamping is checked)
        for m in net.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        net.deconv3.conv2d.weight.mul_(400.0)
        net.deconv3.conv2d.bias.fill_(128.0)
    state = net.state_dict()
    if old_checkpoint:
        for k in list(state):
            if k.endswith(".weight") and k.split(".")[-2].startswith("in"):
                base = k.removesuffix(".weight")
                state[f"{base}.running_mean"] = torch.zeros_like(state[k])
                state[f"{base}.running_var"] = torch.ones_like(state[k])
    assert "res3.in2.running_var" in state or not old_checkpoint
    torch.save(state, path)
    return net


def test_imported_model_gives_the_published_networks_picture(tmp_path: Path) -> None:
    reference = published_file(tmp_path / "candy.pth")
    path = import_examples_model(tmp_path / "candy.pth", "candy", tmp_path / "models")
    assert path == tmp_path / "models" / "candy.pt"
    model = load_model(path, architecture="johnson")
    assert model.hyper == {"width": 32, "blocks": 5, "pixels255": 1} and model.loss["kind"] == "imported"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (68, 92, 3), dtype=np.uint8)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        want = reference(x).clamp(0, 255)  # pytorch/examples' stylize() clamps to 0..255
        got = model.net(x / 255.0) * 255.0
    assert float(want.min()) == 0.0 and float(want.max()) == 255.0  # the clamp matters here
    assert torch.allclose(got.clamp(0, 255), want, atol=2e-3 * 255)
    # the stage (upload, run, clamp, round to uint8) gives the same picture
    from perform.style.config import StyleConfig

    stylizer = Stylizer(
        StyleConfig(scales=[1.0], max_side=4096, stabilise={"enabled": False}), torch.device("cpu")
    )
    stylizer.add_model(model)
    out, _ = stylizer.run(image)
    expected = (want[0].permute(1, 2, 0).numpy() + 0.5).astype(np.uint8)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1


def test_new_checkpoints_without_running_stats_import_too(tmp_path: Path) -> None:
    published_file(tmp_path / "udnie.pth", seed=1, old_checkpoint=False)
    model = load_model(import_examples_model(tmp_path / "udnie.pth", "udnie", tmp_path))
    assert model.name == "udnie"


def test_import_refuses_bad_names_existing_models_and_other_files(tmp_path: Path) -> None:
    published_file(tmp_path / "mosaic.pth")
    for bad in ("../evil", "a/b", "", "x.pt", ".hidden", "a" * 80):
        with pytest.raises(ModelError, match="expected a model name"):
            import_examples_model(tmp_path / "mosaic.pth", bad, tmp_path / "models")
    import_examples_model(tmp_path / "mosaic.pth", "mosaic", tmp_path / "models")
    with pytest.raises(ModelError, match="exists; give --force"):
        import_examples_model(tmp_path / "mosaic.pth", "mosaic", tmp_path / "models")
    import_examples_model(tmp_path / "mosaic.pth", "mosaic", tmp_path / "models", force=True)
    torch.save({"conv1.conv2d.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(CorruptModelError, match="missing"):
        import_examples_model(tmp_path / "partial.pth", "partial", tmp_path / "models")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(CorruptModelError, match="expected a torch state_dict file"):
        import_examples_model(tmp_path / "junk.pth", "junk", tmp_path / "models")
    with pytest.raises(ModelError, match="no such file"):
        import_examples_model(tmp_path / "nothing.pth", "nothing", tmp_path / "models")


def test_cli_import_writes_to_the_users_models_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perform.style.cli import add_style_parser, cmd_style

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    published_file(tmp_path / "rain_princess.pth")
    parser = argparse.ArgumentParser()
    add_style_parser(parser.add_subparsers(dest="command"))
    console = Console(record=True, width=200)
    args = parser.parse_args(["style", "import", str(tmp_path / "rain_princess.pth"), "rain_princess"])
    assert cmd_style(args, console) == 0
    written = tmp_path / "data" / "perform" / "models" / "rain_princess.pt"
    assert written.is_file() and find_models()["rain_princess"] == written
    assert "wrote" in console.export_text()
