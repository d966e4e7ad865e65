"""Image autoencoders: the GMM-DAE reference convolutional encoder/decoder with any
regulariser of :data:`latentbo.models.REGULARIZERS`.

Encoder: 4 x [Conv k4 s2 p1, BatchNorm, ReLU] with ``w, 2w, 4w, 8w`` channels
(``w = 128``: 128-256-512-1024 as in the reference), flatten, Linear to the latent
mean (and a variance head for stochastic regularisers). Decoder: the mirror image
(Linear, 4 x [ConvTranspose k4 s2 p1, BatchNorm, ReLU], sigmoid output). ``width``
scales ``w`` down for CPU profiles.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

from latentbo.errors import CheckpointError, ConfigError
from latentbo.io import atomic_write_bytes, atomic_write_text
from latentbo.models.autoencoder import LatentModel, checked_gmm
from latentbo.models.config import check_field_types

#: Image models of the GMM-DAE paper's Table 1: regulariser and its parameters. VAE
#: variants use the usual image-VAE settings (KL summed, unit posterior noise).
IMAGE_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "vae": ("vae", {"kl_reduction": "sum", "noise_std": 1.0}),
    "gmvae": ("gmvae", {}),
    "wae_mmd": ("wae_mmd", {}),
    "cvvae": ("cvvae", {}),
    "two_stage": ("two_stage", {}),
    "rae": ("rae", {}),
    "gmm_dae": ("gmm_dae", {}),
    "welbo": ("welbo", {}),
    "edvae": ("edvae", {}),
}
#: Paper settings per dataset: latent size and number of GMM modes.
IMAGE_PRESETS: dict[str, dict[str, int]] = {
    "mnist": {"latent_dim": 10, "modes": 10},
    "fashion-mnist": {"latent_dim": 10, "modes": 10},
    "svhn": {"latent_dim": 100, "modes": 10},
    "celeba": {"latent_dim": 64, "modes": 20},
}
_MODE_REGULARIZERS = {"gmm_dae", "gmvae"}


@dataclass
class ImageConfig:
    """An image model and its training run (defaults: the GMM-DAE paper's).

    ``recon`` is the squared error summed over pixels (mean over the batch) times
    ``recon_weight``; for 32x32 images that is 1024 x the per-pixel MSE (the paper
    weights its per-pixel MSE by 1 / 5e-4 = 2000).
    """

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
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown image config fields {sorted(unknown)}")
        reg, params = IMAGE_MODELS[model]
        preset = IMAGE_PRESETS[dataset]
        params = dict(params)
        if reg in _MODE_REGULARIZERS:
            params["modes"] = preset["modes"]
            if preset["modes"] > preset["latent_dim"]:
                params["placement"] = "spread"  # one-hot modes need K <= d
        cfg = cls(dataset=dataset, model=model, regularizer=reg, reg_params=params, latent_dim=preset["latent_dim"],
                  channels=3 if dataset in ("svhn", "celeba") else 1, size=64 if dataset == "celeba" else 32)
        for key, value in overrides.items():
            if key == "reg_params" and isinstance(value, dict):
                value = {**cfg.reg_params, **value}
            setattr(cfg, key, value)
        check_field_types(cfg)
        if cfg.lr <= 0 or cfg.recon_weight <= 0 or min(cfg.latent_dim, cfg.width, cfg.epochs, cfg.batch_size) < 1:
            raise ConfigError("lr and recon_weight must be positive; latent_dim, width, epochs, batch_size >= 1")
        return cfg

    def to_toml(self) -> str:
        return tomli_w.dumps({k: v for k, v in dataclasses.asdict(self).items() if v is not None})


def _block(conv: type[nn.Module], c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(conv(c_in, c_out, 4, 2, 1), nn.BatchNorm2d(c_out), nn.ReLU())


class ImageEncoder(nn.Module):
    """``N x C x S x S`` -> ``N x 8w x S/16 x S/16`` features, flattened."""

    def __init__(self, channels: int, size: int, width: int) -> None:
        super().__init__()
        if size % 16:
            raise ConfigError(f"image size must be a multiple of 16, got {size}")
        widths = [channels, width, 2 * width, 4 * width, 8 * width]
        self.net = nn.Sequential(*(_block(nn.Conv2d, a, b) for a, b in zip(widths, widths[1:])), nn.Flatten())
        self.out_features = 8 * width * (size // 16) ** 2

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ImageDecoder(nn.Module):
    """``N x d`` codes -> ``N x C x S x S`` images in (0, 1)."""

    def __init__(self, latent_dim: int, channels: int, size: int, width: int) -> None:
        super().__init__()
        self.start = (8 * width, size // 16, size // 16)
        self.fc = nn.Linear(latent_dim, 8 * width * (size // 16) ** 2)
        widths = [8 * width, 4 * width, 2 * width, width]
        self.net = nn.Sequential(
            nn.ReLU(), *(_block(nn.ConvTranspose2d, a, b) for a, b in zip(widths, widths[1:])),
            nn.ConvTranspose2d(width, channels, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, z: Tensor) -> Tensor:
        return self.net(self.fc(z).view(-1, *self.start))


class ImageAutoencoder(LatentModel):
    """Image encoder + decoder + latent regulariser.

    Args:
        config: sizes, regulariser and training settings.
    """

    def __init__(self, config: ImageConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = ImageEncoder(config.channels, config.size, config.width)
        self.init_latent(self.encoder.out_features)
        self.decoder = ImageDecoder(config.latent_dim, config.channels, config.size, config.width)

    def decode(self, z: Tensor) -> Tensor:
        """``N x d`` -> ``N x C x S x S`` images in (0, 1)."""
        return self.decoder(z)

    def loss(self, x: Tensor) -> dict[str, Tensor]:
        """Training loss on a batch ``N x C x S x S``: ``loss``, ``recon``, the
        regulariser's terms and the per-pixel ``mse``."""
        mu, raw = self.encode_stats(x)
        z, stats = self.regularizer.posterior(mu, raw)
        xr = self.decode(z)
        se = (xr - x).pow(2).flatten(1).sum(1)
        terms = self.regularised(se.mean(), self.config.recon_weight, z, stats, self.decode)
        return {**terms, "mse": se.mean().detach() / x[0].numel()}

    @torch.no_grad()
    def encode(self, x: Tensor, batch_size: int = 500) -> Tensor:
        """Latent means of ``x`` (eval mode, batches on the model's device), ``N x d`` on the CPU."""
        self.eval()
        dev = self.mu_head.weight.device
        return torch.cat([self.encode_stats(x[i : i + batch_size].to(dev))[0].cpu() for i in range(0, len(x), batch_size)])

    @torch.no_grad()
    def decode_batches(self, z: Tensor, batch_size: int = 500) -> Tensor:
        """Images of ``z`` (eval mode), ``N x C x S x S`` on the CPU."""
        self.eval()
        dev = self.mu_head.weight.device
        return torch.cat([self.decode(z[i : i + batch_size].to(dev)).cpu() for i in range(0, len(z), batch_size)])


def save_image_model(model: ImageAutoencoder, directory: str | Path) -> None:
    """Write ``config.toml``, ``meta.json`` and ``model.safetensors`` atomically."""
    directory = Path(directory)
    atomic_write_text(directory / "config.toml", model.config.to_toml())
    atomic_write_text(directory / "meta.json", json.dumps({"expost_gmm": model.expost_gmm}))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(directory / "model.safetensors", st_save(state))


def load_image_model(directory: str | Path) -> ImageAutoencoder:
    """Load a model written by :func:`save_image_model`.

    Raises:
        CheckpointError: missing or corrupt files.
    """
    directory = Path(directory)
    try:
        raw = tomllib.loads((directory / "config.toml").read_text())
        if raw.get("dataset") == "fashion_mnist":  # its name before datasets had one name everywhere
            raw["dataset"] = "fashion-mnist"
        model = ImageAutoencoder(ImageConfig(**raw))
        model.load_state_dict(st_load((directory / "model.safetensors").read_bytes()))
        model.expost_gmm = checked_gmm(json.loads((directory / "meta.json").read_text())["expost_gmm"],
                                       model.config.latent_dim, directory / "meta.json")
    except FileNotFoundError as exc:
        raise CheckpointError(f"{directory} is not an image model folder: {exc.filename} is missing") from None
    except Exception as exc:  # any parse/shape failure means the checkpoint is unusable
        raise CheckpointError(f"{directory}: corrupt image model checkpoint: {exc}") from None
    return model.eval()
