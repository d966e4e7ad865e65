from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentbo.errors import CheckpointError, StudyError
from latentbo.study import ExecutorSettings, StudySpec, make_executor, run_study
from latentbo.study import runner

TINY = """
[study]
name = "tiny"
seed = 3
retries = 1

[grid]
tasks = ["expressions"]
models = ["gvae"]
objectives = ["expr"]
acquisitions = ["turbo"]
trials = 2

[train]
limit = 300
epochs = 1

[bo]
iterations = 2
batch = 4
init_size = 100
gp_points = 50
n_decode = 2
"""


@pytest.fixture
def study_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY)
    return path


def _run(study_file: Path, out: Path, executor: str = "serial", redo_stale: bool = False, **settings) -> dict:
    ex = make_executor(executor, ExecutorSettings(**settings))
    try:
        return run_study(StudySpec.from_toml(study_file), out, ex, progress=False, redo_stale=redo_stale)
    finally:
        ex.close()


def _done_files(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.glob("cells/**/cell.json"))}


def _table(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "study_table.csv")


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("serial")
    (tmp / "tiny.toml").write_text(TINY)
    _run(tmp / "tiny.toml", tmp / "out")
    return tmp / "out"


def test_serial_study_writes_every_output(serial_run: Path) -> None:
    status = json.loads((serial_run / "status.json").read_text())
    assert status["counts"] == {"done": 3}
    table = _table(serial_run)
    assert len(table) == 1 and table.loc[0, "trials"] == 2 and table.loc[0, "evaluations"] == 16
    assert table.loc[0, "group"] == "expressions-gvae-expr-turbo" and table.loc[0, "budget"] == "2 x 4"
    assert table.loc[0, "paper_top1"] == 0.10  # GVAE, expressions: the paper's row stands beside ours
    for name in ("study_table.md", "best_so_far.png", "study.json",
                 "groups/expressions-gvae-expr-turbo/summary.json", "groups/expressions-gvae-expr-turbo/best_so_far.png",
                 "cells/train/expressions-gvae/model.safetensors",
                 "cells/bo/expressions-gvae-expr-turbo/trial_1/trial_0/evaluations.jsonl"):
        assert (serial_run / name).exists(), name
    group = json.loads((serial_run / "groups/expressions-gvae-expr-turbo/summary.json").read_text())
    assert len(set(group["seeds"])) == 2
    metrics = pd.read_csv(serial_run / "cells/train/expressions-gvae/metrics.csv")
    assert table.loc[0, "val_seq_acc"] == round(metrics.loc[metrics["val_loss"].idxmin(), "val_seq_acc"], 4)
    assert metrics["is_best"].tolist() == [True]
    hits = sum(t["best"] is not None and t["best"]["score"] == 0.0 for t in group["trials"])
    assert table.loc[0, "reached_optimum"] == f"{hits}/2"
    # the initial data the GP started from: its size and best score (lower is better here)
    init_scores = np.concatenate([np.load(p)["scores"] for p in serial_run.glob("cells/bo/*/trial_*/init.npz")])
    assert len(init_scores) == 200 and table.loc[0, "initial"] == 100
    assert table.loc[0, "initial_best"] == round(np.nanmin(init_scores), 4)


def test_rerun_skips_finished_cells_and_redoes_tampered_ones(serial_run: Path, study_file: Path,
                                                             tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(serial_run, out)
    before = _done_files(out)
    summary = _run(study_file, out)
    assert summary["counts"] == {"skipped (finished before)": 3}
    assert _done_files(out) == before
    # A corrupted output fails its checksum: that cell (only) is redone, from its checkpoints.
    evals = out / "cells/bo/expressions-gvae-expr-turbo/trial_1/trial_0/evaluations.jsonl"
    evals.write_text(evals.read_text() + "\n")
    summary = _run(study_file, out)
    assert summary["cells"]["bo/expressions-gvae-expr-turbo/trial_1"]["status"] == "done"
    assert summary["counts"]["skipped (finished before)"] == 2
    pd.testing.assert_frame_equal(_table(out), _table(serial_run))


def test_other_settings_in_the_same_folder_are_refused(serial_run: Path, tmp_path: Path) -> None:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(serial_run, out)
    changed = tmp_path / "changed.toml"
    changed.write_text(TINY.replace("epochs = 1", "epochs = 2"))
    with pytest.raises(CheckpointError, match="other settings"):
        _run(changed, out)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks a machine without a GPU")
def test_cells_asking_for_a_gpu_fail_before_any_cell_runs(tmp_path: Path) -> None:
    from latentbo.errors import ConfigError

    study = tmp_path / "gpu.toml"
    study.write_text(TINY + "\n[resources]\ngpus = 1\n")
    with pytest.raises(ConfigError, match="no CUDA device"):
        _run(study, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_process_executor_matches_serial(serial_run: Path, study_file: Path, tmp_path: Path) -> None:
    summary = _run(study_file, tmp_path / "out", "process", workers=2)
    assert summary["counts"] == {"done": 3} and summary["workers"] == 2
    pd.testing.assert_frame_equal(_table(tmp_path / "out"), _table(serial_run))


def test_failed_cell_is_recorded_and_retried(study_file: Path, tmp_path: Path, monkeypatch) -> None:
    real, calls = runner._run_bo, []

    def flaky(cell, out, study_out, device):
        calls.append(cell.id)
        if cell.settings["trial"] == 0 and calls.count(cell.id) == 1:
            raise RuntimeError("transient failure")
        return real(cell, out, study_out, device)

    monkeypatch.setattr(runner, "_run_bo", flaky)
    summary = _run(study_file, tmp_path / "out")
    assert summary["counts"] == {"done": 3}
    assert summary["cells"]["bo/expressions-gvae-expr-turbo/trial_0"]["attempts"] == 2
    errors = [json.loads(line) for line in (tmp_path / "out/errors.jsonl").read_text().splitlines()]
    assert [e["cell"] for e in errors] == ["bo/expressions-gvae-expr-turbo/trial_0"]
    assert "transient failure" in errors[0]["error"] and "Traceback" in errors[0]["traceback"]


def test_objective_timeout_fails_the_cell_and_the_retry_finishes(tmp_path: Path, monkeypatch) -> None:
    """An objective that hangs once: its cell counts a failure, is retried, and finishes."""
    marker = tmp_path / "hung-once"
    (tmp_path / "hangonce.py").write_text(
        "import pathlib, time\n"
        f"MARKER = pathlib.Path({str(marker)!r})\n"
        "def f(strings):\n"
        "    if not MARKER.exists():\n"
        "        MARKER.touch()\n"
        "        time.sleep(5)\n"
        "    return [float(len(s or '')) for s in strings]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    study = tmp_path / "hang.toml"
    study.write_text(TINY.replace('objectives = ["expr"]', 'objectives = ["hangonce:f"]').replace("trials = 2", "trials = 1")
                     + "objective_timeout = 1.0\n")
    summary = _run(study, tmp_path / "out")
    cell = "bo/expressions-gvae-hangonce_f-"
    (bo_id,) = [c for c in summary["cells"] if c.startswith(cell)]
    assert summary["counts"] == {"done": 2} and summary["cells"][bo_id]["attempts"] == 2
    errors = [json.loads(line) for line in (tmp_path / "out/errors.jsonl").read_text().splitlines()]
    assert [e["cell"] for e in errors] == [bo_id] and "took more than 1.0 s" in errors[0]["error"]


def test_cells_failing_every_retry_end_in_a_study_error(study_file: Path, tmp_path: Path, monkeypatch) -> None:
    def broken(cell, out, study_out, device):
        raise ValueError("model is broken")

    monkeypatch.setattr(runner, "_run_train", broken)
    with pytest.raises(StudyError, match="3 of 3 cells did not finish"):
        _run(study_file, tmp_path / "out")
    status = json.loads((tmp_path / "out/status.json").read_text())["cells"]
    assert status["train/expressions-gvae"] == {"status": "failed", "attempts": 2, "wall_s": pytest.approx(0, abs=1),
                                                "error": "ValueError: model is broken"}
    assert status["bo/expressions-gvae-expr-turbo/trial_0"]["status"] == "not run: train/expressions-gvae failed"


def test_killed_driver_rerun_finishes_without_recomputing(serial_run: Path, study_file: Path,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-m", "latentbo.cli", "study", "run", str(study_file), "--out", str(out),
           "--executor", "process", "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    trained = out / "cells/train/expressions-gvae/cell.json"
    deadline = time.time() + 180
    while time.time() < deadline and not (trained.exists() and '"done"' in trained.read_text()):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its workers, mid-study
    proc.wait()
    assert '"done"' in trained.read_text(), proc.stderr.read().decode()[-2000:]
    finished = {k: v for k, v in _done_files(out).items() if '"done"' in v}
    summary = _run(study_file, out, "process", workers=1)
    assert all(summary["cells"][k.removeprefix("cells/").removesuffix("/cell.json")]["status"].startswith("skipped")
               for k in finished)
    assert {k: v for k, v in _done_files(out).items() if k in finished} == finished
    pd.testing.assert_frame_equal(_table(out), _table(serial_run))  # the same result as never interrupted


def test_ray_executor_on_a_local_cluster(serial_run: Path, study_file: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    summary = _run(study_file, tmp_path / "out", "ray", cpus=1)
    assert summary["counts"] == {"done": 3} and summary["executor"] == "ray"
    pd.testing.assert_frame_equal(_table(tmp_path / "out"), _table(serial_run))


def _records(folder: Path, trials: int) -> list[list[tuple]]:
    """Each trial's (seed, string, score) records: what a campaign found, without its timings."""
    return [[(r["seed"], r["string"], r["score"]) for r in map(json.loads, (folder / f"trial_{t}/evaluations.jsonl")
             .read_text().splitlines())] for t in range(trials)]


def _campaign_study(serial_run: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the tiny study's trained model and a study file running campaigns with it."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(serial_run / "cells/train/expressions-gvae", model)
    study = tmp_path / "campaign.toml"
    study.write_text(TINY.replace("retries = 1", 'retries = 1\nbo_cells = "campaign"') + f'\n[use]\ngvae = "{model}"\n')
    return model, study


def test_campaign_cells_run_a_used_model_as_latentbo_bo_does(serial_run: Path, tmp_path: Path) -> None:
    """bo_cells = "campaign" with a model from [use]: no training, one cell per group running
    the campaign `latentbo bo` runs with the study seed; a finished campaign copied into the
    cell's folder is adopted as it is (how earlier benchmark campaigns join a study)."""
    import shutil

    from latentbo.bo import CampaignConfig
    from latentbo.pipelines import run_campaign

    model, study = _campaign_study(serial_run, tmp_path)
    out = tmp_path / "out"
    summary = _run(study, out)
    assert summary["counts"] == {"done": 1}
    cell = out / "cells/bo/expressions-gvae-expr-turbo"
    direct = tmp_path / "direct"
    run_campaign(model, CampaignConfig(objective="expr", acquisition="turbo", trials=2, seed=3, iterations=2, batch=4,
                                       init_size=100, gp_points=50, n_decode=2), direct, progress=False)
    assert _records(cell, 2) == _records(direct, 2)
    table = _table(out)
    assert table.loc[0, "trials"] == 2 and table.loc[0, "evaluations"] == 16
    assert table.loc[0, "val_seq_acc"] == _table(serial_run).loc[0, "val_seq_acc"]

    adopted = tmp_path / "adopted"
    shutil.copytree(direct, adopted / "cells/bo/expressions-gvae-expr-turbo")
    before = (direct / "trial_1/evaluations.jsonl").read_bytes()
    assert _run(study, adopted)["counts"] == {"done": 1}
    assert (adopted / "cells/bo/expressions-gvae-expr-turbo/trial_1/evaluations.jsonl").read_bytes() == before
    pd.testing.assert_frame_equal(_table(adopted), table)

    # the folder trained further after its campaigns ran: the table keeps the model they saw
    metrics = pd.read_csv(model / "metrics.csv")
    later = metrics.iloc[[-1]].assign(epoch=metrics["epoch"].max() + 1, val_seq_acc=0.99, is_best=True)
    pd.concat([metrics, later]).to_csv(model / "metrics.csv", index=False)
    runner.aggregate(StudySpec.from_toml(study), out)
    pd.testing.assert_frame_equal(_table(out), table)


def test_cells_of_a_retrained_model_are_refused_or_set_aside_and_rerun(serial_run: Path, tmp_path: Path) -> None:
    """A [use] model trained further after its campaigns ran: the study refuses to reuse
    them; with redo_stale the old cells move to OUT/stale/ untouched and run again."""
    from safetensors.torch import load_file, save_file

    model, study = _campaign_study(serial_run, tmp_path)
    out = tmp_path / "out"
    _run(study, out)
    cell = out / "cells/bo/expressions-gvae-expr-turbo"
    before = (cell / "trial_0/evaluations.jsonl").read_bytes()
    ran = json.loads((cell / "campaign.json").read_text())["model_fingerprint"]
    weights = load_file(model / "model.safetensors")
    name = min(weights)
    weights[name] = weights[name] + 0.5
    save_file(weights, model / "model.safetensors")

    with pytest.raises(CheckpointError, match="1 cells ran with other weights.*--redo-stale"):
        _run(study, out)
    assert (cell / "trial_0/evaluations.jsonl").read_bytes() == before
    assert runner.aggregate(StudySpec.from_toml(study), out).empty  # a table of what is current only

    assert _run(study, out, redo_stale=True)["counts"] == {"done": 1}
    assert (out / f"stale/bo/expressions-gvae-expr-turbo.{ran}/trial_0/evaluations.jsonl").read_bytes() == before
    assert json.loads((cell / "campaign.json").read_text())["model_fingerprint"] != ran
    assert runner.stale_cells(StudySpec.from_toml(study), out) == {}


def test_a_link_at_cells_or_groups_is_refused(tmp_path: Path) -> None:
    from latentbo.errors import StudyError
    from latentbo.study.runner import cell_dir

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "cells").symlink_to(elsewhere)
    with pytest.raises(StudyError, match="is a symbolic link"):
        cell_dir(tmp_path / "out", "bo/expressions-gvae-expr-turbo")
    assert not any(elsewhere.iterdir())
