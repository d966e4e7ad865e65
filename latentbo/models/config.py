"""Model + training configuration: a dataclass, loadable from TOML and saved,
resolved, beside every checkpoint."""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from latentbo.errors import ConfigError
from latentbo.tasks import get_task

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


#: Codecs a model may use: the task's grammar, or one fitted on the training strings.
CODEC_KINDS = ("grammar", "character", "selfies")

#: Sizes of the fast decoder when a task preset (sized for the GRU) is switched to it.
FAST_DECODER_SIZES = {"decoder_hidden": 128, "decoder_layers": 2}


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

    @classmethod
    def for_model(cls, task: str, model: str, **overrides: Any) -> ModelConfig:
        """Task preset + named model (``gvae``, ``cvae``, ... or a regulariser name) + overrides."""
        from latentbo.models.regularizers import REGULARIZERS

        if model in MODELS:
            codec, reg = MODELS[model]
        elif model in REGULARIZERS:
            codec, reg = "grammar", model
        else:
            raise ConfigError(f"unknown model {model!r}; known: {sorted(MODELS)} or regularisers {sorted(REGULARIZERS)}")
        base = {**get_task(task).model_defaults, "task": task, "model": model, "codec": codec, "regularizer": reg}
        if overrides.get("decoder") == "fast":
            # The task presets size the GRU; the fast decoder has its own (benchmarks/train_models.py).
            base.update(FAST_DECODER_SIZES)
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
        try:
            return tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc

    def validate(self) -> None:
        from latentbo.models.sequence import DECODERS

        get_task(self.task)
        if self.codec not in CODEC_KINDS:
            raise ConfigError(f"codec must be one of {CODEC_KINDS}, got {self.codec!r}")
        if self.codec == "selfies" and get_task(self.task).kind != "molecules":
            raise ConfigError(f"the selfies codec is for molecules; task {self.task!r} is not")
        if self.decoder not in DECODERS:
            raise ConfigError(f"unknown decoder {self.decoder!r}; known: {sorted(DECODERS)}")
        for name in ("latent_dim", "hidden", "decoder_hidden", "decoder_layers", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        heads = getattr(DECODERS[self.decoder], "heads", 1)
        if self.decoder_hidden % heads:
            raise ConfigError(f"the {self.decoder!r} decoder's width decoder_hidden={self.decoder_hidden} must be a "
                              f"multiple of its {heads} attention heads")
        if not 0 < self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in (0, 1), got {self.val_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())
