import json
from pathlib import Path

import numpy as np
import pytest

from latentbo.objectives import make_objective
from latentbo.reports import best_so_far, plot_curves, trial_summary, write_campaign_reports


def _records(trial: int, strings: list[str | None], scores: list[float | None]) -> list[dict]:
    return [{"trial": trial, "iteration": 0, "latent": [0.0], "string": s, "valid": v is not None, "score": v,
             "details": {}, "wall_time": 1.0} for s, v in zip(strings, scores)]


def test_trial_summary_distinct_top3() -> None:
    recs = _records(0, ["CCO", "CCO", "CCN", None, "CCC"], [1.0, 1.0, 3.0, None, 2.0])
    s = trial_summary(recs, maximize=True)
    assert s["top3"] == [3.0, 2.0, 1.0]  # the duplicate CCO counts once
    assert s["fraction_valid"] == 0.8 and s["average_score"] == np.mean([1.0, 1.0, 3.0, 2.0])
    assert s["best"] == {"string": "CCN", "score": 3.0}


def test_molecule_reports_with_grid(tmp_path: Path) -> None:
    obj = make_objective("plogp")
    smiles = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", None]
    scores = [None if s is None else float(v) for s, v in zip(smiles, obj(smiles))]
    trials = [_records(0, smiles, scores), _records(1, smiles[:2], scores[:2])]
    summary = write_campaign_reports(tmp_path, obj, trials, {"trial_seeds": [0, 1], "config": {}},
                                     init_scores=np.array([0.1, np.nan]), molecules=True)
    for name in ["summary.json", "summary.csv", "report.md", "best_so_far.png", "top_molecules.png"]:
        assert (tmp_path / name).stat().st_size > 0
    assert summary["trials"][0]["fraction_valid"] == 0.75
    assert json.loads((tmp_path / "summary.json").read_text())["best"]["string"] == summary["best"]["string"]
    assert "top_molecules.png" in (tmp_path / "report.md").read_text()
    grid = (tmp_path / "top_molecules.png").read_bytes()
    # a PNG of one row of four 300-pixel cells (3 distinct valid molecules)
    assert grid[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(grid[16:20], "big") == 1200 and int.from_bytes(grid[20:24], "big") == 300


def test_molecule_exports_read_back_by_rdkit(tmp_path: Path) -> None:
    import pandas as pd
    from rdkit import Chem
    from rdkit.Chem import QED, Descriptors

    obj = make_objective("logp")
    # "OCC" and "CCO" are one molecule: exported once, with where it was found first.
    smiles = ["OCC", "c1ccccc1O", "CCO", "CC(=O)Nc1ccc(O)cc1", None]
    scores = [0.25, 1.39, 0.25, 1.35, None]  # Crippen logP, the same for OCC and CCO here
    write_campaign_reports(tmp_path, obj, [_records(0, smiles, scores)], {"trial_seeds": [0], "config": {}},
                           molecules=True)
    table = pd.read_csv(tmp_path / "molecules.csv")
    assert list(table["canonical_smiles"]) == ["Oc1ccccc1", "CC(=O)Nc1ccc(O)cc1", "CCO"]
    assert list(table["rank"]) == [1, 2, 3] and table["score"].is_monotonic_decreasing
    assert table.loc[table["canonical_smiles"] == "CCO", "smiles"].item() == "OCC"
    paracetamol = Chem.MolFromSmiles("CC(=O)Nc1ccc(O)cc1")
    row = table[table["canonical_smiles"] == "CC(=O)Nc1ccc(O)cc1"].iloc[0]
    assert row["mw"] == pytest.approx(Descriptors.MolWt(paracetamol))
    assert row["qed"] == pytest.approx(QED.qed(paracetamol))
    assert 1 < row["sa"] < 3  # paracetamol is easy to make
    mols = list(Chem.SDMolSupplier(str(tmp_path / "molecules.sdf")))
    assert [Chem.MolToSmiles(m) for m in mols] == list(table["canonical_smiles"])
    assert mols[0].GetProp("_Name") == "rank 1" and float(mols[0].GetProp("logp")) == pytest.approx(
        Descriptors.MolLogP(Chem.MolFromSmiles("Oc1ccccc1")))


def test_expression_reports_have_no_molecule_exports(tmp_path: Path) -> None:
    obj = make_objective("expr")
    write_campaign_reports(tmp_path, obj, [_records(0, ["x", "x * x"], [1.0, 2.0])], {"trial_seeds": [0], "config": {}})
    assert (tmp_path / "summary.json").exists()
    assert not (tmp_path / "molecules.csv").exists() and not (tmp_path / "top_molecules.png").exists()


def test_best_so_far_skips_invalid_evaluations_and_follows_the_direction(tmp_path: Path) -> None:
    recs = [{"score": None, "valid": False}, {"score": 3.0, "valid": True}, {"score": 1.0, "valid": True},
            {"score": 0.5, "valid": False}, {"score": 2.0, "valid": True}]
    np.testing.assert_array_equal(best_so_far(recs, maximize=False), [np.nan, 3.0, 1.0, 1.0, 1.0])
    np.testing.assert_array_equal(best_so_far(recs, maximize=True), [np.nan, 3.0, 3.0, 3.0, 3.0])
    plot_curves(tmp_path / "p" / "c.png", {"a": best_so_far(recs, False)}, "best", baseline=2.5)
    assert (tmp_path / "p" / "c.png").stat().st_size > 1000
