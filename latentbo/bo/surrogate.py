"""GP surrogates on latent codes, chosen by name (:data:`SURROGATES`): an exact BoTorch
SingleTaskGP on a principled training subset, or a sparse variational GP on all of the
data; both normalise inputs to the search box, standardise outcomes and warm-start
from the previous iteration's fit."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP, SingleTaskVariationalGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood, VariationalELBO
from torch import Tensor

from latentbo.errors import ConfigError, SurrogateError

#: Surrogate names (``CampaignConfig.surrogate``, ``bo --surrogate``): :func:`fit_gp`, :func:`fit_sparse_gp`.
SURROGATES = ("exact", "sparse")


def select_subset(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``k`` points: the best ``k/2`` by ``y`` (higher is better)
    plus ``k/2`` drawn uniformly from the rest.

    Why: an exact GP is cubic in n; the best points are where the acquisition must
    be accurate, the random half keeps the GP's picture of the whole space (and its
    hyperparameters) honest. This is the subset the paper-scale initial sets
    (tens of thousands of codes) are reduced to.
    """
    n = len(y)
    if n <= k:
        return np.arange(n)
    order = np.argsort(-y, kind="stable")
    top = order[: k // 2]
    rest = rng.choice(order[k // 2 :], size=k - len(top), replace=False)
    return np.sort(np.concatenate([top, rest]))


def hyperparameters(state: dict) -> dict:
    """An exact GP's ``state_dict`` less its training data and outcome transform: what
    a fit on other points starts from."""
    return {k: v for k, v in state.items() if "train" not in k and "outcome_transform" not in k}


#: L-BFGS iterations of a fit from BoTorch's initial hyperparameters.
COLD_MAXITER = 200
#: ... and of one warm-started from the previous iteration's: on molecule codes, 20 held out
#: better than 50 or 200 (more iterations overfit the 500 points), at a tenth of the time
#: (``benchmarks/results/gp_fit_budget.md``).
WARM_MAXITER = 20


def fit_gp(x: Tensor, y: Tensor, bounds: Tensor, warm_state: dict | None = None, retries: int = 2,
           maxiter: int | None = None) -> SingleTaskGP:
    """Fit an exact GP (BoTorch's default: an ARD RBF kernel whose lengthscale prior
    scales with the dimension) by marginal likelihood.

    Args:
        x: ``n x d`` latent codes.
        y: ``n x 1`` scores, higher is better, all finite.
        bounds: ``2 x d`` box for input normalisation.
        warm_state: hyperparameters of a previous fit (``state_dict``) to start from;
            the previous optimum is close, so fewer steps are needed.
        retries: extra attempts from the default initialisation when a fit fails.
        maxiter: L-BFGS iterations per attempt; default :data:`COLD_MAXITER`, or
            :data:`WARM_MAXITER` for the warm-started attempt.

    Raises:
        SurrogateError: every attempt failed; the message carries the last error.
    """
    if not torch.isfinite(y).all():
        raise SurrogateError("non-finite scores reached the GP; invalid evaluations must be filtered first")
    last: Exception | None = None
    for attempt in range(retries + 1):
        model = SingleTaskGP(x.double(), y.double(), input_transform=Normalize(x.shape[-1], bounds=bounds.double()),
                             outcome_transform=Standardize(1))
        if warm_state is not None and attempt == 0:
            model.load_state_dict(hyperparameters(warm_state), strict=False)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        budget = maxiter or (WARM_MAXITER if warm_state is not None and attempt == 0 else COLD_MAXITER)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": budget}})
            return model
        except (ModelFittingError, RuntimeError, ValueError) as exc:  # numerical failures of the fit
            last = exc
    raise SurrogateError(f"GP fit failed after {retries + 1} attempts: {last}")


def fit_sparse_gp(x: Tensor, y: Tensor, bounds: Tensor, inducing: int, seed: int, warm_state: dict | None = None,
                  epochs: int = 20, warm_epochs: int = 5, batch_size: int = 5000, lr: float = 0.05
                  ) -> SingleTaskVariationalGP:
    """Fit a sparse variational GP (SVGP, Hensman et al. 2013) by minibatch Adam on the ELBO.

    The Grammar VAE's BO fits a sparse GP with 500 inducing points to the codes of 90% of
    its dataset (minibatches of 5,000); an exact GP cannot hold 100,000 codes. The
    inducing points start at ``inducing`` training codes drawn with ``seed``; epochs,
    learning rate and batch size were chosen by held-out log likelihood of GMM-DAE codes
    (``benchmarks/surrogate_fit.py``). A warm start (the previous iteration's fit, a few
    new points among many) runs ``warm_epochs`` (not tuned) instead of ``epochs``.

    Args:
        x: ``n x d`` latent codes.
        y: ``n x 1`` scores, higher is better, all finite.
        bounds: ``2 x d`` box for input normalisation.
        inducing: number of inducing points (at most ``n``).
        seed: seeds the inducing points, the variational start and the minibatch order.
        warm_state: ``state_dict`` of a previous fit to start from.

    Raises:
        SurrogateError: a non-finite ELBO (the message says at which epoch).
    """
    if not torch.isfinite(y).all():
        raise SurrogateError("non-finite scores reached the GP; invalid evaluations must be filtered first")
    x, y, bounds = x.double(), y.double(), bounds.double()
    gen = torch.Generator().manual_seed(seed)
    # the variational start is drawn from the global RNG on the first forward pass
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            # BoTorch warns that minibatch training needs fixed transforms: the bounds are given and
            # Standardize sees all the targets here, at construction
            warnings.simplefilter("ignore")
            start = x[torch.randperm(len(x), generator=gen)[: min(inducing, len(x))].to(x.device)]
            normalize = Normalize(x.shape[-1], bounds=bounds)  # fixed bounds, nothing learnt per minibatch
            model = SingleTaskVariationalGP(x, y, input_transform=normalize, outcome_transform=Standardize(1),
                                            inducing_points=normalize(start))
        if warm_state is not None:
            # nn.Module's loader: BoTorch's own re-derives the outcome transform from train targets an SVGP lacks
            torch.nn.Module.load_state_dict(model, {k: v for k, v in warm_state.items() if "transform" not in k},
                                            strict=False)
        inputs, targets = model.model.train_inputs[0], model.model.train_targets
        mll = VariationalELBO(model.likelihood, model.model, num_data=len(targets))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        model.train()
        for epoch in range(warm_epochs if warm_state is not None else epochs):
            for b in torch.randperm(len(targets), generator=gen).to(x.device).split(batch_size):
                optimizer.zero_grad()
                loss = -mll(model.model(inputs[b]), targets[b])
                if not torch.isfinite(loss):
                    raise SurrogateError(f"sparse GP fit: non-finite ELBO in epoch {epoch + 1}")
                loss.backward()
                optimizer.step()
    model.eval()
    return model


def fit_surrogate(name: str, x: Tensor, y: Tensor, bounds: Tensor, points: int, seed: int,
                  warm_state: dict | None = None) -> SingleTaskGP | SingleTaskVariationalGP:
    """The surrogate ``name`` of :data:`SURROGATES` fitted on ``x``, ``y`` (``points``:
    inducing points of the sparse GP; the exact GP gets its subset from the caller).

    Raises:
        ConfigError: unknown surrogate.
        SurrogateError: the fit failed.
    """
    if name == "exact":
        return fit_gp(x, y, bounds, warm_state)
    if name == "sparse":
        return fit_sparse_gp(x, y, bounds, points, seed, warm_state)
    raise ConfigError(f"unknown surrogate {name!r}; known: {', '.join(SURROGATES)}")


def lengthscales(model: SingleTaskGP | SingleTaskVariationalGP) -> Tensor:
    """The ``d`` ARD lengthscales of either surrogate's kernel (in normalised inputs)."""
    kernel = model.model.covar_module if isinstance(model, SingleTaskVariationalGP) else model.covar_module
    return kernel.lengthscale.detach().view(-1)
