import json
from pathlib import Path

from typer.testing import CliRunner

from latentbo.cli import app

runner = CliRunner()


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ["data", "grammar", "demo"]:
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
