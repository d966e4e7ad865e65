"""TuRBO-1: Thompson sampling in a trust region around the best point (Eriksson et al., 2019)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from latentbo.bo.acquisition import Proposer, register

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from torch import Tensor


@dataclass
class TrustRegion:
    """TuRBO-1 state (Eriksson et al. 2019): side length in the unit cube, grown
    after ``success_tolerance`` improving batches, shrunk after
    ``failure_tolerance`` non-improving ones, restarted at ``length_init`` (the
    campaign's ``tr_length``) when below ``length_min``.

    The failure tolerance counts batches of ``batch`` points: ``ceil(max(4, dim) / batch)``,
    the paper's (and its reference code's) rule, so a region shrinks after about
    ``dim`` failed evaluations whatever the batch size (one batch of 50 in 25 dims).
    """

    dim: int
    batch: int
    length: float = 0.8
    length_init: float = 0.8
    length_min: float = 0.5**7
    length_max: float = 1.6
    successes: int = 0
    failures: int = 0
    success_tolerance: int = 3
    failure_tolerance: int = 0
    best: float = -math.inf

    def __post_init__(self) -> None:
        if self.failure_tolerance <= 0:
            self.failure_tolerance = math.ceil(max(4, self.dim) / self.batch)

    def update(self, batch_best: float) -> None:
        if batch_best > self.best + 1e-3 * abs(self.best if math.isfinite(self.best) else 1.0):
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1
        if self.successes >= self.success_tolerance:
            self.length, self.successes = min(2 * self.length, self.length_max), 0
        elif self.failures >= self.failure_tolerance:
            self.length, self.failures = self.length / 2, 0
        if self.length < self.length_min:
            self.length = self.length_init  # restart the region
        self.best = max(self.best, batch_best)

    def crowded(self, batch_best: float) -> None:
        """A batch that decoded mostly to strings seen before: the region was finer than
        the decoder's resolution, so it doubles (up to ``length_max``) instead of
        counting a failure."""
        self.length, self.failures = min(2 * self.length, self.length_max), 0
        self.best = max(self.best, batch_best)


def propose_turbo(model: SingleTaskGP, x: Tensor, y: Tensor, bounds: Tensor, state: TrustRegion, q: int,
                  seed: int, n_candidates: int | None = None) -> Tensor:
    """Thompson sampling on Sobol candidates in a trust region around the best point.

    The region is a box of side ``state.length`` (in the normalised unit cube),
    stretched per dimension by the GP's lengthscales, as in TuRBO; ``n_candidates``
    defaults to TuRBO's ``min(100 d, 5000)``. Each of the ``q`` proposals is the best
    candidate not yet taken under one posterior sample (:func:`thompson_select`).

    Returns:
        ``q x d`` proposals.
    """
    import torch

    torch.manual_seed(seed)
    n_candidates = n_candidates or min(100 * x.shape[-1], 5000)
    lo, hi = bounds[0].double(), bounds[1].double()
    center = ((x.double() - lo) / (hi - lo))[y.argmax()]
    cand = lo + (hi - lo) * region_candidates(center, box_weights(model), state.length, n_candidates, seed)
    return cand[thompson_select(model, cand, q)]


def box_weights(model: SingleTaskGP) -> Tensor:
    """TuRBO's per-dimension stretch of a region (``d``): the GP's lengthscales over
    their mean, scaled to a product of one (a region keeps its volume)."""
    from latentbo.bo.surrogate import lengthscales

    ls = lengthscales(model).double()
    weights = ls / ls.mean()
    return weights / weights.prod().pow(1.0 / len(weights))


def region_candidates(center: Tensor, weights: Tensor, length: float, n: int, seed: int) -> Tensor:
    """``n x d`` Sobol candidates in the unit cube, in the box of side ``length * weights``
    around ``center`` (``d``, unit cube; the box clipped to the cube), each moving only
    a few of its coordinates from the centre (TuRBO's trick for higher ``d``: about 20)."""
    import torch
    from torch.quasirandom import SobolEngine

    d = center.shape[-1]
    box = torch.stack([(center - weights * length / 2).clamp(0, 1), (center + weights * length / 2).clamp(0, 1)])
    sobol = SobolEngine(d, scramble=True, seed=seed)
    pert = box[0] + (box[1] - box[0]) * sobol.draw(n).to(center)  # Sobol and the masks are drawn on the CPU
    gen = torch.Generator().manual_seed(seed)
    mask = torch.rand(n, d, generator=gen) <= min(20.0 / d, 1.0)
    empty = mask.sum(1) == 0
    mask[empty, torch.randint(d, (int(empty.sum()),), generator=gen)] = True
    return torch.where(mask.to(center.device), pert, center.expand_as(pert))


def thompson_select(model: SingleTaskGP, cand: Tensor, q: int, group: Tensor | None = None) -> Tensor:
    """Indices of ``q`` distinct candidates: sample ``i`` of the posterior takes its
    best candidate not taken by samples ``0 .. i-1`` (RNG: torch's global generator);
    with ``group`` (``N`` integers ``0 .. k-1``, each group at least as large as its
    share), only among the candidates of group ``i mod k``.

    The samples are pathwise (Wilson et al. 2020: random Fourier features of the prior,
    updated exactly by the data), so their cost grows linearly with the ``N``
    candidates; a joint sample over them (BoTorch's ``MaxPosteriorSampling``) factorises
    an ``N x N`` covariance: 3-4x slower at ``N`` = 5,000 and 500 training points.

    Args:
        model: the fitted GP.
        cand: ``N x d`` candidates, ``N >= q``.
        q: proposals.
        group: the group of each candidate (several trust regions: the region).

    Returns:
        ``q`` indices into ``cand``.
    """
    import torch
    from botorch.sampling.pathwise import draw_matheron_paths

    with torch.no_grad():
        values = draw_matheron_paths(model, sample_shape=torch.Size([q]))(cand).view(q, -1)
    taken = torch.zeros(values.shape[-1], dtype=torch.bool, device=values.device)
    groups = 1 if group is None else int(group.max()) + 1
    chosen = []
    for k, row in enumerate(values):
        barred = taken if group is None else taken | (group.to(taken.device) != k % groups)
        i = int(row.masked_fill(barred, -math.inf).argmax())
        taken[i] = True
        chosen.append(i)
    return torch.tensor(chosen, device=cand.device)


@register
class Turbo(Proposer):
    name = "turbo"
    summary = "trust region + Thompson sampling"
    trust_region = True

    def __init__(self, dim: int, config: Any) -> None:
        super().__init__(dim, config)
        self.region = TrustRegion(dim, config.batch, length=config.tr_length, length_init=config.tr_length)

    def propose(self, model: SingleTaskGP | None, x: Tensor, y: Tensor, bounds: Tensor, q: int, seed: int) -> Tensor:
        if not math.isfinite(self.region.best):  # first batch: the best initial point (the GP subset holds it)
            self.region.best = float(y.max())
        return propose_turbo(model, x, y, bounds, self.region, q, seed)

    def update(self, batch_best: float) -> None:
        self.region.update(batch_best)

    def crowded(self, batch_best: float) -> None:
        self.region.crowded(batch_best)

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.region)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # a trial saved before the region knew its batch keeps its own failure_tolerance
        self.region = TrustRegion(**{"batch": self.config.batch, **state})
