"""The GMM-DAE paper's Tables 2-3 with our models, side by side with the paper.

    python benchmarks/bo_table.py benchmarks/studies/quick.toml --out runs/studies/quick [--data-dir ../shared/data]

A profile is a study file (benchmarks/studies/: quick, quick-zinc,
quick-sequential, paper, full; each says what it runs and how long it takes) run
by the study runner, so a benchmark table and `latentbo study run` are one recipe:
trained models and campaigns are cells in --out, finished ones are skipped and an
interrupted run resumes. Writes benchmarks/results/<study name>.{csv,md}: the
study table (mean ± std over trials, the paper's columns beside ours, the trials
that reached the objective's optimum) plus a row for every group not finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd
from _common import run, write_table

from latentbo.bo.paper import paper_row
from latentbo.data import set_data_dir
from latentbo.errors import StudyError
from latentbo.study import ExecutorSettings, StudySpec, aggregate, make_executor, run_study

NOTES = ("Ours: mean ± std over trials (seeds in OUT/groups/<group>/summary.json). Expressions: lower is better "
         "(0 = the target 1/3 + x + sin(x*x)); molecules: normalised penalized logP, higher is better. val_seq_acc: "
         "the model's held-out sequence accuracy at its saved epoch (every position right: for "
         "the grammar codec, exact greedy reconstruction). initial: strings drawn from the dataset as the GP's "
         "initial data (the dataset's 100,000 for the Grammar VAE protocol the paper follows: it holds the target); "
         "initial_best: their best score (top-k and reached_optimum count proposals only). surrogate: exact "
         "(GP on 500 of the initial codes: best 250 + random 250) or sparse (variational GP on all of them, 500 "
         "inducing points: the Grammar VAE's); groups ending -mean: qLogEI improves on the GP's best posterior "
         "mean at its codes instead of the best score seen. Fraction valid: "
         "decodes that are grammar-complete "
         "(molecules: RDKit-valid) with a finite score; average score: mean over valid decodes; reached_optimum: "
         "trials whose best is the objective's optimum (expressions: the target itself, score 0). Paper columns: "
         "GMM-DAE paper Tables 2-3 (their protocol: models trained to convergence, 5 trials); for expr_wr the best "
         "log(1+MSE) of weighted retraining, LOL-BO and CoBO at 500 evaluations.")


def not_run(spec: StudySpec, table: pd.DataFrame) -> list[dict]:
    """A row for each group of ``spec`` with no finished campaign in ``table``."""
    done = set() if table.empty else set(table["group"])
    rows = {}
    for c in spec.cells():
        group = c.id.split("/")[1]
        if c.kind == "bo" and group not in done:
            s = c.settings
            rows[group] = {"group": group, "task": s["task"], "model": s["model"], "objective": s["objective"],
                           "acquisition": s["acquisition"], "evaluations": "not run",
                           **paper_row(s["task"], s["model"], s["objective"])}
    return list(rows.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, help="a study file, e.g. benchmarks/studies/quick.toml")
    ap.add_argument("--out", type=Path, required=True, help="the study's run folder (resumed when it exists)")
    ap.add_argument("--profile", default=None, help="a profile of the study file")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--executor", default="serial", help="serial | process | ray (`latentbo study run --help`)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--name", default=None, help="results table name (default: the study's name)")
    ap.add_argument("--seed", type=int, default=None,
                    help="overrides the study's seed: another draw of every cell's seed (with bo_cells = campaign, "
                         "of the initial strings); give it its own --out")
    ap.add_argument("--redo-stale", action="store_true",
                    help="rerun the campaign cells whose [use] model was retrained since (the old ones go to OUT/stale/)")
    ap.add_argument("--aggregate-only", action="store_true",
                    help="write the table from the cells already finished in --out; the others get a 'not run' row")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    spec = StudySpec.from_toml(args.study, args.profile)
    if args.seed is not None:
        spec = dataclasses.replace(spec, seed=args.seed)
    failed = None
    if args.aggregate_only:
        table = aggregate(spec, args.out)
    else:
        ex = make_executor(args.executor, ExecutorSettings.sized(args.executor, spec.threads, spec.gpus, args.workers))
        try:
            run_study(spec, args.out, ex, data_dir=args.data_dir, redo_stale=args.redo_stale)
        except StudyError as exc:  # the finished cells are aggregated; the table shows the rest as not run
            failed = exc
        finally:
            ex.close()
        path = args.out / "study_table.csv"
        table = pd.read_csv(path) if path.exists() else pd.DataFrame()
    rows = table.astype(object).where(table.notna(), "-").to_dict("records") + not_run(spec, table)
    profile = f", profile {args.profile}" if args.profile else ""
    write_table(args.name or spec.name, rows, f"Study {args.study}{profile} (seed {spec.seed}, bo_cells "
                f"{spec.bo_cells}), run in {args.out}. {NOTES}")
    if failed is not None:
        sys.exit(f"error: {failed}")


if __name__ == "__main__":
    run(main)
