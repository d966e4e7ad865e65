"""Molecule objectives (RDKit): penalized logP, logP, QED."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np

from latentbo.objectives.base import Objective, register_objective

# Published ZINC250k statistics used by the Grammar VAE to z-score each term.
LOGP_MEAN, LOGP_STD = 2.4570953396190123, 1.434324401111988
SA_MEAN, SA_STD = -3.0525811293166134, 0.8335207024513095  # of -SA
CYCLE_MEAN, CYCLE_STD = -0.0485696876403053, 0.2860212110245455  # of -cycle


def to_mol(smiles: str | None):
    """RDKit molecule or ``None`` (quietly) for anything RDKit rejects."""
    if not smiles:
        return None
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    return Chem.MolFromSmiles(smiles)


@cache
def sascorer():
    from rdkit import RDConfig

    path = os.path.join(RDConfig.RDContribDir, "SA_Score")
    if path not in sys.path:
        sys.path.append(path)
    import sascorer  # type: ignore[import-not-found]

    return sascorer


def plogp_terms(mol) -> dict[str, float]:
    """logP (Crippen MolLogP), SA score, cycle penalty max(0, largest ring - 6)."""
    from rdkit.Chem import Descriptors

    rings = mol.GetRingInfo().AtomRings()
    largest = max((len(r) for r in rings), default=0)
    return {
        "logp": Descriptors.MolLogP(mol),
        "sa": sascorer().calculateScore(mol),
        "cycle": max(0, largest - 6),
    }


def molecule_properties(mol) -> dict[str, Any]:
    """What a chemist reads first about a molecule: canonical SMILES, Crippen logP,
    QED, SA score (1 easy .. 10 hard) and molecular weight."""
    from rdkit import Chem
    from rdkit.Chem import QED as rdqed
    from rdkit.Chem import Descriptors

    return {"canonical_smiles": Chem.MolToSmiles(mol), "logp": Descriptors.MolLogP(mol), "qed": rdqed.qed(mol),
            "sa": sascorer().calculateScore(mol), "mw": Descriptors.MolWt(mol)}


@register_objective("plogp")
class PenalizedLogP(Objective):
    """Grammar-VAE penalized logP: ``z(logP) + z(-SA) + z(-cycle)`` with the ZINC250k
    statistics. :meth:`details` adds the unnormalised ``logP - SA - cycle`` used by
    later literature (``plogp_raw``)."""

    name = "plogp"
    maximize = True

    def _terms(self, strings: Sequence[str | None]) -> list[dict[str, float] | None]:
        out = []
        for s in strings:
            mol = to_mol(s)
            out.append(plogp_terms(mol) if mol is not None else None)
        return out

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        return np.array([self._normalised(t) for t in self._terms(strings)], dtype=float)

    @staticmethod
    def _normalised(t: dict[str, float] | None) -> float:
        if t is None:
            return float("nan")
        return ((t["logp"] - LOGP_MEAN) / LOGP_STD + (-t["sa"] - SA_MEAN) / SA_STD
                + (-t["cycle"] - CYCLE_MEAN) / CYCLE_STD)

    def details(self, strings: Sequence[str | None]) -> list[dict[str, Any]]:
        return [{} if t is None else {**t, "plogp_raw": t["logp"] - t["sa"] - t["cycle"]} for t in self._terms(strings)]


@register_objective("logp")
class LogP(Objective):
    name = "logp"

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        from rdkit.Chem import Descriptors

        return np.array([Descriptors.MolLogP(m) if (m := to_mol(s)) is not None else np.nan for s in strings])


@register_objective("qed")
class QED(Objective):
    name = "qed"
    bounds = (0.0, 1.0)

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        from rdkit.Chem import QED as rdqed

        return np.array([rdqed.qed(m) if (m := to_mol(s)) is not None else np.nan for s in strings])
