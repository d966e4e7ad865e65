"""Helpers shared by the benchmark scripts: run one with the CLI's one-line errors, and
write a result table as CSV + Markdown with the command and machine that produced it."""

from __future__ import annotations

import csv
import os
import platform
import shlex
import sys
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import torch

from latentbo.errors import LatentboError

RESULTS = Path(__file__).resolve().parent / "results"


def run(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``: the project's errors (a refused folder, a bad study
    file) end it with one line, as they end the CLI, instead of a traceback."""
    try:
        main()
    except LatentboError as exc:
        sys.exit(f"error: {exc}")


def kept_rows(name: str, key: str, replaced: set) -> list[dict]:
    """The rows of ``results/<name>.csv`` whose ``key`` is not in ``replaced``, numbers
    read back as numbers: a script that measures part of a table keeps the rest."""
    path = RESULTS / f"{name}.csv"
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [{k: _number(v) for k, v in r.items()} for r in csv.DictReader(fh) if r[key] not in replaced]


def _number(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def cast_floats(state: dict, dtype: torch.dtype) -> dict:
    """A state dict with its floating-point tensors in ``dtype`` (weights travel in fp16)."""
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}


def write_table(name: str, rows: list[dict], notes: str = "") -> None:
    RESULTS.mkdir(exist_ok=True)
    cols = list(dict.fromkeys(k for r in rows for k in r))  # rows may lack columns (e.g. not run)
    with open(RESULTS / f"{name}.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=cols, restval="-")
        writer.writeheader()
        writer.writerows(rows)
    fmt = lambda v: f"{v:,.3g}" if isinstance(v, float) and abs(v) < 100 else (f"{v:,.0f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = [
        f"# {name}",
        "",
        f"Command: `python {shlex.join(['benchmarks/' + Path(sys.argv[0]).name, *sys.argv[1:]])}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}  ",
        f"Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
        *("| " + " | ".join(fmt(r.get(c, "-")) for c in cols) + " |" for r in rows),
    ]
    if notes:
        lines += ["", notes]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
