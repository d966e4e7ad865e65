"""The held-out part of the ZINC250k subset that no training run sees: about 2,000
molecules of ``zinc250k/valid.txt`` picked, with their stereoisomers, by the SHA-256 of
their stereo-free canonical SMILES, none of which is in MOSES train (so models trained
on MOSES never saw them either, nor another stereoisomer of them). Writes ``latentbo/data/zinc250k_test.json`` (line numbers and the file's
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
    # Stereoisomers are one group (held out together), keyed by stereo-free canonical SMILES.
    groups: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        key = flat(line.strip()) if line.strip() else None
        if key is not None:
            groups.setdefault(key, []).append(i)
    order = sorted(groups, key=lambda k: hashlib.sha256(k.encode()).hexdigest())
    candidates = order[: 3 * args.n]
    in_moses = set()
    wanted = set(candidates)
    with gzip.open(args.data_dir / "moses" / "train.csv.gz", "rt") as fh:
        next(fh)
        for line in fh:
            key = flat(line.split(",")[0].strip())
            if key in wanted:
                in_moses.add(key)
    picked: list[int] = []
    skipped = 0
    for key in candidates:
        if len(picked) >= args.n:
            break
        if key in in_moses:
            skipped += 1
        else:
            picked += groups[key]
    OUT.write_text(json.dumps({
        "file": "zinc250k/valid.txt", "sha256": hashlib.sha256(raw).hexdigest(),
        "rule": f"molecules taken, with their stereoisomers, in the order of the SHA-256 of their stereo-free "
                f"canonical SMILES until {args.n} are held out, skipping any that MOSES train holds",
        "skipped_in_moses": skipped,
        "lines": sorted(picked)}, indent=0) + "\n")
    print(f"{len(picked)} held-out lines -> {OUT}")


if __name__ == "__main__":
    main()
