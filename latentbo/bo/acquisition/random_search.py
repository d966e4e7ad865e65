"""Random search: scrambled Sobol points in the search box, no GP. The baseline a
model-based acquisition has to beat, and the smallest example of a proposer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentbo.bo.acquisition import Proposer, register

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from torch import Tensor


@register
class RandomSearch(Proposer):
    name = "random"
    summary = "Sobol points in the box, no GP: the baseline"
    uses_model = False

    def propose(self, model: SingleTaskGP | None, x: Tensor, y: Tensor, bounds: Tensor, q: int, seed: int) -> Tensor:
        from torch.quasirandom import SobolEngine

        unit = SobolEngine(self.dim, scramble=True, seed=seed).draw(q).to(bounds)
        return bounds[0] + (bounds[1] - bounds[0]) * unit
