"""The GP surrogates: the training subset, the exact and sparse fits, their warm starts and failures."""

import numpy as np
import pytest
import torch

from latentbo.bo.surrogate import fit_gp, fit_sparse_gp, fit_surrogate, lengthscales, select_subset
from latentbo.errors import ConfigError, SurrogateError


def test_select_subset() -> None:
    y = np.arange(100, dtype=float)
    idx = select_subset(y, 20, np.random.default_rng(0))
    assert len(idx) == 20 and len(set(idx)) == 20 and set(range(90, 100)) <= set(idx)  # the best half, then random
    assert len(set(idx) - set(range(90, 100))) == 10
    assert len(select_subset(y[:5], 20, np.random.default_rng(0))) == 5


def _data(n: int = 40, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
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


def test_sparse_fit_predicts_is_seeded_and_warm_starts() -> None:
    x, y, bounds = _data(600)
    fit = lambda seed, **kw: fit_sparse_gp(x, y, bounds, inducing=40, seed=seed, batch_size=100, **kw)  # noqa: E731
    gp = fit(0, epochs=40)
    test, truth = _data(50, seed=1)[:2]
    with torch.no_grad():
        mean = gp.posterior(test).mean
    assert (mean - truth).pow(2).mean().sqrt() < 0.1 * truth.std()
    assert gp.model.variational_strategy.inducing_points.shape == (40, 2) and lengthscales(gp).shape == (2,)
    torch.testing.assert_close(lengthscales(fit(0, epochs=2)), lengthscales(fit(0, epochs=2)), rtol=0, atol=0)
    assert not torch.equal(lengthscales(fit(0, epochs=2)), lengthscales(fit(1, epochs=2)))
    # no warm epochs: the previous fit itself, restored from its state
    warm = fit(5, warm_state=gp.state_dict(), warm_epochs=0)
    with torch.no_grad():
        torch.testing.assert_close(warm.posterior(test).mean, mean)


def test_sparse_and_unknown_surrogates_refuse_bad_input() -> None:
    x, y, bounds = _data()
    assert lengthscales(fit_surrogate("exact", x, y, bounds, points=10, seed=0)).shape == (2,)
    with pytest.raises(ConfigError, match="unknown surrogate 'bogus'"):
        fit_surrogate("bogus", x, y, bounds, points=10, seed=0)
    y[3] = float("inf")
    with pytest.raises(SurrogateError, match="non-finite scores"):
        fit_surrogate("sparse", x, y, bounds, points=10, seed=0)
