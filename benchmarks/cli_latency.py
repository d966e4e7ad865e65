"""How long the quick commands take, as a user waits for them: the median wall time of
the installed ``latentbo`` over runs, and the modules its import costs most.

    python benchmarks/cli_latency.py [--runs 5] [--before DIR] [--name cli_latency]

``--before DIR``: a checkout of an earlier commit, measured beside this one
(``python -m latentbo.cli`` with ``PYTHONPATH=DIR``; this checkout the same way).

Writes ``benchmarks/results/<name>.{csv,md}``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _common import run, write_table

COMMANDS = {
    "--help": ["--help"],
    "models list": ["models", "list"],
    "data list": ["data", "list"],
    "unknown model (one-line error)": ["bo", "--model", "no-such-model", "--objective", "qed", "--out", "/tmp/x"],
    "bad option value (one-line error)": ["bo", "--model", "zinc-gvae", "--iterations", "0", "--out", "/tmp/x"],
    "bo --help": ["bo", "--help"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", type=Path, default=None)
    ap.add_argument("--name", default="cli_latency")
    args = ap.parse_args()
    def median_s(argv: list[str], root: str | None) -> float:
        env = {**os.environ, "PYTHONPATH": root} if root else dict(os.environ)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "latentbo.cli", *argv], capture_output=True, check=False, env=env)
            times.append(time.perf_counter() - t0)
        return statistics.median(times)

    here = str(Path(__file__).resolve().parents[1])
    rows = []
    for label, argv in COMMANDS.items():
        row = {"command": f"latentbo {' '.join(argv)}", "what": label}
        if args.before:
            row["before_median_s"] = median_s(argv, str(args.before))
        row["median_s"] = median_s(argv, here)
        rows.append({**row, "runs": args.runs})
    write_table(args.name, rows, notes="Median wall time of the whole process (`python -m latentbo.cli`), one "
                                       "command at a time, while a one-thread benchmark held the other core.")


if __name__ == "__main__":
    run(main)
