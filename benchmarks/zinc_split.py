"""The held-out part of the ZINC250k subset that no training run sees: 2,000 molecules
of ``zinc250k/valid.txt`` picked by the SHA-256 of their canonical SMILES, none of which
is in MOSES train once stereo is stripped (so models trained on MOSES never saw them
either). Writes ``latentbo/data/zinc250k_test.json`` (line numbers and the file's
hash); the registry then serves ``zinc250k`` without them and ``zinc250k-test`` as them.

    python benchmarks/zinc_split.py --data-dir ../shared/data [--n 2000]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from pathlib import Path

from rdkit import Chem, RDLogger

OUT = Path(__file__).resolve().parents[1] / "latentbo" / "data" / "zinc250k_test.json"


def flat(smiles: str) -> str | None:
    """Canonical SMILES without stereo."""
    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol, isomericSmiles=False) if mol is not None else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--n", type=int, default=2000)
    args = ap.parse_args()
    RDLogger.DisableLog("rdApp.*")
    raw = (args.data_dir / "zinc250k" / "valid.txt").read_bytes()
    lines = raw.decode().splitlines()
    order = []
    for i, line in enumerate(lines):
        mol = Chem.MolFromSmiles(line.strip()) if line.strip() else None
        if mol is not None:
            order.append((hashlib.sha256(Chem.MolToSmiles(mol).encode()).hexdigest(), i, line.strip()))
    order.sort()
    candidates = order[: 3 * args.n]
    wanted = {flat(s) for _, _, s in candidates}
    in_moses = set()
    with gzip.open(args.data_dir / "moses" / "train.csv.gz", "rt") as fh:
        next(fh)
        for line in fh:
            s = line.split(",")[0].strip()
            f = flat(s)
            if f in wanted:
                in_moses.add(f)
    picked = sorted(i for _, i, s in [c for c in candidates if flat(c[2]) not in in_moses][: args.n])
    OUT.write_text(json.dumps({
        "file": "zinc250k/valid.txt", "sha256": hashlib.sha256(raw).hexdigest(),
        "rule": f"the first {args.n} molecules by SHA-256 of their canonical SMILES, skipping any whose "
                "stereo-free canonical SMILES is in MOSES train",
        "skipped_in_moses": len([c for c in candidates if flat(c[2]) in in_moses]),
        "lines": picked}, indent=0) + "\n")
    print(f"{len(picked)} held-out lines ({len(in_moses)} candidates skipped: in MOSES) -> {OUT}")


if __name__ == "__main__":
    main()
