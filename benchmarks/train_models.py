"""Train every registered model and measure throughput, held-out reconstruction
and prior-sample validity.

    python benchmarks/train_models.py --profile quick [--data-dir ../shared/data] [--models gvae,grae]

Profiles:
  quick  CPU: expressions (first 20k, 3 epochs, all models); ZINC decoder comparison
         (2,000 molecules, 3 epochs): reference 3 x GRU(501) vs the fast decoder at
         equal epochs, and the fast decoder again at the reference's wall time.
         `--models ''` runs the decoder comparison alone.
  full   GPU: expressions 100k and ZINC subset, 50 epochs, paper sizes.

Writes benchmarks/results/train_models_<profile>.{csv,md} (expressions) and
train_decoders_<profile>.{csv,md} (the ZINC decoder comparison).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from _common import write_table
from latentbo.data import load_strings, set_data_dir
from latentbo.metrics import sample_quality
from latentbo.models import MODELS, ModelConfig
from latentbo.training import train

PROFILES = {
    "quick": {"expr_limit": 20_000, "expr_epochs": 3, "zinc_limit": 2_000, "zinc_epochs": 3, "samples": 500},
    "full": {"expr_limit": None, "expr_epochs": 50, "zinc_limit": None, "zinc_epochs": 50, "samples": 5000},
}


def run_one(task: str, model: str, strings: list[str], epochs: int, samples: int, **overrides) -> dict:
    cfg = ModelConfig.for_model(task, model, epochs=epochs, patience=epochs, **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train(cfg, strings, tmp, progress=False)
        wall = time.perf_counter() - t0
        last = result.metrics.iloc[-1]
        quality, _ = sample_quality(result.model, samples, seed=0, reference=strings)
    return {
        "task": task, "model": model, "decoder": cfg.decoder, "regularizer": cfg.regularizer, "n_train": len(strings),
        "epochs": len(result.metrics), "train_samples_per_s": float(result.metrics["samples_per_s"].mean()),
        "wall_s": wall, "val_token_acc": float(last["val_token_acc"]), "val_seq_acc": float(last["val_seq_acc"]),
        "prior_valid": quality["valid_fraction"], "prior_unique": quality["unique_fraction"],
        "prior_novel": quality["novel_fraction"],
    }


def compare_decoders(mols: list[str], epochs: int, samples: int) -> list[dict]:
    """ZINC GVAE with the reference 3 x GRU(501) decoder vs the fast decoder, same
    data and seed: both for ``epochs`` epochs (equal samples seen), then the fast
    decoder again for as many epochs as fit in the reference's wall time."""
    rows = []
    for decoder, budget in (("gru", "equal epochs"), ("fast", "equal epochs"), ("fast", "equal wall time")):
        if budget == "equal wall time":
            n_epochs = max(epochs, round(rows[0]["wall_s"] / (rows[1]["wall_s"] / epochs)))
        else:
            n_epochs = epochs
        sizes = {"decoder_hidden": 501, "decoder_layers": 3} if decoder == "gru" else {}
        rows.append({**run_one("zinc", "gvae", mols, n_epochs, samples, decoder=decoder, **sizes), "budget": budget})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--skip-zinc", action="store_true")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    p = PROFILES[args.profile]
    torch.manual_seed(0)
    notes = ("val_* on a 10% held-out split; val_seq_acc = every production right = exact greedy reconstruction. "
             "prior_* on decodes of prior samples (molecules: RDKit-valid). Seeds fixed (config seed 0).")
    models = [m for m in args.models.split(",") if m]
    if models:
        exprs, expr_src = load_strings("expressions", limit=p["expr_limit"])
        rows = []
        for model in models:
            rows.append(run_one("expressions", model, exprs, p["expr_epochs"], p["samples"]))
            print(rows[-1], flush=True)
        write_table(f"train_models_{args.profile}", rows, f"Profile {args.profile}: {p}. Expressions from {expr_src}. {notes}")
    if not args.skip_zinc:
        mols, mol_src = load_strings("zinc250k", limit=p["zinc_limit"])
        rows = compare_decoders(mols, p["zinc_epochs"], p["samples"] // 5)
        write_table(f"train_decoders_{args.profile}", rows, f"Profile {args.profile}: {p}. Molecules from {mol_src}. {notes}")


if __name__ == "__main__":
    main()
