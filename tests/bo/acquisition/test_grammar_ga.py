"""grammar-ga: subtree crossover and mutation of the scored strings' derivations,
chosen by the GP at their codes."""

import random
from pathlib import Path

import pytest
import torch

from latentbo.bo import Campaign, CampaignConfig
from latentbo.bo.acquisition import make_proposer
from latentbo.bo.surrogate import fit_gp
from latentbo.codecs import GrammarCodec
from latentbo.errors import ConfigError
from tests.bo.breeding import starting_strings

PARENTS = ["x + x", "x * x + x", "sin( x ) + x", "x / x", "x + ( x + x )"]


def _offspring(codec: GrammarCodec, crossover: float, seed: int, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    monkeypatch.setattr("latentbo.bo.acquisition.grammar_ga.CROSSOVER", crossover)
    breeder = make_proposer("grammar-ga", 3, CampaignConfig(acquisition="grammar-ga"))
    return breeder.offspring([(float(-i), s) for i, s in enumerate(PARENTS)], 200, codec, random.Random(seed))


def test_crossover_recombines_and_mutation_invents(expr_codec: GrammarCodec, monkeypatch: pytest.MonkeyPatch) -> None:
    """Children are strings of the grammar within max_length; crossover alone only
    rearranges the parents' pieces (no token they lack: no digit, no exp), mutation
    writes new ones; the same seed breeds the same children."""
    crossed = _offspring(expr_codec, 1.0, 0, monkeypatch)
    mutated = _offspring(expr_codec, 0.0, 0, monkeypatch)
    for child in crossed | mutated:
        assert len(expr_codec.encode_one(child)) <= expr_codec.max_length
    parent_tokens = {t for p in PARENTS for t in p.split()}
    assert len(crossed - set(PARENTS)) >= 5 and all(set(c.split()) <= parent_tokens for c in crossed)
    assert {"x + sin( x )", "x / x + x"} <= crossed  # a subtree of one parent grafted into another
    invented = {t for c in mutated for t in c.split()} - parent_tokens
    assert {"1", "2", "3", "exp("} <= invented
    assert _offspring(expr_codec, 0.5, 3, monkeypatch) == _offspring(expr_codec, 0.5, 3, monkeypatch)


def test_the_gp_picks_the_better_offspring(expr_codec: GrammarCodec) -> None:
    """Scored by their count of x (the GP learns it from a stand-in encoder), the q
    offspring picked hold more x than the admissible offspring on average."""
    parents = starting_strings("expressions")
    features = lambda batch: torch.tensor([[s.split().count("x"), len(s.split())] for s in batch],  # noqa: E731
                                          dtype=torch.float64)
    x = features(parents)
    gp = fit_gp(x, x[:, :1], torch.tensor([[0.0, 0.0], [10.0, 40.0]], dtype=torch.float64))
    offered: list[str] = []

    def admissible(s: str) -> bool:
        offered.append(s)
        return s not in parents

    breeder = make_proposer("grammar-ga", 2, CampaignConfig(acquisition="grammar-ga", batch=8))
    population = [(float(v), s) for v, s in zip(x[:, 0], parents)]
    picked, codes = breeder.breed(gp, population, lambda b: (features(b), list(range(len(b)))), admissible, 8, 0,
                                  expr_codec)
    assert len(set(picked)) == 8 and not set(picked) & set(parents)
    torch.testing.assert_close(codes, features(picked))
    candidates = [s for s in offered if s not in parents]
    assert len(candidates) > 40
    assert features(picked)[:, 0].mean() > features(candidates)[:, 0].mean() + 1.0
    # grammar-ga-random: the same offspring offered, q of them taken at random, not the GP's
    offered_before, offered[:] = list(offered), []
    chance, _ = make_proposer("grammar-ga-random", 2, CampaignConfig(acquisition="grammar-ga-random", batch=8)).breed(
        None, population, lambda b: (features(b), list(range(len(b)))), admissible, 8, 0, expr_codec)
    assert offered == offered_before and len(set(chance)) == 8 and set(chance) <= set(candidates)
    assert features(picked)[:, 0].mean() > features(chance)[:, 0].mean()


def test_models_without_a_grammar_codec_are_refused(tmp_path: Path) -> None:
    from latentbo.models import ModelConfig, SequenceAutoencoder
    from latentbo.training import build_codec

    cfg = ModelConfig.for_model("zinc", "gmm_dae", codec="selfies", hidden=32, decoder_hidden=32, decoder_layers=1,
                                latent_dim=4)
    model = SequenceAutoencoder(cfg, build_codec(cfg, starting_strings("zinc"))).eval()
    with pytest.raises(ConfigError, match="'grammar-ga' breeds grammar derivations; this model's codec is 'selfies'"):
        Campaign(model, CampaignConfig(acquisition="grammar-ga"), tmp_path / "bo")
