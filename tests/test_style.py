"""Style transfer: model files, networks, training, the live stage (tiny nets, tiny images)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from perform.control import Controls
from perform.pipeline import Frame, Slot, Stats
from perform.style.config import StyleConfig
from perform.style.model import (
    ArchitectureError,
    CorruptModelError,
    ModelVersionError,
    StyleModel,
    find_models,
    load_model,
    save_model,
)
from perform.style.nets import TransformerNet, build_net
from perform.style.paintings import draw_composition
from perform.style.stage import AdaptiveScale, Styled, StyleStage, Stylizer, compose, feather
from perform.style.train import TrainSettings, train
from perform.vision.types import Poses

torch.set_num_threads(1)


def tiny_net(seed: int = 0) -> TransformerNet:
    torch.manual_seed(seed)
    return TransformerNet(width=4, blocks=1).eval()


def tiny_model(name: str = "tiny", net: torch.nn.Module | None = None) -> StyleModel:
    net = net if net is not None else tiny_net()
    return StyleModel(name=name, architecture="realtime", hyper={"width": 4, "blocks": 1}, net=net)  # type: ignore[arg-type]


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 / w, y * 255 / h, (x + y) * 128 / (w + h)], axis=-1)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


def poses_for(image: np.ndarray, seq: int = 0, mask: np.ndarray | None = None) -> Poses:
    frame = Frame(image, seq, float(seq))
    h, w = image.shape[:2]
    return Poses(seq=seq, t_capture=float(seq), width=w, height=h, mask=mask, frame=frame)


def stage_with(config: StyleConfig, model: StyleModel, **kwargs: object) -> StyleStage:
    stylizer = Stylizer(config, device=torch.device("cpu"), **kwargs)  # type: ignore[arg-type]
    stylizer.add_model(model)
    return StyleStage(
        Stats(), Slot[Poses]("poses"), Slot[Styled]("styled"), config, Controls(), stylizer=stylizer
    )


# model files ------------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path: Path) -> None:
    net = tiny_net()
    path = save_model(tmp_path / "t.pt", net, name="t", architecture="realtime", style_image="s.png",
                      loss={"kind": "offline"}, training={"steps": 3})  # fmt: skip
    model = load_model(path, architecture="realtime")
    assert (model.name, model.architecture, model.style_image) == ("t", "realtime", "s.png")
    assert model.hyper == {"width": 4, "blocks": 1} and model.training["steps"] == 3
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        assert torch.equal(net(x), model.net(x))


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file at all")
    with pytest.raises(CorruptModelError, match=r"bad.pt: expected a perform style model"):
        load_model(bad)
    path = save_model(tmp_path / "t.pt", tiny_net(), name="t", architecture="realtime")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CorruptModelError):
        load_model(truncated)
    other = tmp_path / "other.pt"
    torch.save({"hello": 1}, other)
    with pytest.raises(CorruptModelError, match="expected format 'perform-style'"):
        load_model(other)


def test_weights_that_do_not_fit_are_a_clear_error(tmp_path: Path) -> None:
    path = save_model(tmp_path / "t.pt", tiny_net(), name="t", architecture="realtime")
    data = torch.load(path, weights_only=True)
    data["hyper"] = {"width": 8, "blocks": 1}
    torch.save(data, path)
    with pytest.raises(CorruptModelError, match="weights do not fit"):
        load_model(path)


def test_other_architecture_and_newer_version(tmp_path: Path) -> None:
    path = save_model(tmp_path / "t.pt", tiny_net(), name="t", architecture="realtime")
    with pytest.raises(ArchitectureError, match="expected a 'johnson' model, got a 'realtime' model"):
        load_model(path, architecture="johnson")
    data = torch.load(path, weights_only=True)
    torch.save({**data, "architecture": "unet"}, tmp_path / "unet.pt")
    with pytest.raises(ArchitectureError, match="got 'unet'"):
        load_model(tmp_path / "unet.pt")
    torch.save({**data, "version": 99}, tmp_path / "new.pt")
    with pytest.raises(ModelVersionError, match=r"newer perform .format version 99."):
        load_model(tmp_path / "new.pt")


def test_shipped_models_load() -> None:
    shipped = find_models()
    for name in ("starry_night", "composition", "mosaic", "pointillism"):
        if name not in shipped:
            pytest.skip(f"{name} not trained yet")
        model = load_model(shipped[name])
        assert model.architecture in ("realtime", "wide")
        assert model.name == name and model.style_image
        assert (shipped[name].parent / model.style_image).is_file()  # the painting ships beside it


def test_drawn_style_images_are_deterministic() -> None:
    from perform.style.paintings import draw_mosaic, draw_pointillism

    for draw in (draw_composition, draw_mosaic, draw_pointillism):
        a, b = draw(96, 64, seed=5), draw(96, 64, seed=5)
        assert a.shape == (64, 96, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
        assert len(np.unique(a.reshape(-1, 3), axis=0)) > 20  # a picture, not a flat colour


# networks --------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(32, 32), (37, 50), (9, 13)])
def test_output_shape_and_range(size: tuple[int, int]) -> None:
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        y = tiny_net()(x)
    assert y.shape == x.shape
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0


def seen_width(net: TransformerNet, size: int = 256) -> int:
    """How many input columns one output pixel at the centre depends on (its receptive field).

    Instance norms are taken out: their image-wide mean would tie every pixel to every other.
    """
    import copy

    net = copy.deepcopy(net)
    for module in list(net.modules()):
        for name, child in module.named_children():
            if isinstance(child, torch.nn.InstanceNorm2d):
                setattr(module, name, torch.nn.Identity())
    x = torch.rand(1, 3, size, size, requires_grad=True)
    net(x)[0, :, size // 2, size // 2].sum().backward()
    cols = torch.nonzero(x.grad.abs().sum(dim=(0, 1, 2)) > 0).flatten()  # type: ignore[union-attr]
    return int(cols.max() - cols.min() + 1)


def test_wide_network_takes_realtime_weights_and_sees_further() -> None:
    torch.manual_seed(0)
    realtime, wide = build_net("realtime"), build_net("wide")
    shapes = {k: v.shape for k, v in realtime.state_dict().items()}
    assert shapes == {k: v.shape for k, v in wide.state_dict().items()}
    wide.load_state_dict(realtime.state_dict())
    near, far = seen_width(realtime.eval()), seen_width(wide.eval())
    assert 60 < near < 100 and far > 130, (near, far)
    assert wide.hyper == {"width": 16, "blocks": 3, "dilation": 2}
    tiny = TransformerNet(width=4, blocks=3, dilation=2).eval()
    with torch.no_grad():  # a dilated pad wider than the feature map falls back to replicate
        assert tiny(torch.rand(1, 3, 9, 13)).shape == (1, 3, 9, 13)
    with pytest.raises(ValueError, match=r"dilation 1\.\.4"):
        TransformerNet(dilation=5)
    with pytest.raises(ValueError, match=r"dilation \*\* \(blocks - 1\) <= 16"):
        TransformerNet(blocks=6, dilation=2)  # 32 feature pixels of pad: refused


def test_bad_input_shape() -> None:
    with pytest.raises(ValueError, match=r"expected \(B,3,H,W\), got \(1, 4, 8, 8\)"):
        tiny_net()(torch.rand(1, 4, 8, 8))


# composition -----------------------------------------------------------------------------------


def test_masked_composition_is_exact_where_mask_is_0_and_1() -> None:
    camera, styled = photo(seed=1), photo(seed=2)
    mask = np.zeros((48, 64), np.float32)
    mask[8:40, 16:48] = 1.0
    alpha = feather(mask, 64, 48, 2.0)
    out = compose(camera, styled, alpha)
    assert np.array_equal(out[alpha == 0], camera[alpha == 0])
    assert np.array_equal(out[alpha == 1], styled[alpha == 1])
    assert (alpha == 0).sum() > 1000 and (alpha == 1).sum() > 300
    edge = (alpha > 0) & (alpha < 1)
    assert edge.any()


def test_stage_styles_only_the_performer() -> None:
    config = StyleConfig(region="performer", feather_px=2.0, scales=[1.0], stabilise={"enabled": False})
    stage = stage_with(config, tiny_model())
    image = photo()
    image.setflags(write=False)
    mask = np.zeros((48, 64), np.float32)
    mask[10:40, 20:44] = 1.0
    out = stage.process(poses_for(image, mask=mask))
    assert out is not None and out.styled and out.image.shape == image.shape and out.image.dtype == np.uint8
    assert np.array_equal(out.image[:, :8], image[:, :8])
    assert not np.array_equal(out.image[20:30, 28:36], image[20:30, 28:36])
    stage.controls.set("style.region", "background")
    out = stage.process(poses_for(image, 1, mask=mask))
    assert out is not None and np.array_equal(out.image[20:30, 28:36], image[20:30, 28:36])
    stage.controls.set("style.strength", 0.0)
    out = stage.process(poses_for(image, 2, mask=mask))
    assert out is not None and out.image is image and not out.styled


def test_strength_follows_a_feature() -> None:
    config = StyleConfig(strength_feature={"name": "stage.energy", "low": 0.2, "high": 1.0})
    stage = stage_with(config, tiny_model())
    poses = Poses(seq=0, t_capture=0.0, width=4, height=4, features={"stage.energy": 0.5})
    assert stage.strength(poses) == pytest.approx(0.6)
    stage.controls.set("style.strength", 0.1)
    assert stage.strength(poses) == pytest.approx(0.1)


# training ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["mediapipe", "offline"])
def test_short_training_lowers_the_loss(tmp_path: Path, loss: str) -> None:
    style = tmp_path / "style.png"
    import cv2

    cv2.imwrite(str(style), draw_composition(64, 64, seed=3))
    content = [photo(64, 64, seed=s) for s in range(4)]
    settings = TrainSettings(steps=40, size=32, batch=2, style_size=64, lr=5e-3, eval_every=20,
                             checkpoint_every=20, loss=loss, hyper={"width": 4, "blocks": 1})  # fmt: skip
    result = train(style, content, tmp_path / "m.pt", settings)
    history = result["history"]
    assert history[-1]["eval"] < 0.9 * history[0]["eval"], history
    model = load_model(tmp_path / "m.pt")
    assert model.training["steps_done"] == 40 and model.loss["kind"] == loss
    more = TrainSettings(**{**settings.__dict__, "steps": 45})
    resumed = train(style, content, tmp_path / "m.pt", more, resume=tmp_path / "m.pt.ckpt")
    assert resumed["steps"] == 45 and resumed["history"][: len(history)] == history


def astronaut(side: int, blur: float = 0.0) -> torch.Tensor:
    """scikit-image's astronaut, ``side`` px square, Gaussian-blurred by ``blur`` px, (1, 3, H, W) 0..1."""
    import cv2
    from skimage import data

    image = cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)
    if blur:
        image = cv2.GaussianBlur(image, (0, 0), blur)
    return torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0


def test_pose_term_is_zero_for_the_photo_and_grows_as_the_figure_blurs_away() -> None:
    """The pose-model content term: nothing to pay for the photo itself, more the less of it is left."""
    from perform.style.losses import MediapipeLoss, MediapipeLossConfig

    photo_t = astronaut(128)
    loss = MediapipeLoss(photo_t, MediapipeLossConfig(pose_weight=1.0))
    pose = [loss(astronaut(128, blur), photo_t)[1]["pose"] for blur in (0.0, 1.5, 6.0)]
    assert pose[0] < 1e-6 < pose[1] < pose[2], pose
    assert loss(torch.full_like(photo_t, 0.5), photo_t)[1]["pose"] > pose[2]
    assert MediapipeLoss(photo_t).pose is None  # off by default: the pose network is not even built


def test_fine_tune_a_model_file_with_the_pose_term(tmp_path: Path) -> None:
    """``resume`` takes a model file: its weights, steps and curve go on, with the pose term added."""
    import cv2

    style = tmp_path / "style.png"
    cv2.imwrite(str(style), draw_composition(64, 64, seed=3))
    content = [photo(64, 64, seed=s) for s in range(4)]
    settings = TrainSettings(steps=10, size=32, batch=2, style_size=64, lr=5e-3, eval_every=5,
                             hyper={"width": 4, "blocks": 1})  # fmt: skip
    first = train(style, content, tmp_path / "m.pt", settings)
    tuned = TrainSettings(**{**settings.__dict__, "steps": 15, "pose_weight": 5.0, "edge_weight": 0.1})
    result = train(style, content, tmp_path / "tuned.pt", tuned, resume=tmp_path / "m.pt")
    assert result["steps"] == 15 and result["history"][: len(first["history"])] == first["history"]
    model = load_model(tmp_path / "tuned.pt")
    assert model.loss["pose_weight"] == 5.0 and model.training["pose_weight"] == 5.0
    assert model.loss["edge_weight"] == 0.1 and load_model(tmp_path / "m.pt").loss["edge_weight"] == 0.5


def test_fine_tune_a_realtime_model_as_the_wide_network(tmp_path: Path) -> None:
    """Weights that fit another architecture are fine-tuned as it; weights that do not are one error."""
    import cv2

    from perform.style.model import ModelError

    style = tmp_path / "style.png"
    cv2.imwrite(str(style), draw_composition(64, 64, seed=3))
    content = [photo(64, 64, seed=s) for s in range(4)]
    small = {"width": 4, "blocks": 2}
    settings = TrainSettings(steps=4, size=32, batch=1, style_size=64, eval_every=2, hyper=small)
    train(style, content, tmp_path / "m.pt", settings)
    wide = TrainSettings(**{**settings.__dict__, "architecture": "wide", "steps": 6, "hyper": small})
    train(style, content, tmp_path / "wide.pt", wide, resume=tmp_path / "m.pt")
    model = load_model(tmp_path / "wide.pt", architecture="wide")
    assert model.hyper == {**small, "dilation": 2} and model.training["steps_done"] == 6
    # a checkpoint of the other architecture: its weights go on, its optimiser state does not
    train(style, content, tmp_path / "wide2.pt", wide, resume=tmp_path / "m.pt.ckpt")
    assert load_model(tmp_path / "wide2.pt", architecture="wide").training["steps_done"] == 6
    johnson = TrainSettings(**{**settings.__dict__, "architecture": "johnson", "steps": 6, "hyper": {}})
    with pytest.raises(ModelError, match="weights of its 'realtime' network do not fit a 'johnson'"):
        train(style, content, tmp_path / "j.pt", johnson, resume=tmp_path / "m.pt")


# adaptive scale, failures, flicker ----------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class CostlyNet(torch.nn.Module):
    """Passes the image through and advances a fake clock by 1 ms per 100 pixels."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.clock.t += x.shape[-1] * x.shape[-2] / 100.0 / 1000.0
        return x


def scale_under(budget_ms: float) -> float:
    clock = FakeClock()
    config = StyleConfig(
        budget_ms=budget_ms, max_side=200, scales=[1.0, 0.5, 0.25], stabilise={"enabled": False}
    )
    stylizer = Stylizer(config, device=torch.device("cpu"), clock=clock)
    stylizer.add_model(tiny_model(net=CostlyNet(clock)))
    image = photo(100, 200)
    for _ in range(20):
        stylizer.run(image)
    return stylizer.adaptive.scale


def test_adaptive_scale_picks_smaller_scale_under_smaller_budget() -> None:
    # scale 1.0: 200x100 = 200 ms; 0.5: 50 ms; 0.25: 12.5 ms
    assert scale_under(500.0) == 1.0
    assert scale_under(100.0) == 0.5
    assert scale_under(20.0) == 0.25
    assert scale_under(1.0) == 0.25


def test_adaptive_scale_follows_load() -> None:
    a = AdaptiveScale([1.0, 0.5], budget_ms=100.0)
    for _ in range(10):
        a.record(a.scale, 40.0 if a.scale == 1.0 else 10.0)
    assert a.scale == 1.0
    for _ in range(10):
        a.record(a.scale, 400.0 if a.scale == 1.0 else 100.0 * 0.9)
    assert a.scale == 0.5
    a.step_down()
    for _ in range(10):
        a.record(a.scale, 1.0)
    assert a.scale == 0.5


class Broken(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fail = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fail:
            raise RuntimeError("injected failure")
        return x


def test_injected_failure_passes_frames_through_then_retries() -> None:
    clock = FakeClock()
    net = Broken()
    stylizer = Stylizer(StyleConfig(), device=torch.device("cpu"))
    stylizer.add_model(tiny_model(net=net))
    stage = StyleStage(
        Stats(), Slot[Poses]("p"), None, StyleConfig(), Controls(), stylizer=stylizer, clock=clock
    )
    image = photo()
    out = stage.process(poses_for(image))
    assert out is not None and out.image is image and not out.styled
    assert stage.failures == 1 and stage.stats.errors == 1
    clock.t = 0.1  # inside the back-off: not even tried
    out = stage.process(poses_for(image, 1))
    assert out is not None and not out.styled and stage.failures == 1 and stage.passed_through == 2
    clock.t = 0.6
    out = stage.process(poses_for(image, 2))
    assert stage.failures == 2 and stage._backoff_s == 1.0
    net.fail = False
    clock.t = 2.0
    out = stage.process(poses_for(image, 3))
    assert out is not None and out.styled and out.style == "tiny" and stage._backoff_s == 0.0


def flicker(stabilise: bool) -> tuple[float, float]:
    config = StyleConfig(scales=[1.0], stabilise={"enabled": stabilise, "amount": 0.8})
    stage = stage_with(config, tiny_model(net=TransformerNet(width=4, blocks=1).eval()))
    rng = np.random.default_rng(0)
    still = photo(48, 64, seed=5).astype(np.float32)
    for i in range(12):
        noisy = np.clip(still + rng.normal(0, 1.0, still.shape), 0, 255).astype(np.uint8)
        stage.process(poses_for(noisy, i))
    return stage.flicker_raw.value, stage.flicker_out.value


def test_stabilisation_lowers_flicker_on_a_still_noisy_input() -> None:
    torch.manual_seed(0)
    raw_off, out_off = flicker(False)
    torch.manual_seed(0)
    raw_on, out_on = flicker(True)
    assert out_off == pytest.approx(raw_off, rel=0.05)
    assert raw_on == pytest.approx(raw_off, rel=0.05)  # the same network output, measured before
    assert out_on < 0.6 * raw_on, (out_on, raw_on)


# style switching, the thread, config, CLI ---------------------------------------------------------


def test_style_name_switches_and_unknown_name_keeps_current() -> None:
    config = StyleConfig(scales=[1.0])
    stage = stage_with(config, tiny_model("a"))
    stage.stylizer.add_model(tiny_model("b", tiny_net(seed=1)))
    image = photo()
    out = stage.process(poses_for(image))
    assert out is not None and out.style == "a"
    stage.controls.set("style.name", "b")
    out = stage.process(poses_for(image, 1))
    assert out is not None and out.style == "b"
    stage.controls.set("style.name", "no_such_style")
    out = stage.process(poses_for(image, 2))
    assert out is not None and out.style == "b" and stage.stats.errors == 1
    assert stage.controls.get("style.name") == "b"


def test_stage_runs_on_its_thread_latest_wins() -> None:
    config = StyleConfig(scales=[1.0])
    stylizer = Stylizer(config, device=torch.device("cpu"))
    stylizer.add_model(tiny_model())
    source, output = Slot[Poses]("poses"), Slot[Styled]("styled")
    reader = output.reader("test")
    stage = StyleStage(Stats(), source, output, config, stylizer=stylizer)
    stage.start()
    try:
        source.publish(poses_for(photo(), 7))
        got = reader.get(timeout=5.0)
    finally:
        stage.stop()
        stage.join(2.0)
    assert got is not None and got.seq == 7 and got.styled and got.image.shape == (48, 64, 3)


def test_config_checks_scales() -> None:
    assert StyleConfig(scales=[0.5, 1.0, 0.5]).scales == [1.0, 0.5]
    with pytest.raises(ValueError, match=r"expected scales in \(0, 1\]"):
        StyleConfig(scales=[1.5])
    with pytest.raises(ValueError, match="extra"):
        StyleConfig(colour="red")  # type: ignore[call-arg]


def test_cli_apply_and_list(tmp_path: Path) -> None:
    import argparse

    import cv2
    from rich.console import Console

    from perform.style.cli import add_style_parser, cmd_style

    parser = argparse.ArgumentParser()
    add_style_parser(parser.add_subparsers(dest="command"))
    save_model(tmp_path / "tiny.pt", tiny_net(), name="tiny", architecture="realtime", style_image="x.png")
    (tmp_path / "broken.pt").write_bytes(b"garbage")
    cv2.imwrite(str(tmp_path / "in.png"), photo())
    console = Console(record=True, width=200)
    args = parser.parse_args(["style", "apply", "tiny", str(tmp_path / "in.png"), str(tmp_path / "out.png"),
                              "--models", str(tmp_path)])  # fmt: skip
    assert cmd_style(args, console) == 0
    out = cv2.imread(str(tmp_path / "out.png"))
    assert out is not None and out.shape == (48, 64, 3)
    assert cmd_style(parser.parse_args(["style", "list", "--models", str(tmp_path)]), console) == 0
    text = console.export_text()
    lines = [line for line in text.splitlines() if line.startswith(("tiny", "broken"))]
    assert any(line.startswith("tiny  realtime") for line in lines)
    assert any(line.startswith("broken  unreadable") for line in lines)


def test_vgg_weights_load_from_a_hub_cache_without_torchvision(tmp_path: Path) -> None:
    from perform.style.features import FeatureModelError, VGG16Features, load_vgg16
    from perform.style.losses import VggLoss

    torch.manual_seed(0)
    reference = VGG16Features()
    state = {k: v for k, v in reference.state_dict().items() if k.startswith("features.")}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # torchvision's file has the classifier too
    cache = tmp_path / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state, cache / "vgg16-397923af.pth")
    vgg = load_vgg16(tmp_path)
    assert torch.equal(vgg.features[0].weight, reference.features[0].weight)
    loss, parts = VggLoss(torch.rand(1, 3, 32, 32), vgg)(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32))
    assert loss.item() > 0 and set(parts) == {"content", "style"}
    with pytest.raises(FeatureModelError, match=r"no such file; expected torchvision's VGG16 weights"):
        load_vgg16(tmp_path / "hub" / "nothing")
    with pytest.raises(FeatureModelError, match=r"expected vgg16-397923af.pth .* in this folder"):
        empty = tmp_path / "empty"
        empty.mkdir()
        load_vgg16(empty)
    torch.save({"features.0.weight": torch.zeros(1)}, tmp_path / "partial.pth")
    with pytest.raises(FeatureModelError, match="missing"):
        load_vgg16(tmp_path / "partial.pth")


def test_a_show_with_style_runs_the_shipped_model_on_the_performer(tmp_path):
    """The style stage inside a running show: the shipped model, the performer's mask, adaptive scale."""
    import time

    import cv2
    import skimage.data

    from perform.capture.config import ImageSource
    from perform.runtime import ShowPipeline
    from perform.show.models import Control, Show
    from perform.style.config import StyleConfig

    path = tmp_path / "astronaut.png"
    photo = skimage.data.astronaut()
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    show = Show(
        source=ImageSource(kind="image", path=path, fps=10),
        style=StyleConfig(enabled=True, model="starry_night", region="performer", budget_ms=80),
        control=Control(enabled=False),
    )
    pipeline = ShowPipeline(show)
    reader = pipeline.styled.reader("test")
    pipeline.start()
    got = []
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline and len(got) < 5:
            item = reader.get(0.5)
            if item is not None and item.styled:
                got.append(item)
    finally:
        pipeline.stop()
    assert len(got) >= 5
    out = got[-1].image
    assert out.shape == photo.shape and out.dtype == photo.dtype
    changed = np.abs(out.astype(int) - photo.astype(int)).sum(axis=2) > 30
    assert changed[350, 200]  # the suit is painted
    assert not changed[30, 480]  # the wall behind is not
    assert pipeline.style.report()["failures"] == 0
