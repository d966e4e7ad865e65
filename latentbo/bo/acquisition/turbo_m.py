"""Several TuRBO trust regions, recentred every batch on the best distinct codes
(TuRBO-m, Eriksson et al. 2019, as LOL-BO runs it: Maus et al. 2022)."""

from __future__ import annotations

import dataclasses
import math
from typing import TYPE_CHECKING, Any

from latentbo.bo.acquisition import Proposer, batch_best, register
from latentbo.bo.acquisition.turbo import TrustRegion, box_weights, region_candidates, thompson_select

if TYPE_CHECKING:
    import numpy as np
    from botorch.models import SingleTaskGP
    from torch import Tensor

#: Trust regions of a ``turbo-m`` trial.
REGIONS = 5


@register
class TurboM(Proposer):
    """Region ``r`` is centred on the ``r``-th best distinct training code and gets every
    ``k``-th proposal of the batch (Thompson sampling among its own candidates); its
    side grows, shrinks and restarts on the scores of its own proposals, measured
    against its centre's score, as one TuRBO region does against the best."""

    name = "turbo-m"
    summary = f"{REGIONS} trust regions on the best codes + Thompson sampling"
    trust_region = True

    def __init__(self, dim: int, config: Any) -> None:
        super().__init__(dim, config)
        # each region's failure tolerance counts the proposals it gets, not the batch's
        share = max(1, config.batch // REGIONS)
        self.regions = [TrustRegion(dim, share, length=config.tr_length, length_init=config.tr_length)
                        for _ in range(REGIONS)]
        # what was proposed since the last batch was told, and by which region (kept in
        # the state, so a batch asked in one process is told in another)
        self.pending: dict[str, list] = {"codes": [], "regions": []}

    def propose(self, model: SingleTaskGP | None, x: Tensor, y: Tensor, bounds: Tensor, q: int, seed: int) -> Tensor:
        import torch

        torch.manual_seed(seed)
        lo, hi = bounds[0].double(), bounds[1].double()
        unit = (x.double() - lo) / (hi - lo)
        centres = []
        for i in y.argsort(descending=True).tolist():  # the best distinct codes, best first
            if not any(torch.equal(unit[i], unit[j]) for j in centres):
                centres.append(i)
            if len(centres) == REGIONS:
                break
        weights = box_weights(model)
        n = math.ceil(min(100 * x.shape[-1], 5000) / len(centres))
        cands, groups = [], []
        for r, i in enumerate(centres):
            region = self.regions[r]
            region.best = float(y[i])  # a region improves on its own centre
            cands.append(region_candidates(unit[i], weights, region.length, n, seed + r))
            groups.append(torch.full((n,), r))
        cand, group = lo + (hi - lo) * torch.cat(cands), torch.cat(groups)
        chosen = thompson_select(model, cand, q, group)
        self.pending["codes"] += cand[chosen].tolist()
        self.pending["regions"] += group[chosen].tolist()
        return cand[chosen]

    def told(self, candidates: Tensor, scores: np.ndarray, crowded: bool) -> None:
        """Each candidate's score goes to the region that proposed it (re-proposals of
        repeats included); each region that proposed one updates on its best."""
        import numpy as np

        region_of = {tuple(c): r for c, r in zip(self.pending["codes"], self.pending["regions"])}
        owner = np.array([region_of.get(tuple(c), -1) for c in candidates.double().tolist()])
        self.pending = {"codes": [], "regions": []}
        for r, region in enumerate(self.regions):
            mine = scores[owner == r]
            if len(mine):
                best = batch_best(mine)
                region.crowded(best) if crowded else region.update(best)

    def state_dict(self) -> dict[str, Any]:
        return {"regions": [dataclasses.asdict(r) for r in self.regions], "pending": self.pending}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.regions = [TrustRegion(**r) for r in state["regions"]]
        self.pending = state["pending"]
