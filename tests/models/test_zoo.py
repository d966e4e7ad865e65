import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from latentbo.cli import app
from latentbo.data.datasets import generate_expressions
from latentbo.errors import CheckpointError
from latentbo.models import load_model
from latentbo.models.zoo import CARD_FIELDS, resolve_model, zoo_cards, zoo_names

ROOT = Path(__file__).resolve().parents[2]


def test_the_zoo_ships_its_models_with_cards() -> None:
    assert {"expressions-gmm_dae", "zinc-gmm_dae", "zinc-gvae", "zinc-selfies-gmm_dae"} <= set(zoo_names())
    for card in zoo_cards():
        assert all(card[f] is not None for f in CARD_FIELDS if f != "wall_minutes"), card["name"]
        assert card["megabytes"] < 12  # fp16 weights keep the wheel small (the largest: zinc-druglike, 5.2M parameters)
        model = load_model(card["name"])
        assert all(p.dtype == torch.float32 for p in model.parameters())  # fp16 on disk, fp32 loaded
        assert (model.config.task, model.config.model) == (card["task"], card["arch"])
        assert (model.codec.kind, model.config.decoder) == (card["codec"], card["decoder"])


def test_pretrained_selfies_model_samples_valid_molecules_step_by_step() -> None:
    from latentbo.metrics import sample_quality

    model = load_model("zinc-selfies-gmm_dae")
    assert model.decoder.autoregressive
    quality, strings = sample_quality(model, 30, seed=0)
    assert quality["valid_fraction"] == 1.0 and quality["unique_fraction"] > 0.9  # its card: 1.0 and 1.0 of 1,000
    assert len({len(s) for s in strings}) > 5  # decodes of many lengths: rows left the batch at their own step


def test_pretrained_expression_model_reconstructs() -> None:
    from latentbo.data.datasets import grammar_vae_expressions

    model = load_model("expressions-gmm_dae")
    exprs = grammar_vae_expressions(300, seed=5)  # a fifth of this space was never in its training data
    z, batch = model.encode_strings(exprs)
    exact = sum(d == exprs[i] for d, i in zip(model.decode_latents(z), batch.kept)) / len(exprs)
    assert exact > 0.6  # measured 0.71 (0.88 on its own held-out split, as its card says)


def test_resolve_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_model("zinc-gvae").name == "zinc-gvae" and resolve_model("zinc-gvae").is_dir()
    Path("zinc-gvae").mkdir()  # a folder of that name in the working directory: the name is still the zoo's
    assert resolve_model("zinc-gvae") != Path("zinc-gvae") and resolve_model("zinc-gvae").name == "zinc-gvae"
    assert resolve_model("./zinc-gvae") == resolve_model(Path("zinc-gvae")) == Path("zinc-gvae")
    with pytest.raises(CheckpointError, match="no pretrained model of that name.*expressions-gmm_dae"):
        resolve_model("zinc-gvea")
    Path("f.txt").write_text("")
    with pytest.raises(CheckpointError, match="is a file"):
        resolve_model("f.txt")


def test_models_list_and_zoo_names_on_the_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["models", "list", "--json"])
    assert result.exit_code == 0 and [c["name"] for c in json.loads(result.stdout)] == zoo_names()
    assert "expressions-gmm_dae" in runner.invoke(app, ["models", "list"]).stdout
    (tmp_path / "in.txt").write_text("x * 2\nsin( x )\n")
    result = runner.invoke(app, ["encode", "--model", "expressions-gmm_dae", "--input", str(tmp_path / "in.txt"),
                                 "--out", str(tmp_path / "z.npy"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["encoded"] == 2


def _train_zoo(tmp_path: Path, name: str) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "LATENTBO_CACHE_DIR": str(tmp_path / "cache"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "train_zoo.py"), "--device", "cpu", "--minutes", "0.01", "--only",
         name, "--data-dir", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"), "--out",
         str(tmp_path / "zoo"), "--table", "", "--samples", "20", "--limit", "300"],
        capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    card = json.loads((tmp_path / "zoo" / name / "card.json").read_text())
    assert card["epochs"] == 1 and card["device"] == "cpu" and "--max-minutes 0.01" in card["command"]
    assert load_model(tmp_path / "zoo" / name).config.model == "gmm_dae"
    return card


def test_train_zoo_runs_on_cpu_at_a_small_budget(tmp_path: Path) -> None:
    data = tmp_path / "data" / "expressions"
    data.mkdir(parents=True)
    (data / "equation2_15_dataset.txt").write_text("\n".join(generate_expressions(300, seed=2)) + "\n")
    card = _train_zoo(tmp_path, "expressions-gmm_dae")
    assert card["data"].startswith(str(data / "equation2_15_dataset.txt"))


def test_the_default_candidate_trains_on_drug_like_data_at_a_small_budget(tmp_path: Path,
                                                                          molecules: list[str]) -> None:
    """The GPU recipe (one model, ZINC with stereo and charges, then MOSES) end to end on the CPU."""
    for folder, name, text in [("zinc250k", "valid.txt", "\n".join(molecules[:150])),
                               ("moses", "train.csv", "SMILES,SPLIT\n" + "\n".join(f"{m},train" for m in molecules[150:300]))]:
        (tmp_path / "data" / folder).mkdir(parents=True)
        (tmp_path / "data" / folder / name).write_text(text + "\n")
    with gzip.open(tmp_path / "data" / "moses" / "train.csv.gz", "wt") as fh:
        fh.write((tmp_path / "data" / "moses" / "train.csv").read_text())
    card = _train_zoo(tmp_path, "zinc-druglike")
    assert "zinc250k/valid.txt" in card["data"] and "moses/train.csv.gz" in card["data"]
    assert "--dataset zinc250k,moses" in card["command"] and card["codec"] == "selfies"
    weights = load_file(tmp_path / "zoo" / "zinc-druglike" / "model.safetensors")
    assert {v.dtype for v in weights.values() if v.is_floating_point()} == {torch.float16}
    config = load_model(tmp_path / "zoo" / "zinc-druglike").config  # the spec's wider shape
    assert (config.conv_channels, config.decoder_hidden, config.decoder_layers) == ([64, 128, 128], 256, 4)
    assert (config.schedule, config.grad_clip, config.epochs) == ("cosine", 200.0, 28)


def test_train_zoo_commands_take_a_spec_config_another_dataset_and_a_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from train_zoo import train_command

    cmd = train_command("zinc-druglike", Path("r"), "cuda", 7, None, "d", dataset="zinc250k,zl.csv.gz")
    assert cmd[cmd.index("--dataset") + 1] == "zinc250k,zl.csv.gz" and cmd.count("--dataset") == 1
    assert Path(cmd[cmd.index("--config") + 1]) == ROOT / "benchmarks" / "configs" / "zinc_druglike.toml"
    assert Path(cmd[cmd.index("--config") + 1]).is_file()
    assert cmd[cmd.index("--epochs") + 1] == "28" and cmd.count("--epochs") == 1  # where its cosine schedule ends
    cmd = train_command("zinc-druglike", Path("r"), "cuda", 20, None, "d", epochs=80)
    assert cmd[cmd.index("--epochs") + 1] == "80" and cmd.count("--epochs") == 1
    cmd = train_command("zinc-selfies-gmm_dae-ft-gpu", Path("r"), "cuda", 7, None, None)
    assert cmd[cmd.index("--init-from") + 1] == "zinc-selfies-gmm_dae-ft" and "--task" not in cmd
    assert cmd[cmd.index("--dataset") + 1] == "zinc250k,moses" and cmd[cmd.index("--epochs") + 1] == "100"


def test_one_default_model_per_task_and_bo_uses_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.data.datasets import set_data_dir
    from latentbo.models.zoo import default_model

    defaults = {}
    for card in zoo_cards():
        if card["default"]:
            assert card["task"] not in defaults, card["task"]  # one per task
            defaults[card["task"]] = card["name"]
    assert defaults == {"expressions": default_model("expressions"), "zinc": default_model("zinc")}
    monkeypatch.delenv("LATENTBO_DATA_DIR", raising=False)
    set_data_dir(None)  # the embedded expressions
    runner = CliRunner()
    result = runner.invoke(app, ["bo", "--out", str(tmp_path / "bo"), "--iterations", "1", "--batch", "2",
                                 "--trials", "1", "--init-size", "60", "--gp-points", "30", "--n-decode", "1",
                                 "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "bo" / "campaign.json").read_text())
    assert Path(meta["model"]).name == defaults["expressions"] and meta["config"]["objective"] == "expr"
