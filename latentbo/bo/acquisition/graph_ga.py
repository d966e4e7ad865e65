"""Graph GA offspring chosen by the latent GP: a genetic algorithm breeds candidates
from the molecules scored so far (mol-ga's crossover and mutation, Jensen 2019's Graph
GA operators), the GP scores their codes and Thompson sampling picks the batch.

PMO's GP BO (Tripp et al. 2021) optimises its acquisition the same way over a
fingerprint kernel; here the kernel reads the autoencoder's codes, which weighted
retraining and joint updates adapt during the search. The decoder plays no part: the GP
learns every score at the code of the molecule that was scored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentbo.bo.acquisition import Breeder, register, register_random_choice

if TYPE_CHECKING:
    import random

    from latentbo.codecs.base import Codec
    from latentbo.tasks import Task


@register
class GraphGA(Breeder):
    """Parents are drawn from the best :data:`~latentbo.bo.acquisition.POPULATION`
    molecules by mol-ga's quantile sampling (half of the draws from the top tenth, a
    tenth from the top hundredth ...) and bred by mol-ga's Graph GA operators."""

    name = "graph-ga"
    summary = "Graph GA offspring of the best molecules, chosen by Thompson sampling on the GP (molecule tasks)"

    @classmethod
    def unsupported(cls, task: Task, codec: Codec) -> str | None:
        return None if task.molecules else f"breeds molecules; this model's task is {task.name!r}"

    def offspring(self, parents: list[tuple[float, str]], n: int, codec: Codec, rng: random.Random) -> set[str]:
        from mol_ga.graph_ga.gen_candidates import graph_ga_blended_generation
        from mol_ga.sample_population import uniform_quantile_sampling

        return graph_ga_blended_generation(uniform_quantile_sampling(parents, 2 * n, rng), n, rng)


GraphGARandom = register_random_choice(
    GraphGA, "graph-ga-random",
    "graph-ga's offspring chosen at random, no GP (the baseline for graph-ga's GP; molecule tasks)")
