"""Reference scores of the PMO panel from the ``guacamol`` package itself, written once
to ``tests/objectives/data/pmo_reference.json``; ``tests/objectives/test_pmo.py`` checks
latentbo's panel against them (|diff| <= 1e-3).

guacamol 0.5.5 depends on FCD (TensorFlow) and imports ``scipy.histogram``, gone from
today's SciPy; neither is used by its goal-directed scores, so it is installed without
its dependencies and given two shims here:

    pip download --no-deps guacamol==0.5.5 -d /tmp/g
    pip install --no-deps --target /tmp/guacpkg /tmp/g/guacamol-0.5.5-py3-none-any.whl
    PYTHONPATH=/tmp/guacpkg python benchmarks/pmo_reference.py
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np
import scipy

OUT = Path(__file__).resolve().parents[1] / "tests" / "objectives" / "data" / "pmo_reference.json"

#: guacamol v2 benchmark name -> PMO task name (the two v2 tasks PMO left out are skipped).
NAMES = {"Celecoxib rediscovery": "celecoxib_rediscovery", "Troglitazone rediscovery": "troglitazone_rediscovery",
         "Thiothixene rediscovery": "thiothixene_rediscovery", "Albuterol similarity": "albuterol_similarity",
         "Mestranol similarity": "mestranol_similarity", "C9H10N2O2PF2Cl": "isomers_c9h10n2o2pf2cl",
         "Median molecules 1": "median1", "Median molecules 2": "median2", "Osimertinib MPO": "osimertinib_mpo",
         "Fexofenadine MPO": "fexofenadine_mpo", "Ranolazine MPO": "ranolazine_mpo",
         "Perindopril MPO": "perindopril_mpo", "Amlodipine MPO": "amlodipine_mpo",
         "Sitagliptin MPO": "sitagliptin_mpo", "Zaleplon MPO": "zaleplon_mpo", "Valsartan SMARTS": "valsartan_smarts",
         "Deco Hop": "deco_hop", "Scaffold Hop": "scaffold_hop"}


def reference_molecules() -> list[str]:
    """The panel's own targets, every 125th molecule of RDKit's NCI sample (it ships with
    RDKit) and a few charged, stereo, isotope and explicit-hydrogen molecules."""
    from rdkit import RDConfig
    from rdkit.Chem import MolFromSmiles

    from latentbo.objectives import pmo

    targets = [pmo.CELECOXIB, pmo.TROGLITAZONE, pmo.THIOTHIXENE, pmo.ALBUTEROL, pmo.MESTRANOL, pmo.CAMPHOR,
               pmo.MENTHOL, pmo.TADALAFIL, pmo.SILDENAFIL, pmo.OSIMERTINIB, pmo.FEXOFENADINE, pmo.RANOLAZINE,
               pmo.PERINDOPRIL, pmo.AMLODIPINE, pmo.SITAGLIPTIN, pmo.ZALEPLON, pmo.HOP_START]
    nci = Path(RDConfig.RDDataDir, "NCI", "first_5K.smi").read_text().splitlines()[::125]
    extra = ["C[NH+](C)CCc1ccccc1", "O=C([O-])c1ccccc1F", "C[C@H](N)C(=O)O", "[2H]C([2H])([2H])Oc1ccccc1",
             "[H]OC([H])([H])C", "NC(=O)c1cc(Cl)c(OP(F)F)cc1CCN", "CCCOc1cc2ncnc(Nc3ccccc3)c2cc1O",
             "CCCCC(=O)N(Cc1ccc(cc1)-c1ccccc1-c1nn[nH]n1)[C@@H](C(C)C)C(=O)O"]  # the last: valsartan
    smiles = targets + [line.split()[0] for line in nci] + extra
    return [s for s in smiles if MolFromSmiles(s) is not None]


def main() -> None:
    scipy.histogram = np.histogram  # removed from SciPy; only guacamol's distribution metrics use it
    sys.modules["fcd"] = types.ModuleType("fcd")  # FCD (TensorFlow) is for the Frechet benchmark only
    from guacamol.benchmark_suites import goal_directed_suite_v2

    molecules = reference_molecules()
    scores = {}
    for bench in goal_directed_suite_v2():
        if bench.name in NAMES:
            scores[NAMES[bench.name]] = [float(x) for x in bench.objective.score_list(molecules)]
    assert len(scores) == len(NAMES), sorted(set(NAMES) - {b.name for b in goal_directed_suite_v2()})
    OUT.write_text(json.dumps({"made_with": "guacamol 0.5.5 goal_directed_suite_v2 (benchmarks/pmo_reference.py)",
                               "molecules": molecules, "scores": scores}, indent=1) + "\n")
    print(f"{len(molecules)} molecules x {len(scores)} tasks -> {OUT}")


if __name__ == "__main__":
    main()
