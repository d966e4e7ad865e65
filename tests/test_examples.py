"""The scripts and modules under examples/ run as their docstrings say."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

from latentbo.objectives import make_objective

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_ask_tell_example_runs_and_resumes(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTBO_CACHE_DIR": str(tmp_path / "cache")}
    run = lambda rounds: subprocess.run(  # noqa: E731
        [sys.executable, str(EXAMPLES / "ask_tell.py"), "--out", str(tmp_path), "--rounds", str(rounds)],
        capture_output=True, text=True, env=env, timeout=300)
    first = run(1)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("round 1: ") and "5 evaluations" in first.stdout
    second = run(2)  # a new process goes on from what the folder holds
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("round 2: ") and "10 evaluations" in second.stdout
    records = [json.loads(x) for x in (tmp_path / "campaign" / "trial_0" / "evaluations.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == [0] * 5 + [1] * 5
    assert json.loads((tmp_path / "campaign" / "summary.json").read_text())["evaluations"] == 10


def test_objective_examples_follow_the_contract() -> None:
    mol = make_objective(f"{EXAMPLES / 'objectives.py'}:qed_times_sa")
    scores = mol(["CC(=O)Nc1ccc(O)cc1", None, "C1CC"])
    assert 0 < scores[0] < 1 and math.isnan(scores[1]) and math.isnan(scores[2])
    assert make_objective(f"{EXAMPLES / 'objectives.py'}:expression_length")(["x * 2", None])[0] == 3
    assay = make_objective(f"{EXAMPLES / 'objectives.py'}:slow_assay")
    assert assay.batch_size == 4 and assay(["CCO"] * 6).tolist() == [3.0] * 6


def test_study_example_loads() -> None:
    from latentbo.study import StudySpec

    spec = StudySpec.from_toml(EXAMPLES / "tiny_study.toml")  # every config, objective and target resolved
    assert {c.kind for c in spec.cells()} == {"train", "bo"}


def test_every_example_has_a_test_here() -> None:
    assert sorted(p.name for p in EXAMPLES.iterdir() if not p.name.startswith((".", "__"))) == [
        "ask_tell.py", "objectives.py", "tiny_study.toml"]
