"""Run a study: every cell through an executor, with retries, skip-if-finished and
resume, then the aggregated tables and plots.

Output layout (``OUT``)::

    study.json                    resolved definition, executor, cell list
    cells/train/<task>-<model>/   a `latentbo train` folder + cell.json
    cells/bo/<group>/trial_<t>/   a one-trial `latentbo bo` folder + cell.json
    cells/bo/<group>/             (bo_cells = "campaign") the group's `latentbo bo` folder + cell.json
    errors.jsonl                  every failed attempt: cell, attempt, error, traceback
    status.json                   per cell: status, attempts, wall time
    groups/<group>/               summary.json/csv, report.md, best_so_far.png over the trials
    study_table.csv / .md         the paper's Tables 2-3 shape, one row per group
    best_so_far.png               mean best-so-far per group

A cell is finished when its ``cell.json`` says so and the checksums of its outputs
still match; anything else is (re)run, resuming from the cell's own checkpoints. A
campaign cell of a ``[use]`` model whose weights changed since it ran (the folder
trained further) is stale: the study refuses to go on until it is moved aside to
``stale/<cell>.<weights>/`` and run again (``redo_stale``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import shutil
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from latentbo.errors import CheckpointError, ConfigError, StudyError
from latentbo.io import atomic_write_text, inside, output_lock
from latentbo.study.executors import Executor
from latentbo.study.spec import Cell, StudySpec

log = logging.getLogger(__name__)

CELL_FILE = "cell.json"


def outputs(cell: Cell) -> list[str]:
    """The outputs whose checksums certify a finished cell."""
    if cell.kind == "train":
        return ["model.safetensors", "config.toml", "meta.json", "metrics.csv"]
    return ["summary.json", *(f"trial_{t}/evaluations.jsonl" for t in range(cell.settings.get("trials", 1)))]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cell_dir(out: Path, cell_id: str) -> Path:
    """The cell's folder, refused unless it lies inside ``out/cells`` and no link
    below ``out`` leads elsewhere."""
    try:
        return inside(inside(out, "cells"), cell_id)
    except ConfigError as exc:
        raise StudyError(f"cell {cell_id!r}: {exc}") from None


def cell_state(out: Path, cell: Cell) -> str:
    """``done`` (finished, checksums match), ``partial`` (started: resume) or ``new``.

    Raises:
        CheckpointError: the folder holds this cell run with other settings.
    """
    path = cell_dir(out, cell.id) / CELL_FILE
    if not path.exists():
        return "new"
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return "partial"  # cell.json is written atomically; unreadable means tampered: redo it
    if info.get("fingerprint") != cell.fingerprint:
        raise CheckpointError(f"{path.parent} was run with other settings (or another study seed); "
                              "use another --out or delete that folder")
    if info.get("status") != "done":
        return "partial"
    for rel, digest in info.get("files", {}).items():
        f = path.parent / rel
        if not f.exists() or _sha256(f) != digest:
            return "partial"
    return "done"


def stale_cells(spec: StudySpec, out: Path) -> dict[str, tuple[str, str]]:
    """The started or finished campaign cells whose ``[use]`` model has other weights now
    than when they ran: cell id -> (weights they ran with, weights now)."""
    from latentbo.bo.campaign import META_FILE
    from latentbo.models import load_model
    from latentbo.models.checkpoint import weights_fingerprint
    from latentbo.models.zoo import resolve_model

    now: dict[str, str] = {}
    stale = {}
    for c in spec.cells():
        meta = cell_dir(out, c.id) / META_FILE
        if c.kind != "bo" or "use" not in c.settings or not meta.exists():
            continue
        try:
            ran = json.loads(meta.read_text()).get("model_fingerprint")
        except (OSError, json.JSONDecodeError):
            continue  # written atomically: unreadable means the campaign refuses it itself
        use = c.settings["use"]
        if use not in now:
            now[use] = weights_fingerprint(load_model(resolve_model(use), kind="sequence"))
        if ran is not None and ran != now[use]:  # campaigns older than the fingerprint record none
            stale[c.id] = (ran, now[use])
    return stale


def _set_stale_aside(out: Path, stale: dict[str, tuple[str, str]], redo: bool) -> None:
    if not stale:
        return
    ids = sorted(stale)
    if not redo:
        raise CheckpointError(f"{len(ids)} cells ran with other weights of their [use] model than it has now "
                              f"({', '.join(ids[:3])}{', ...' if len(ids) > 3 else ''}); pass --redo-stale to move "
                              f"them to {out}/stale/ and run them again, or use another --out")
    for cid in ids:
        dest = out / "stale" / f"{cid}.{stale[cid][0]}"
        if dest.exists():
            raise CheckpointError(f"cannot set {cid} aside: {dest} already exists")
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(cell_dir(out, cid), dest)


def run_cell(payload: dict[str, Any]) -> dict[str, Any]:
    """Worker entry point: run (or resume) one cell. Never raises: errors come back
    as ``{"status": "failed", "error", "traceback"}`` so every executor reports them
    the same way."""
    t0 = time.perf_counter()
    try:
        import torch

        from latentbo.data import set_data_dir

        torch.set_num_threads(payload["threads"])
        set_data_dir(payload["data_dir"])
        cell = Cell(**payload["cell"])
        out = cell_dir(Path(payload["out"]), cell.id)
        info = (_run_train if cell.kind == "train" else _run_bo)(cell, out, Path(payload["out"]), payload["device"])
        files = {rel: _sha256(out / rel) for rel in outputs(cell)}
        wall = time.perf_counter() - t0
        atomic_write_text(out / CELL_FILE, json.dumps({
            "id": cell.id, "kind": cell.kind, "seed": cell.seed, "fingerprint": cell.fingerprint,
            "settings": cell.settings, "status": "done", "files": files, "wall_s": wall,
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **info}, indent=2))
        return {"status": "done", "wall_s": wall}
    except Exception as exc:
        return {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc(),
                "wall_s": time.perf_counter() - t0}


def _run_train(cell: Cell, out: Path, study_out: Path, device: str) -> dict[str, Any]:
    from latentbo.pipelines import train_model

    s = dict(cell.settings)
    task, model, limit, dataset = s.pop("task"), s.pop("model"), s.pop("limit", None), s.pop("dataset", None)
    train_model(task, model, out, {**s, "seed": cell.seed}, dataset, limit,
                resume=(out / "training_state.pt").exists(), progress=False, device=device)
    return {}


def _run_bo(cell: Cell, out: Path, study_out: Path, device: str) -> dict[str, Any]:
    """Run the cell's campaign; returns what its table row needs of the model, taken
    now: a ``[use]`` folder may be trained further after its campaigns ran."""
    from latentbo.bo import CampaignConfig
    from latentbo.models.zoo import resolve_model
    from latentbo.pipelines import run_campaign

    s = dict(cell.settings)
    for key in ("task", "model", "trial"):
        s.pop(key, None)
    model = resolve_model(s.pop("use", None) or cell_dir(study_out, cell.depends_on))
    run_campaign(model, CampaignConfig(seed=cell.seed, **{"trials": 1, **s}), out, device=device, progress=False)
    return {"model_val_seq_acc": _val_seq_acc(model)}


def _append_error(out: Path, entry: dict[str, Any]) -> None:
    with open(out / "errors.jsonl", "a") as fh:
        fh.write(json.dumps(entry) + "\n")


def run_study(spec: StudySpec, out: str | Path, executor: Executor, data_dir: str | None = None,
              progress: bool = True, redo_stale: bool = False) -> dict[str, Any]:
    """Run every unfinished cell of ``spec`` and aggregate the results.

    Args:
        spec: the study.
        out: output folder; re-running on the same folder skips finished cells and
            resumes interrupted ones.
        executor: where cells run (serial, process pool, Ray).
        data_dir: data directory handed to every worker.
        progress: a progress bar over cells.
        redo_stale: move the campaign cells of ``[use]`` models retrained since they
            ran to ``OUT/stale/`` and run them again (else refuse).

    Returns:
        The status dict also written to ``OUT/status.json``.

    Raises:
        CheckpointError: ``out`` holds cells run with other settings, or stale cells
            and not ``redo_stale``.
        StudyError: some cells still failed after their retries (everything else
            is finished and aggregated first).
        ConfigError: cells ask for GPUs that a local executor cannot give them.
        BusyError: another process is running a study into ``out``.
    """
    import torch

    if spec.gpus > 0 and executor.name != "ray" and not torch.cuda.is_available():
        raise ConfigError(f"study {spec.name!r} gives each cell a GPU ([resources] gpus = {spec.gpus:g}) but this "
                          "machine has no CUDA device; set gpus = 0 or run it on a GPU (or a Ray cluster with GPUs)")
    with output_lock(out):
        _set_stale_aside(Path(out), stale_cells(spec, Path(out)), redo_stale)
        return _run_study(spec, Path(out), executor, data_dir, progress)


def _run_study(spec: StudySpec, out: Path, executor: Executor, data_dir: str | None,
               progress: bool) -> dict[str, Any]:
    cells = spec.cells()
    by_id = {c.id: c for c in cells}
    atomic_write_text(out / "study.json", json.dumps({
        "spec": dataclasses.asdict(spec), "executor": executor.name, "workers": executor.workers,
        "cells": [{"id": c.id, "seed": c.seed, "fingerprint": c.fingerprint} for c in cells]}, indent=2))
    status: dict[str, dict[str, Any]] = {}
    for c in cells:
        state = cell_state(out, c)
        status[c.id] = {"status": "skipped (finished before)" if state == "done" else state, "attempts": 0}
    bar = tqdm(total=len(cells), disable=not progress, unit="cell", desc=f"study {spec.name}")
    bar.update(sum(s["status"].startswith("skipped") for s in status.values()))
    t0 = time.perf_counter()
    for kind in ("train", "bo"):  # BO cells need their model
        todo = []
        for c in cells:
            if c.kind != kind or status[c.id]["status"].startswith("skipped"):
                continue
            if c.depends_on and not _finished(status[c.depends_on]):
                status[c.id]["status"] = f"not run: {c.depends_on} failed"
                bar.update(1)
                continue
            todo.append(c)
        while todo:
            payloads = []
            for c in todo:
                d = cell_dir(out, c.id)
                d.mkdir(parents=True, exist_ok=True)
                if not (d / CELL_FILE).exists():  # claim the folder for these settings
                    atomic_write_text(d / CELL_FILE, json.dumps({"id": c.id, "fingerprint": c.fingerprint,
                                                                 "status": "started"}))
                # A cell given a GPU ([resources] gpus > 0) trains and runs its campaign there.
                payloads.append({"cell": dataclasses.asdict(c), "out": str(out), "data_dir": data_dir,
                                 "threads": executor.settings.cpus, "device": "cuda" if spec.gpus > 0 else "cpu"})
            retry = []
            for payload, result in executor.run(run_cell, payloads):
                c = by_id[payload["cell"]["id"]]
                st = status[c.id]
                st["attempts"] += 1
                st["wall_s"] = result.get("wall_s")
                if result["status"] == "done":
                    st["status"] = "done"
                    bar.update(1)
                    continue
                st["error"] = result["error"]
                _append_error(out, {"cell": c.id, "attempt": st["attempts"], "error": result["error"],
                                    "traceback": result.get("traceback"), "time": time.time()})
                if st["attempts"] <= spec.retries:
                    retry.append(c)
                    bar.write(f"cell {c.id} failed (attempt {st['attempts']}): {result['error']}; retrying")
                else:
                    st["status"] = "failed"
                    bar.write(f"cell {c.id} failed after {st['attempts']} attempts: {result['error']}")
                    bar.update(1)
            todo = retry
    bar.close()
    summary = {"study": spec.name, "out": str(out), "executor": executor.name, "workers": executor.workers,
               "wall_s": time.perf_counter() - t0, "cells": status,
               "counts": {k: sum(1 for s in status.values() if s["status"] == k)
                          for k in sorted({s["status"] for s in status.values()})}}
    atomic_write_text(out / "status.json", json.dumps(summary, indent=2))
    aggregate(spec, out, finished={cid for cid, st in status.items() if _finished(st)})
    failed = [cid for cid, s in status.items() if not _finished(s)]
    if failed:
        raise StudyError(f"{len(failed)} of {len(cells)} cells did not finish ({', '.join(failed[:5])}"
                         f"{', ...' if len(failed) > 5 else ''}); see {out}/errors.jsonl. Re-run to retry them.")
    return summary


def _finished(st: dict[str, Any]) -> bool:
    return st["status"] == "done" or st["status"].startswith("skipped")


def aggregate(spec: StudySpec, out: Path, finished: set[str] | None = None) -> pd.DataFrame:
    """Group the finished BO cells by (task, model, objective, acquisition) and write
    per-group reports, ``study_table.csv/.md`` and ``best_so_far.png``.

    Args:
        finished: ids of the cells known to be finished (the driver's status);
            ``None`` re-verifies every cell's checksums and leaves out stale ones
            (campaigns of a ``[use]`` model whose weights changed since), logged.

    Returns:
        The study table (one row per group with at least one finished trial).
    """
    from latentbo.bo import CampaignConfig
    from latentbo.bo.paper import paper_row
    from latentbo.objectives import make_objective
    from latentbo.reports import write_campaign_reports
    from latentbo.tasks import get_task

    groups: dict[str, list[Cell]] = defaultdict(list)
    if finished is None:
        stale = stale_cells(spec, out)
        if stale:
            log.warning("%d stale cells left out of the table (their model was retrained since): %s", len(stale),
                        ", ".join(sorted(stale)))
        finished = {c.id for c in spec.cells() if c.kind == "bo" and c.id not in stale and cell_state(out, c) == "done"}
    for c in spec.cells():
        if c.kind == "bo" and c.id in finished:
            groups[c.id.rsplit("/", 1)[0] if "trial" in c.settings else c.id].append(c)
    rows, curves = [], {}
    for name, members in sorted(groups.items()):
        s0 = members[0].settings
        objective = make_objective(s0["objective"], s0.get("target"))
        trials, seeds, init_bests = [], [], []
        for c in sorted(members, key=lambda c: c.settings.get("trial", 0)):
            d = cell_dir(out, c.id)
            cell_summary = json.loads((d / "summary.json").read_text())
            if cell_summary.get("initial_best") is not None:
                init_bests.append(cell_summary["initial_best"])
            for t, seed in enumerate(cell_summary["seeds"]):
                recs = [json.loads(line) for line in (d / f"trial_{t}" / "evaluations.jsonl").read_text().splitlines()
                        if line.strip()]
                trials.append([{**r, "trial": c.settings.get("trial", t)} for r in recs])
                seeds.append(seed)
        s = write_campaign_reports(inside(out, f"groups/{name.removeprefix('bo/')}"), objective, trials,
                                   {"trial_seeds": seeds, "config": {k: v for k, v in s0.items() if k != "trial"}},
                                   molecules=get_task(s0["task"]).molecules)
        fmt = lambda d: None if d["mean"] is None else f"{d['mean']:.3f} ± {d['std']:.3f}"  # noqa: E731
        reached = None if objective.optimum is None else \
            f"{sum(t['best'] is not None and t['best']['score'] == objective.optimum for t in s['trials'])}/{len(trials)}"
        # the group's settings, the ones a cell left out at their defaults
        run = CampaignConfig(**{k: v for k, v in s0.items() if k in ("iterations", "batch", "init_size", "surrogate")})
        # what the GP started from: a proposal matching the initial data's best found nothing new
        init_best = round((max if objective.maximize else min)(init_bests), 4) if init_bests else None
        rows.append({"group": name.removeprefix("bo/"), "task": s0["task"], "model": s0["model"],
                     "objective": s0["objective"], "acquisition": s0["acquisition"], "surrogate": run.surrogate,
                     "budget": f"{run.iterations} x {run.batch}", "initial": run.init_size,
                     "initial_best": init_best, "trials": len(trials),
                     "evaluations": s["evaluations"],
                     # the model as its campaigns saw it (cells of earlier versions lack it)
                     "val_seq_acc": json.loads((cell_dir(out, members[0].id) / CELL_FILE).read_text())
                     .get("model_val_seq_acc"),
                     **{f"top{i}": fmt(s["top3"][f"top{i}"]) for i in (1, 2, 3)},
                     "fraction_valid": fmt(s["fraction_valid"]), "average_score": fmt(s["average_score"]),
                     "reached_optimum": reached, "best_string": s["best"]["string"] if s["best"] else None,
                     **paper_row(s0["task"], s0["model"], s0["objective"])})
        curves[name.removeprefix("bo/")] = (trials, objective.maximize)
    table = pd.DataFrame(rows)
    if rows:
        atomic_write_text(out / "study_table.csv", table.to_csv(index=False))
        atomic_write_text(out / "study_table.md", _markdown(spec, table))
        _plot_groups(out / "best_so_far.png", curves)
    return table


def _val_seq_acc(model_dir: Path) -> float | None:
    """Held-out sequence accuracy (every position right: for the grammar codec, exact
    greedy reconstruction) of a model's saved epoch; ``None`` without a training log."""
    path = model_dir / "metrics.csv"
    if not path.exists():
        return None
    metrics = pd.read_csv(path)
    if metrics.empty or not {"val_loss", "val_seq_acc"} <= set(metrics.columns):
        return None
    from latentbo.training import saved_epoch

    return round(float(saved_epoch(metrics)["val_seq_acc"]), 4)


def _markdown(spec: StudySpec, table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = [f"# Study {spec.name} (profile {spec.profile}, seed {spec.seed})", "",
             "Mean ± std over trials; each trial's seed is in groups/<group>/summary.json. "
             "Paper columns: GMM-DAE paper Tables 2-3 where the row matches one.", "",
             "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("-" if v is None or v != v else str(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _plot_groups(path: Path, curves: dict[str, tuple[list[list[dict]], bool]]) -> None:
    """Each group's best-so-far, averaged over its trials (up to the shortest trial)."""
    from latentbo.reports import best_so_far, plot_curves

    means = {}
    for name, (trials, maximize) in curves.items():
        best = [best_so_far(recs, maximize) for recs in trials]
        n = min(len(b) for b in best)
        means[name] = np.mean([b[:n] for b in best], axis=0)
    plot_curves(path, means, "best score so far (mean over trials)", size=(7, 4.5))

