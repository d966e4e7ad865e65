"""Molecule architectures at equal compute, measured as a user sees them.

    python benchmarks/molecule_architectures.py --data-dir ../shared/data --minutes 25 \\
        [--only NAME,...] [--parallel 2] [--limit 500] [--samples 500] [--runs runs/molarch]

Each candidate of ``CANDIDATES`` is trained (from scratch, or fine-tuned from a zoo
model) with ``latentbo train`` on the ZINC250k subset's training part (stereo and
charges kept; ``zinc250k-test`` held out) for the same wall-clock budget on one CPU
thread, then measured with ``latentbo models evaluate``'s code on the first ``--limit``
held-out molecules (exact reconstruction with stereo) and ``--samples`` prior samples
(validity, the share made by the semantic masks' fallback pass, uniqueness, QED,
aromatic share, GuacaMol's KL score). A candidate already trained in ``--runs`` is
measured again, not retrained.
Writes ``benchmarks/results/molecule_architectures.{csv,md}`` (rows of candidates not
run kept).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import torch
from _common import kept_rows, run, write_table

from latentbo.data import load_strings, set_data_dir
from latentbo.evaluation import evaluate_model
from latentbo.models import load_model
from latentbo.models.zoo import zoo_cards

#: name -> (what it is, ModelConfig fields over ``--task zinc --arch gmm_dae``, or
#: ``init_from``: a zoo model fine-tuned instead, its alphabet taking ZINC's new symbols).
CANDIDATES: dict[str, tuple[str, dict]] = {
    "grammar-fast": ("grammar, all positions at once (the zoo's default architecture)",
                     {"codec": "grammar", "decoder": "fast"}),
    "grammar-ar": ("grammar, autoregressive Transformer under the semantic masks",
                   {"codec": "grammar", "decoder": "ar"}),
    "selfies-ar": ("SELFIES, autoregressive Transformer 128 x 2", {"codec": "selfies", "decoder": "ar"}),
    "selfies-ar-wide": ("SELFIES, autoregressive Transformer 256 x 4, latent 128",
                        {"codec": "selfies", "decoder": "ar", "decoder_hidden": 256, "decoder_layers": 4,
                         "latent_dim": 128}),
    "smiles-ar": ("SMILES characters, autoregressive Transformer 128 x 2", {"codec": "character", "decoder": "ar"}),
    "selfies-ar-moses": ("selfies-ar pretrained on 200k MOSES molecules (zinc-selfies-gmm_dae), fine-tuned",
                         {"init_from": "zinc-selfies-gmm_dae"}),
}
BATCH, LR = 64, 1e-3  # the same for every candidate: a small dataset on a CPU


def train(name: str, runs: Path, minutes: float, data_dir: str | None, limit: int | None = None) -> Path:
    """Train ``name`` into ``runs/name`` (skipped when it finished there before; refused
    when a run there was stopped: its budget cannot be resumed as equal)."""
    out, done = runs / name, runs / f"{name}.done"
    if done.exists():
        return out
    if out.exists():
        raise SystemExit(f"{out} holds an unfinished run of {name}: delete it to train {name} again")
    fields = dict(CANDIDATES[name][1])
    base = ["--init-from", fields.pop("init_from")] if "init_from" in fields else ["--task", "zinc", "--arch", "gmm_dae"]
    cmd = [sys.executable, "-m", "latentbo.cli", *(["--data-dir", data_dir] if data_dir else []), "train",
           *base, "--dataset", "zinc250k", "--epochs", "1000",
           "--batch-size", str(BATCH), "--lr", str(LR), "--max-minutes", str(minutes), "--out", str(out),
           "--no-progress", *(["--limit", str(limit)] if limit else [])]
    with tempfile.TemporaryDirectory() as tmp:
        if fields:
            config = Path(tmp) / "config.toml"
            config.write_text("".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items()))
            cmd += ["--config", str(config)]
        log = runs / f"{name}.log"
        runs.mkdir(parents=True, exist_ok=True)
        with log.open("w") as f:
            subprocess.run(cmd, check=True, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    done.touch()
    return out


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def measure(name: str, out: Path, test: list[str], samples: int) -> dict:
    metrics = pd.read_csv(out / "metrics.csv")
    model = load_model(out, kind="sequence")
    result = evaluate_model(model, test, samples, seed=0)
    rec, prior = result["reconstruction"], result["prior"]
    start = CANDIDATES[name][1].get("init_from")
    return {"candidate": name, "what": CANDIDATES[name][0],
            "parameters": sum(p.numel() for p in model.parameters()),
            "pretrained_minutes": next(c for c in zoo_cards() if c["name"] == start)["wall_minutes"] if start else 0,
            "minutes": round(float(metrics["epoch_s"].sum()) / 60, 1), "epochs": len(metrics),
            "samples_per_s": round(float(metrics["samples_per_s"].mean()), 1),
            "val_token_acc": round(float(metrics["val_token_acc"].max()), 3),
            "exact": rec["exact"], "exact_no_stereo": rec["exact_no_stereo"], "tanimoto": _round(rec["tanimoto"]),
            "skipped": rec["skipped"], "prior_valid": prior["valid"], "prior_fallback": _round(prior["fallback"]),
            "prior_unique": prior["unique"], "prior_qed": _round(prior["qed"]),
            "test_qed": _round(prior["reference_qed"]), "prior_aromatic": _round(prior["aromatic"]),
            "test_aromatic": _round(prior["reference_aromatic"]), "kl_score": _round(prior["kl_score"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=os.environ.get("LATENTBO_DATA_DIR"))
    ap.add_argument("--minutes", type=float, default=25.0, help="training budget of every candidate")
    ap.add_argument("--only", default=",".join(CANDIDATES))
    ap.add_argument("--parallel", type=int, default=1, help="candidates trained side by side (one thread each)")
    ap.add_argument("--limit", type=int, default=500, help="held-out molecules reconstructed")
    ap.add_argument("--samples", type=int, default=500, help="prior samples")
    ap.add_argument("--runs", type=Path, default=Path("runs/molarch"))
    ap.add_argument("--name", default="molecule_architectures")
    ap.add_argument("--train-limit", type=int, default=None, help="train on the first N molecules (smoke tests)")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n]
    unknown = sorted(set(names) - set(CANDIDATES))
    if unknown:
        raise SystemExit(f"unknown candidates {unknown}; known: {', '.join(CANDIDATES)}")
    set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    with ThreadPoolExecutor(args.parallel) as pool:
        outs = list(pool.map(lambda n: train(n, args.runs, args.minutes, args.data_dir, args.train_limit), names))
    test, _ = load_strings("zinc250k-test", limit=args.limit, allow_fallback=False)
    rows = []
    for name, out in zip(names, outs):
        rows.append(measure(name, out, test, args.samples))
        print(rows[-1], flush=True)
    rows = kept_rows(args.name, "candidate", set(names)) + rows
    write_table(args.name, rows, notes=(
        f"Every candidate: GMM-DAE regulariser, trained on the ZINC250k subset's training part (22,445 "
        f"molecules, stereo and charges kept; from scratch, or fine-tuned from the zoo model that "
        f"pretrained_minutes of training made) with batch {BATCH}, lr {LR}, for the same wall-clock "
        f"budget on one CPU thread ({args.parallel} side by side on the 2-core machine); minutes: its epochs' "
        "time (the budget stops it before the next batch; the saved model is the best validation epoch). "
        f"exact / tanimoto: encode -> decode of the first {len(test)} molecules of zinc250k-test (stereo counted; "
        f"a molecule the codec cannot encode counts as a miss: skipped); prior_*: {args.samples} prior samples; "
        "prior_fallback: share made by the semantic masks' fallback pass (grammar only); kl_score: GuacaMol's "
        "KL-divergence score against the held-out molecules (1 = same distribution)."))


if __name__ == "__main__":
    run(main)
