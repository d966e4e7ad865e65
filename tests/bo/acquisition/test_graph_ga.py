"""graph-ga: Graph GA offspring of the scored molecules, chosen by the GP at their codes."""

from pathlib import Path

import pytest
import torch
from rdkit import Chem

from latentbo.bo import Campaign, CampaignConfig
from latentbo.bo.acquisition import make_proposer
from latentbo.bo.surrogate import fit_gp
from latentbo.errors import ConfigError
from latentbo.testing import stub_model
from tests.bo.breeding import breeder_campaign, records, starting_strings


def _features(smiles: list[str]) -> torch.Tensor:
    """A 3-d stand-in for an encoder: heavy atoms, rings and heteroatoms."""
    mols = [Chem.MolFromSmiles(s) for s in smiles]
    return torch.tensor([[m.GetNumHeavyAtoms(), m.GetRingInfo().NumRings(),
                          sum(a.GetSymbol() not in "CH" for a in m.GetAtoms())] for m in mols], dtype=torch.float64)


def _encode(batch: list[str]) -> tuple[torch.Tensor, list[int]]:
    kept = [i for i, s in enumerate(batch) if "S" not in s]  # this "codec" cannot spell sulphur
    return _features([batch[i] for i in kept]), kept


@pytest.fixture(scope="module")
def problem():
    """Forty molecules scored by their size, and a GP on their features."""
    smiles = starting_strings("zinc")
    x = _features(smiles)
    y = x[:, 0]
    bounds = torch.stack([x.min(0).values, x.max(0).values + 1])
    return [(float(v), s) for v, s in zip(y, smiles)], fit_gp(x, y.unsqueeze(-1), bounds)


def test_offspring_are_admissible_encodable_new_and_chosen_by_the_gp(problem) -> None:
    """q distinct offspring, none refused by ``admissible`` or the codec, none a parent,
    with the codes ``encode`` gave them; the same seed breeds the same batch; the GP
    (which learnt that bigger scores better) picks bigger molecules than the offspring's
    average."""
    population, gp = problem
    parents = {s for _, s in population}
    offered: list[str] = []

    def admissible(s: str) -> bool:
        offered.append(s)
        return s not in parents and "Br" not in s

    breeder = make_proposer("graph-ga", 3, CampaignConfig(acquisition="graph-ga", batch=8))
    picked, codes = breeder.breed(gp, population, _encode, admissible, 8, 0, None)
    assert len(set(picked)) == 8 and not set(picked) & parents
    assert all("Br" not in s and "S" not in s for s in picked)
    torch.testing.assert_close(codes, _features(picked))
    candidates = [s for s in offered if s not in parents and "Br" not in s and "S" not in s]
    size = lambda batch: float(_features(batch)[:, 0].mean())  # noqa: E731
    assert size(picked) > size(candidates) + 1.0
    again, _ = breeder.breed(gp, population, _encode, lambda s: s not in parents and "Br" not in s, 8, 0, None)
    assert again == picked
    other, _ = breeder.breed(gp, population, _encode, lambda s: s not in parents and "Br" not in s, 8, 1, None)
    assert other != picked
    with pytest.raises(TypeError, match="proposes strings"):
        breeder.propose(gp, torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 3), 8, seed=0)


def test_without_the_gp_the_same_offspring_are_chosen_at_random(problem) -> None:
    """graph-ga-random breeds what graph-ga breeds (same seed, same offspring offered)
    and takes q of them at random: seeded, admissible, and not the GP's bigger picks."""
    population, gp = problem
    parents = {s for _, s in population}
    offered: dict[str, list[str]] = {"graph-ga": [], "graph-ga-random": []}
    picks = {}
    for name in offered:
        def admissible(s: str, name: str = name) -> bool:
            offered[name].append(s)
            return s not in parents

        breeder = make_proposer(name, 3, CampaignConfig(acquisition=name, batch=8))
        picks[name], codes = breeder.breed(gp if breeder.uses_model else None, population, _encode, admissible, 8,
                                           0, None)
        torch.testing.assert_close(codes, _features(picks[name]))
    assert offered["graph-ga"] == offered["graph-ga-random"]
    chance = picks["graph-ga-random"]
    assert len(set(chance)) == 8 and set(chance) <= set(offered["graph-ga"]) - parents
    again, _ = make_proposer("graph-ga-random", 3, CampaignConfig(acquisition="graph-ga-random")).breed(
        None, population, _encode, lambda s: s not in parents, 8, 0, None)
    assert again == chance
    size = lambda batch: float(_features(batch)[:, 0].mean())  # noqa: E731
    assert size(picks["graph-ga"]) > size(chance)


def test_too_few_offspring_leave_slots_empty(problem) -> None:
    population, gp = problem
    breeder = make_proposer("graph-ga", 3, CampaignConfig(acquisition="graph-ga"))
    picked, codes = breeder.breed(gp, population, _encode, lambda s: False, 8, 0, None)
    assert picked == [] and codes.shape == (0, 3)


def test_only_molecules_that_pass_the_filters_are_bred(tmp_path: Path) -> None:
    breeder_campaign(tmp_path, "graph-ga", "bo", iterations=2, filters={"max_heavy_atoms": 12}).run(progress=False)
    made = records(tmp_path / "bo")
    assert len(made) == 8 and all(r["valid"] for r in made)
    assert all(Chem.MolFromSmiles(r["string"]).GetNumHeavyAtoms() <= 12 for r in made)


def test_expression_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'graph-ga' breeds molecules; this model's task is 'expressions'"):
        Campaign(stub_model(), CampaignConfig(acquisition="graph-ga"), tmp_path / "bo")


