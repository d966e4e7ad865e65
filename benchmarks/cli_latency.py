"""How long the quick commands take, as a user waits for them: the median wall time of
the installed ``latentbo`` over runs, and the modules its import costs most.

    python benchmarks/cli_latency.py [--runs 5] [--before DIR] [--name cli_latency] [--busy TEXT]

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
import tempfile
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
    # one 56-dimensional code of zeros (written below); the first run, untimed, warms numba's cache
    "first decode of a zoo model": ["decode", "--model", "zinc-gmm_dae-ft", "--input", "{tmp}/z.csv"],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", type=Path, default=None)
    ap.add_argument("--name", default="cli_latency")
    ap.add_argument("--busy", default="nothing else", help="what else ran on the machine meanwhile (recorded)")
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
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "z.csv").write_text(",".join(["0"] * 56) + "\n")
        for label, argv in COMMANDS.items():
            argv = [a.format(tmp=tmp) for a in argv]
            if label.startswith("first decode"):
                subprocess.run([sys.executable, "-m", "latentbo.cli", *argv], capture_output=True, check=False)
            row = {"command": f"latentbo {' '.join(argv).replace(tmp, 'TMP')}", "what": label}
            if args.before and not label.startswith("first decode"):  # an older checkout lacks the model
                row["before_median_s"] = median_s(argv, str(args.before))
            row["median_s"] = median_s(argv, here)
            rows.append({**row, "runs": args.runs})
    write_table(args.name, rows, notes="Median wall time of the whole process (`python -m latentbo.cli`), one "
                                       f"command at a time; meanwhile on the machine: {args.busy}.")

if __name__ == "__main__":
    run(main)
