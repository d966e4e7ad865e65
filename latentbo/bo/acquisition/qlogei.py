"""Batch log expected improvement (qLogEI), maximised with BoTorch's ``optimize_acqf``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentbo.bo.acquisition import Proposer, register

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from torch import Tensor


def propose_qlogei(model: SingleTaskGP, best_f: float, bounds: Tensor, q: int, num_restarts: int,
                   raw_samples: int, seed: int, sequential: bool = True) -> Tensor:
    """Maximise qLogEI inside ``bounds`` with BoTorch's ``optimize_acqf``.

    Returns:
        ``q x d`` candidates.
    """
    import torch
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.optim import optimize_acqf

    torch.manual_seed(seed)
    acq = qLogExpectedImprovement(model, best_f=best_f)
    cand, _ = optimize_acqf(acq, bounds=bounds.double(), q=q, num_restarts=num_restarts, raw_samples=raw_samples,
                            sequential=sequential, options={"batch_limit": 8, "maxiter": 100})
    return cand.detach()


def best_posterior_mean(model: SingleTaskGP, x: Tensor, chunk: int = 10000) -> float:
    """The highest posterior mean at the ``n x d`` codes ``x`` (in chunks: a sparse GP may hold 100,000)."""
    import torch

    with torch.no_grad():
        return max(float(model.posterior(part).mean.max()) for part in x.split(chunk))


@register
class QLogEI(Proposer):
    name = "qlogei"
    summary = "batch log-EI, sequential greedy"

    def propose(self, model: SingleTaskGP | None, x: Tensor, y: Tensor, bounds: Tensor, q: int, seed: int) -> Tensor:
        best_f = float(y.max()) if self.config.incumbent == "observed" else best_posterior_mean(model, x)
        return propose_qlogei(model, best_f, bounds, q, self.config.num_restarts, self.config.raw_samples, seed)
