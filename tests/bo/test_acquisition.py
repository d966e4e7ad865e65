"""The acquisition registry and the contract every proposer keeps."""

import pytest

from latentbo.bo import CampaignConfig
from latentbo.bo.acquisition import ACQUISITIONS, make_proposer
from latentbo.errors import ConfigError
from latentbo.testing import ProposerContract

D = ProposerContract.dim


@pytest.fixture(scope="module")
def problem():
    return ProposerContract.problem()


def test_registry_and_unknown_names() -> None:
    assert {"qlogei", "turbo", "random"} <= set(ACQUISITIONS)
    assert all(cls.name == name and cls.summary for name, cls in ACQUISITIONS.items())
    with pytest.raises(ConfigError, match="unknown acquisition 'ucb'; known: graph-ga, qlogei, random, turbo, turbo-m"):
        make_proposer("ucb", D, CampaignConfig())
    with pytest.raises(ConfigError, match="acquisition must be one of graph-ga, qlogei, random, turbo, turbo-m"):
        CampaignConfig(acquisition="ucb").validate()


class TestEveryProposer(ProposerContract):
    """Every registered acquisition that proposes codes keeps the shipped contract
    (breeders propose molecules: tests/bo/acquisition/test_graph_ga.py)."""

    @pytest.fixture(autouse=True, params=sorted(n for n, p in ACQUISITIONS.items() if not p.breeds))
    def _each(self, request: pytest.FixtureRequest) -> None:
        self.name = request.param


def test_model_based_proposals_beat_random_search(problem) -> None:
    """On the GP's own smooth function, qLogEI and TuRBO propose better points than
    Sobol points do (the optimum is at -0.5 in every dimension)."""
    gp, x, y, bounds = problem
    cfg = CampaignConfig(num_restarts=2, raw_samples=64)
    f = lambda c: float(-(c + 0.5).pow(2).sum(1).mean())
    random = f(make_proposer("random", D, cfg).propose(None, x, y, bounds, 8, seed=1))
    for name in ("qlogei", "turbo"):
        assert f(make_proposer(name, D, cfg).propose(gp, x, y, bounds, 8, seed=1)) > random + 0.3, name
