"""Train every registered model and measure throughput, held-out reconstruction
and prior-sample validity.

    python benchmarks/train_models.py --profile quick [--data-dir ../shared/data] [--models gvae,grae]

Profiles:
  quick  CPU: expressions (first 20k, 3 epochs, all models); decoder comparison at
         equal wall time (GMM-DAE, one training budget per decoder, the same data and
         seed): the reference GRU (expressions 3 x GRU(100), ZINC 3 x GRU(501)) vs the
         fast (positional) and ar (autoregressive) Transformers, on 20k expressions
         (4 minutes each) and 5,000 ZINC molecules (6 minutes each).
         `--models ''` runs the decoder comparison alone.
  full   GPU: expressions 100k and the ZINC subset, 50 epochs, paper sizes; decoders
         25 minutes each.

Writes benchmarks/results/train_models_<profile>.{csv,md} (expressions) and
train_decoders_<profile>.{csv,md} (the decoder comparison).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from _common import run, write_table

from latentbo.data import load_strings, set_data_dir
from latentbo.metrics import sample_quality
from latentbo.models import MODELS, ModelConfig
from latentbo.training import train

PROFILES = {
    "quick": {"expr_limit": 20_000, "expr_epochs": 3, "zinc_limit": 5_000, "samples": 500,
              "decoder_minutes": {"expressions": 4, "zinc": 6}},
    "full": {"expr_limit": None, "expr_epochs": 50, "zinc_limit": None, "samples": 5000,
             "decoder_minutes": {"expressions": 25, "zinc": 25}},
}


def run_one(task: str, model: str, strings: list[str], epochs: int, samples: int, max_minutes: float | None = None,
            **overrides) -> dict:
    cfg = ModelConfig.for_model(task, model, epochs=epochs, patience=epochs, **overrides)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        result = train(cfg, strings, tmp, progress=False, max_minutes=max_minutes)
        wall = time.perf_counter() - t0
        last = result.metrics.iloc[-1]
        t0 = time.perf_counter()
        quality, _ = sample_quality(result.model, samples, seed=0, reference=strings)
        decode_s = time.perf_counter() - t0
    return {
        "task": task, "model": model, "decoder": cfg.decoder, "regularizer": cfg.regularizer, "n_train": len(strings),
        "epochs": len(result.metrics), "train_samples_per_s": float(result.metrics["samples_per_s"].mean()),
        "wall_s": wall, "val_token_acc": float(last["val_token_acc"]), "val_seq_acc": float(last["val_seq_acc"]),
        "prior_valid": quality["valid_fraction"], "prior_unique": quality["unique_fraction"],
        "prior_novel": quality["novel_fraction"], "decodes_per_s": samples / decode_s,
    }


def compare_decoders(task: str, strings: list[str], minutes: float, samples: int) -> list[dict]:
    """GMM-DAE with each decoder for the same wall-clock budget (``max_minutes``: no
    batch starts after it; the model measured is the best finished epoch), same data
    and seed."""
    rows = []
    for decoder in ("gru", "fast", "ar"):
        sizes = {"decoder_hidden": 501, "decoder_layers": 3} if decoder == "gru" and task == "zinc" else {}
        rows.append({**run_one(task, "gmm_dae", strings, 10_000, samples, max_minutes=minutes, decoder=decoder,
                               **sizes), "budget_min": minutes})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--skip-decoders", action="store_true")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    p = PROFILES[args.profile]
    torch.manual_seed(0)
    torch.set_num_threads(1)  # equal budgets mean equal compute: nothing else shares the core
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
    if not args.skip_decoders:
        exprs, expr_src = load_strings("expressions", limit=p["expr_limit"])
        mols, mol_src = load_strings("zinc250k", limit=p["zinc_limit"])
        rows = [*compare_decoders("expressions", exprs, p["decoder_minutes"]["expressions"], p["samples"]),
                *compare_decoders("zinc", mols, p["decoder_minutes"]["zinc"], p["samples"] // 5)]
        write_table(f"train_decoders_{args.profile}", rows, f"Profile {args.profile}: {p}. Expressions from {expr_src}, "
                    f"molecules from {mol_src}. {notes} decodes_per_s: prior samples decoded per second (ar: step by "
                    "step with cached keys/values; molecules with the semantic masks). One torch thread.")


if __name__ == "__main__":
    run(main)
