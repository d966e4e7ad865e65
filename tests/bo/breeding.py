"""Small campaigns for the breeders' tests: a stub model of the task each breeder
breeds for, an objective and forty starting strings."""

from __future__ import annotations

import json
from pathlib import Path

from latentbo.bo import Campaign, CampaignConfig
from latentbo.testing import stub_model

#: per breeder: the stub model's task and an objective (a new breeder adds its row)
BREEDING = {"graph-ga": ("zinc", "qed"), "graph-ga-random": ("zinc", "qed"), "grammar-ga": ("expressions", "expr"),
            "grammar-ga-random": ("expressions", "expr")}


def starting_strings(task: str, n: int = 40) -> list[str]:
    """``n`` small NCI molecules (``zinc``) or drawn expressions."""
    if task == "expressions":
        from latentbo.data.datasets import generate_expressions

        return generate_expressions(n, seed=2)
    from rdkit import Chem

    from latentbo.data.datasets import _nci_5k

    return [m for m in _nci_5k() if "." not in m and Chem.MolFromSmiles(m).GetNumHeavyAtoms() <= 25][:n]


def breeder_campaign(tmp_path: Path, acquisition: str, out: str, iterations: int = 3, **fields) -> Campaign:
    """A one-trial campaign of ``iterations`` batches of 4 in ``tmp_path / out``."""
    task, objective = BREEDING[acquisition]
    data = tmp_path / "series.txt"
    data.write_text("\n".join(starting_strings(task)) + "\n")
    cfg = CampaignConfig(objective=objective, acquisition=acquisition, iterations=iterations, batch=4, trials=1,
                         init_size=40, gp_points=40, n_decode=1, dataset=str(data), **fields)
    return Campaign(stub_model(task=task), cfg, tmp_path / out)


def records(out: Path) -> list[dict]:
    """Trial 0's evaluation records, less their timings."""
    lines = (out / "trial_0" / "evaluations.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in ("wall_time", "details")} for x in lines]
