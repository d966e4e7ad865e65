"""Seconds a molecule campaign spends on 250 evaluations, by phase, on one CPU thread: what
``latentbo bo --model MODEL --objective qed`` runs with its molecule defaults.

One trial, 1,000 starting ZINC molecules (encoded and scored once: reported apart), 5
batches of 50. Phases as the campaign records them: GP fit, acquisition (proposals,
re-proposals of repeats included; graph-ga: breeding, encoding and choosing), decoding; the
objective's own seconds are shown apart (the target excludes them); retraining and inversion
count as search. Target: fit + acquisition + decoding + retraining + inversion <= 60 s.

    python benchmarks/campaign_speed.py --data-dir ../shared/data [--model zinc-druglike]
        [--runs 3] [--label now] [--config KEY=VALUE ...] [--out runs/campaign_speed]

Writes ``benchmarks/results/campaign_speed.{csv,md}`` (rows of other labels kept: run the
script at an earlier commit with another ``--label`` for the before row).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import torch

from _common import kept_rows, run, write_table
from latentbo.bo import Campaign, CampaignConfig
from latentbo.data import set_data_dir

#: ``latentbo bo``'s molecule defaults, spelled out so that an earlier commit runs the same campaign.
DEFAULTS = {"acquisition": "graph-ga", "gp_max": 500, "n_decode": 10, "retrain_every": 0, "joint": False}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir")
    ap.add_argument("--model", default="zinc-druglike")
    ap.add_argument("--runs", type=int, default=3, help="Campaigns (seeds 0 .. runs-1); the table has medians.")
    ap.add_argument("--label", default="now")
    ap.add_argument("--config", action="append", default=[], help="KEY=VALUE (JSON) over the defaults.")
    ap.add_argument("--out", type=Path, default=Path("runs/campaign_speed"))
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    settings = dict(DEFAULTS)
    for item in args.config:
        key, _, value = item.partition("=")
        settings[key] = json.loads(value)
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True,  # noqa: E731
                                    cwd=Path(__file__).parent).stdout.strip()
    # a row measured before its change was committed names the parent and says so
    commit = git("rev-parse", "--short", "HEAD") + ("+changes" if git("status", "--porcelain", "--", "latentbo") else "")
    per_run = []
    for seed in range(args.runs):
        out = args.out / f"{args.label}-{seed}"
        shutil.rmtree(out, ignore_errors=True)
        cfg = CampaignConfig(objective="qed", iterations=5, batch=50, trials=1, seed=seed, init_size=1000,
                             dataset="zinc250k", **settings)
        t0 = time.perf_counter()
        campaign = Campaign.from_dir(args.model, cfg, out)
        summary = campaign.run(progress=False)
        total = time.perf_counter() - t0
        phases = campaign.phase_seconds()
        search = sum(phases[k] for k in ("fit", "acquisition", "decoding", "retraining", "inversion"))
        per_run.append({**phases, "search": search, "start": total - search - phases["objective"],
                        "best_new": summary["top3"]["top1"]["mean"], "evaluations": summary["evaluations"]})
    med = {k: float(np.median([r[k] for r in per_run])) for k in per_run[0]}
    row = {"label": args.label, "commit": commit, "model": args.model, "settings": ", ".join(f"{k} {v}" for k, v in settings.items()),
           "runs": args.runs, "evaluations": int(med["evaluations"]), "fit_s": round(med["fit"], 1),
           "acquisition_s": round(med["acquisition"], 1), "decoding_s": round(med["decoding"], 1),
           "fit+acq+decode_s": round(med["fit"] + med["acquisition"] + med["decoding"], 1),
           "retraining_s": round(med["retraining"], 1), "search_s": round(med["search"], 1),
           "target_60s": "met" if med["search"] <= 60 else "missed",
           "objective_s": round(med["objective"], 2), "start_s": round(med["start"], 1),
           "best_new_qed": round(med["best_new"], 3)}
    write_table("campaign_speed", kept_rows("campaign_speed", "label", {args.label}) + [row], notes=(
        "Model zinc-gmm_dae-ft where the model column shows -; objective qed, 1,000 starting zinc250k molecules, 5 batches of 50, one trial; medians of "
        "the runs (seeds 0, 1, ...). search_s: fit + acquisition + decoding + retraining + inversion (where it shows -: fit+acq+decode_s, nothing else was counted). start_s: loading the model, encoding and scoring the starting molecules, writing "
        "reports (outside the target). One CPU thread (torch.set_num_threads(1))."))


if __name__ == "__main__":
    run(main)
