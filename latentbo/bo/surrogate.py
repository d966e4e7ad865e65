"""GP surrogate on latent codes: BoTorch SingleTaskGP with input normalisation and
outcome standardisation, a principled training subset, warm starts and retries."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from latentbo.errors import SurrogateError


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


def fit_gp(x: Tensor, y: Tensor, bounds: Tensor, warm_state: dict | None = None, retries: int = 2,
           maxiter: int = 200) -> SingleTaskGP:
    """Fit an exact GP (BoTorch's default: an ARD RBF kernel whose lengthscale prior
    scales with the dimension) by marginal likelihood.

    Args:
        x: ``n x d`` latent codes.
        y: ``n x 1`` scores, higher is better, all finite.
        bounds: ``2 x d`` box for input normalisation.
        warm_state: hyperparameters of a previous fit (``state_dict``) to start from;
            the previous optimum is usually close, so L-BFGS converges in few steps.
        retries: extra attempts from the default initialisation when a fit fails.
        maxiter: L-BFGS iterations per attempt.

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
            hyper = {k: v for k, v in warm_state.items() if "train" not in k and "outcome_transform" not in k}
            model.load_state_dict(hyper, strict=False)
        mll = ExactMarginalLogLikelihood(model.likelihood, model)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
            return model
        except (ModelFittingError, RuntimeError, ValueError) as exc:  # numerical failures of the fit
            last = exc
    raise SurrogateError(f"GP fit failed after {retries + 1} attempts: {last}")
