"""Make the pretrained model zoo shipped in the package (``latentbo/zoo/``).

    python benchmarks/train_zoo.py --device cuda --minutes 25 [--data-dir DIR] [--only NAME,...]
    python benchmarks/train_zoo.py --package RUN_DIR --name NAME --provenance TEXT [--command CMD --commit C --device D]

The first form trains every model of ``SPECS`` side by side (one ``latentbo train``
process each, ``--max-minutes`` = the budget, so each stops before its next batch,
fits the ex-post GMM on its best epoch and saves), then packages them. The same command runs on CPU with small
budgets (``--limit`` caps the data; the tests use it). The second form packages a run
made elsewhere (e.g. an H100 checkpoint of ../shared/pretrained restored to fp32),
stating where it came from.

Packaging writes ``OUT/<name>/``: config.toml, meta.json, metrics.csv, model.safetensors
in fp16 and card.json (data, command, commit, device, wall time, epochs, training samples/s,
held-out exact reconstruction and token accuracy of the saved epoch, validity and
uniqueness of 1,000 prior samples), and the table ``benchmarks/results/train_zoo.{csv,md}``
of every card. ``--refresh`` recomputes the fields that come from each metrics.csv.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from _common import cast_floats, run, write_table
from safetensors.torch import load_file, save_file

from latentbo.metrics import sample_quality
from latentbo.models import load_model
from latentbo.models.zoo import CARD, CARD_FIELDS
from latentbo.training import saved_epoch

ROOT = Path(__file__).resolve().parents[1]
#: The zoo: name -> what `latentbo train` is given.
SPECS: dict[str, dict] = {
    "expressions-gmm_dae": {"task": "expressions", "arch": "gmm_dae", "decoder": "gru", "dataset": "expressions"},
    "zinc-gmm_dae": {"task": "zinc", "arch": "gmm_dae", "decoder": "fast", "dataset": "moses"},
    "zinc-gvae": {"task": "zinc", "arch": "gvae", "decoder": "fast", "dataset": "moses"},
    "zinc-selfies-gmm_dae": {"task": "zinc", "arch": "gmm_dae", "codec": "selfies", "decoder": "ar", "dataset": "moses"},
    # The default's candidate: drug-like data with stereo and charges (ZINC250k's training
    # part first, then MOSES, or MOSES made ZINC-like through --dataset), a wider model
    # (configs/zinc_druglike.toml); one model per GPU run: --only zinc-druglike --minutes 7.
    # SELFIES: every grammar model's prior is 67-92% fallback repairs, SELFIES' 0%
    # (benchmarks/results/molecule_architectures.md).
    # epochs: what 7 H200 minutes hold on ZINC + 322k ZINC-like MOSES (13.5 s an epoch beside a
    # second run), so that its cosine schedule ends inside the budget
    "zinc-druglike": {"task": "zinc", "arch": "gmm_dae", "codec": "selfies", "decoder": "ar",
                      "dataset": "zinc250k,moses", "config": "benchmarks/configs/zinc_druglike.toml", "epochs": 28},
    # The same data on the shipped default (its shape, its weights as the start), at a GPU batch
    # size; lr 3e-4 wrecked those weights in 6 steps of 512 (held-out 0.36 -> 0.007), 1e-4 -> 0.24.
    "zinc-selfies-gmm_dae-ft-gpu": {"init_from": "zinc-selfies-gmm_dae-ft", "dataset": "zinc250k,moses",
                                    "batch_size": 512, "lr": 5e-5},
}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def train_command(name: str, run: Path, device: str, minutes: float, limit: int | None, data_dir: str | None,
                  dataset: str | None = None, epochs: int | None = None) -> list[str]:
    """The arguments of ``latentbo train`` with the spec's options (each ``key: value`` a
    ``--key value``; ``dataset`` and ``epochs`` replace the spec's; epochs default to 100,
    the budget stopping the run); run as ``python -m latentbo.cli`` so a source checkout
    without the console script (the GPU machine's) runs it too."""
    spec = {"epochs": 100, **SPECS[name], **({"dataset": dataset} if dataset else {}),
            **({"epochs": epochs} if epochs else {})}
    options = [a for k, v in spec.items()
               for a in (f"--{k.replace('_', '-')}", str(ROOT / v) if k == "config" else str(v))]
    cmd = [*(["--data-dir", data_dir] if data_dir else []), "train", *options,
           "--device", device, "--max-minutes", str(minutes), "--out", str(run), "--no-progress"]
    return cmd + (["--limit", str(limit)] if limit else []) + (["--resume"] if (run / "training_state.pt").exists() else [])


def measured(metrics: pd.DataFrame) -> dict:
    """What a run's metrics.csv says: epochs, mean training throughput, and the
    held-out reconstruction of the saved epoch."""
    best = saved_epoch(metrics)
    return {"epochs": len(metrics), "samples_per_s": round(float(metrics["samples_per_s"].mean()), 1),
            "held_out_exact": float(best["val_seq_acc"]), "held_out_token_acc": float(best["val_token_acc"])}


def package(run: Path, name: str, out: Path, card: dict, samples: int = 1000) -> dict:
    """Copy a finished run into ``out/name`` with fp16 weights and its card."""
    model = load_model(run)
    metrics = pd.read_csv(run / "metrics.csv")
    quality, _ = sample_quality(model, samples, seed=0)
    dest = out / name
    dest.mkdir(parents=True, exist_ok=True)
    for f in ("config.toml", "meta.json", "metrics.csv"):
        shutil.copy(run / f, dest / f)
    weights = load_file(run / "model.safetensors")
    save_file(cast_floats(weights, torch.float16), dest / "model.safetensors")
    report = run / "data_report.json"
    data = json.loads(report.read_text()).get("source") if report.exists() else None
    card = {"name": name, "task": model.config.task, "arch": model.config.model, "codec": model.codec.kind,
            "decoder": model.config.decoder, "data": data, "default": False,  # a task's default is chosen by hand
            "prior_valid": quality["valid_fraction"],
            "prior_unique": quality["unique_fraction"], **measured(metrics),
            **{k: v for k, v in card.items() if v is not None}}
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise SystemExit(f"card of {name} lacks {missing}")
    (dest / CARD).write_text(json.dumps(card, indent=2) + "\n")
    torch.testing.assert_close(load_model(dest).state_dict(), model.state_dict(), atol=2e-3, rtol=2e-3)
    return card


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--minutes", type=float, default=25.0, help="training budget of every model (they run side by side)")
    ap.add_argument("--only", default=",".join(SPECS))
    ap.add_argument("--limit", type=int, default=None, help="train on the first N strings (CPU tests)")
    ap.add_argument("--dataset", default=None, help="train every --only model on this instead of its spec's data")
    ap.add_argument("--epochs", type=int, default=None,
                    help="every --only model's epochs instead of its spec's (a cosine schedule ends there)")
    ap.add_argument("--data-dir", default=os.environ.get("LATENTBO_DATA_DIR"))
    ap.add_argument("--runs", type=Path, default=Path("runs/zoo"), help="training folders")
    ap.add_argument("--out", type=Path, default=ROOT / "latentbo" / "zoo", help="where the zoo is written")
    ap.add_argument("--samples", type=int, default=1000, help="prior samples scored per card")
    ap.add_argument("--table", default="train_zoo", help="results table name ('' for none)")
    ap.add_argument("--package", type=Path, default=None, help="package this finished run instead of training")
    ap.add_argument("--name", help="zoo name of --package")
    ap.add_argument("--provenance", help="--package: where the run came from")
    ap.add_argument("--command", help="--package: the command that trained it")
    ap.add_argument("--commit", help="--package: the commit it was trained from")
    ap.add_argument("--wall-minutes", type=float, help="--package: its training wall time")
    ap.add_argument("--data", help="--package: what it was trained on (default: its data_report.json source)")
    ap.add_argument("--refresh", action="store_true",
                    help="recompute every card's fields that come from its metrics.csv (after adding one), then the table")
    args = ap.parse_args()

    cards = []
    if args.refresh:
        for p in sorted(args.out.iterdir()):
            if (p / CARD).is_file():
                card = {**json.loads((p / CARD).read_text()), **measured(pd.read_csv(p / "metrics.csv"))}
                card.setdefault("codec", json.loads((p / "meta.json").read_text())["codec"]["kind"])
                (p / CARD).write_text(json.dumps(card, indent=2) + "\n")
    elif args.package is not None:
        if not (args.name and args.provenance and args.command and args.commit):
            raise SystemExit("--package needs --name, --provenance, --command and --commit")
        cards.append(package(args.package, args.name, args.out, {
            "command": args.command, "commit": args.commit, "device": args.device, "provenance": args.provenance,
            "wall_minutes": args.wall_minutes, "data": args.data}, args.samples))
    else:
        names = args.only.split(",")
        procs = {}
        t0 = time.monotonic()
        args.runs.mkdir(parents=True, exist_ok=True)
        for name in names:  # side by side: one process each, sharing the device
            cmd = train_command(name, args.runs / name, args.device, args.minutes, args.limit, args.data_dir,
                                args.dataset, args.epochs)
            with open(args.runs / f"{name}.log", "a") as log:  # the child keeps its own handle
                proc = subprocess.Popen([sys.executable, "-m", "latentbo.cli", *cmd], stdout=log, stderr=subprocess.STDOUT)
                procs[name] = (cmd, proc, time.monotonic())
        for name, (cmd, proc, start) in procs.items():
            if proc.wait() != 0:
                raise SystemExit(f"{name} failed: see {args.runs / name}.log")
            cards.append(package(args.runs / name, name, args.out, {
                "command": shlex.join(["latentbo", *cmd]), "commit": _commit(), "device": args.device,
                "wall_minutes": round((time.monotonic() - start) / 60, 1),
                "provenance": f"benchmarks/train_zoo.py, {len(names)} models side by side on one {args.device}"},
                args.samples))
        print(f"zoo trained in {(time.monotonic() - t0) / 60:.1f} min", flush=True)
    if args.table:
        existing = [json.loads((p / CARD).read_text()) for p in sorted(args.out.iterdir()) if (p / CARD).is_file()]
        write_table(args.table, [{k: c.get(k) for k in CARD_FIELDS} for c in existing],
                    "Every model in the zoo (latentbo/zoo/*/card.json). held_out_* = the saved epoch (lowest "
                    "validation loss) on the run's own 10% validation split; prior_* over 1,000 prior samples.")
    for c in cards:
        print(json.dumps(c), flush=True)


if __name__ == "__main__":
    run(main)
