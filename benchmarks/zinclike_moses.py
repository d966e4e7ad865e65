"""MOSES made ZINC-like: protonation states at pH 7 and specified stereocentres.

MOSES has no charges and no stereo; ZINC250k has charges in a third of its molecules
(protonation near pH 7) and specified stereocentres in most that have one. This script
builds a MOSES sample in both forms, the same molecules:

- ``moses_plain.smi``: as MOSES has them;
- ``moses_zinclike.smi``: through :func:`latentbo.chem.zinclike` (``latentbo data zinclike``):
  protonated by dimorphite-dl at pH 7 (one state), then every unassigned stereocentre or
  double bond given a configuration drawn by RDKit (seeded); the calibration row says how
  often it gives back ZINC's own charge state.

It writes the corpora's statistics beside ZINC's (``benchmarks/results/zinclike_moses_corpus``);
the training arms that test whether the ZINC-like corpus lifts held-out ZINC reconstruction
are ``latentbo train`` runs on these files, measured by ``benchmarks/training_curve.py``
(``benchmarks/results/zinclike_moses.md`` has the commands).

    pip install dimorphite-dl
    python benchmarks/zinclike_moses.py --data-dir ../shared/data [--n 22445] [--out runs/zinclike]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

from _common import run, write_table
from latentbo.chem import ZINCLIKE_PH, canonical_smiles, zinclike
from latentbo.data import load_strings, set_data_dir


def stats(name: str, smiles: list[str]) -> dict:
    mols = [m for s in smiles if (m := Chem.MolFromSmiles(s)) is not None]
    stereo = [Chem.FindPotentialStereo(m) for m in mols]
    return {"corpus": name, "molecules": len(mols),
            "with_stereo_element": round(float(np.mean([bool(s) for s in stereo])), 3),
            "stereo_specified": round(float(np.mean(
                [any(x.specified == Chem.StereoSpecified.Specified for x in s) for s in stereo])), 3),
            "charged": round(float(np.mean([any(a.GetFormalCharge() for a in m.GetAtoms()) for m in mols])), 3),
            "heavy_atoms": round(float(np.mean([m.GetNumHeavyAtoms() for m in mols])), 1)}


def calibration(zinc: list[str]) -> dict:
    """Neutralise ZINC molecules (stereo dropped), protonate them again: the share whose
    charge state comes back as ZINC has it, beside the share that was neutral already."""
    uncharger = rdMolStandardize.Uncharger()
    truth = [canonical_smiles(s, stereo=False) for s in zinc]
    neutral = [Chem.MolToSmiles(uncharger.uncharge(Chem.MolFromSmiles(s)), isomericSmiles=False) for s in zinc]
    back = zinclike(neutral)
    return {"molecules": len(zinc),
            "charge_state_restored": round(float(np.mean(
                [canonical_smiles(b, stereo=False) == t for b, t in zip(back, truth)])), 3),
            "left_neutral_agrees": round(float(np.mean([n == t for n, t in zip(neutral, truth)])), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--n", type=int, default=22445, help="MOSES molecules (default: as many as ZINC's training part).")
    ap.add_argument("--calibrate", type=int, default=2000, help="ZINC training molecules for the calibration row.")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/zinclike"))
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    RDLogger.DisableLog("rdApp.*")
    zinc, _ = load_strings("zinc250k", allow_fallback=False)
    moses, _ = load_strings("moses", allow_fallback=False)
    plain = [moses[i] for i in np.random.default_rng(args.seed).choice(len(moses), args.n, replace=False)]
    pairs = [(p, z) for p, z in zip(plain, zinclike(plain, seed=args.seed)) if z is not None]
    args.out.mkdir(parents=True, exist_ok=True)
    for name, column in (("moses_plain", 0), ("moses_zinclike", 1)):
        (args.out / f"{name}.smi").write_text("\n".join(p[column] for p in pairs) + "\n")
    cal = calibration(zinc[: args.calibrate])
    rows = [stats("zinc250k (training part)", zinc), stats("MOSES sample", [p for p, _ in pairs]),
            stats("MOSES sample, ZINC-like", [z for _, z in pairs])]
    write_table("zinclike_moses_corpus", rows, notes=(
        f"{len(plain) - len(pairs)} of {len(plain)} MOSES molecules unreadable by dimorphite-dl (left out of both). "
        f"Calibration on {cal['molecules']} ZINC training molecules, neutralised and protonated again at pH "
        f"{ZINCLIKE_PH}: "
        f"charge state as ZINC has it for {cal['charge_state_restored']:.0%} (left neutral: "
        f"{cal['left_neutral_agrees']:.0%})."))


if __name__ == "__main__":
    run(main)
