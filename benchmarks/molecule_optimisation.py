"""latentbo beside a genetic algorithm, screening and random prior samples on the PMO
panel, at equal oracle budget from the same starting molecules.

    python benchmarks/molecule_optimisation.py --data-dir ../shared/data \\
        [--tasks all|name,name] [--methods screening,prior,molga,turbo,qlogei] [--seeds 3] \\
        [--budget 1000] [--start 1000] [--model zinc-gmm_dae] [--out runs/molopt] [--name NAME]

Protocol (one cell = task x method x seed):
- the starting set: ``--start`` molecules drawn (by the seed) from ``--start-from``
  (default: ZINC250k less its held-out part), scored once and known to every method for
  free (like a chemist's assayed series); each cell records its set's hash, and the
  table refuses cells of one task and seed that started from different sets;
- the budget: ``--budget`` oracle calls counted PMO's way: distinct canonical molecules
  RDKit accepts, not in the starting set, through one cached oracle; a method stops
  at the budget (the call that would exceed it is refused);
- methods: ``screening`` (the starting set itself, no calls), ``prior`` (prior samples
  of the model, decoded), ``molga`` (``mol-ga``'s default graph GA from the starting set,
  100 offspring a generation), and any latentbo acquisition (``graph-ga``, ``turbo``,
  ``qlogei``, ``random``: a campaign through ask/tell, batches of ``--batch``, the starting set as
  known data), with options after a ``+``: ``inv`` (inversion), ``cap`` (``gp_max``
  500), ``wr`` (weighted retraining every 2 iterations), ``joint`` (the same with joint
  updates), e.g. ``turbo+inv+cap``;
- metrics: AUC top-10 (PMO's: the mean of the top-10 scores logged every 100 calls,
  trapezoids, the last value carried to the budget, divided by the budget; here the
  top-10 is of the starting set and the calls so far, so every method starts from the
  same level; PMO pays for its random starting molecules, so its AUCs are not these),
  top-1 and top-10 mean at the end, whether a new molecule beat the starting best (by more than 1e-6),
  calls made, and seconds split into fit, acquisition, decoding (or generation) and
  oracle. The best molecule of each task and method is listed with its heavy atoms,
  QED, SA and PAINS / Brenk alerts.

Each cell is saved in ``--out`` when done, so a stopped run resumes where it was;
the table goes to ``benchmarks/results/<name>.{csv,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from _common import run, write_table
from latentbo.chem import canonical_smiles
from latentbo.data import load_strings, set_data_dir
from latentbo.objectives import make_objective
from latentbo.objectives.pmo import PANEL_TASKS

BASELINES = ("screening", "prior", "molga")


class BudgetSpent(Exception):
    """The oracle refused a call past the budget."""


class Oracle:
    """PMO's accounting: distinct canonical molecules, cached; the starting set free.

    Args:
        objective: the task's objective.
        known: canonical SMILES -> score of the starting set.
        budget: calls allowed.
    """

    def __init__(self, objective: Any, known: dict[str, float], budget: int) -> None:
        self.objective, self.known, self.budget = objective, dict(known), budget
        self.calls: list[tuple[str, float]] = []
        self.seconds = 0.0

    def __call__(self, smiles: str | None) -> float:
        """The score (NaN for what RDKit rejects); raises BudgetSpent past the budget."""
        key = canonical_smiles(smiles)
        if key is None:
            return float("nan")
        if key not in self.known:
            if len(self.calls) >= self.budget:
                raise BudgetSpent
            t0 = time.perf_counter()
            score = float(self.objective([key])[0])
            self.seconds += time.perf_counter() - t0
            self.known[key] = score
            self.calls.append((key, score))
        return self.known[key]


def auc_top_k(start: list[float], calls: list[float], budget: int, k: int = 10, every: int = 100) -> float:
    """PMO's AUC of the top-``k`` mean, logged every ``every`` calls (trapezoids; the
    last value carried to ``budget``), over the starting scores and the calls so far."""
    def top(n: int) -> float:
        vals = sorted((v for v in [*start, *calls[:n]] if math.isfinite(v)), reverse=True)[:k]
        return float(np.mean(vals)) if vals else 0.0

    area, prev = 0.0, top(0)
    for n in range(every, budget + every, every):
        cur = top(min(n, len(calls)))
        area += min(every, budget - n + every) * (prev + cur) / 2
        prev = cur
    return area / budget


# -- methods: each spends the oracle's budget and returns its seconds by phase -------------------
def run_screening(oracle: Oracle, **_: Any) -> dict[str, float]:
    return {}


def run_prior(oracle: Oracle, model: Any, seed: int, **_: Any) -> dict[str, float]:
    """Prior samples, decoded by argmax, until the budget is spent (or 20 rounds find nothing new)."""
    import torch

    gen, decoding, idle = torch.Generator().manual_seed(seed), 0.0, 0
    try:
        while idle < 20:
            before = len(oracle.calls)
            t0 = time.perf_counter()
            strings = model.decode_latents(model.sample_latents(100, gen))
            decoding += time.perf_counter() - t0
            for s in strings:
                oracle(s)
            idle = idle + 1 if len(oracle.calls) == before else 0
    except BudgetSpent:
        pass
    return {"decoding": decoding}


def run_molga(oracle: Oracle, start: list[str], seed: int, **_: Any) -> dict[str, float]:
    """mol-ga's default GA from the starting set; its cache holds the starting scores."""
    from mol_ga import default_ga
    from mol_ga.cached_function import CachedBatchFunction

    def score(smiles: list[str]) -> list[float]:
        vals = [oracle(s) for s in smiles]
        return [v if math.isfinite(v) else -1.0 for v in vals]  # the GA's selection needs numbers

    cached = CachedBatchFunction(score)
    cached.cache.update(oracle.known)
    t0 = time.perf_counter()
    try:
        default_ga(starting_population_smiles=start, scoring_function=cached, max_generations=10 * oracle.budget,
                   offspring_size=100, rng=random.Random(seed))
    except BudgetSpent:
        pass
    return {"generation": time.perf_counter() - t0 - oracle.seconds}


def run_latentbo(oracle: Oracle, start: list[str], seed: int, model: Any, acquisition: str, folder: Path,
                 batch: int, n_decode: int, **_: Any) -> dict[str, float]:
    """A campaign through ask/tell: the starting set as a CSV with known scores."""
    import pandas as pd

    from latentbo.bo import Campaign, CampaignConfig

    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / "start.csv"
    pd.DataFrame({"smiles": start, "score": [oracle.known[s] for s in start]}).to_csv(csv, index=False)
    base, *options = acquisition.split("+")
    cfg = CampaignConfig(objective=None, acquisition=base, batch=batch, iterations=10 ** 6, trials=1, seed=seed,
                         init_size=len(start), gp_points=500, n_decode=n_decode, dataset=str(csv), column="smiles",
                         score_column="score", **{k: v for o in options for k, v in VARIANTS[o].items()})
    campaign = Campaign(model, cfg, folder / "campaign")
    stalled = 0
    try:
        while stalled < 20:
            before = len(oracle.calls)
            _, strings = campaign.ask()
            campaign.tell(strings, [oracle(s) for s in strings])
            stalled = stalled + 1 if len(oracle.calls) == before else 0
    except BudgetSpent:
        pass
    phases = campaign.phase_seconds()
    return {k: phases[k] for k in ("fit", "acquisition", "decoding", "inversion", "retraining")}


#: Campaign options a latentbo method may add: ``turbo+inv+cap``.
VARIANTS = {"inv": {"inversion": True}, "cap": {"gp_max": 500}, "wr": {"retrain_every": 2},
            "joint": {"retrain_every": 2, "joint": True}}


def panel_sums(cells: list[dict], tasks: list[str], methods: list[str], seeds: int) -> list[dict]:
    """Per method, the AUC top-10 summed over the tasks, mean +- sd over the seeds that
    have a cell for every task (a sum over part of the panel would mislead); none: no row."""
    rows = []
    for method in methods:
        mine = [c for c in cells if c["method"] == method]
        whole = [s for s in range(seeds) if {c["task"] for c in mine if c["seed"] == s} >= set(tasks)]
        if whole:
            per_seed = [sum(c["auc_top10"] for c in mine if c["seed"] == s and c["task"] in tasks) for s in whole]
            rows.append({"task": f"sum over {len(tasks)} tasks", "method": method, "seeds": len(whole),
                         "auc_top10": mean_sd(per_seed)})
    return rows


RUNNERS = {"screening": run_screening, "prior": run_prior, "molga": run_molga}


def molecule_card(smiles: str) -> dict[str, Any]:
    from rdkit import Chem
    from rdkit.Chem import QED

    from latentbo.filters import MoleculeFilter
    from latentbo.objectives.molecules import sascorer

    mol = Chem.MolFromSmiles(smiles)
    alerts = [name for name in ("pains", "brenk")
              if MoleculeFilter(alerts=(name,), charged=True, radicals=True).reason(mol)]
    return {"heavy_atoms": mol.GetNumHeavyAtoms(), "qed": round(QED.qed(mol), 3),
            "sa": round(sascorer().calculateScore(mol), 2), "alerts": ",".join(alerts) or "-"}


def run_cell(task: str, method: str, seed: int, args: argparse.Namespace, zinc: list[str], model: Any) -> dict:
    path = args.out / task / method / f"seed{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    rng = np.random.default_rng(seed)
    start = sorted({c for i in rng.choice(len(zinc), size=args.start, replace=False) if (c := canonical_smiles(zinc[i]))})
    objective = make_objective(task)
    known = dict(zip(start, (float(v) for v in objective(start))))
    oracle = Oracle(objective, known, args.budget)
    t0 = time.perf_counter()
    phases = RUNNERS.get(method, run_latentbo)(oracle, start=start, seed=seed, model=model, acquisition=method,
                             folder=args.out / task / method / f"seed{seed}", batch=args.batch,
                             n_decode=args.n_decode)
    wall = time.perf_counter() - t0
    start_scores = list(known.values())
    new = [s for _, s in oracle.calls]
    everything = sorted(oracle.known.items(), key=lambda kv: -kv[1] if math.isfinite(kv[1]) else math.inf)
    best_new = max((c for c in oracle.calls if math.isfinite(c[1])), key=lambda c: c[1], default=None)
    cell = {"task": task, "method": method, "seed": seed, "calls": len(new),
            "model": None if method in ("screening", "molga") else args.model,
            "start_hash": hashlib.sha256("\n".join(start).encode()).hexdigest()[:16],
            "auc_top10": auc_top_k(start_scores, new, args.budget), "top1": everything[0][1],
            "top10": float(np.mean([v for _, v in everything[:10]])), "start_top1": max(start_scores),
            "new_top1": best_new[1] if best_new else None, "best_new": best_new[0] if best_new else None,
            "wall_s": wall, "oracle_s": oracle.seconds, **{f"{k}_s": v for k, v in phases.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cell))
    return cell


def beat(cell: dict) -> bool:
    """Whether a new molecule beat the starting best by more than rounding (valsartan_smarts
    scores molecules far from its SMARTS about 1e-32, not 0)."""
    return cell["new_top1"] is not None and cell["new_top1"] > cell["start_top1"] + 1e-6


def mean_sd(values: list[float]) -> str:
    vals = [v for v in values if v is not None]
    return f"{np.mean(vals):.3f} ± {np.std(vals):.3f}" if vals else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--tasks", default="all")
    ap.add_argument("--methods", default="screening,prior,molga,turbo,qlogei")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--start", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--start-from", default="zinc250k", help="Dataset or file the starting sets are drawn from.")
    ap.add_argument("--n-decode", type=int, default=1, help="Decodes per candidate (1: argmax; more: stochastic, "
                    "the commonest valid one kept).")
    ap.add_argument("--model", default="zinc-gmm_dae")
    ap.add_argument("--out", type=Path, default=Path("runs/molopt"))
    ap.add_argument("--name", default="molecule_optimisation")
    ap.add_argument("--no-run", action="store_true", help="Only tabulate the cells already in --out.")
    ap.add_argument("--note", default="", help="A paragraph for the table (e.g. the commands that made its cells).")
    args = ap.parse_args()
    if args.data_dir:
        set_data_dir(args.data_dir)
    tasks = list(PANEL_TASKS) if args.tasks == "all" else args.tasks.split(",")
    methods = args.methods.split(",")
    from latentbo.bo.acquisition import ACQUISITIONS

    unknown = {m for m in methods if m not in BASELINES and (m.split("+")[0] not in ACQUISITIONS
                                                             or set(m.split("+")[1:]) - set(VARIANTS))}
    if unknown:
        raise SystemExit(f"unknown methods {sorted(unknown)}; known: {', '.join([*BASELINES, *ACQUISITIONS])}, "
                         f"an acquisition with options +{' +'.join(VARIANTS)} (turbo+inv+cap)")
    zinc = [] if args.no_run else load_strings(args.start_from, allow_fallback=False)[0]
    model = None
    if set(methods) - {"screening", "molga"} and not args.no_run:
        import torch

        from latentbo.models import load_model
        from latentbo.models.zoo import resolve_model

        torch.set_num_threads(1)
        model = load_model(resolve_model(args.model), kind="sequence")
    # Method by method, so the cheap ones are done first in a long run.
    if args.no_run:
        cells = [json.loads(p.read_text()) for m in methods for t in tasks for s in range(args.seeds)
                 if (p := args.out / t / m / f"seed{s}.json").exists()]
    else:
        cells = [run_cell(t, m, s, args, zinc, model) for m in methods for t in tasks for s in range(args.seeds)]
    if others := sorted({c["model"] for c in cells if c.get("model") not in (None, args.model)}):
        raise SystemExit(f"{args.out} has cells of other models ({', '.join(others)}) than --model {args.model}; "
                         "tabulate each model's cells with its --model")
    for task in tasks:
        for seed in range(args.seeds):
            hashes = {c["start_hash"] for c in cells if c["task"] == task and c["seed"] == seed}
            if len(hashes) > 1:
                raise SystemExit(f"{task} seed {seed}: the methods started from different sets ({sorted(hashes)}); "
                                 "rerun them with one --start-from")
    rows, best = [], []
    for task in tasks:
        for method in methods:
            mine = [c for c in cells if c["task"] == task and c["method"] == method]
            if not mine:
                continue
            phase = lambda k: float(np.mean([c.get(k, 0.0) for c in mine]))  # noqa: E731
            rows.append({"task": task, "method": method, "seeds": len(mine),
                         "auc_top10": mean_sd([c["auc_top10"] for c in mine]),
                         "top1": mean_sd([c["top1"] for c in mine]), "top10": mean_sd([c["top10"] for c in mine]),
                         "start_top1": mean_sd([c["start_top1"] for c in mine]),
                         "beat_start": f"{sum(beat(c) for c in mine)}/{len(mine)}",
                         "calls": round(float(np.mean([c["calls"] for c in mine]))),
                         "s_fit+acq": round(phase("fit_s") + phase("acquisition_s"), 1),
                         "s_inversion": round(phase("inversion_s"), 1),
                         "s_retraining": round(phase("retraining_s"), 1),
                         "s_decode/gen": round(phase("decoding_s") + phase("generation_s"), 1),
                         "s_oracle": round(phase("oracle_s"), 1)})
            top = max((c for c in mine if c["best_new"]), key=lambda c: c["new_top1"], default=None)
            if top:
                best.append({"task": task, "method": method, "score": round(top["new_top1"], 3),
                             "smiles": top["best_new"], **molecule_card(top["best_new"])})
    rows += panel_sums(cells, tasks, methods, args.seeds)
    lines = ["Best new molecule of each task and method (over seeds):", "",
             "| task | method | score | heavy atoms | QED | SA | alerts | SMILES |", "|---|---|---|---|---|---|---|---|",
             *(f"| {b['task']} | {b['method']} | {b['score']} | {b['heavy_atoms']} | {b['qed']} | {b['sa']} | "
               f"{b['alerts']} | `{b['smiles']}` |" for b in best)]
    write_table(args.name, rows, notes=f"Model: {args.model}; start {args.start}, budget {args.budget}, batch "
                                       f"{args.batch}, decodes per candidate {args.n_decode}.\n\n"
                                       + (f"{args.note}\n\n" if args.note else "") + "\n".join(lines))


if __name__ == "__main__":
    run(main)
