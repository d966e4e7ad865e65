"""The documented sweep behind each baseline's preset: a few values of the loss
weight a paper leaves open, on the expressions, chosen by held-out exact
reconstruction and prior validity (never by a BO score).

    python benchmarks/baseline_sweep.py --data-dir ../shared/data [--models gcvvae,grae] [--limit 20000] [--epochs 15] [--configs JSON ...]

Each row trains one setting from scratch (seed 0, 10% held out, one torch thread)
and reports the best epoch's held-out exact reconstruction (``val_seq_acc``) and
the validity / uniqueness of 500 prior samples; ``--configs`` repeats every row with each of
the model settings given (e.g. the encoder: ``'{}' '{"conv_channels": [9, 9, 10]}'``). The first setting of each model is
the one it had before the sweep. Writes benchmarks/results/baseline_sweep.{csv,md}.
"""

from __future__ import annotations

import argparse
import json

import torch

from _common import run, write_table
from train_models import run_one
from latentbo.data import load_strings, set_data_dir

#: model -> settings tried (``reg_params``; the first is the pre-sweep preset).
GRID: dict[str, list[dict]] = {
    "gmm_dae": [{}],
    "gcvvae": [{"beta": 1.0}, {"beta": 0.1}, {"beta": 0.01}, {"beta": 0.001}, {"beta": 0.0001}],
    "grae": [{"beta": 1.0}, {"beta": 0.1}, {"beta": 0.01}, {"beta": 0.001}],
    "gvae": [{"beta": 1.0}, {"beta": 0.1}, {"beta": 1.0, "noise_std": 0.1}, {"kl_reduction": "sum", "noise_std": 1.0}],
    "gwae": [{"lam": 10.0}, {"lam": 1.0}, {"lam": 100.0}, {"lam": 1000.0}],
    "edvae": [{"weight": 1.0}, {"weight": 0.1}, {"weight": 0.01}, {"weight": 0.001}],
    "welbo": [{"lambda0": 1.0}, {"lambda0": 0.1, "lambda_min": 0.01}, {"lambda0": 0.01, "lambda_min": 0.001}],
    "cvae": [{"beta": 1.0}, {"beta": 0.1}, {"beta": 0.01}, {"beta": 0.001}],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--models", default=",".join(GRID))
    ap.add_argument("--only", nargs="*", default=None, metavar="MODEL=JSON",
                    help="run just these settings, e.g. gvae='{\"beta\": 0.1}' (default: the whole GRID)")
    ap.add_argument("--limit", type=int, default=20_000)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--configs", type=json.loads, nargs="*", default=None, metavar="JSON",
                    help="run every row with each of these model settings (other than reg_params), "
                         "e.g. '{}' '{\"conv_channels\": [9, 9, 10]}'")
    ap.add_argument("--name", default="baseline_sweep")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    exprs, src = load_strings("expressions", limit=args.limit)
    if args.only is not None:
        todo = [(m, json.loads(p)) for m, _, p in (o.partition("=") for o in args.only)]
    else:
        todo = [(m, p) for m in args.models.split(",") for p in GRID[m]]
    rows = []
    for (model, params), config in ((t, c) for t in todo for c in (args.configs or [{}])):
        row = run_one("expressions", model, exprs, args.epochs, 500, reg_params=params, **config)
        rows.append({"model": model, "reg_params": json.dumps(params),
                     **({"config": json.dumps(config)} if args.configs else {}), **{k: v for k, v in row.items()
                     if k not in ("task", "model", "decoder", "regularizer", "n_train")}})
        print(rows[-1], flush=True)
        write_table(args.name, rows, f"Expressions from {src}, first {args.limit}, {args.epochs} epochs, seed 0. "
                    "val_seq_acc = held-out exact reconstruction at the last epoch; prior_* over 500 prior samples.")


if __name__ == "__main__":
    run(main)
