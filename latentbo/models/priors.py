"""Latent priors: standard Gaussian and an equal-weight isotropic Gaussian mixture.

Both expose ``sample``, ``log_prob``, per-dimension marginal ``cdf`` and the
``covariance``, which is all the regularisers need.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from latentbo.errors import ConfigError


class GaussianPrior(torch.nn.Module):
    """``N(0, I_d)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n x d`` samples."""
        return torch.randn(n, self.dim, generator=generator)

    def log_prob(self, z: Tensor) -> Tensor:
        """``N x d`` -> ``N`` log densities."""
        return -0.5 * (z.pow(2).sum(-1) + self.dim * math.log(2 * math.pi))

    def cdf(self, z: Tensor) -> Tensor:
        """Marginal CDFs, elementwise: ``N x d`` -> ``N x d``."""
        return 0.5 * (1 + torch.erf(z / math.sqrt(2)))

    def covariance(self) -> Tensor:
        return torch.eye(self.dim)


class GMMPrior(torch.nn.Module):
    """``p(z) = (1/K) sum_k N(z; mu_k, sigma^2 I)``.

    Args:
        means: ``K x d`` mode centres.
        sigma: shared isotropic standard deviation.
    """

    def __init__(self, means: Tensor, sigma: float) -> None:
        super().__init__()
        if sigma <= 0:
            raise ConfigError(f"GMM sigma must be positive, got {sigma}")
        self.register_buffer("means", means.float())
        self.sigma = float(sigma)
        self.dim = means.shape[1]

    @classmethod
    def placed(cls, k: int, dim: int, sigma: float, placement: str = "onehot", scale: float = 1.0,
               min_distance: float = 2.0, seed: int = 0) -> GMMPrior:
        """Build a prior with ``k`` modes placed by rule.

        Args:
            k: number of modes.
            dim: latent dimension.
            sigma: shared standard deviation.
            placement: ``"onehot"`` puts mode k at ``scale * e_k`` (the GMM-DAE
                reference; needs ``k <= dim``); ``"spread"`` draws centres from
                ``N(0, scale^2 I)`` by seeded rejection until all pairwise distances
                are at least ``min_distance``.
            scale: see ``placement``.
            min_distance: minimum pairwise centre distance for ``"spread"``.
            seed: RNG seed for ``"spread"``.
        """
        if placement == "onehot":
            if k > dim:
                raise ConfigError(f"one-hot placement needs modes <= latent dim, got {k} > {dim}")
            return cls(scale * torch.eye(dim)[:k], sigma)
        if placement == "spread":
            gen = torch.Generator().manual_seed(seed)
            centres: list[Tensor] = []
            for _ in range(100_000):
                c = scale * torch.randn(dim, generator=gen)
                if all(torch.linalg.vector_norm(c - o) >= min_distance for o in centres):
                    centres.append(c)
                    if len(centres) == k:
                        return cls(torch.stack(centres), sigma)
            raise ConfigError(f"could not place {k} modes {min_distance} apart at scale {scale}; lower min_distance")
        raise ConfigError(f"unknown mode placement {placement!r}; use 'onehot' or 'spread'")

    @property
    def k(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        idx = torch.randint(self.k, (n,), generator=generator)
        return self.means[idx] + self.sigma * torch.randn(n, self.dim, generator=generator)

    def log_prob(self, z: Tensor) -> Tensor:
        sq = torch.cdist(z, self.means).pow(2)  # N x K
        log_comp = -0.5 * sq / self.sigma**2 - self.dim * math.log(self.sigma * math.sqrt(2 * math.pi))
        return torch.logsumexp(log_comp, dim=1) - math.log(self.k)

    def cdf(self, z: Tensor) -> Tensor:
        """``F_j(z) = (1/K) sum_k Phi((z - mu_kj) / sigma)`` elementwise, ``N x d``."""
        u = (z.unsqueeze(1) - self.means.unsqueeze(0)) / self.sigma  # N x K x d
        return (0.5 * (1 + torch.erf(u / math.sqrt(2)))).mean(dim=1)

    def covariance(self) -> Tensor:
        """``sigma^2 I + (1/K) sum_k (mu_k - mu_bar)(mu_k - mu_bar)^T``."""
        centred = self.means - self.means.mean(0)
        return self.sigma**2 * torch.eye(self.dim, device=self.means.device) + centred.T @ centred / self.k

    def assign(self, z: Tensor) -> Tensor:
        """Index of the most likely mode for each code, ``N``."""
        return torch.cdist(z, self.means).argmin(dim=1)
