"""One checkpoint format for every model kind.

A saved model is a folder: ``config.toml`` (the resolved config with its ``kind``),
``meta.json`` (version, seed, the ex-post GMM if fitted, and for sequence models the
codec spec with its grammar fingerprint) and ``<name>.safetensors`` (weights:
``model`` = best, ``last`` = the latest epoch). Every file is written atomically.
Folders of earlier versions (no ``kind``; image models with ``fashion_mnist``) load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

import latentbo
from latentbo.codecs import codec_from_spec
from latentbo.errors import CheckpointError, LatentboError
from latentbo.io import atomic_write_bytes, atomic_write_text, read_toml
from latentbo.models.autoencoder import LatentModel, SequenceAutoencoder, checked_gmm
from latentbo.models.config import ImageConfig, ModelConfig
from latentbo.models.image import ImageAutoencoder


def _sequence(config: dict[str, Any], meta: dict[str, Any]) -> SequenceAutoencoder:
    return SequenceAutoencoder(ModelConfig.from_dict(config), codec_from_spec(meta["codec"]))


def _image(config: dict[str, Any], meta: dict[str, Any]) -> ImageAutoencoder:
    if config.get("dataset") == "fashion_mnist":  # its name before datasets had one name everywhere
        config = {**config, "dataset": "fashion-mnist"}
    return ImageAutoencoder(ImageConfig.from_dict(config))


#: How to rebuild (untrained) each kind of model from its saved config and meta.
KINDS: dict[str, Callable[[dict[str, Any], dict[str, Any]], LatentModel]] = {"sequence": _sequence, "image": _image}


def kind_of(config: dict[str, Any]) -> str:
    """The ``kind`` of a saved config (folders written before it was saved: image
    configs are the ones with a ``dataset``)."""
    return config.get("kind") or ("image" if "dataset" in config else "sequence")


def save_model(model: LatentModel, directory: str | Path, name: str = "model") -> None:
    """Write ``config.toml``, ``meta.json`` and ``<name>.safetensors`` atomically."""
    directory = Path(directory)
    atomic_write_text(directory / "config.toml", model.config.to_toml())
    meta = {"latentbo_version": latentbo.__version__, "seed": model.config.seed, "expost_gmm": model.expost_gmm}
    if isinstance(model, SequenceAutoencoder):
        meta["codec"] = model.codec.spec()
    atomic_write_text(directory / "meta.json", json.dumps(meta, indent=2))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(directory / f"{name}.safetensors", st_save(state))


def load_model(directory: str | Path, name: str = "model", kind: str | None = None) -> Any:
    """Rebuild a saved model.

    Args:
        directory: the model folder, or the name of a pretrained model
            (:mod:`latentbo.models.zoo`; its fp16 weights load as fp32).
        name: which weights: ``model`` (best) or ``last``.
        kind: the kind the caller needs (``sequence`` or ``image``); ``None`` takes any.

    Returns:
        The model in eval mode (:class:`SequenceAutoencoder` or :class:`ImageAutoencoder`).

    Raises:
        CheckpointError: missing or corrupt files, another kind than ``kind``, a grammar
            changed since training, or weights that do not fit the config.
    """
    from latentbo.models.zoo import resolve_model

    directory = resolve_model(directory)
    for fname in ("config.toml", "meta.json", f"{name}.safetensors"):
        if not (directory / fname).is_file():
            raise CheckpointError(f"{directory} is not a saved latentbo model: {fname} is missing")
    try:
        config = read_toml(directory / "config.toml")
        meta = json.loads((directory / "meta.json").read_text())
        saved = kind_of(config)
        if saved not in KINDS:
            raise CheckpointError(f"{directory} holds a model of unknown kind {saved!r}; known: {sorted(KINDS)}")
        if kind is not None and saved != kind:
            raise CheckpointError(f"{directory} holds a model of kind {saved!r}; this needs one of kind {kind!r}")
        model = KINDS[saved](config, meta)
    except CheckpointError:
        raise
    except (LatentboError, ValueError, KeyError, TypeError, AttributeError) as exc:  # ValueError: bad JSON, not UTF-8
        raise CheckpointError(f"{directory}: unreadable config/meta: {exc}") from exc
    try:
        model.load_state_dict(st_load((directory / f"{name}.safetensors").read_bytes()))
    except (SafetensorError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{directory / (name + '.safetensors')} is corrupt or does not match config.toml: "
                              f"{exc}") from exc
    model.expost_gmm = checked_gmm(meta.get("expost_gmm"), model.config.latent_dim, directory / "meta.json")
    return model.eval()


__all__ = ["KINDS", "kind_of", "load_model", "save_model"]


def weights_fingerprint(model: torch.nn.Module) -> str:
    """A short hash of a model's weights (names, shapes and values)."""
    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(value.shape)).encode())
        h.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
