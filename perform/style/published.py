"""Models published by pytorch/examples' ``fast_neural_style`` (candy, mosaic, rain_princess,
udnie), turned into perform model files.

Their file is the ``state_dict`` of that project's ``TransformerNet``: ``conv1``..``conv3``,
``res1``..``res5``, ``deconv1``..``deconv3`` (each conv under ``conv2d``) and instance norms
``in1``..``in5``. Checkpoints saved by old torch versions also carry the norms'
``running_mean``/``running_var``, which the network never uses; they are dropped. The network
is perform's ``johnson`` architecture with ``pixels255=1``: the same layers, 0..255 in, a linear
0..255 out.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from perform.style.model import (
    SUFFIX,
    CorruptModelError,
    ModelError,
    check_name,
    save_model,
    user_models_dir,
)
from perform.style.nets import TransformerNet

#: Where the four published models come from (pytorch/examples, fast_neural_style/README.md).
SOURCE = "pytorch/examples fast_neural_style (download_saved_models.py: saved_models.zip)"
_UNUSED = re.compile(r"(^|\.)in\d\.(running_mean|running_var|num_batches_tracked)$")


def _key_map(blocks: int = 5) -> dict[str, str]:
    """pytorch/examples' module names -> perform's (``down``/``res``/``up`` sequences)."""
    names = {"conv1.conv2d": "down.0.conv", "in1": "down.1", "conv2.conv2d": "down.3.conv", "in2": "down.4",
             "conv3.conv2d": "down.6.conv", "in3": "down.7", "deconv1.conv2d": "up.0.conv.conv",
             "in4": "up.1", "deconv2.conv2d": "up.3.conv.conv", "in5": "up.4",
             "deconv3.conv2d": "up.6.conv"}  # fmt: skip
    for b in range(blocks):
        for part in ("conv1", "conv2"):
            names[f"res{b + 1}.{part}.conv2d"] = f"res.{b}.{part}.conv"
        for part in ("in1", "in2"):
            names[f"res{b + 1}.{part}"] = f"res.{b}.{part}"
    return {f"{k}.{p}": f"{v}.{p}" for k, v in names.items() for p in ("weight", "bias")}


def convert_state_dict(state: dict[str, torch.Tensor], path: Path | str = "<state_dict>") -> TransformerNet:
    """A perform network holding the weights of a pytorch/examples TransformerNet ``state_dict``."""
    keys = _key_map()
    state = {k.removeprefix("module."): v for k, v in state.items() if not _UNUSED.search(k)}
    missing = sorted(set(keys) - set(state))
    unknown = sorted(set(state) - set(keys))
    if missing or unknown:
        raise CorruptModelError(
            path,
            "expected a pytorch/examples fast_neural_style TransformerNet state_dict, "
            f"missing {missing[:3]}, unexpected {unknown[:3]}",
        )
    net = TransformerNet(width=32, blocks=5, pixels255=1)
    try:
        net.load_state_dict({keys[k]: v.float() for k, v in state.items()}, strict=True)
    except RuntimeError as exc:
        last = str(exc).strip().splitlines()[-1].strip()
        raise CorruptModelError(
            path, f"weights do not fit pytorch/examples' TransformerNet: {last:.200}"
        ) from None
    return net.eval()


def import_examples_model(
    source: Path | str, name: str, folder: Path | str | None = None, *, force: bool = False
) -> Path:
    """Write ``source`` (a pytorch/examples ``.pth``/``.model``) as ``folder/name.pt``.

    ``folder`` defaults to the user's models folder (:func:`user_models_dir`); an existing model
    of that name is only replaced with ``force``.
    """
    source = Path(source)
    check_name(name)
    if not source.is_file():
        raise ModelError(source, "no such file")
    target = Path(folder).expanduser() if folder is not None else user_models_dir()
    target = target / f"{name}{SUFFIX}"
    if target.exists() and not force:
        raise ModelError(target, "a model of that name exists; give --force to replace it")
    try:
        state = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CorruptModelError(
            source, f"expected a torch state_dict file, could not read it: {first:.200}"
        ) from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        got = type(state).__name__
        raise CorruptModelError(source, f"expected a state_dict (names -> tensors), got a {got}")
    net = convert_state_dict(state, source)
    return save_model(
        target, net, name=name, architecture="johnson", style_image="",
        loss={"kind": "imported"}, training={"source": SOURCE, "file": source.name},
    )  # fmt: skip
