"""The benchmark scripts end on the project's errors with one line, as the CLI does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STUDY = """
[study]
name = "test_benchmarks_refused"
bo_cells = "campaign"

[[grid]]
tasks = ["expressions"]
models = ["gmm_dae"]
acquisitions = ["turbo"]
trials = 1

[use]
"expressions/gmm_dae" = "expressions-gmm_dae"
"""


def test_bo_table_refuses_a_cell_of_other_settings_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text(STUDY)
    cell = tmp_path / "out" / "cells" / "bo" / "expressions-gmm_dae-expr-turbo"
    cell.mkdir(parents=True)
    (cell / "cell.json").write_text('{"fingerprint": "another study", "status": "done"}')
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bo_table.py"), str(tmp_path / "study.toml"), "--out",
         str(tmp_path / "out"), "--aggregate-only"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {cell} was run with other settings (or another study seed); use another --out or delete that folder"]
    assert not (ROOT / "benchmarks" / "results" / "test_benchmarks_refused.md").exists()
