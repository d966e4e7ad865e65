import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from latentbo.cli import app
from latentbo.errors import DatasetError

runner = CliRunner()


def test_every_command_has_help() -> None:
    assert runner.invoke(app, ["--help"]).exit_code == 0
    for cmd in ["data list", "grammar check", "models list", "demo", "train", "bo", "encode", "decode", "sample",
                "study run", "images train", "images eval"]:
        result = runner.invoke(app, [*cmd.split(), "--help"])
        assert result.exit_code == 0 and f" {cmd} [OPTIONS]" in result.stdout, cmd
        assert "--json" in result.stdout, f"{cmd} lacks --json"
        assert "<bool>" not in result.stdout, f"{cmd} shows a type for a flag"


def test_data_list_json(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--data-dir", str(tmp_path), "data", "list", "--json"])
    assert result.exit_code == 0
    payload = json.loads(result.output)
    assert payload["data_dir"] == str(tmp_path)
    assert {r["name"] for r in payload["datasets"]} >= {"expressions", "zinc250k", "moses", "nci5k", "fashion-mnist"}


def test_grammar_check_report(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--data-dir", str(tmp_path), "grammar", "check", "--task", "expressions", "--limit", "500", "--no-progress",
              "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
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
    """The user path through the CLI on a tiny model (embedded expressions), with the
    autoregressive decoder (encode, decode, sample and bo decode it step by step)."""
    cfg = tmp_path / "tiny.toml"
    cfg.write_text('hidden = 32\ndecoder_hidden = 32\ndecoder_layers = 1\nlatent_dim = 4\nbatch_size = 64\n')
    model = tmp_path / "model"
    base = ["--data-dir", str(tmp_path / "no-data")]
    result = runner.invoke(app, [*base, "train", "--task", "expressions", "--arch", "gmm_dae", "--config", str(cfg),
                                 "--epochs", "2", "--limit", "400", "--out", str(model), "--no-progress", "--json",
                                 "--decoder", "ar", "--batch-size", "32", "--lr-scaling", "sqrt", "--precision", "fp32"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["epochs"] == 2
    saved = (model / "config.toml").read_text()
    assert all(f in saved for f in ('decoder = "ar"', "batch_size = 32", 'lr_scaling = "sqrt"', 'precision = "fp32"'))
    # epoch summaries on stderr even without progress bars
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == ["epoch 1/2", "epoch 2/2"]
    (tmp_path / "in.txt").write_text("x + 1\nsin( x )\nnot an expression\n")
    result = runner.invoke(app, ["encode", "--model", str(model), "--input", str(tmp_path / "in.txt"),
                                 "--out", str(tmp_path / "z.csv")])
    assert result.exit_code == 0, result.output
    assert "skipped_lines: [3]" in result.stdout  # human text by default
    (tmp_path / "bad.txt").write_text("not an expression\ncos( x )\n")
    result = runner.invoke(app, ["encode", "--model", str(model), "--input", str(tmp_path / "bad.txt"),
                                 "--out", str(tmp_path / "none.csv")])
    # (the console script turns a project error into one line and exit status 2)
    assert isinstance(result.exception, DatasetError) and "no line" in str(result.exception)
    assert not (tmp_path / "none.csv").exists()
    result = runner.invoke(app, ["decode", "--model", str(model), "--input", str(tmp_path / "z.csv")])
    assert result.exit_code == 0 and len(result.stdout.splitlines()) == 2  # one line per code, empty if invalid
    result = runner.invoke(app, [*base, "sample", "--model", str(model), "-n", "50", "--json"])
    summary = json.loads(result.stdout)
    assert summary["n"] == 50
    # expressions: every finished derivation is valid, so the invalid ones are the unfinished
    assert round(50 * summary["valid_fraction"]) + summary["invalid_reasons"].get("unfinished", 0) == 50
    assert sum(summary["decode_status"].values()) == 50
    result = runner.invoke(app, [*base, "bo", "--model", str(model), "--out", str(tmp_path / "bo"), "--iterations", "2",
                                 "--batch", "3", "--trials", "1", "--init-size", "100", "--gp-points", "40",
                                 "--n-decode", "2", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "top-3" in result.output and "fraction valid" in result.output
    assert "decoding: none, all 6 candidates bred; invalid: none" in result.output  # grammar-ga: the default
    assert (tmp_path / "bo" / "summary.json").exists()


TINY = "hidden = 32\ndecoder_hidden = 32\ndecoder_layers = 1\nlatent_dim = 4\nbatch_size = 64\n"
BO_SMALL = ["--iterations", "1", "--batch", "3", "--trials", "1", "--init-size", "60", "--gp-points", "30",
            "--n-decode", "2", "--no-progress"]


@pytest.mark.parametrize("group", ["data", "models", "grammar", "study", "images"])
def test_a_group_without_its_command_is_a_usage_error(group: str) -> None:
    """Its help, listing the commands, and exit 2: a script that forgot the command fails."""
    result = runner.invoke(app, [group])
    assert result.exit_code == 2 and "Usage: " in result.output and "Commands" in result.output


def test_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"latentbo {version('latentbo')}\n"


def test_own_data_own_objective_and_overwrite(tmp_path: Path, monkeypatch) -> None:
    """A new user's path: their own strings, their own scoring module in the working
    directory, known initial scores in a CSV, minimised, and --overwrite."""
    from latentbo.data.datasets import generate_expressions

    monkeypatch.chdir(tmp_path)
    exprs = generate_expressions(300, seed=4)
    Path("own.txt").write_text("\n".join(exprs) + "\n")
    Path("tiny.toml").write_text(TINY)
    train = ["train", "--dataset", "own.txt", "--arch", "gmm_dae", "--config", "tiny.toml", "--epochs", "1",
             "--out", "m", "--no-progress", "--json"]
    result = runner.invoke(app, train)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["source"].startswith("own.txt (sha256 ")
    assert json.loads(Path("m/data_report.json").read_text())["source"] == json.loads(result.stdout)["source"]
    result = runner.invoke(app, train)
    assert "already holds a training run" in str(result.exception)
    assert runner.invoke(app, [*train, "--overwrite"]).exit_code == 0
    assert "pass one of them" in str(runner.invoke(app, [*train, "--overwrite", "--resume"]).exception)
    # resumed with the options it was started with it stops where it was set to; --epochs 2 trains longer
    again = [a for a in train if a not in ("--epochs", "1")]
    for extra, epochs in (([], 1), (["--epochs", "2"], 2)):
        result = runner.invoke(app, [*again, "--resume", *extra])
        assert result.exit_code == 0 and json.loads(result.stdout)["epochs"] == epochs, result.output

    Path("myobj.py").write_text("import math\n\ndef shortness(strings):\n"
                                "    return [math.nan if s is None else float(len(s)) for s in strings]\n")
    Path("init.csv").write_text("expression,length\n" + "".join(f'"{e}",{len(e)}\n' for e in exprs[:100]))
    bo = ["bo", "--model", "m", "--out", "bo", "--objective", "myobj:shortness", "--minimize", "--dataset",
          "init.csv", "--score-column", "length", *BO_SMALL, "--json"]
    result = runner.invoke(app, bo)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["objective"] == "myobj:shortness" and summary["maximize"] is False
    assert summary["initial_best"] == min(len(e) for e in exprs[:100] if e in json.loads(Path("bo/init_strings.json").read_text()))
    assert "already holds a campaign" in str(runner.invoke(app, bo).exception)
    assert runner.invoke(app, [*bo, "--overwrite"]).exit_code == 0
    Path("notes").mkdir()
    Path("notes/thesis.tex").write_text("precious")
    result = runner.invoke(app, [*bo[:4], "notes", *bo[5:], "--overwrite"])
    assert "no latentbo run" in str(result.exception) and Path("notes/thesis.tex").read_text() == "precious"
    # a file objective, human text output
    result = runner.invoke(app, ["bo", "--model", "m", "--out", "bo2", "--objective", "myobj.py:shortness",
                                 "--dataset", "own.txt", *BO_SMALL])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("objective myobj.py:shortness (higher is better)")


def test_working_directory_holding_a_dataset_folder(tmp_path: Path, monkeypatch) -> None:
    """A data directory has expressions/: a bare grammar name still means the bundled grammar."""
    (tmp_path / "expressions").mkdir()
    (tmp_path / "expressions" / "equation2_15_dataset.txt").write_text("x + 1\nsin( x )\nx * x\n" * 40)
    (tmp_path / "tiny.toml").write_text(TINY)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["--data-dir", ".", "train", "--arch", "gmm_dae", "--config", "tiny.toml",
                                 "--epochs", "1", "--out", "m", "--no-progress"])
    assert result.exit_code == 0, result.output
    Path("in.txt").write_text("x + 1\n")
    result = runner.invoke(app, ["encode", "--model", "m", "--input", "in.txt", "--out", "z.csv", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["encoded"] == 1


def test_decode_leaves_invalid_molecules_empty(tmp_path: Path, monkeypatch) -> None:
    """What the decoder finishes but RDKit rejects is an invalid decode, as the help says."""
    import numpy as np

    import latentbo.models as models

    class Stub:  # a ZINC model whose stochastic decodes include an unclosed ring
        config = type("C", (), {"task": "zinc"})()
        codec = type("K", (), {"set_semantic": lambda self, on: None})()

        def decode_latents(self, z, stochastic, generator):
            return ["CCO", "C1CC", None][: len(z)]

    monkeypatch.setattr(models, "load_model", lambda path, **kw: Stub())
    np.savetxt(tmp_path / "z.csv", np.zeros((3, 2)), delimiter=",")
    result = runner.invoke(app, ["decode", "--model", str(tmp_path), "--input", str(tmp_path / "z.csv"),
                                 "--stochastic"])
    assert result.exit_code == 0, result.output
    assert result.stdout == "CCO\n\n\n"
    assert "2 of 3 decodes invalid" in result.stderr and "unfinished" in result.stderr
    result = runner.invoke(app, ["decode", "--model", str(tmp_path), "--input", str(tmp_path / "z.csv"), "--json"])
    payload = json.loads(result.stdout)
    assert payload["strings"] == ["CCO", None, None] and sum(payload["invalid_reasons"].values()) == 2


def test_an_interrupted_command_says_how_to_go_on(monkeypatch) -> None:
    """Ctrl-C: one line naming the folder and the exact command with --resume, exit 130."""
    import io
    import sys
    from contextlib import redirect_stderr

    import latentbo.cli as cli

    def interrupted(**_):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "app", interrupted)
    monkeypatch.setattr(sys, "argv", ["latentbo", "bo", "--model", "m", "--objective", "qed", "--out", "runs/x",
                                      "--overwrite"])
    err = io.StringIO()
    with redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        cli.run()
    assert exit_.value.code == 130
    assert err.getvalue().strip() == ("latentbo: interrupted; what was finished is saved in runs/x; go on with: "
                                      "latentbo bo --model m --objective qed --out runs/x --resume")


def test_encode_reads_smi_and_csv_files_as_dataset_does(tmp_path: Path) -> None:
    import numpy as np

    (tmp_path / "mine.smi").write_text("CCO ethanol\nc1ccccc1O phenol\n")
    (tmp_path / "mine.csv").write_text("name,smiles\nethanol,CCO\nphenol,c1ccccc1O\n")
    for name in ("mine.smi", "mine.csv"):
        out = tmp_path / f"{name}.npy"
        result = runner.invoke(app, ["encode", "--model", "zinc-gvae", "--input", str(tmp_path / name), "--out",
                                     str(out), "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["encoded"] == 2 and np.load(out).shape == (2, 56)


def test_the_command_line_reference_is_current(tmp_path: Path) -> None:
    """docs/cli.md is what Typer generates from the app now (`make docs-cli` remakes it)."""
    import subprocess
    import sys

    out = tmp_path / "cli.md"
    subprocess.run([sys.executable, "-m", "typer", "latentbo.cli", "utils", "docs", "--name", "latentbo", "--output",
                    str(out)], check=True, capture_output=True, timeout=120)
    assert out.read_text() == (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()


@pytest.mark.parametrize("model, extra, expected", [
    ("zinc-gvae", [], ("graph-ga", 500, 0, False)),                                 # molecule defaults
    ("zinc-gvae", ["--acquisition", "qlogei", "--gp-max", "900", "--retrain-every", "3", "--no-joint"],
     ("qlogei", 900, 3, False)),                                                     # what the user says wins
    ("zinc-gvae", ["--acquisition", "turbo", "--retrain-every", "2", "--joint"], ("turbo", 500, 2, True)),
    ("expressions-gmm_dae", [], ("grammar-ga", 500, 0, False)),                      # expression defaults
])
def test_bo_defaults_depend_on_the_models_task(monkeypatch, model: str, extra: list[str], expected: tuple) -> None:
    from latentbo.bo import campaign

    seen = {}

    def capture(model_dir, config, out, **kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(campaign.Campaign, "from_dir", staticmethod(capture))
    objective = ["--objective", "qed"] if model.startswith("zinc") else []
    runner.invoke(app, ["bo", "--model", model, *objective, "--out", "unused", *extra])
    c = seen["config"]
    assert (c.acquisition, c.gp_max, c.retrain_every, c.joint) == expected


@pytest.mark.parametrize("model, objective", [("zinc-gvae", ["--objective", "qed"]), ("expressions-gmm_dae", [])])
def test_a_resumed_campaign_keeps_the_settings_it_started_with(monkeypatch, tmp_path: Path, model: str,
                                                               objective: list[str]) -> None:
    """A campaign started before today's defaults (qLogEI, every evaluation in the GP)
    resumes with those, not with today's (which the resume check would refuse)."""
    from latentbo.bo import campaign

    seen = {}

    def capture(model_dir, config, out, **kwargs):
        seen["config"] = config
        raise SystemExit(0)

    monkeypatch.setattr(campaign.Campaign, "from_dir", staticmethod(capture))
    (tmp_path / "campaign.json").write_text(json.dumps({"config": {"acquisition": "qlogei", "gp_max": None}}))
    runner.invoke(app, ["bo", "--model", model, *objective, "--out", str(tmp_path), "--resume"])
    c = seen["config"]
    # settings it does not record (retraining came later) had CampaignConfig's defaults
    assert (c.acquisition, c.gp_max, c.retrain_every, c.joint) == ("qlogei", None, 0, False)


def test_data_zinclike_writes_the_molecules_and_counts_what_it_skipped(tmp_path: Path) -> None:
    """A file of molecules in, the ZINC-like forms out (one a line), the unreadable one
    counted by its number."""
    src = tmp_path / "mine.smi"
    src.write_text("CC(=O)O acid\nnot_a_molecule x\nCCN(CC)CC amine\n")
    out = tmp_path / "zinclike.smi"
    result = runner.invoke(app, ["data", "zinclike", "--dataset", str(src), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["written"], report["skipped"], report["skipped_molecules"]) == (2, 1, [2])
    assert out.read_text().splitlines() == ["CC(=O)[O-]", "CC[NH+](CC)CC"]
