"""Every pretrained model measured as a user sees it (``latentbo models evaluate``), on
strings it never trained on, and the numbers written into its card (``user_eval``),
which ``latentbo models list`` shows:

- molecule models: the held-out part of ZINC250k (``zinc250k-test``: in no training
  set, nor in MOSES train), with its stereo and charges;
- expression models: the expressions of the Grammar VAE's space (122,880) that are not
  in its 100k dataset.

    python benchmarks/zoo_eval.py --data-dir ../shared/data [--limit 500] [--samples 1000] [--models a,b]

Writes ``benchmarks/results/zoo_eval.{csv,md}``; with ``--models`` the other models' rows
are kept from the table as it was.
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from _common import kept_rows, run, write_table
from latentbo.data import load_strings, set_data_dir
from latentbo.data.datasets import grammar_vae_expressions
from latentbo.evaluation import evaluate_model
from latentbo.models import load_model
from latentbo.models.zoo import CARD, ZOO, zoo_cards

TEST_SETS = {"zinc": "zinc250k-test (held-out ZINC250k, not in MOSES train)",
             "expressions": "Grammar-VAE expression space less its 100k dataset"}


def test_strings(task: str, limit: int) -> list[str]:
    if task == "zinc":
        return load_strings("zinc250k-test", allow_fallback=False)[0][:limit]
    seen = set(load_strings("expressions")[0])
    return [e for e in grammar_vae_expressions(122_880, seed=0) if e not in seen][:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--limit", type=int, default=500)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--models", default=None, help="Comma-separated zoo names (default: all).")
    ap.add_argument("--no-cards", action="store_true", help="Do not write the numbers into the cards.")
    args = ap.parse_args()
    if args.data_dir:
        set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    rows = []
    for card in zoo_cards():
        if args.models and card["name"] not in args.models.split(","):
            continue
        model = load_model(card["name"], kind="sequence")
        strings = test_strings(card["task"], args.limit)
        t0 = time.perf_counter()
        result = evaluate_model(model, strings, n_samples=args.samples, seed=0)
        rec, prior = result["reconstruction"], result["prior"]
        row = {"model": card["name"], "test_set": TEST_SETS[card["task"]], "n": rec["n"], "exact": rec["exact"],
               "exact_no_stereo": rec.get("exact_no_stereo"), "tanimoto": rec.get("tanimoto"),
               "skipped": rec["skipped"], "skipped_by_reason": json.dumps(rec["skipped_by_reason"]),
               "prior_valid": prior["valid"], "prior_fallback": prior["fallback"],
               "prior_saturated": prior["saturated"], "prior_radical": prior.get("radical"),
               "prior_unique": prior["unique"],
               "prior_qed": prior.get("qed"), "test_qed": prior.get("reference_qed"),
               "prior_aromatic": prior.get("aromatic"), "test_aromatic": prior.get("reference_aromatic"),
               "kl_score": prior.get("kl_score"), "fcd": prior.get("fcd"), "seconds": time.perf_counter() - t0}
        rows.append(row)
        if not args.no_cards:
            path = Path(str(ZOO / card["name"])) / CARD
            saved = json.loads(path.read_text())
            saved["user_eval"] = {**{k: v for k, v in row.items() if k not in ("model", "seconds", "skipped_by_reason")},
                                  "skipped_by_reason": rec["skipped_by_reason"], "samples": args.samples,
                                  "command": "python benchmarks/zoo_eval.py --data-dir DATA "
                                             f"--limit {args.limit} --samples {args.samples}",
                                  "measured": datetime.now(timezone.utc).strftime("%Y-%m-%d")}
            path.write_text(json.dumps(saved, indent=2) + "\n")
    if args.models:
        rows = kept_rows("zoo_eval", "model", {r["model"] for r in rows}) + rows
    write_table("zoo_eval", rows, notes="exact: canonical SMILES with stereo (a skipped molecule is a miss); "
                                        "prior_fallback: share of prior samples the semantic masks' fallback pass made; "
                                        "prior_saturated: share whose unpaired electrons the SELFIES codec made "
                                        "hydrogens; prior_radical: share of valid samples still with one; "
                                        "kl_score: GuacaMol's KL-divergence score of the prior samples against the "
                                        "test set (1 = same distribution); fcd: Fréchet ChemNet distance to it "
                                        "(fcd_torch's ChemNet; lower is closer).")


if __name__ == "__main__":
    run(main)
