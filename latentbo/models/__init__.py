"""Autoencoders: encoder + decoder + latent regulariser, each chosen by name; one
config base, one checkpoint format and one training loop for sequence and image models.

Names are imported on first use (torch is slow to import), so a command that only
reads the zoo's cards stays fast."""

import importlib
from typing import Any

_WHERE = {
    "LatentModel": "autoencoder", "SequenceAutoencoder": "autoencoder", "load_model": "checkpoint",
    "save_model": "checkpoint", "IMAGE_MODELS": "config", "IMAGE_PRESETS": "config", "MODELS": "config",
    "ImageConfig": "config", "ModelConfig": "config", "ImageAutoencoder": "image", "REGULARIZERS": "regularizers",
    "Regularizer": "regularizers", "make_regularizer": "regularizers",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


__all__ = sorted(_WHERE)
