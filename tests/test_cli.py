import json
from pathlib import Path

from typer.testing import CliRunner

from latentbo.cli import app
from latentbo.errors import DatasetError

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ["data", "grammar", "demo", "study", "images"]:
        assert cmd in result.output


def test_data_list_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "data", "list", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["data_dir"] == str(tmp_path)
    assert {r["name"] for r in payload["datasets"]} >= {"expressions", "zinc250k", "moses", "nci5k", "fashion-mnist"}


def test_grammar_check_report(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "grammar", "check", "--task", "expressions", "--limit", "500", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    for key in ["read", "parsed", "round_trip_exact", "round_trip_fraction", "failures", "per_second"]:
        assert key in report
    assert report["read"] == 500 and report["round_trip_fraction"] == 1.0


def test_missing_dataset_is_clear_error(tmp_path: Path) -> None:
    from latentbo.cli import run
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "from latentbo.cli import run; run()", "--data-dir", str(tmp_path), "grammar", "check", "--task", "zinc"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "zinc250k/valid.txt" in proc.stderr and "Traceback" not in proc.stderr
    assert run  # the console-script entry point exists


def test_train_encode_sample_bo_commands(tmp_path: Path) -> None:
    """The user path through the CLI on a tiny model (embedded expressions)."""
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('hidden = 32\ndecoder_hidden = 32\ndecoder_layers = 1\nlatent_dim = 4\nbatch_size = 64\n')
    model = tmp_path / "model"
    base = ["--data-dir", str(tmp_path / "no-data")]
    result = runner.invoke(app, [*base, "train", "--task", "expressions", "--model", "gmm_dae", "--config", str(cfg),
                                 "--epochs", "2", "--limit", "400", "--out", str(model), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["epochs"] == 2
    (tmp_path / "in.txt").write_text("x + 1\nsin( x )\nnot an expression\n")
    result = runner.invoke(app, ["encode", "--model", str(model), "--input", str(tmp_path / "in.txt"),
                                 "--out", str(tmp_path / "z.csv")])
    assert result.exit_code == 0, result.output
    assert '"skipped_lines": [3]' in result.output
    (tmp_path / "bad.txt").write_text("not an expression\ncos( x )\n")
    result = runner.invoke(app, ["encode", "--model", str(model), "--input", str(tmp_path / "bad.txt"),
                                 "--out", str(tmp_path / "none.csv")])
    # (the console script turns a project error into one line and exit status 2)
    assert isinstance(result.exception, DatasetError) and "no line" in str(result.exception)
    assert not (tmp_path / "none.csv").exists()
    result = runner.invoke(app, ["decode", "--model", str(model), "--input", str(tmp_path / "z.csv")])
    assert result.exit_code == 0 and len(result.output.splitlines()) == 2
    result = runner.invoke(app, [*base, "sample", "--model", str(model), "-n", "50"])
    summary = json.loads(result.output)
    assert summary["n"] == 50
    # expressions: every finished derivation is valid, so the invalid ones are the unfinished
    assert round(50 * summary["valid_fraction"]) + summary["invalid_reasons"].get("unfinished", 0) == 50
    assert sum(summary["decode_status"].values()) == 50
    result = runner.invoke(app, [*base, "bo", "--model", str(model), "--out", str(tmp_path / "bo"), "--iterations", "2",
                                 "--batch", "3", "--trials", "1", "--init-size", "100", "--gp-points", "40",
                                 "--n-decode", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "top-3" in result.output and "fraction valid" in result.output and "decoding:" in result.output
    assert (tmp_path / "bo" / "summary.json").exists()
