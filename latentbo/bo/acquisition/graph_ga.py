"""Graph GA offspring chosen by the latent GP: a genetic algorithm breeds candidates
from the molecules scored so far (mol-ga's crossover and mutation, Jensen 2019's Graph
GA operators), the GP scores their codes and Thompson sampling picks the batch.

PMO's GP BO (Tripp et al. 2021) optimises its acquisition the same way over a
fingerprint kernel; here the kernel reads the autoencoder's codes, which weighted
retraining and joint updates adapt during the search. The decoder plays no part: the GP
learns every score at the code of the molecule that was scored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from latentbo.bo.acquisition import Breeder, register
from latentbo.bo.acquisition.turbo import thompson_select

if TYPE_CHECKING:
    from botorch.models import SingleTaskGP
    from torch import Tensor

#: Offspring bred per proposal: the GP chooses ``q`` of ``OFFSPRING * q``.
OFFSPRING = 10
#: The best molecules parents are drawn from (mol-ga's default population).
POPULATION = 10_000


@register
class GraphGA(Breeder):
    """Parents are drawn from the best :data:`POPULATION` molecules by mol-ga's
    quantile sampling (half of the draws from the top tenth, a tenth from the top
    hundredth ...); their offspring that are admissible and encodable are the
    candidates; sample ``i`` of the GP's posterior takes its best candidate not taken."""

    name = "graph-ga"
    summary = "Graph GA offspring of the best molecules, chosen by Thompson sampling on the GP (molecule tasks)"

    def breed(self, model: SingleTaskGP, population: list[tuple[float, str]],
              encode: Callable[[list[str]], tuple[Tensor, list[int]]], admissible: Callable[[str], bool], q: int,
              seed: int) -> tuple[list[str], Tensor]:
        import heapq
        import random

        import torch
        from mol_ga.graph_ga.gen_candidates import graph_ga_blended_generation
        from mol_ga.sample_population import uniform_quantile_sampling

        rng = random.Random(seed)
        parents = heapq.nlargest(POPULATION, population)  # ties broken by the string: the same order every run
        n = OFFSPRING * q
        # mol-ga returns a set, whose order varies between processes: sorted for exact resume
        bred = sorted(s for s in graph_ga_blended_generation(uniform_quantile_sampling(parents, 2 * n, rng), n, rng)
                      if admissible(s))
        codes, kept = encode(bred) if bred else (None, [])
        if not kept:
            return [], torch.zeros(0, self.dim, dtype=torch.float64)
        torch.manual_seed(seed)
        pick = thompson_select(model, codes, min(q, len(kept)))
        return [bred[kept[i]] for i in pick.tolist()], codes[pick]
