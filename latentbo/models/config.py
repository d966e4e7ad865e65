"""Model + training configurations (sequence and image models), the named models
and their presets: dataclasses, loadable from TOML and saved, resolved, beside every
checkpoint (with their ``kind``, which says which model the folder holds)."""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import tomli_w

from latentbo.errors import CheckpointError, ConfigError
from latentbo.io import check_memory, read_toml
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
#: How the learning rate moves: cut by lr_factor when the validation loss stalls, or down a
#: half cosine from lr to min_lr over the run's epochs (a fixed budget: a GPU run that
#: should end at a low learning rate; the plateau rule never cut it inside 7 minutes)
SCHEDULES = ("plateau", "cosine")


class Config:
    """What every model config shares: construction from a dict (a TOML file) with one
    validation path, and the TOML written beside a checkpoint with the config's ``kind``.

    Subclasses are dataclasses with at least ``latent_dim``, ``epochs``, ``batch_size``,
    ``lr``, ``recon_weight`` and ``seed``, and add their own checks in :meth:`check`.
    """

    #: which model a saved folder holds (``sequence`` or ``image``)
    kind: ClassVar[str]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Any:
        """A validated config from plain values (a ``kind`` key, as saved, must match).

        Raises:
            ConfigError: unknown keys, another kind, or values that do not validate.
        """
        data = dict(data)
        kind = data.pop("kind", cls.kind)
        if kind != cls.kind:
            raise ConfigError(f"a {kind!r} config is not a {cls.kind!r} one")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ConfigError(f"unknown config key(s) {sorted(unknown)}; known: {sorted(names)}")
        cfg = cls(**data)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        """Types, then the checks every config shares, then the subclass's :meth:`check`.

        Raises:
            ConfigError: naming the first field that does not fit.
        """
        check_field_types(self)
        for name in ("latent_dim", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("lr", "recon_weight"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        self.check()

    def check(self) -> None:
        """Checks of the subclass's own fields."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps({"kind": self.kind, **{k: v for k, v in self.to_dict().items() if v is not None}})

    def resumed_with(self, asked: Config) -> Any:
        """This (a saved run's) config going on to ``asked.epochs``: training longer or
        shorter is the one change a resumed run takes (not for a cosine schedule, whose
        curve its epochs fix).

        Raises:
            CheckpointError: ``asked`` differs in anything else (named in the message), or
                in its epochs on a cosine schedule.
        """
        saved, new = (tomllib.loads(c.to_toml()) for c in (self, asked))  # as saved: tuples become lists
        differ = [f"{k} {saved.get(k)!r} -> {new.get(k)!r}" for k in sorted(saved.keys() | new.keys())
                  if k != "epochs" and saved.get(k) != new.get(k)]
        if differ:
            raise CheckpointError(f"the run was started with other settings ({'; '.join(differ)}); a resumed run "
                                  "takes only another number of epochs: give it the options (--config) it was "
                                  "started with, as its config.toml records them")
        if getattr(self, "schedule", None) == "cosine" and asked.epochs != self.epochs:
            # its curve is fixed by its epochs: another count would not be the run it started
            raise CheckpointError(f"the run follows a cosine schedule over its {self.epochs} epochs; resume it with "
                                  f"--epochs {self.epochs}, or train on from it with --init-from")
        return dataclasses.replace(self, epochs=asked.epochs)


#: What fine-tuning may change: the training run, not the model.
TRAINING_FIELDS = frozenset({"epochs", "batch_size", "lr", "lr_factor", "lr_patience", "min_lr", "patience",
                             "val_fraction", "seed", "precision", "lr_scaling", "lr_reference_batch", "augment",
                             "schedule", "grad_clip"})
#: Fine-tuning on a chemist's series (hundreds to thousands of molecules) on a CPU: small
#: batches for enough steps, a learning rate low enough that the weights move little,
#: few epochs; every layer trains. benchmarks/finetune.py measured the rate: at 1e-4 a
#: 333-molecule series cost the default model 14 points of held-out reconstruction, at
#: 1e-5 none, and no zoo model measured read the series worse at 1e-5 than at 1e-4.
FINETUNE_DEFAULTS: dict[str, Any] = {"epochs": 30, "batch_size": 32, "lr": 1e-5, "patience": 5, "lr_patience": 2,
                                     "min_lr": 1e-6, "lr_scaling": "none", "schedule": "plateau"}


@dataclass
class ModelConfig(Config):
    """Everything that fixes a model and its training run.

    Sizes default to the task's preset (:data:`latentbo.tasks.TASKS`); training
    defaults follow the Grammar VAE (Adam 1e-3, batch 256... scaled for CPU by the
    benchmark profiles).
    """

    kind: ClassVar[str] = "sequence"

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
    # codecs fitted on the training strings (character, selfies, ...): maximum sequence length (0 = the longest)
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
    # SCHEDULES
    schedule: str = "plateau"
    # the gradient's norm clipped to this before each step (0: never); its mean before clipping is logged
    grad_clip: float = 0.0
    # molecules (SMILES codecs): randomized SMILES added per training molecule (the validation split stays canonical)
    augment: int = 0

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

    def finetuned(self, overrides: dict[str, Any]) -> ModelConfig:
        """This (a trained model's) config for fine-tuning: :data:`FINETUNE_DEFAULTS`,
        then ``overrides``, which may set training fields only (the weights fix the rest).

        Raises:
            ConfigError: an override of an architecture or codec field.
        """
        fixed = sorted(k for k, v in overrides.items() if k not in TRAINING_FIELDS and getattr(self, k, None) != v)
        if fixed:
            raise ConfigError(f"fine-tuning keeps the model's architecture and codec: {fixed[0]} cannot change "
                              f"({getattr(self, fixed[0], None)!r} -> {overrides[fixed[0]]!r})")
        return ModelConfig.from_dict({**self.to_dict(), **FINETUNE_DEFAULTS, **overrides})

    @classmethod
    def from_toml(cls, path: str | Path) -> dict[str, Any]:
        """Read a TOML file into a dict of overrides (validated when combined)."""
        return read_toml(path)

    def check(self) -> None:
        from latentbo.models.sequence import DECODERS

        get_task(self.task)
        from latentbo.codecs import CODECS

        if self.codec not in CODECS:
            raise ConfigError(f"codec must be one of {sorted(CODECS)}, got {self.codec!r}")
        if CODECS[self.codec].molecules_only and not get_task(self.task).molecules:
            raise ConfigError(f"the {self.codec} codec is for molecules; task {self.task!r} is not")
        if self.decoder not in DECODERS:
            raise ConfigError(f"unknown decoder {self.decoder!r}; known: {sorted(DECODERS)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.lr_scaling not in LR_SCALINGS:
            raise ConfigError(f"lr_scaling must be one of {sorted(LR_SCALINGS)}, got {self.lr_scaling!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.schedule == "cosine" and self.min_lr > self.effective_lr:
            raise ConfigError(f"a cosine schedule falls from lr to min_lr: min_lr={self.min_lr} is above the learning "
                              f"rate {self.effective_lr}")
        if self.grad_clip < 0:
            raise ConfigError(f"grad_clip must be >= 0 (0: no clipping), got {self.grad_clip}")
        for name in ("hidden", "decoder_hidden", "decoder_layers", "lr_reference_batch"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        heads = getattr(DECODERS[self.decoder], "heads", 1)
        if self.decoder_hidden % heads:
            raise ConfigError(f"the {self.decoder!r} decoder's width decoder_hidden={self.decoder_hidden} must be a "
                              f"multiple of its {heads} attention heads")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if not 0 < self.lr_factor < 1 or self.min_lr < 0:
            raise ConfigError(f"lr_factor must be in (0, 1) and min_lr >= 0, got {self.lr_factor}, {self.min_lr}")
        for name in ("patience", "lr_patience", "char_max_length", "augment"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.augment and (not get_task(self.task).molecules or self.codec == "selfies"):
            raise ConfigError("augment adds randomized SMILES: it is for molecule models that read SMILES (the SELFIES "
                              "codec encodes each molecule's canonical SMILES, so copies would be identical)")
        # A lower bound: the layers into and out of the code, fp32, with Adam's two moments.
        check_memory(12 * self.latent_dim * (2 * self.hidden + self.decoder_hidden * self.decoder_layers),
                     f"a model with latent_dim={self.latent_dim}, hidden={self.hidden}, "
                     f"decoder_hidden={self.decoder_hidden}")

    @property
    def effective_lr(self) -> float:
        """``lr`` scaled to ``batch_size`` by ``lr_scaling``."""
        return self.lr * (self.batch_size / self.lr_reference_batch) ** LR_SCALINGS[self.lr_scaling]


#: Image models of the GMM-DAE paper's Table 1: regulariser and its parameters. VAE
#: variants use the usual image-VAE settings (KL summed, unit posterior noise). ``gmm_dae_mm``
#: is not the paper's: GMM-DAE plus a term that holds each mode's codes on its centre.
IMAGE_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "vae": ("vae", {"kl_reduction": "sum", "noise_std": 1.0}),
    "gmvae": ("gmvae", {}),
    "wae_mmd": ("wae_mmd", {}),
    "cvvae": ("cvvae", {}),
    "two_stage": ("two_stage", {}),
    "rae": ("rae", {}),
    "gmm_dae": ("gmm_dae", {}),
    "gmm_dae_mm": ("gmm_dae", {"mode_means": True}),
    "welbo": ("welbo", {}),
    "edvae": ("edvae", {}),
}
#: Paper settings per image dataset: latent size and number of GMM modes.
IMAGE_PRESETS: dict[str, dict[str, int]] = {
    "mnist": {"latent_dim": 10, "modes": 10},
    "fashion-mnist": {"latent_dim": 10, "modes": 10},
    "svhn": {"latent_dim": 100, "modes": 10},
    "celeba": {"latent_dim": 64, "modes": 20},
}
_MODE_REGULARIZERS = {"gmm_dae", "gmvae"}


@dataclass
class ImageConfig(Config):
    """An image model and its training run (defaults: the GMM-DAE paper's).

    ``recon`` is the squared error summed over pixels (mean over the batch) times
    ``recon_weight``; for 32x32 images that is 1024 x the per-pixel MSE (the paper
    weights its per-pixel MSE by 1 / 5e-4 = 2000).
    """

    kind: ClassVar[str] = "image"

    dataset: str = "fashion-mnist"
    model: str = "gmm_dae"
    regularizer: str = "gmm_dae"
    reg_params: dict[str, Any] = field(default_factory=dict)
    latent_dim: int = 10
    channels: int = 1
    size: int = 32
    width: int = 128
    epochs: int = 30
    batch_size: int = 100
    lr: float = 2e-4
    recon_weight: float = 1.0
    limit: int | None = None
    seed: int = 0

    @classmethod
    def for_model(cls, dataset: str, model: str, **overrides: Any) -> ImageConfig:
        """Paper defaults for ``model`` on ``dataset``, then ``overrides``.

        Raises:
            ConfigError: unknown model, dataset or field.
        """
        if model not in IMAGE_MODELS:
            raise ConfigError(f"unknown image model {model!r}; known: {sorted(IMAGE_MODELS)}")
        if dataset not in IMAGE_PRESETS:
            raise ConfigError(f"unknown image dataset {dataset!r}; known: {sorted(IMAGE_PRESETS)}")
        reg, params = IMAGE_MODELS[model]
        preset = IMAGE_PRESETS[dataset]
        params = dict(params)
        if reg in _MODE_REGULARIZERS:
            params["modes"] = preset["modes"]
            if preset["modes"] > preset["latent_dim"]:
                params["placement"] = "spread"  # one-hot modes need K <= d
        base = {"dataset": dataset, "model": model, "regularizer": reg, "reg_params": params,
                "latent_dim": preset["latent_dim"], "channels": 3 if dataset in ("svhn", "celeba") else 1,
                "size": 64 if dataset == "celeba" else 32}
        if isinstance(overrides.get("reg_params"), dict):
            overrides = {**overrides, "reg_params": {**params, **overrides["reg_params"]}}
        return cls.from_dict({**base, **overrides})

    def check(self) -> None:
        if self.width < 1:
            raise ConfigError(f"width must be >= 1, got {self.width}")
        if self.size % 16:
            raise ConfigError(f"image size must be a multiple of 16, got {self.size}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1 (or absent), got {self.limit}")
