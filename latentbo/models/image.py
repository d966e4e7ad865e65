"""Image autoencoders: the GMM-DAE reference convolutional encoder/decoder with any
regulariser of :data:`latentbo.models.REGULARIZERS`.

Encoder: 4 x [Conv k4 s2 p1, BatchNorm, ReLU] with ``w, 2w, 4w, 8w`` channels
(``w = 128``: 128-256-512-1024 as in the reference), flatten, Linear to the latent
mean (and a variance head for stochastic regularisers). Decoder: the mirror image
(Linear, 4 x [ConvTranspose k4 s2 p1, BatchNorm, ReLU], sigmoid output). ``width``
scales ``w`` down for CPU profiles.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from latentbo.errors import ConfigError
from latentbo.models.autoencoder import LatentModel
from latentbo.models.config import ImageConfig


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
