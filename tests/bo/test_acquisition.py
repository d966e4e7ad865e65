"""The acquisition registry and the contract every proposer keeps."""

from pathlib import Path

import pytest
import torch

from latentbo.bo import CampaignConfig
from latentbo.bo.acquisition import ACQUISITIONS, make_proposer
from latentbo.bo.inversion import canonical
from latentbo.errors import ConfigError
from latentbo.testing import ProposerContract
from tests.bo.breeding import BREEDING, breeder_campaign, records

BREEDERS = sorted(n for n, p in ACQUISITIONS.items() if p.breeds)

D = ProposerContract.dim


@pytest.fixture(scope="module")
def problem():
    return ProposerContract.problem()


def test_registry_and_unknown_names() -> None:
    assert {"qlogei", "turbo", "random"} <= set(ACQUISITIONS)
    assert all(cls.name == name and cls.summary for name, cls in ACQUISITIONS.items())
    with pytest.raises(ConfigError, match="unknown acquisition 'ucb'; known: grammar-ga, grammar-ga-random, graph-ga, "
                                          "graph-ga-random, qlogei, random, turbo, turbo-m"):
        make_proposer("ucb", D, CampaignConfig())
    with pytest.raises(ConfigError, match="acquisition must be one of grammar-ga, grammar-ga-random, graph-ga, "
                                          "graph-ga-random, qlogei"):
        CampaignConfig(acquisition="ucb").validate()


class TestEveryProposer(ProposerContract):
    """Every registered acquisition that proposes codes keeps the shipped contract
    (breeders propose strings: the tests below and their own modules')."""

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


def test_every_breeder_has_a_campaign_to_test() -> None:
    assert BREEDERS == sorted(BREEDING)


@pytest.mark.parametrize("acquisition", BREEDERS)
def test_a_campaign_scores_each_bred_string_once_at_its_own_code_and_resumes_exactly(tmp_path: Path,
                                                                                     acquisition: str) -> None:
    """Every candidate is a new string, bred (not decoded), recorded at the code its
    encoder gives it (what the GP learns from); a campaign stopped after two iterations
    and resumed makes the uninterrupted one's records."""
    import json

    campaign = breeder_campaign(tmp_path, acquisition, "full")
    summary = campaign.run(progress=False)
    made = records(tmp_path / "full")
    key = lambda s: canonical(campaign.task, campaign.model, s)  # noqa: E731
    initial = {key(s) for s in json.loads((tmp_path / "full" / "init_strings.json").read_text())}
    keys = [key(r["string"]) for r in made]
    assert len(keys) == 12 and None not in keys and len(set(keys)) == 12 and not set(keys) & initial
    assert all(r["decode"] == {"status": "bred"} and r["valid"] for r in made)
    codes, _ = campaign.model.encode_strings([r["string"] for r in made])
    torch.testing.assert_close(torch.tensor([r["latent"] for r in made]), codes)
    assert summary["decoding"]["bred"] == 12 and summary["decoding"]["no_valid_decode"] == 0
    assert "Decoding: none; all 12 candidates were bred (invalid: none)." in (tmp_path / "full" / "report.md").read_text()
    breeder_campaign(tmp_path, acquisition, "part", iterations=2).run(progress=False)
    breeder_campaign(tmp_path, acquisition, "part").run(resume=True, progress=False)
    assert records(tmp_path / "part") == made


@pytest.mark.parametrize("acquisition", BREEDERS)
def test_ask_tell_breeds_what_run_breeds(tmp_path: Path, acquisition: str) -> None:
    """Scores told from outside, batch by batch (a new Campaign object each time, as a
    script run again would), make the records of run()."""
    from latentbo.objectives import make_objective

    breeder_campaign(tmp_path, acquisition, "run", iterations=2).run(progress=False)
    lab = make_objective(BREEDING[acquisition][1])
    for _ in range(2):
        _, strings = breeder_campaign(tmp_path, acquisition, "asktell", iterations=2).ask()
        breeder_campaign(tmp_path, acquisition, "asktell", iterations=2).tell(strings, lab(strings))
    assert records(tmp_path / "asktell") == records(tmp_path / "run")


@pytest.mark.parametrize("acquisition", BREEDERS)
def test_slots_the_breeder_cannot_fill_are_invalid_and_counted(tmp_path: Path, acquisition: str,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A breeder that finds no admissible offspring is asked again (three times), then
    its slots count as invalid by reason ``no_offspring``; nothing is scored for them."""
    monkeypatch.setattr(ACQUISITIONS[acquisition], "offspring", lambda self, *args: set())
    summary = breeder_campaign(tmp_path, acquisition, "bo", iterations=1).run(progress=False)
    made = records(tmp_path / "bo")
    assert [r["decode"] for r in made] == [{"status": "bred", "reason": "no_offspring", "replaced": 3}] * 4
    assert not any(r["valid"] for r in made)
    assert summary["decoding"]["invalid_reasons"] == {"no_offspring": 4}
    assert "all 4 candidates were bred (invalid: no_offspring 4)" in (tmp_path / "bo" / "report.md").read_text()
