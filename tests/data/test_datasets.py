import gzip
from pathlib import Path

import numpy as np
import pytest

from latentbo.codecs import GrammarCodec
from latentbo.data import DATASETS, data_dir, dataset_status, load_strings, set_data_dir
from latentbo.data.datasets import generate_expressions, grammar_vae_expressions
from latentbo.errors import DatasetError, DatasetNotFoundError


def _layout(root: Path) -> None:
    (root / "zinc250k").mkdir(parents=True)
    (root / "zinc250k" / "valid.txt").write_text("CCO\nc1ccccc1\n\n")
    (root / "moses").mkdir()
    with gzip.open(root / "moses" / "train.csv.gz", "wt") as fh:
        fh.write("SMILES\nCCN\nCCC\n")


def test_env_var_and_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTBO_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    set_data_dir(tmp_path / "flag")
    assert data_dir() == tmp_path / "flag"  # the flag wins


def test_loaders_read_layout(tmp_path: Path) -> None:
    _layout(tmp_path)
    set_data_dir(tmp_path)
    assert load_strings("zinc250k") == (["CCO", "c1ccccc1"], str(tmp_path / "zinc250k" / "valid.txt"))
    assert load_strings("moses")[0] == ["CCN", "CCC"]
    assert load_strings("zinc250k", limit=1)[0] == ["CCO"]
    status = {r["name"]: r for r in dataset_status()}
    assert status["zinc250k"]["available"] and status["zinc250k"]["bytes"] > 0
    assert not status["mnist"]["available"]


def test_missing_dataset_names_expected_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATENTBO_DATA_DIR", raising=False)
    set_data_dir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match=r"zinc250k/valid\.txt"):
        load_strings("zinc250k")
    set_data_dir(None)
    with pytest.raises(DatasetNotFoundError, match="LATENTBO_DATA_DIR"):
        load_strings("moses")
    with pytest.raises(DatasetNotFoundError, match="unknown dataset"):
        load_strings("nope")


def test_empty_and_malformed_files(tmp_path: Path) -> None:
    (tmp_path / "zinc250k").mkdir()
    (tmp_path / "zinc250k" / "valid.txt").write_text("\n\n")
    (tmp_path / "moses").mkdir()
    with gzip.open(tmp_path / "moses" / "train.csv.gz", "wt") as fh:
        fh.write("smiles_wrong_header\tx\nCC\n")
    set_data_dir(tmp_path)
    with pytest.raises(DatasetError, match="no data lines"):
        load_strings("zinc250k")
    with pytest.raises(DatasetError, match="SMILES"):
        load_strings("moses")


def test_expression_fallback_is_deterministic_and_parsable(tmp_path: Path) -> None:
    set_data_dir(tmp_path)  # no expressions file there
    strings, source = load_strings("expressions", limit=2000)
    assert source == "embedded:expressions"
    assert strings == grammar_vae_expressions(100_000)[:2000]
    assert len(set(generate_expressions(3000, seed=1))) == 3000
    batch = GrammarCodec("expressions").encode_many(strings)
    assert not batch.failures
    with pytest.raises(DatasetNotFoundError):
        load_strings("expressions", allow_fallback=False)


def test_nci_fallback_available() -> None:
    strings, source = load_strings("nci5k")
    assert source == "embedded:nci5k" and len(strings) > 4900
    assert DATASETS["nci5k"].relpath is None


def test_dataset_files_lines_smi_and_csv(tmp_path: Path) -> None:
    import hashlib

    from latentbo.data import read_dataset_file

    txt = tmp_path / "mine.txt"
    txt.write_text("x + 1\n\nsin( x ) * 2\n")  # spaces belong to the string
    strings, source = load_strings(str(txt))
    assert strings == ["x + 1", "sin( x ) * 2"]
    assert source == f"{txt} (sha256 {hashlib.sha256(txt.read_bytes()).hexdigest()[:16]})"
    smi = tmp_path / "mine.smi"
    smi.write_text("CCO ethanol\nc1ccccc1\tbenzene\n")
    assert load_strings(str(smi))[0] == ["CCO", "c1ccccc1"]
    csv = tmp_path / "mine.csv"
    csv.write_text('id,SMILES,pIC50\n1,CCO,5.5\n2,"CC(=O)O",\n3,CCN,nan\n')
    assert load_strings(str(csv))[0] == ["CCO", "CC(=O)O", "CCN"]  # the column named smiles, any case
    strings, scores, _ = read_dataset_file(csv, score_column="pic50")
    assert strings == ["CCO", "CC(=O)O", "CCN"] and scores[0] == 5.5 and np.isnan(scores[1:]).all()
    assert load_strings(str(csv), column="id", limit=2)[0] == ["1", "2"]
    gz = tmp_path / "mine.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write("expression\nx * x\n")
    assert load_strings(str(gz))[0] == ["x * x"]


@pytest.mark.parametrize("content, kwargs, message", [
    ("a,b\n1,2\n", {}, "name the column"),
    ("smiles,y\nCCO,1\n", {"column": "mol"}, "no column 'mol'"),
    ("smiles,y\nCCO,1\n", {"score_column": "z"}, "no column 'z'"),
    ("smiles,y\nCCO,high\n", {"score_column": "y"}, "line 2: score 'high'"),
    ("smiles,y\n,1\n", {}, "line 2: column 'smiles' is empty"),
    ("smiles\n", {}, "no data rows"),
    ("", {}, "header row"),
])
def test_bad_dataset_files(tmp_path: Path, content: str, kwargs: dict, message: str) -> None:
    from latentbo.data import read_dataset_file

    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DatasetError, match=message):
        read_dataset_file(path, **kwargs)


def test_dataset_names_and_paths(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        load_strings(str(tmp_path / "missing.txt"))
    with pytest.raises(DatasetNotFoundError, match="or a path to a file"):
        load_strings("zinc251k")
    with pytest.raises(DatasetError, match="--column"):
        load_strings("nci5k", column="smiles")
    (tmp_path / "plain.txt").write_text("CCO\n")
    with pytest.raises(DatasetError, match="need a CSV"):
        load_strings(str(tmp_path / "plain.txt"), column="smiles")


def test_grammar_vae_expression_space() -> None:
    import re

    every = grammar_vae_expressions(122_880)
    assert len(set(every)) == 122_880 and grammar_vae_expressions(50, seed=3) == grammar_vae_expressions(50, seed=3)
    leaf, op = "(?:x|1|2|3)", "[+*/]"
    f = rf"(?:{leaf}|(?:sin|exp)?\( {leaf} \))"
    g = rf"(?:{f}|(?:sin|exp)?\( {leaf} {op} {leaf} \))"
    shape = re.compile(rf"^{leaf} {op} {leaf} \+ {f} \+ {g}$")  # the shape of every line of the Grammar-VAE file
    assert all(shape.match(e) for e in every)
    assert not GrammarCodec("expressions").encode_many(every[::97]).failures
    with pytest.raises(DatasetError, match="122880"):
        grammar_vae_expressions(122_881)


def test_several_datasets_at_once(tmp_path: Path) -> None:
    _layout(tmp_path)  # zinc250k: CCO, c1ccccc1; moses: CCN, CCC
    set_data_dir(tmp_path)
    (tmp_path / "mine.smi").write_text("CCC\nCCO\nC#N\n")
    strings, source = load_strings(f"zinc250k,moses,{tmp_path / 'mine.smi'}")
    assert strings == ["CCO", "c1ccccc1", "CCN", "CCC", "C#N"]  # a string twice is kept once, where it came first
    assert source.count(" + ") == 2 and source.endswith("1 of 3 new")
    assert load_strings("zinc250k,moses", limit=3)[0] == ["CCO", "c1ccccc1", "CCN"]
    with pytest.raises(DatasetError, match="once"):
        load_strings("moses,moses")


def test_held_out_split_is_reproducible_and_never_leaks(tmp_path: Path) -> None:
    import json

    from latentbo.models import ModelConfig
    from latentbo.training import train

    set_data_dir(tmp_path)
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    exprs = generate_expressions(240, seed=8)
    a.write_text("\n".join(exprs[:160]) + "\n")
    b.write_text("\n".join(exprs[80:]) + "\n")  # half of it is already in a.txt
    strings, _ = load_strings(f"{a},{b}")
    assert strings == exprs
    cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=1, hidden=16, decoder_hidden=16, decoder_layers=1,
                                latent_dim=2, val_fraction=0.25)
    assert len(set(strings)) == len(strings)  # held-out strings cannot have a copy among the training ones
    held_out = []
    for run, seed in (("r1", 0), ("r2", 0), ("r3", 1)):
        train(ModelConfig(**{**cfg.__dict__, "seed": seed}), strings, tmp_path / run, progress=False)
        held_out.append(json.loads((tmp_path / run / "data_report.json").read_text())["held_out"])
    assert held_out[0] == held_out[1] and held_out[0]["n"] == 60  # same data and seed: the same split
    assert held_out[2]["fingerprint"] != held_out[0]["fingerprint"]  # another seed holds out others


def test_held_out_zinc_never_enters_training() -> None:
    """The ZINC250k subset's held-out part and its training part share no molecule
    (canonical SMILES without stereo compared) and together make the whole file."""
    import os

    from rdkit import Chem

    root = os.environ.get("LATENTBO_DATA_DIR")
    if not root or not (Path(root) / "zinc250k" / "valid.txt").exists():
        pytest.skip("needs the ZINC250k subset (LATENTBO_DATA_DIR)")
    set_data_dir(root)
    train, test = load_strings("zinc250k")[0], load_strings("zinc250k-test")[0]
    assert 2000 <= len(test) < 2010 and len(train) + len(test) == len(load_strings(str(Path(root) / "zinc250k" / "valid.txt"))[0])
    flat = lambda strings: {Chem.MolToSmiles(Chem.MolFromSmiles(s), isomericSmiles=False) for s in strings}  # noqa: E731
    assert not flat(test) & flat(train)


def test_another_zinc_file_is_read_whole_and_has_no_test_part(tmp_path: Path) -> None:
    _layout(tmp_path)
    set_data_dir(tmp_path)
    assert load_strings("zinc250k")[0] == ["CCO", "c1ccccc1"]
    with pytest.raises(DatasetError, match="pass your own test molecules"):
        load_strings("zinc250k-test")
