"""Grammar GA offspring chosen by the latent GP: grammar-guided genetic programming
(Whigham 1995) breeds candidates from the strings scored so far, the GP scores their
codes and Thompson sampling picks the batch, as :mod:`graph_ga` does for molecules.

Children are made on derivations (the production sequences the grammar codec
encodes), so every child is a string of the grammar within ``max_length``: crossover
puts a subtree of one parent in place of a subtree of the other that grows from the
same nonterminal; mutation puts a random derivation of that nonterminal there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from latentbo.bo.acquisition import Breeder, register, register_random_choice

if TYPE_CHECKING:
    import random

    from latentbo.codecs.base import Codec
    from latentbo.tasks import Task

#: Share of children made by crossover; the others by mutation.
CROSSOVER = 0.5


@register
class GrammarGA(Breeder):
    """Parents are drawn from the best :data:`~latentbo.bo.acquisition.POPULATION`
    strings by mol-ga's quantile sampling, in pairs; each pair makes one child: a
    subtree of the first parent (chosen uniformly) is replaced by a subtree of the
    second from the same nonterminal (:data:`CROSSOVER` of the time) or by a random
    derivation of a size drawn uniformly from what ``max_length`` leaves room for."""

    name = "grammar-ga"
    summary = "grammar GA offspring (subtree crossover and mutation) of the best strings, chosen by Thompson sampling on the GP (grammar codecs)"

    @classmethod
    def unsupported(cls, task: Task, codec: Codec) -> str | None:
        return None if codec.kind == "grammar" else f"breeds grammar derivations; this model's codec is {codec.kind!r}"

    def offspring(self, parents: list[tuple[float, str]], n: int, codec: Codec, rng: random.Random) -> set[str]:
        import functools

        from mol_ga.sample_population import uniform_quantile_sampling

        grammar = codec.grammar
        derive = functools.cache(codec.encode_one)  # parents recur; every scored string is a derivation
        draws = uniform_quantile_sampling(parents, 2 * n, rng)
        children: set[str] = set()
        for first, second in zip(draws[0::2], draws[1::2]):
            a, b = derive(first), derive(second)
            i = rng.randrange(len(a))
            lhs = grammar.productions[a[i]].lhs
            end = grammar.subtree_end(a, i)
            room = grammar.max_length - len(a) + (end - i)
            if rng.random() < CROSSOVER:
                spots = [j for j, r in enumerate(b) if grammar.productions[r].lhs == lhs]
                if not spots:
                    continue
                j = rng.choice(spots)
                sub = b[j:grammar.subtree_end(b, j)]
            else:
                size = rng.randint(int(grammar.min_steps[grammar.nt_index[lhs]]), room)
                sub = grammar.random_derivation(lhs, size, rng.randrange)
            if len(sub) <= room:  # a derivation of the grammar within max_length: always a string
                children.add(codec.derivation_to_string(a[:i] + sub + a[end:]))
        return children


GrammarGARandom = register_random_choice(
    GrammarGA, "grammar-ga-random",
    "grammar-ga's offspring chosen at random, no GP (the baseline for grammar-ga's GP; grammar codecs)")
