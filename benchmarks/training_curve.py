"""Held-out reconstruction against training time: the curve of a long (background) run.

    python benchmarks/training_curve.py --data-dir ../shared/data --name NAME \\
        --point "LABEL=MODEL:MINUTES" [--point ...] [--limit 500] [--samples 300] [--note TEXT]

Each point is a model (a zoo name or a folder: a snapshot of a run, copied while it
trains) and the training minutes behind it; each is measured as a user sees it
(``latentbo models evaluate``: encode -> decode of held-out ZINC molecules, prior
samples) on the first ``--limit`` molecules of ``zinc250k-test``. Writes
``benchmarks/results/<name>.{csv,md}``, keeping the rows of points not measured again.
"""

from __future__ import annotations

import argparse

from _common import kept_rows, run, write_table
from latentbo.data import load_strings, set_data_dir
from latentbo.evaluation import evaluate_model
from latentbo.models import load_model
from latentbo.models.zoo import resolve_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--name", required=True)
    ap.add_argument("--point", action="append", required=True, help="LABEL=MODEL:MINUTES")
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    test, _ = load_strings("zinc250k-test", limit=args.limit, allow_fallback=False)
    rows = []
    for point in args.point:
        label, _, rest = point.partition("=")
        where, _, minutes = rest.rpartition(":")
        if not (label and where and minutes):
            raise SystemExit(f"--point {point!r}: expected LABEL=MODEL:MINUTES")
        model = load_model(resolve_model(where), kind="sequence")
        result = evaluate_model(model, test, args.samples, seed=0)
        rec, prior = result["reconstruction"], result["prior"]
        rows.append({"point": label, "model": where, "minutes": float(minutes), "exact": rec["exact"],
                     "exact_no_stereo": rec["exact_no_stereo"], "tanimoto": round(rec["tanimoto"], 3),
                     "prior_valid": prior["valid"], "prior_fallback": round(prior["fallback"], 3),
                     "prior_qed": round(prior["qed"], 3), "kl_score": round(prior["kl_score"], 3)})
        print(rows[-1], flush=True)
    rows = kept_rows(args.name, "point", {r["point"] for r in rows}) + rows
    write_table(args.name, rows, notes=f"Held-out: the first {len(test)} molecules of zinc250k-test (stereo and "
                                       f"charges as ZINC has them); {args.samples} prior samples. minutes: training "
                                       "time behind the point." + (f"\n\n{args.note}" if args.note else ""))


if __name__ == "__main__":
    run(main)
