from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from latentbo.cli import app
from latentbo.errors import ConfigError

runner = CliRunner()


def test_images_train_and_eval(toy_data_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "model"
    result = runner.invoke(app, ["--data-dir", str(toy_data_dir), "images", "train", "--out", str(out), "--arch",
                                 "gmm_dae", "--epochs", "1", "--width", "4", "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["epochs"] == 1
    result = runner.invoke(app, ["--data-dir", str(toy_data_dir), "images", "eval", "--model", str(out), "-n", "50",
                                 "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["dataset"] == "fashion-mnist" and report["fd_sampling"] > 0 and "clustering_acc" in report
    assert (out / "samples.png").exists() and (out / "metrics.json").exists()


def test_images_eval_checks_inception_weights_before_the_long_work(toy_data_dir: Path, tmp_path: Path,
                                                                    monkeypatch) -> None:
    import latentbo.images

    out = tmp_path / "model"
    result = runner.invoke(app, ["--data-dir", str(toy_data_dir), "images", "train", "--out", str(out), "--epochs",
                                 "1", "--width", "4", "--limit", "50", "--no-progress"])
    assert result.exit_code == 0, result.output

    def long_work(*_a: object, **_k: object) -> None:
        raise AssertionError("the feature network was trained before the weights were checked")

    monkeypatch.setattr(latentbo.images, "feature_net", long_work)
    result = runner.invoke(app, ["--data-dir", str(toy_data_dir), "images", "eval", "--model", str(out),
                                 "--inception-weights", str(tmp_path / "missing.pth")])
    assert isinstance(result.exception, ConfigError) and "missing.pth not found" in str(result.exception)


def test_images_missing_data_names_the_expected_files(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "images", "train", "--out", str(tmp_path / "m")])
    assert result.exit_code != 0
    assert "fashion-mnist" in str(result.exception)
