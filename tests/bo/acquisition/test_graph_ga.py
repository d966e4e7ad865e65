"""graph-ga: Graph GA offspring of the scored molecules, chosen by the GP at their codes."""

import json
from pathlib import Path

import pytest
import torch
from rdkit import Chem

from latentbo.bo import Campaign, CampaignConfig
from latentbo.bo.acquisition import make_proposer
from latentbo.bo.surrogate import fit_gp
from latentbo.errors import ConfigError
from latentbo.testing import stub_model


def _molecules(n: int) -> list[str]:
    from latentbo.data.datasets import _nci_5k

    return [m for m in _nci_5k() if "." not in m and Chem.MolFromSmiles(m).GetNumHeavyAtoms() <= 25][:n]


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
    smiles = _molecules(40)
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
    picked, codes = breeder.breed(gp, population, _encode, admissible, 8, seed=0)
    assert len(set(picked)) == 8 and not set(picked) & parents
    assert all("Br" not in s and "S" not in s for s in picked)
    torch.testing.assert_close(codes, _features(picked))
    candidates = [s for s in offered if s not in parents and "Br" not in s and "S" not in s]
    size = lambda batch: float(_features(batch)[:, 0].mean())  # noqa: E731
    assert size(picked) > size(candidates) + 1.0
    again, _ = breeder.breed(gp, population, _encode, lambda s: s not in parents and "Br" not in s, 8, seed=0)
    assert again == picked
    other, _ = breeder.breed(gp, population, _encode, lambda s: s not in parents and "Br" not in s, 8, seed=1)
    assert other != picked
    with pytest.raises(TypeError, match="proposes molecules"):
        breeder.propose(gp, torch.zeros(2, 3), torch.zeros(2), torch.ones(2, 3), 8, seed=0)


def test_too_few_offspring_leave_slots_empty(problem) -> None:
    population, gp = problem
    breeder = make_proposer("graph-ga", 3, CampaignConfig(acquisition="graph-ga"))
    picked, codes = breeder.breed(gp, population, _encode, lambda s: False, 8, seed=0)
    assert picked == [] and codes.shape == (0, 3)


def _campaign(tmp_path: Path, out: str, iterations: int = 3, filters: dict | None = None) -> Campaign:
    data = tmp_path / "series.smi"
    data.write_text("\n".join(_molecules(40)) + "\n")
    cfg = CampaignConfig(objective="qed", acquisition="graph-ga", iterations=iterations, batch=4, trials=1,
                         init_size=40, gp_points=40, n_decode=1, dataset=str(data), filters=filters)
    return Campaign(stub_model(task="zinc"), cfg, tmp_path / out)


def _records(out: Path) -> list[dict]:
    lines = (out / "trial_0" / "evaluations.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in ("wall_time", "details")} for x in lines]


def test_a_campaign_scores_each_bred_molecule_once_at_its_own_code_and_resumes_exactly(tmp_path: Path) -> None:
    """Every candidate is a new molecule, bred (not decoded), recorded at the code its
    encoder gives it (what the GP learns from); a campaign stopped after two iterations
    and resumed makes the uninterrupted one's records."""
    from latentbo.chem import canonical_smiles

    campaign = _campaign(tmp_path, "full")
    summary = campaign.run(progress=False)
    records = _records(tmp_path / "full")
    initial = {canonical_smiles(s) for s in json.loads((tmp_path / "full" / "init_strings.json").read_text())}
    made = [canonical_smiles(r["string"]) for r in records]
    assert len(made) == 12 and None not in made and len(set(made)) == 12 and not set(made) & initial
    assert all(r["decode"] == {"status": "bred"} and r["valid"] for r in records)
    codes, _ = campaign.model.encode_strings([r["string"] for r in records])
    torch.testing.assert_close(torch.tensor([r["latent"] for r in records]), codes)
    assert summary["decoding"]["bred"] == 12 and summary["decoding"]["no_valid_decode"] == 0
    _campaign(tmp_path, "part", iterations=2).run(progress=False)
    _campaign(tmp_path, "part").run(resume=True, progress=False)
    assert _records(tmp_path / "part") == records


def test_ask_tell_breeds_what_run_breeds(tmp_path: Path) -> None:
    """Scores told from outside, batch by batch (a new Campaign object each time, as a
    script run again would), make the records of run()."""
    from latentbo.objectives import make_objective

    _campaign(tmp_path, "run", iterations=2).run(progress=False)
    lab = make_objective("qed")
    for _ in range(2):
        _, strings = _campaign(tmp_path, "asktell", iterations=2).ask()
        _campaign(tmp_path, "asktell", iterations=2).tell(strings, lab(strings))
    assert _records(tmp_path / "asktell") == _records(tmp_path / "run")


def test_only_molecules_that_pass_the_filters_are_bred(tmp_path: Path) -> None:
    _campaign(tmp_path, "bo", iterations=2, filters={"max_heavy_atoms": 12}).run(progress=False)
    records = _records(tmp_path / "bo")
    assert len(records) == 8 and all(r["valid"] for r in records)
    assert all(Chem.MolFromSmiles(r["string"]).GetNumHeavyAtoms() <= 12 for r in records)


def test_expression_models_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'graph-ga' breeds molecules; this model's task is 'expressions'"):
        Campaign(stub_model(), CampaignConfig(acquisition="graph-ga"), tmp_path / "bo")


def test_slots_the_breeder_cannot_fill_are_invalid_and_counted(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A breeder that finds no admissible offspring is asked again (three times), then
    its slots count as invalid by reason ``no_offspring``; nothing is scored for them."""
    from latentbo.bo.acquisition.graph_ga import GraphGA

    monkeypatch.setattr(GraphGA, "breed", lambda self, *args: ([], torch.zeros(0, 4, dtype=torch.float64)))
    summary = _campaign(tmp_path, "bo", iterations=1).run(progress=False)
    records = _records(tmp_path / "bo")
    assert [r["decode"] for r in records] == [{"status": "bred", "reason": "no_offspring", "replaced": 3}] * 4
    assert not any(r["valid"] for r in records)
    assert summary["decoding"]["invalid_reasons"] == {"no_offspring": 4}
