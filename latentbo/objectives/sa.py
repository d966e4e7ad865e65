"""Synthetic accessibility (Ertl & Schuffenhauer 2009, RDKit's contrib ``sascorer``):
1 (easy to make) to 10 (hard), minimised. The smallest example of adding an
objective: this file and its test (``bo --objective sa``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from latentbo.objectives.base import Objective, register_objective
from latentbo.objectives.molecules import sascorer, to_mol


@register_objective("sa")
class SyntheticAccessibility(Objective):
    name = "sa"
    maximize = False
    worst = 10.0
    bounds = (1.0, 10.0)

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        return np.array([sascorer().calculateScore(m) if (m := to_mol(s)) is not None else np.nan for s in strings],
                        dtype=float)
