import math

import pytest
import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from latentbo.errors import ConfigError
from latentbo.models.priors import GaussianPrior, GMMPrior


def test_gmm_log_prob_matches_torch() -> None:
    prior = GMMPrior.placed(4, 6, sigma=0.3)
    ref = MixtureSameFamily(Categorical(torch.ones(4)), Independent(Normal(prior.means, 0.3), 1))
    z = prior.sample(50, torch.Generator().manual_seed(0))
    torch.testing.assert_close(prior.log_prob(z), ref.log_prob(z), rtol=1e-4, atol=1e-4)


def test_gmm_covariance_and_cdf_match_samples() -> None:
    prior = GMMPrior.placed(5, 5, sigma=0.4, placement="spread", scale=1.5, min_distance=1.0, seed=2)
    z = prior.sample(200_000, torch.Generator().manual_seed(1))
    emp_cov = torch.cov(z.T, correction=0)
    torch.testing.assert_close(emp_cov, prior.covariance(), atol=0.02, rtol=0.05)
    grid = torch.linspace(-2, 3, 7).unsqueeze(1).expand(-1, 5)
    emp_cdf = (z.unsqueeze(0) <= grid.unsqueeze(1)).float().mean(1)
    torch.testing.assert_close(prior.cdf(grid), emp_cdf, atol=0.01, rtol=0)


def test_placements() -> None:
    onehot = GMMPrior.placed(3, 4, 0.5)
    assert torch.equal(onehot.means, torch.eye(4)[:3])
    spread = GMMPrior.placed(6, 3, 0.5, placement="spread", scale=2.0, min_distance=1.5, seed=0)
    d = torch.cdist(spread.means, spread.means) + 10 * torch.eye(6)
    assert d.min() >= 1.5
    with pytest.raises(ConfigError):
        GMMPrior.placed(5, 3, 0.5)  # one-hot needs K <= d
    with pytest.raises(ConfigError):
        GMMPrior.placed(2, 3, 0.5, placement="grid")


def test_gaussian_prior() -> None:
    prior = GaussianPrior(3)
    z = torch.zeros(1, 3)
    assert math.isclose(float(prior.log_prob(z)), -1.5 * math.log(2 * math.pi), rel_tol=1e-6)
    assert torch.allclose(prior.cdf(z), torch.full((1, 3), 0.5))
