"""How many L-BFGS iterations a campaign's GP fit needs: cold fits against fits warm-started
from the previous iteration's hyperparameters, on a molecule model's codes.

A campaign refits its GP every iteration on a subset that changes (best half + random half
of ``--gp-max`` points); each fit may start from the previous one's hyperparameters. Here a
pair of subsets (seeds ``s`` and ``s + 1`` of 1,000 scored ZINC codes) stands for two
iterations: fit on the first, then fit the second cold or warm with each iteration budget.
Measured on the codes not in the second subset: held-out Gaussian log likelihood, Pearson
correlation of mean and score, seconds (one thread).

    python benchmarks/gp_fit_budget.py --data-dir ../shared/data [--model zinc-gmm_dae-ft]
        [--objective qed] [--pairs 3]

Writes ``benchmarks/results/gp_fit_budget.{csv,md}``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from _common import run, write_table
from latentbo.bo.surrogate import fit_gp, select_subset
from latentbo.data import load_strings, set_data_dir
from latentbo.models import load_model
from latentbo.objectives import make_objective

#: (label, warm, maxiter); the campaign's settings are marked in the table.
FITS = [("cold", False, 200), ("cold", False, 50), ("warm", True, 20), ("warm", True, 50), ("warm", True, 200)]
CAMPAIGN = {("cold", 200), ("warm", 20)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--model", default="zinc-gmm_dae-ft")
    ap.add_argument("--objective", default="qed")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--points", type=int, default=500)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    strings, _ = load_strings("zinc250k", limit=args.n, allow_fallback=False)
    model = load_model(args.model, kind="sequence")
    codes, batch = model.encode_strings(strings)
    scores = np.asarray(make_objective(args.objective)([strings[i] for i in batch.kept]), dtype=float)
    codes = codes.double()
    bounds = torch.stack([codes.min(0).values, codes.max(0).values])

    def subset(seed: int) -> np.ndarray:
        return select_subset(scores, args.points, np.random.default_rng(seed))

    rows = []
    for pair in range(args.pairs):
        first, second = subset(2 * pair + 1), subset(2 * pair + 2)
        y = torch.from_numpy(scores).unsqueeze(-1)
        warm = fit_gp(codes[first], y[first], bounds).state_dict()
        rest = np.setdiff1d(np.arange(len(scores)), second)
        for label, is_warm, maxiter in FITS:
            t0 = time.perf_counter()
            gp = fit_gp(codes[second], y[second], bounds, warm_state=warm if is_warm else None, maxiter=maxiter)
            seconds = time.perf_counter() - t0
            with torch.no_grad():
                post = gp.posterior(codes[rest], observation_noise=True)
            mean, var, target = post.mean.squeeze(-1), post.variance.squeeze(-1), y[rest].squeeze(-1)
            ll = (-0.5 * (target - mean).pow(2) / var - 0.5 * torch.log(2 * math.pi * var)).mean()
            rows.append({"pair": pair, "fit": f"{label}, {maxiter} iterations"
                         + (" (campaign)" if (label, maxiter) in CAMPAIGN else ""),
                         "fit_s": round(seconds, 2), "test_ll": round(float(ll), 3),
                         "pearson": round(float(np.corrcoef(mean.numpy(), target.numpy())[0, 1]), 3)})
    for label, _, maxiter in FITS:
        mine = [r for r in rows if r["fit"].startswith(f"{label}, {maxiter} ")]
        rows.append({"pair": "mean", "fit": mine[0]["fit"], **{k: round(float(np.mean([r[k] for r in mine])), 3)
                                                               for k in ("fit_s", "test_ll", "pearson")}})
    write_table("gp_fit_budget", rows, notes=(
        f"{args.model} codes of the first {args.n} zinc250k molecules scored by {args.objective}; each fit on "
        f"{args.points} of them (best half + random half, as the campaign's --gp-max), measured on the other "
        f"{args.n - args.points}. warm: started from the fit on the pair's other subset. One CPU thread."))


if __name__ == "__main__":
    run(main)
