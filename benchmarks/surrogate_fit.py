"""How well each surrogate predicts the objective from a model's codes of the whole
dataset: the Grammar VAE's check of its sparse GP (10% of the encoded dataset held
out; test RMSE and log likelihood), and how the sparse GP's training settings were chosen.

    python benchmarks/surrogate_fit.py --data-dir ../shared/data [--models expressions-gmm_dae,runs/conv/gvae]

Per model: its codes and ``expr`` scores of all 100k expressions (as a campaign with
``init_size = 100000`` computes them, cached under --work), split 90/10 with seed 0.
Rows: a constant (the training mean and standard deviation: what any GP must beat);
the exact GP on the campaign's 500-point subset (best 250 + random 250) and on 2,000
random codes; the sparse variational GP (500 inducing points) on all 90,000 with a few
optimiser settings, the campaign's default marked. Scores are maximised negated
log(1+MSE); RMSE is in score units. Writes benchmarks/results/surrogate_fit.{csv,md}.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch

from _common import run, write_table
from latentbo.bo import Campaign, CampaignConfig
from latentbo.bo.surrogate import fit_gp, fit_sparse_gp, select_subset
from latentbo.data.datasets import set_data_dir

#: (lr, epochs, batch size) of the sparse fits compared; the first is fit_sparse_gp's default.
SPARSE_SETTINGS = [(0.05, 20, 5000), (0.01, 20, 5000), (0.1, 10, 2000)]


def held_out(mean: torch.Tensor, var: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Test RMSE and mean Gaussian log likelihood of ``n x 1`` targets."""
    ll = -0.5 * (mean - y).pow(2) / var - 0.5 * torch.log(2 * math.pi * var)
    return {"test_rmse": round(float((mean - y).pow(2).mean().sqrt()), 3), "test_ll": round(float(ll.mean()), 3)}


def predict(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        post = model.posterior(x, observation_noise=True)
        return post.mean, post.variance


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="expressions-gmm_dae", help="comma-separated model names or folders")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--work", type=Path, default=Path("runs/surrogate_fit"), help="cache of the encoded dataset")
    args = ap.parse_args()
    if args.data_dir:
        set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    rows = []
    for name in args.models.split(","):
        cfg = CampaignConfig(objective="expr", init_size=100000)
        campaign = Campaign.from_dir(name, cfg, args.work / Path(name).name)
        codes, scores, _, _ = campaign.initial_data(progress=True)
        ok = np.flatnonzero(np.isfinite(scores))
        x, y = codes[ok].double(), -torch.from_numpy(scores[ok]).double().unsqueeze(-1)
        perm = np.random.default_rng(0).permutation(len(y))
        n_train = int(round(0.9 * len(y)))
        tr, te = perm[:n_train], perm[n_train:]
        bounds = torch.stack([x[tr].min(0).values, x[tr].max(0).values])
        base = {"model": Path(name).name, "train": n_train, "test": len(te)}
        mu, sd = y[tr].mean(), y[tr].std()
        rows.append({**base, "surrogate": "constant (train mean, std)", "points": n_train, "fit_s": 0.0,
                     **held_out(mu.expand(len(te), 1), sd.pow(2).expand(len(te), 1), y[te])})
        rng = np.random.default_rng(0)
        for label, idx in [("exact, best 250 + random 250 (campaign)", select_subset(y[tr, 0].numpy(), 500, rng)),
                           ("exact, random 2,000", rng.choice(n_train, 2000, replace=False))]:
            t0 = time.perf_counter()
            gp = fit_gp(x[tr][idx], y[tr][idx], bounds)
            rows.append({**base, "surrogate": label, "points": len(idx), "fit_s": round(time.perf_counter() - t0, 1),
                         **held_out(*predict(gp, x[te]), y[te])})
        for i, (lr, epochs, batch) in enumerate(SPARSE_SETTINGS):
            t0 = time.perf_counter()
            gp = fit_sparse_gp(x[tr], y[tr], bounds, inducing=500, seed=0, epochs=epochs, batch_size=batch, lr=lr)
            label = f"sparse, 500 inducing, Adam lr {lr}, {epochs} epochs of {batch}" + (" (campaign)" if i == 0 else "")
            rows.append({**base, "surrogate": label, "points": n_train, "fit_s": round(time.perf_counter() - t0, 1),
                         **held_out(*predict(gp, x[te]), y[te])})
            print(rows[-1], flush=True)
    write_table("surrogate_fit", rows,
                "Held-out (10%) RMSE and mean log likelihood of the scores (negated log(1+MSE)), predictive "
                "variance with the noise; one CPU thread. The Grammar VAE reports the same two numbers for its "
                "sparse GP (its Table 2); they are not reprinted here because they could not be checked offline.")


if __name__ == "__main__":
    run(main)
