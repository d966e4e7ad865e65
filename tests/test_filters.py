"""A chemist's filters: each rejects a molecule built to fail it, by name; bad settings
are refused up front; a campaign counts what they reject and never scores it."""

import pytest
import torch
from rdkit import Chem

from latentbo.bo.decoding import decode_candidates
from latentbo.errors import ConfigError
from latentbo.filters import MoleculeFilter, parse_filter_options
from latentbo.reports import decode_summary
from latentbo.tasks import get_task
from latentbo.testing import stub_model

IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"  # passes every filter below


@pytest.mark.parametrize(("table", "smiles", "reason"), [
    ({"min_heavy_atoms": 5}, "CCO", "filtered_too_small"),
    ({"max_heavy_atoms": 38}, "C" * 39, "filtered_too_large"),
    ({}, "C[NH3+]", "filtered_charged"),
    ({}, "[CH2]C", "filtered_radical"),
    ({"require": "c1ccccc1"}, "CCCCO", "filtered_required_smarts"),
    ({"forbid": "[OX2][OX2]"}, "CCOOCC", "filtered_forbidden_smarts"),
    ({"alerts": "pains"}, "O=C1C(=Cc2ccccc2)SC(=S)N1", "filtered_pains"),  # a rhodanine (PAINS ene_rhod)
    ({"alerts": "brenk"}, "CCOOCC", "filtered_brenk"),  # a peroxide
    ({"max_sa": 3.0}, "C1C2CC3CC1C(C2)C3N1C2CC3CC1CC(C2)C3", "filtered_sa"),
])
def test_each_filter_rejects_a_molecule_built_to_fail_it(table: dict, smiles: str, reason: str) -> None:
    filt = MoleculeFilter.from_table(table)
    assert filt.reason(Chem.MolFromSmiles(smiles)) == reason
    assert filt.reason(Chem.MolFromSmiles(IBUPROFEN)) is None


def test_charges_and_radicals_pass_when_allowed() -> None:
    filt = MoleculeFilter.from_table({"charged": True, "radicals": True})
    assert filt.reason(Chem.MolFromSmiles("C[NH3+]")) is None and filt.reason(Chem.MolFromSmiles("[CH2]C")) is None
    assert filt.table() == {"charged": True, "radicals": True}


@pytest.mark.parametrize(("table", "message"), [
    ({"max_weight": 500}, "unknown filter key 'max_weight'"),
    ({"alerts": "pains,tox"}, "unknown alert catalogue 'tox'"),
    ({"require": "c1ccc"}, "does not parse"),
    ({"max_sa": 11}, "max_sa must be a number from 1 to 10"),
    ({"max_heavy_atoms": 2.5}, "max_heavy_atoms must be a positive integer"),
    ({"charged": "yes"}, "charged must be true or false"),
    ({"min_heavy_atoms": 30, "max_heavy_atoms": 10}, "no molecule could pass"),
])
def test_bad_settings_are_refused(table: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MoleculeFilter.from_table(table)


def test_command_line_options() -> None:
    assert parse_filter_options(["max_sa=4.5", "max_heavy_atoms=38", "alerts=pains,brenk", "charged=true"]) == {
        "max_sa": 4.5, "max_heavy_atoms": 38, "alerts": "pains,brenk", "charged": True}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_filter_options(["max_sa"])


def test_decoding_counts_filtered_candidates_by_reason() -> None:
    """An untrained molecule model's decodes, unfiltered and then with a filter that no
    molecule of more than 3 heavy atoms passes: those become invalid, counted."""
    model = stub_model(task="zinc")
    z = 2 * torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    task = get_task("zinc")
    plain, _ = decode_candidates(model, task, z, 2, seed=1)
    tight = MoleculeFilter.from_table({"max_heavy_atoms": 3, "charged": True, "radicals": True})
    kept, info = decode_candidates(model, task, z, 2, seed=1, filters=tight)
    big = [s is not None and Chem.MolFromSmiles(s).GetNumHeavyAtoms() > 3 for s in plain]
    assert any(big)
    for s, k, i, b in zip(plain, kept, info, big):
        if b:
            assert k is None or Chem.MolFromSmiles(k).GetNumHeavyAtoms() <= 3  # another decode may pass
        if k is None and s is not None:
            assert i["reason"] == "filtered_too_large"
    summary = decode_summary([{"decode": i} for i in info], 2)
    assert summary["filtered"] == summary["invalid_reasons"].get("filtered_too_large", 0) > 0
