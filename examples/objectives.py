"""Example objectives: how to score strings with your own code.

Use one from the command line with ``--objective examples/objectives.py:NAME`` (or
``--objective objectives:NAME`` from this folder), or pass the function itself to
``Campaign(..., objective=fn)`` in Python.

The contract (``latentbo.objectives.FunctionObjective``):

* the function receives one list of strings; ``None`` stands for a candidate the
  model could not decode into a valid string: return NaN for it;
* it returns one number per string, in the same order; NaN marks a string your code
  judges invalid (it counts as invalid, and the GP never sees it);
* higher is better unless the campaign is run with ``--minimize``;
* an optional ``batch_size`` attribute caps how many strings one call receives.
"""

from __future__ import annotations

import math


def qed_times_sa(smiles: list[str | None]) -> list[float]:
    """Drug-likeness discounted by synthetic difficulty: QED x (10 - SA) / 9, in [0, 1]."""
    from rdkit import Chem, RDLogger
    from rdkit.Chem import QED

    from latentbo.objectives.molecules import molecule_properties

    RDLogger.DisableLog("rdApp.*")
    out = []
    for s in smiles:
        mol = Chem.MolFromSmiles(s) if s else None
        if mol is None:
            out.append(math.nan)
            continue
        out.append(QED.qed(mol) * (10 - molecule_properties(mol)["sa"]) / 9)
    return out


def expression_length(expressions: list[str | None]) -> list[float]:
    """Number of tokens of an expression (run it with --minimize for short ones)."""
    return [math.nan if e is None else float(len(e.split())) for e in expressions]


def slow_assay(smiles: list[str | None]) -> list[float]:
    """A stand-in for a measurement that takes a few molecules at a time (heavy atoms)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mols = [Chem.MolFromSmiles(s) if s else None for s in smiles]
    return [math.nan if m is None else float(m.GetNumHeavyAtoms()) for m in mols]


slow_assay.batch_size = 4  # the campaign calls it on at most 4 molecules at a time
