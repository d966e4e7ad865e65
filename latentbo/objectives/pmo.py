"""The goal-directed panel of PMO (Gao et al. 2022), scored as GuacaMol defines it
(Brown et al. 2019, ``goal_directed_suite_v2``): rediscovery, similarity, isomers,
median molecules, multi-property objectives and scaffold/decoration hops, each a score
in [0, 1] (maximised), plus ``plogp_limited``. Only RDKit is needed; the scores equal
the ``guacamol`` package's on a committed fixture (``benchmarks/pmo_reference.py``).

Every task is a mean (geometric unless stated) of terms; a term maps a molecule to
[0, 1] through a descriptor and a modifier:

* ``similarity(target, fp, modifier)``: Tanimoto similarity of count fingerprints
  (ECFP4/6: Morgan radius 2/3; FCFP4: Morgan features; AP: atom pairs up to 10 bonds;
  PHCO: Gobbi 2D pharmacophores);
* ``descriptor(name, modifier)``: an RDKit descriptor (logP, TPSA, ...);
* ``smarts(pattern, present)``: 1 if the pattern is present (or absent), else 0;
* ``isomer(formula)``: closeness to a molecular formula.

Modifiers: ``gauss(mu, sd)``; ``below(mu, sd)`` is 1 up to ``mu`` and a Gaussian tail
above; ``above(mu, sd)`` the mirror; ``clip(t)`` is ``min(x / t, 1)``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np

from latentbo.objectives.base import Objective, register_objective
from latentbo.objectives.molecules import PenalizedLogP, to_mol

Term = Callable[[Any], float]  # RDKit Mol -> [0, 1]

CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
ALBUTEROL = "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"
MESTRANOL = "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1"
CAMPHOR, MENTHOL = "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O"
TADALAFIL = "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C"
SILDENAFIL = "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C"
OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
AMLODIPINE = r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC"
SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"
HOP_START = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"

#: ZINC250k's largest molecule has 38 heavy atoms: ``plogp_limited`` refuses bigger ones.
ZINC_MAX_HEAVY_ATOMS = 38


# -- modifiers ----------------------------------------------------------------------------
def gauss(mu: float, sd: float) -> Callable[[float], float]:
    return lambda x: math.exp(-0.5 * ((x - mu) / sd) ** 2)


def below(mu: float, sd: float) -> Callable[[float], float]:
    """1 for ``x <= mu``, a Gaussian tail above (GuacaMol's MinGaussianModifier)."""
    return lambda x: gauss(mu, sd)(max(x, mu))


def above(mu: float, sd: float) -> Callable[[float], float]:
    """1 for ``x >= mu``, a Gaussian tail below (GuacaMol's MaxGaussianModifier)."""
    return lambda x: gauss(mu, sd)(min(x, mu))


def clip(top: float) -> Callable[[float], float]:
    """``x / top`` clipped to [0, 1] (GuacaMol's ClippedScoreModifier from 0)."""
    return lambda x: min(max(x / top, 0.0), 1.0)


# -- descriptors and fingerprints ---------------------------------------------------------
def _descriptors() -> dict[str, Callable[[Any], float]]:
    from rdkit.Chem import Descriptors, rdMolDescriptors

    return {"logp": Descriptors.MolLogP, "tpsa": Descriptors.TPSA, "bertz": Descriptors.BertzCT,
            "mw": Descriptors.MolWt, "rings": rdMolDescriptors.CalcNumRings,
            "aromatic_rings": rdMolDescriptors.CalcNumAromaticRings}


@cache
def _fingerprinters() -> dict[str, Callable[[Any], Any]]:
    from rdkit.Chem import rdFingerprintGenerator as fpg
    from rdkit.Chem.Pharm2D import Generate, Gobbi_Pharm2D

    def counts(gen: Any) -> Callable[[Any], Any]:
        return gen.GetSparseCountFingerprint

    features = fpg.GetMorganFeatureAtomInvGen()
    return {"ECFP4": counts(fpg.GetMorganGenerator(radius=2)), "ECFP6": counts(fpg.GetMorganGenerator(radius=3)),
            "FCFP4": counts(fpg.GetMorganGenerator(radius=2, atomInvariantsGenerator=features)),
            "AP": counts(fpg.GetAtomPairGenerator(maxDistance=10)),
            "PHCO": lambda mol: Generate.Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)}


def fingerprint(mol: Any, kind: str) -> Any:
    """The count fingerprint GuacaMol compares for ``kind`` (ECFP4, ECFP6, FCFP4, AP, PHCO)."""
    return _fingerprinters()[kind](mol)


def similarity(target: str, kind: str, modifier: Callable[[float], float] = float) -> Term:
    from rdkit import Chem
    from rdkit.DataStructs import TanimotoSimilarity

    ref = fingerprint(Chem.MolFromSmiles(target), kind)
    return lambda mol: modifier(TanimotoSimilarity(fingerprint(mol, kind), ref))


def descriptor(name: str, modifier: Callable[[float], float]) -> Term:
    fn = _descriptors()[name]
    return lambda mol: modifier(fn(mol))


def smarts(pattern: str, present: bool = True) -> Term:
    from rdkit import Chem

    query = Chem.MolFromSmarts(pattern)
    return lambda mol: float(mol.HasSubstructMatch(query) == present)


def count_atoms(mol: Any, element: str) -> int:
    """Atoms of ``element`` in ``mol``; hydrogens counted implicit ones included."""
    if element == "H":
        return sum(a.GetTotalNumHs() for a in mol.GetAtoms()) + sum(a.GetSymbol() == "H" for a in mol.GetAtoms())
    return sum(a.GetSymbol() == element for a in mol.GetAtoms())


def isomer(formula: str) -> Term:
    """Geometric mean of a Gaussian (sd 1) on each element's count and one (sd 2) on
    the total atom count, hydrogens included."""
    counts = [(el, int(n or 1)) for el, n in re.findall(r"([A-Z][a-z]*)(\d*)", formula)]
    total = sum(n for _, n in counts)

    def score(mol: Any) -> float:
        parts = [gauss(n, 1.0)(count_atoms(mol, el)) for el, n in counts]
        parts.append(gauss(total, 2.0)(mol.GetNumAtoms() + sum(a.GetTotalNumHs() for a in mol.GetAtoms())))
        return geometric(parts)
    return score


def geometric(values: Sequence[float]) -> float:
    return float(np.prod(values) ** (1.0 / len(values)))


def arithmetic(values: Sequence[float]) -> float:
    return float(np.mean(values))


def _target(smiles: str, name: str) -> float:
    from rdkit import Chem

    return _descriptors()[name](Chem.MolFromSmiles(smiles))


def _cns_mpo(max_logp: float = 5.0) -> Term:
    """GuacaMol's CNS MPO: mean of TPSA in [40, 90], no H donors, logP <= max_logp, MW <= 360."""
    from rdkit.Chem import Descriptors

    def score(mol: Any) -> float:
        tpsa, hbd = Descriptors.TPSA(mol), Descriptors.NumHDonors(mol)
        return 0.2 * (below(90, 30)(tpsa) + above(40, 20)(tpsa) + below(0, 2.0)(hbd)
                      + below(max_logp, 1)(Descriptors.MolLogP(mol)) + below(360, 60)(Descriptors.MolWt(mol)))
    return score


# -- the panel ----------------------------------------------------------------------------
@cache
def panel() -> dict[str, tuple[Callable[[Sequence[float]], float], list[Term]]]:
    """Every task as (mean, terms); built on first use (RDKit objects)."""
    sitagliptin_logp, sitagliptin_tpsa = _target(SITAGLIPTIN, "logp"), _target(SITAGLIPTIN, "tpsa")
    return {
        "celecoxib_rediscovery": (arithmetic, [similarity(CELECOXIB, "ECFP4", clip(1.0))]),
        "troglitazone_rediscovery": (arithmetic, [similarity(TROGLITAZONE, "ECFP4", clip(1.0))]),
        "thiothixene_rediscovery": (arithmetic, [similarity(THIOTHIXENE, "ECFP4", clip(1.0))]),
        "albuterol_similarity": (arithmetic, [similarity(ALBUTEROL, "FCFP4", clip(0.75))]),
        "mestranol_similarity": (arithmetic, [similarity(MESTRANOL, "AP", clip(0.75))]),
        "isomers_c9h10n2o2pf2cl": (arithmetic, [isomer("C9H10N2O2PF2Cl")]),
        "median1": (geometric, [similarity(MENTHOL, "ECFP4"), similarity(CAMPHOR, "ECFP4")]),
        "median2": (geometric, [similarity(TADALAFIL, "ECFP6"), similarity(SILDENAFIL, "ECFP6")]),
        "osimertinib_mpo": (geometric, [similarity(OSIMERTINIB, "FCFP4", clip(0.8)),
                                        similarity(OSIMERTINIB, "ECFP6", below(0.85, 0.1)),
                                        descriptor("tpsa", above(100, 10)), descriptor("logp", below(1, 1))]),
        "fexofenadine_mpo": (geometric, [similarity(FEXOFENADINE, "AP", clip(0.8)),
                                         descriptor("tpsa", above(90, 10)), descriptor("logp", below(4, 1))]),
        "ranolazine_mpo": (geometric, [similarity(RANOLAZINE, "AP", clip(0.7)), descriptor("logp", above(7, 1)),
                                       lambda mol: gauss(1, 1.0)(count_atoms(mol, "F")),
                                       descriptor("tpsa", above(95, 20))]),
        "perindopril_mpo": (geometric, [similarity(PERINDOPRIL, "ECFP4"),
                                        descriptor("aromatic_rings", gauss(2, 0.5))]),
        "amlodipine_mpo": (geometric, [similarity(AMLODIPINE, "ECFP4"), descriptor("rings", gauss(3, 0.5))]),
        "sitagliptin_mpo": (geometric, [similarity(SITAGLIPTIN, "ECFP4", gauss(0, 0.1)),
                                        descriptor("logp", gauss(sitagliptin_logp, 0.2)),
                                        descriptor("tpsa", gauss(sitagliptin_tpsa, 5)), isomer("C16H15F6N5O")]),
        "zaleplon_mpo": (geometric, [similarity(ZALEPLON, "ECFP4"), isomer("C19H17N3O2")]),
        "valsartan_smarts": (geometric, [smarts("CN(C=O)Cc1ccc(c2ccccc2)cc1"),
                                         descriptor("logp", gauss(sitagliptin_logp, 0.2)),
                                         descriptor("tpsa", gauss(sitagliptin_tpsa, 5)),
                                         descriptor("bertz", gauss(_target(SITAGLIPTIN, "bertz"), 30))]),
        "deco_hop": (arithmetic, [similarity(HOP_START, "PHCO", clip(0.85)), smarts("CS([#6])(=O)=O", False),
                                  smarts("[#7]-c1ccc2ncsc2c1", False), smarts(HOP_SCAFFOLD)]),
        "scaffold_hop": (arithmetic, [similarity(HOP_START, "PHCO", clip(0.75)),
                                      smarts("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
                                      smarts(HOP_SCAFFOLD, False)]),
    }


#: The panel's task names, in PMO's order.
PANEL_TASKS = ("celecoxib_rediscovery", "troglitazone_rediscovery", "thiothixene_rediscovery",
               "albuterol_similarity", "mestranol_similarity", "isomers_c9h10n2o2pf2cl", "median1", "median2",
               "osimertinib_mpo", "fexofenadine_mpo", "ranolazine_mpo", "perindopril_mpo", "amlodipine_mpo",
               "sitagliptin_mpo", "zaleplon_mpo", "valsartan_smarts", "deco_hop", "scaffold_hop")
#: Tasks whose best score, 1, some molecule reaches (the target itself, or the formula).
_ATTAINABLE = {"celecoxib_rediscovery", "troglitazone_rediscovery", "thiothixene_rediscovery",
               "albuterol_similarity", "mestranol_similarity", "isomers_c9h10n2o2pf2cl"}


class PanelObjective(Objective):
    """One task of the panel: scores in [0, 1], maximised, NaN for what RDKit rejects.

    Args:
        task: a name of :data:`PANEL_TASKS`.
    """

    maximize = True
    worst = 0.0
    bounds = (0.0, 1.0)

    def __init__(self, task: str) -> None:
        self.task = task
        self.name = task  # type: ignore[misc]
        self.optimum = 1.0 if task in _ATTAINABLE else None  # type: ignore[misc]

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        mean, terms = panel()[self.task]
        return np.array([mean([t(m) for t in terms]) if (m := to_mol(s)) is not None else np.nan for s in strings],
                        dtype=float)


for _task in PANEL_TASKS:
    register_objective(_task, task=_task)(PanelObjective)


@register_objective("plogp_limited")
class LimitedPenalizedLogP(PenalizedLogP):
    """Penalized logP of molecules with at most 38 heavy atoms (ZINC250k's largest);
    a bigger molecule is invalid (NaN, reason in :meth:`details`), so long chains that
    penalized logP rewards cannot win."""

    name = "plogp_limited"

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        scores = super().__call__(strings)
        scores[[_too_big(s) for s in strings]] = np.nan
        return scores

    def details(self, strings: Sequence[str | None]) -> list[dict[str, Any]]:
        return [{**d, "too_big": True} if _too_big(s) else d for d, s in zip(super().details(strings), strings)]


def _too_big(smiles: str | None) -> bool:
    mol = to_mol(smiles)
    return mol is not None and mol.GetNumHeavyAtoms() > ZINC_MAX_HEAVY_ATOMS
