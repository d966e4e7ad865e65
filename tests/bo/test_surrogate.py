"""The GP surrogate: the training subset, the fit, its warm start and its failure."""

import numpy as np
import pytest
import torch

from latentbo.bo.surrogate import fit_gp, select_subset
from latentbo.errors import SurrogateError


def test_select_subset() -> None:
    y = np.arange(100, dtype=float)
    idx = select_subset(y, 20, np.random.default_rng(0))
    assert len(idx) == 20 and len(set(idx)) == 20 and set(range(90, 100)) <= set(idx)  # the best half, then random
    assert len(set(idx) - set(range(90, 100))) == 10
    assert len(select_subset(y[:5], 20, np.random.default_rng(0))) == 5


def _data(n: int = 40) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=gen, dtype=torch.float64) * 4 - 2
    y = torch.sin(2 * x[:, :1]) + 0.5 * x[:, 1:]
    return x, y, torch.tensor([[-2.0, -2.0], [2.0, 2.0]], dtype=torch.float64)


def test_fit_predicts_and_warm_starts() -> None:
    x, y, bounds = _data()
    gp = fit_gp(x, y, bounds)
    test = torch.tensor([[0.3, -0.7], [-1.1, 1.5]], dtype=torch.float64)
    truth = torch.sin(2 * test[:, :1]) + 0.5 * test[:, 1:]
    with torch.no_grad():
        mean = gp.posterior(test).mean
    assert (mean - truth).abs().max() < 0.1
    # a warm start from the fitted hyperparameters ends where the cold fit did
    warm = fit_gp(x, y, bounds, warm_state=gp.state_dict(), maxiter=5)
    torch.testing.assert_close(warm.covar_module.lengthscale, gp.covar_module.lengthscale, rtol=0.05, atol=0.0)


def test_non_finite_scores_are_refused() -> None:
    x, y, bounds = _data()
    y[3] = float("nan")
    with pytest.raises(SurrogateError, match="non-finite scores"):
        fit_gp(x, y, bounds)
