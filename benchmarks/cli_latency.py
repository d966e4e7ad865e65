"""How long the quick commands take, as a user waits for them: the median wall time of
the installed ``latentbo`` over runs, and the modules its import costs most.

    python benchmarks/cli_latency.py [--runs 5] [--name cli_latency]

Writes ``benchmarks/results/<name>.{csv,md}``.
"""

from __future__ import annotations

import argparse
import shutil
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
    ap.add_argument("--name", default="cli_latency")
    args = ap.parse_args()
    exe = shutil.which("latentbo") or str(Path(sys.executable).parent / "latentbo")
    rows = []
    for label, argv in COMMANDS.items():
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run([exe, *argv], capture_output=True, check=False)
            times.append(time.perf_counter() - t0)
        rows.append({"command": f"latentbo {' '.join(argv)}", "what": label, "median_s": statistics.median(times),
                     "min_s": min(times), "max_s": max(times), "runs": args.runs})
    write_table(args.name, rows, notes="Wall time of the whole process, the installed console script.")


if __name__ == "__main__":
    run(main)
