"""Wall time of one 8-cell study (2 training + 6 BO cells) under each executor.

    python benchmarks/study_executors.py [--data-dir ../shared/data] [--study examples/tiny_study.toml]

Runs the same study into fresh folders with the serial, process and Ray executors
(same run, same machine), checks that all three give the same table, and writes
benchmarks/results/study_executors.{csv,md}. Wall time includes starting the pool
or the local Ray instance.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
from _common import run, write_table
from latentbo.data import data_dir, set_data_dir
from latentbo.study import ExecutorSettings, StudySpec, make_executor, run_study

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--study", default=str(ROOT / "examples" / "tiny_study.toml"))
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    spec = StudySpec.from_toml(args.study)
    cores = os.cpu_count() or 1
    runs = {"serial": ExecutorSettings(cpus=cores), "process": ExecutorSettings(workers=cores, cpus=1),
            "ray": ExecutorSettings(cpus=1)}
    rows, tables = [], {}
    work = Path(tempfile.mkdtemp(prefix="study-bench-"))
    try:
        for name, settings in runs.items():
            t0 = time.perf_counter()
            ex = make_executor(name, settings)
            try:
                d = data_dir()
                summary = run_study(spec, work / name, ex, data_dir=str(d) if d else None, progress=False)
            finally:
                ex.close()
            wall = time.perf_counter() - t0
            tables[name] = pd.read_csv(work / name / "study_table.csv")
            cell_s = sum(c["wall_s"] for c in summary["cells"].values())
            rows.append({"executor": name, "cells": len(summary["cells"]), "in_flight": ex.workers,
                         "threads_per_cell": settings.cpus, "wall_s": wall, "sum_of_cell_s": cell_s,
                         "speedup_vs_serial": rows[0]["wall_s"] / wall if rows else 1.0})
            print(rows[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    same = all(t.equals(tables["serial"]) for t in tables.values())
    write_table("study_executors", rows,
                f"Study: {Path(args.study).name} ({len(spec.cells())} cells), {cores} cores. Same study table from all "
                f"three executors: {same}. wall_s includes pool / local Ray start-up; sum_of_cell_s is the time the "
                "cells themselves took (it grows when cells share cores).")
    if not same:
        raise SystemExit("executors disagree on the study table")


if __name__ == "__main__":
    run(main)
