"""Fast neural style transfer: networks, model files, training and the live style stage."""

from perform.style.model import MODEL_FORMAT, StyleModel, load_model, save_model
from perform.style.nets import ARCHITECTURES, TransformerNet, build_net

__all__ = [
    "ARCHITECTURES",
    "MODEL_FORMAT",
    "StyleModel",
    "TransformerNet",
    "build_net",
    "load_model",
    "save_model",
]
