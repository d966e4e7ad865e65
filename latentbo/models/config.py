"""Model + training configuration: a dataclass, loadable from TOML and saved,
resolved, beside every checkpoint."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from latentbo.errors import ConfigError
from latentbo.io import read_toml
from latentbo.tasks import get_task


def _matches(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint in (int, float):  # an int is a fine float; a bool is neither
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    if origin is list:
        return isinstance(value, list) and all(_matches(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    return isinstance(value, origin or hint)


def check_field_types(config: Any) -> None:
    """Check every field of a config dataclass against its annotation (TOML gives
    ``latent_dim = "ten"`` as a string) and every float for finiteness.

    Raises:
        ConfigError: naming the first field that does not fit.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value, hint = getattr(config, f.name), hints[f.name]
        if not _matches(value, hint):
            want = getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
            raise ConfigError(f"{f.name} must be of type {want}, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{f.name} must be a finite number, got {value}")

#: Named models of the papers: (codec kind, regulariser). Any regulariser name is
#: also accepted directly (with the grammar codec).
MODELS: dict[str, tuple[str, str]] = {
    "gvae": ("grammar", "vae"),
    "cvae": ("character", "vae"),
    "svae": ("selfies", "vae"),
    "gcvvae": ("grammar", "cvvae"),
    "grae": ("grammar", "rae"),
    "gwae": ("grammar", "wae_mmd"),
    "gmm_dae": ("grammar", "gmm_dae"),
    "welbo": ("grammar", "welbo"),
    "edvae": ("grammar", "edvae"),
}


#: Loss weights of the named models where the papers leave them open, chosen by
#: ``benchmarks/baseline_sweep.py`` (expressions, held-out exact reconstruction and
#: prior validity; results/baseline_sweep.md); a config's ``[reg_params]`` is merged on top.
MODEL_PRESETS: dict[str, dict[str, Any]] = {
    # RAE paper: CV-VAE, sigma 0.7, embedding weight tuned per dataset (its configs: 0.039
    # MNIST, 9e-4 CIFAR); unweighted, the decoder ignored z. Sweep: 1 -> 1e-3, exact 0 -> 0.0065.
    "gcvvae": {"beta": 1e-3},
    # RAE paper: embedding weight tuned per dataset (1e-4..1e-3 in its configs). Sweep: 1 -> 0.01.
    "grae": {"beta": 0.01},
    # WAE paper leaves lambda to tuning (10 for MNIST). Sweep: 10 -> 100, exact 0.109 -> 0.36.
    "gwae": {"lam": 100.0},
    # ED-VAE paper gives no weight for sequences. Sweep: 1 -> 0.01, exact 0.021 -> 0.163.
    "edvae": {"weight": 0.01},
    # WELBO paper: lambda_0 = 1 (with it the codes collapse: token accuracy 0.597, the
    # marginal). Sweep: lambda_0 0.01 (floor 1e-3), token accuracy 0.747, exact 0.0055.
    "welbo": {"lambda0": 0.01, "lambda_min": 1e-3},
}

#: Codecs a model may use: the task's grammar, or one fitted on the training strings.
CODEC_KINDS = ("grammar", "character", "selfies")

#: Sizes of the Transformer decoders when a task preset (sized for the GRU) is switched to one.
DECODER_SIZES: dict[str, dict[str, int]] = {
    "fast": {"decoder_hidden": 128, "decoder_layers": 2},
    "ar": {"decoder_hidden": 128, "decoder_layers": 2},
}

#: Training precision: ``auto`` is bf16 autocast on CUDA and fp32 elsewhere.
PRECISIONS = ("auto", "fp32", "bf16")
#: How the learning rate follows the batch size: ``lr * (batch_size / lr_reference_batch) ** p``
#: (square root: the rule for Adam of Malladi et al., 2022; linear: Goyal et al., 2017 for SGD).
LR_SCALINGS = {"none": 0.0, "sqrt": 0.5, "linear": 1.0}


@dataclass
class ModelConfig:
    """Everything that fixes a model and its training run.

    Sizes default to the task's preset (:data:`latentbo.tasks.TASKS`); training
    defaults follow the Grammar VAE (Adam 1e-3, batch 256... scaled for CPU by the
    benchmark profiles).
    """

    task: str = "expressions"
    model: str = "gvae"
    codec: str = "grammar"
    regularizer: str = "vae"
    reg_params: dict[str, Any] = field(default_factory=dict)
    latent_dim: int = 25
    conv_channels: list[int] = field(default_factory=lambda: [2, 3, 4])
    conv_kernels: list[int] = field(default_factory=lambda: [2, 3, 4])
    batch_norm: bool = True
    hidden: int = 100
    decoder: str = "gru"
    decoder_hidden: int = 100
    decoder_layers: int = 3
    recon_weight: float = 1.0
    # character / selfies codec only: maximum sequence length (0 = longest training string)
    char_max_length: int = 0
    # training
    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    lr_factor: float = 0.2
    lr_patience: int = 3
    min_lr: float = 1e-5
    patience: int = 6
    val_fraction: float = 0.1
    seed: int = 0
    # PRECISIONS: bf16 autocast on CUDA by default
    precision: str = "auto"
    # LR_SCALINGS: lr is given for a batch of lr_reference_batch, scaled to batch_size (effective_lr)
    lr_scaling: str = "none"
    lr_reference_batch: int = 256

    @classmethod
    def for_model(cls, task: str, model: str, /, **overrides: Any) -> ModelConfig:
        """Task preset + named model (``gvae``, ``cvae``, ... or a regulariser name) + overrides."""
        from latentbo.models.regularizers import REGULARIZERS

        chosen = {"task", "model", "regularizer"} & set(overrides)
        if chosen:
            raise ConfigError(f"{sorted(chosen)} cannot be overridden by a config: choose them with --task / --model")
        if model in MODELS:
            codec, reg = MODELS[model]
        elif model in REGULARIZERS:
            codec, reg = "grammar", model
        else:
            raise ConfigError(f"unknown model {model!r}; known: {sorted(MODELS)} or regularisers {sorted(REGULARIZERS)}")
        base = {**get_task(task).model_defaults, "task": task, "model": model, "codec": codec, "regularizer": reg}
        preset = MODEL_PRESETS.get(model, {})
        if preset:
            user = overrides.get("reg_params", {})
            overrides = {**overrides, "reg_params": {**preset, **user} if isinstance(user, dict) else user}
        # The task presets size the GRU; the Transformer decoders have their own (benchmarks/train_models.py).
        base.update(DECODER_SIZES.get(overrides.get("decoder"), {}))
        return cls.from_dict({**base, **overrides})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(names)}")
        cfg = cls(**data)
        cfg.validate()
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path) -> dict[str, Any]:
        """Read a TOML file into a dict of overrides (validated when combined)."""
        return read_toml(path)

    def validate(self) -> None:
        from latentbo.models.sequence import DECODERS

        check_field_types(self)
        get_task(self.task)
        if self.codec not in CODEC_KINDS:
            raise ConfigError(f"codec must be one of {CODEC_KINDS}, got {self.codec!r}")
        if self.codec == "selfies" and not get_task(self.task).molecules:
            raise ConfigError(f"the selfies codec is for molecules; task {self.task!r} is not")
        if self.decoder not in DECODERS:
            raise ConfigError(f"unknown decoder {self.decoder!r}; known: {sorted(DECODERS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr_scaling not in LR_SCALINGS:
            raise ConfigError(f"lr_scaling must be one of {sorted(LR_SCALINGS)}, got {self.lr_scaling!r}")
        for name in ("latent_dim", "hidden", "decoder_hidden", "decoder_layers", "epochs", "batch_size",
                     "lr_reference_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        heads = getattr(DECODERS[self.decoder], "heads", 1)
        if self.decoder_hidden % heads:
            raise ConfigError(f"the {self.decoder!r} decoder's width decoder_hidden={self.decoder_hidden} must be a "
                              f"multiple of its {heads} attention heads")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        for name in ("lr", "recon_weight"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.lr_factor < 1 or self.min_lr < 0:
            raise ConfigError(f"lr_factor must be in (0, 1) and min_lr >= 0, got {self.lr_factor}, {self.min_lr}")
        for name in ("patience", "lr_patience", "char_max_length"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def effective_lr(self) -> float:
        """``lr`` scaled to ``batch_size`` by ``lr_scaling``."""
        return self.lr * (self.batch_size / self.lr_reference_batch) ** LR_SCALINGS[self.lr_scaling]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())
