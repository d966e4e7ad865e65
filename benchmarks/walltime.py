"""How long the long things a newcomer runs take: ``latentbo demo`` (and whether its
search beat its start), the test suite as ``make test`` runs it (tests and tutorial
notebooks) and the tutorials alone, median wall time over runs.

    python benchmarks/walltime.py [--runs 3] [--jobs demo,tests,tutorials] [--busy "what else ran"]

Each demo run starts in a fresh temporary folder. Writes
``benchmarks/results/walltime.{csv,md}``; a job not measured keeps its earlier row, each
row with the command that measured it.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import kept_rows, run, write_table

ROOT = Path(__file__).resolve().parents[1]


def demo_once() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "latentbo.cli", "demo", "--out", f"{tmp}/demo", "--json"],
                              capture_output=True, text=True, check=True, cwd=ROOT)
        wall = time.perf_counter() - t0
    summary = json.loads(done.stdout)
    best, start = summary["best"]["score"], summary["initial_best"]
    return {"wall_s": wall, "result": f"best {best:.3f} vs start {start:.3f}", "beat_start": best < start}


def pytest_once(*args: str) -> dict:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - t0
    closing = done.stdout.strip().splitlines()[-1]
    counts = dict((k, int(v)) for v, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", closing))
    return {"wall_s": wall, "result": ", ".join(f"{v} {k}" for k, v in counts.items()),
            "beat_start": "-" if done.returncode == 0 else f"exit {done.returncode}"}


JOBS = {
    "demo": ("latentbo demo", demo_once),
    "tests": ("make test (pytest -n 2: tests + tutorials)", lambda: pytest_once("-n", "2")),
    "tutorials": ("the tutorial notebooks alone, one after another", lambda: pytest_once("docs/tutorials")),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", default="demo,tests,tutorials", help=f"comma-separated: {', '.join(JOBS)}")
    ap.add_argument("--busy", default="nothing else", help="what else ran on the machine meanwhile (recorded)")
    args = ap.parse_args()
    jobs = [j.strip() for j in args.jobs.split(",")]
    unknown = set(jobs) - set(JOBS)
    if unknown:
        sys.exit(f"error: unknown jobs {sorted(unknown)}; choose from {', '.join(JOBS)}")
    rows = []
    for job in jobs:
        label, once = JOBS[job]
        runs = [once() for _ in range(args.runs)]
        rows.append({"job": label, "runs": args.runs, "median_s": statistics.median(r["wall_s"] for r in runs),
                     "min_s": min(r["wall_s"] for r in runs), "max_s": max(r["wall_s"] for r in runs),
                     "results": "; ".join(r["result"] for r in runs),
                     "beat_start / exit": ", ".join(str(r["beat_start"]) for r in runs), "meanwhile": args.busy,
                     "measured_by": shlex.join(["python", "benchmarks/walltime.py", *sys.argv[1:]])})
    labels = {JOBS[j][0] for j in jobs}
    write_table("walltime", kept_rows("walltime", "job", labels) + rows,
                notes="Whole-process wall time. The demo's score is the fit log(1 + MSE), lower is better: "
                      "`beat_start` says whether the best expression found beat the best of the 1,000 it started from.")


if __name__ == "__main__":
    run(main)
