"""Every bad input the CLI can be given: exit status 2 and one line on stderr that
says what is wrong, before any long work starts; never a traceback.

Each case builds its files under ``tmp_path`` and returns the command line; the
table is the specification.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from latentbo.bo import Campaign, CampaignConfig
from latentbo.cli import run
from latentbo.data.datasets import generate_expressions
from latentbo.models import ModelConfig
from latentbo.training import train

TINY = {"hidden": 32, "decoder_hidden": 32, "decoder_layers": 1, "latent_dim": 4, "batch_size": 64, "epochs": 1}
BINARY = b"\x89PNG\r\n\x1a\n\x00\xff\xfe binary"
BO_ARGS = ["--iterations", "1", "--batch", "2", "--trials", "1", "--init-size", "40", "--gp-points", "20",
           "--n-decode", "1", "--no-progress"]


def cli(args: list[str]) -> tuple[int, str, str]:
    """Run the console script in-process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["latentbo", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
            run()
    finally:
        sys.argv = argv
    return exit_.value.code, out.getvalue(), err.getvalue()


@dataclass
class Env:
    """What the cases build on: a data dir, a trained model, a finished campaign."""

    data: Path
    model: Path
    campaign: Path
    tmp: Path

    def copy(self, path: Path) -> Path:
        dest = self.tmp / path.name
        shutil.copytree(path, dest)
        return dest

    def write(self, name: str, content: str | bytes) -> Path:
        path = self.tmp / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)
        return path

    def train_args(self, *extra: str) -> list[str]:
        return ["--data-dir", str(self.data), "train", "--limit", "60", "--no-progress", *extra]

    def bo_args(self, *extra: str) -> list[str]:
        return ["--data-dir", str(self.data), "bo", "--model", str(self.model), *BO_ARGS, *extra]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("bad-inputs")
    data = root / "data"
    (data / "expressions").mkdir(parents=True)
    (data / "expressions" / "equation2_15_dataset.txt").write_text("\n".join(generate_expressions(200, seed=5)) + "\n")
    strings = generate_expressions(200, seed=5)
    torch.manual_seed(0)
    train(ModelConfig.for_model("expressions", "gmm_dae", **TINY), strings, root / "model", progress=False)
    config = CampaignConfig(iterations=1, batch=2, trials=1, init_size=40, gp_points=20, n_decode=1)
    from latentbo.data import set_data_dir

    set_data_dir(data)
    try:
        Campaign.from_dir(root / "model", config, root / "campaign").run(progress=False)
    finally:
        set_data_dir(None)
    return data, root / "model", root / "campaign"


@pytest.fixture
def env(shared: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    from latentbo.data import set_data_dir

    monkeypatch.delenv("LATENTBO_DATA_DIR", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))  # user objectives written by the cases
    yield Env(*shared, tmp_path)
    set_data_dir(None)  # --data-dir sets process-wide state; later tests must not see a case's folder


def _dataset_dir(e: Env, content: bytes | None) -> Path:
    """A data dir whose expressions file holds ``content`` (``None``: is a directory)."""
    target = e.tmp / "data" / "expressions" / "equation2_15_dataset.txt"
    if content is None:
        target.mkdir(parents=True)
    else:
        e.write("data/expressions/equation2_15_dataset.txt", content)
    return e.tmp / "data"


def _config(e: Env, toml: str | bytes, model: str = "gvae") -> list[str]:
    return e.train_args("--arch", model, "--config", str(e.write("c.toml", toml)), "--out", str(e.tmp / "o"))


def _study(e: Env, toml: str = "", bo: str = "") -> list[str]:
    base = f'[train]\nepochs = 1\nlimit = 60\nhidden = 16\n[bo]\niterations = 1\nbatch = 2\ninit_size = 40\n{bo}'
    return ["--data-dir", str(e.data), "study", "run", str(e.write("s.toml", toml + base)), "--out",
            str(e.tmp / "study"), "--no-progress"]


def _objective(e: Env, module: str, body: str) -> list[str]:
    e.write(f"{module}.py", f"def f(strings):\n    return {body}\n")
    return e.bo_args("--objective", f"{module}:f", "--out", str(e.tmp / "c"))


def _resume_campaign(e: Env, name: str, content: str | bytes | None) -> list[str]:
    c = e.copy(e.campaign)
    if name == "init.npz":  # the scores array missing
        np.savez(c / name, codes=np.zeros((3, 4), dtype=np.float32))
    else:
        (c / name).write_bytes(content) if isinstance(content, bytes) else (c / name).write_text(content)
    return e.bo_args("--out", str(c), "--resume")


def _trained(e: Env, name: str) -> tuple[Path, list[str]]:
    """A one-epoch run in ``name`` and the options it was started with."""
    out, started = e.tmp / name, ["--arch", "gvae", "--config", str(e.write("t.toml", "hidden = 16\n"))]
    code, _, err = cli(e.train_args(*started, "--epochs", "1", "--out", str(out)))
    assert code == 0, err
    return out, started


def _training_state(e: Env) -> list[str]:
    out, started = _trained(e, "run")
    torch.save({"epoch": 1}, out / "training_state.pt")  # optimizer, rows, rng... missing
    return e.train_args(*started, "--out", str(out), "--resume")


def _resume_other_settings(e: Env) -> list[str]:
    out, started = _trained(e, "other")
    return e.train_args(*started, "--lr", "0.5", "--epochs", "3", "--out", str(out), "--resume")


def _meta(e: Env, gmm: object) -> list[str]:
    m = e.copy(e.model)
    meta = json.loads((m / "meta.json").read_text())
    meta["expost_gmm"] = gmm
    (m / "meta.json").write_text(json.dumps(meta))
    return ["sample", "--model", str(m), "-n", "5", "--expost"]


def _latents(e: Env, array: np.ndarray) -> list[str]:
    path = e.tmp / "z.npy"
    np.save(path, array)
    return ["decode", "--model", str(e.model), "--input", str(path)]


def _codec_number(e: Env) -> list[str]:
    m = e.copy(e.model)
    meta = json.loads((m / "meta.json").read_text())
    meta["codec"] = 5
    (m / "meta.json").write_text(json.dumps(meta))
    return ["sample", "--model", str(m), "-n", "5"]


class Planted:
    """A pickled object: loading it would call its class."""

    def __reduce__(self) -> tuple:
        return (print, ("planted code ran",))


def _crafted_state(e: Env) -> list[str]:
    c = e.copy(e.campaign)
    torch.save({"iteration": Planted()}, c / "trial_0" / "state.pt")
    return ["--data-dir", str(e.data), "bo", "--model", str(e.model), *BO_ARGS, "--out", str(c), "--resume"]


CASES: dict[str, tuple[Callable[[Env], list[str]], str]] = {
    # files that are binary, or directories where a file belongs
    "input not UTF-8": (lambda e: ["encode", "--model", str(e.model), "--input", str(e.write("in.txt", BINARY)),
                                   "--out", str(e.tmp / "z.npy")], "input file .* is not UTF-8 text"),
    "dataset not UTF-8": (lambda e: ["--data-dir", str(_dataset_dir(e, BINARY)), "train", "--out", str(e.tmp / "o")],
                          "dataset file .* is not UTF-8 text"),
    "dataset is a directory": (lambda e: ["--data-dir", str(_dataset_dir(e, None)), "train", "--out",
                                          str(e.tmp / "o")], "equation2_15_dataset.txt is a directory, expected a file"),
    "config not UTF-8": (lambda e: _config(e, BINARY), "config .* is not UTF-8 text"),
    "config not TOML": (lambda e: _config(e, "latent_dim = = 3"), "config .* is not valid TOML"),
    "study not UTF-8": (lambda e: ["study", "run", str(e.write("s.toml", BINARY)), "--out", str(e.tmp / "s")],
                        "study file .* is not UTF-8 text"),
    # mistyped or impossible config values
    "latent_dim a string": (lambda e: _config(e, 'latent_dim = "ten"'), "latent_dim must be of type int, got 'ten'"),
    "modes a string": (lambda e: _config(e, '[reg_params]\nmodes = "many"', "gmm_dae"),
                       "gmm_dae parameter modes = 'many' must be like its default"),
    "lr negative": (lambda e: _config(e, "lr = -1"), "lr must be positive, got -1"),
    "lr NaN": (lambda e: _config(e, "lr = nan"), "lr must be a finite number, got nan"),
    "val_fraction leaves nothing": (lambda e: _config(e, "val_fraction = 0.99"),
                                    "val_fraction=0.99 holds out 59 of the 60 encoded strings"),
    "task inside a config": (lambda e: _config(e, 'task = "zinc"'), r"\['task'\] cannot be overridden by a config"),
    "image config mistyped": (lambda e: ["images", "train", "--out", str(e.tmp / "i"), "--config",
                                         str(e.write("i.toml", 'width = "wide"'))], "width must be of type int"),
    # studies: every key known, every objective and target checked before training
    "unknown [study] key": (lambda e: _study(e, '[study]\nnmae = "x"\n'), r"unknown \[study\] keys \['nmae'\]"),
    "unknown [grid] key": (lambda e: _study(e, '[grid]\nmodel = ["gvae"]\n'), r"unknown \[grid\] keys \['model'\]"),
    "[grid] value mistyped": (lambda e: _study(e, '[grid]\ntrials = "3"\n'), r"\[grid\] trials must be of type int"),
    "study objective unknown": (lambda e: _study(e, '[grid]\nobjectives = ["nosuch"]\n'),
                                "unknown objective 'nosuch'"),
    "study target not an expression": (lambda e: _study(e, bo='target = "sin(( x"\n'), "missing '\\)'"),
    "study [use] folder missing": (lambda e: _study(e, '[use]\ngmm_dae = "no/such/run"\n'),
                                   r"\[use\] expressions/gmm_dae = 'no/such/run': no model folder"),
    "study [use] for no model of the grid": (lambda e: _study(e, '[use]\ngvae = "no/such/run"\n'),
                                             r"\[use\] 'gvae' matches no task/model of the grid"),
    "study [[grid]] blocks repeat a group": (
        lambda e: _study(e, '[[grid]]\nmodels = ["gvae"]\n[[grid]]\nmodels = ["gvae"]\n'),
        r"grid blocks repeat bo/expressions-gvae-expr-qlogei/trial_0; give one of them a name"),
    # user objectives
    "objective raises": (lambda e: _objective(e, "raises", "1 / 0"), "objective raises:f raised ZeroDivisionError"),
    "objective returns strings": (lambda e: _objective(e, "strs", '["1.5"] * len(strings)'),
                                  "objective strs:f must return numbers"),
    "objective returns 1e308": (lambda e: _objective(e, "huge", "[1e308] * len(strings)"),
                                r"objective 'huge:f' returned 1e\+308 .* within \+-1e\+100"),
    "target nested 600 deep": (lambda e: e.bo_args("--target", "(" * 600 + "x" + ")" * 600, "--out",
                                                   str(e.tmp / "c")), "nested more than 100 levels deep"),
    # saved state with keys missing or malformed
    "training_state.pt keys missing": (_training_state, "training_state.pt is corrupt: KeyError"),
    "resume with another setting": (_resume_other_settings, r"other settings \(lr 0.001 -> 0.5\); a resumed run takes only"),
    "campaign.json without config": (lambda e: _resume_campaign(e, "campaign.json", "{}"),
                                     "campaign.json is unreadable or lacks its config"),
    "init_strings.json not strings": (lambda e: _resume_campaign(e, "init_strings.json", "[1, 2]"),
                                      "the saved initial data does not fit this model"),
    "init_strings.json binary": (lambda e: _resume_campaign(e, "init_strings.json", BINARY),
                                 "the saved initial data .* is unreadable"),
    "init.npz without scores": (lambda e: _resume_campaign(e, "init.npz", None),
                                "the saved initial data .* is unreadable"),
    "expost_gmm malformed": (lambda e: _meta(e, {"weights": [1.0]}), "malformed expost_gmm"),
    "expost_gmm not positive definite": (lambda e: _meta(e, {"weights": [1.0], "means": [[0.0] * 4],
                                                             "covariances": [[[-1.0] * 4] * 4]}),
                                         "malformed expost_gmm"),
    # outputs that cannot be written
    "--out below a file": (lambda e: e.train_args("--out", str(e.write("f", "") / "sub")),
                           "cannot write to output folder .*f/sub"),
    "bo --out below a file": (lambda e: e.bo_args("--out", str(e.write("f", "") / "sub")), "cannot write to output"),
    "bo --surrogate unknown": (lambda e: e.bo_args("--surrogate", "svgp", "--out", str(e.tmp / "c")),
                               "surrogate must be one of exact, sparse, got 'svgp'"),
    "bo --incumbent unknown": (lambda e: e.bo_args("--incumbent", "best", "--out", str(e.tmp / "c")),
                               "incumbent must be 'observed' or 'mean', got 'best'"),
    "bo --tr-length without a trust region": (lambda e: e.bo_args("--acquisition", "qlogei", "--tr-length", "0.2",
                                                                   "--out", str(e.tmp / "c")),
                                              "acquisition 'qlogei' has none"),
    # latent files
    "latents of strings": (lambda e: _latents(e, np.array([["a"] * 4])), "latent vectors must be numbers"),
    "latents of 1e300": (lambda e: _latents(e, np.full((1, 4), 1e300)), "every value must be a finite float32"),
    "latents empty": (lambda e: _latents(e, np.zeros((0, 4))), "expected a non-empty N x d array"),
    "latents of the wrong width": (lambda e: _latents(e, np.zeros((2, 3))), r"latent codes must be N x 4, got \(2, 3\)"),
    # molecules: no expression objective by default; chemists' filters checked up front
    "molecule model without --objective": (lambda e: ["bo", "--model", "zinc-gvae", "--out", str(e.tmp / "c")],
                                           r"zinc-gvae is a molecule model: choose --objective \(.*qed.*\)"),
    "filter key unknown": (lambda e: ["bo", "--model", "zinc-gvae", "--objective", "qed", "--filter", "max_mw=500",
                                      "--out", str(e.tmp / "c")], "unknown filter key 'max_mw'"),
    "filter on an expression model": (lambda e: e.bo_args("--filter", "max_sa=4", "--out", str(e.tmp / "c")),
                                      "filters are for molecule tasks"),
    "empty study file": (lambda e: ["study", "run", str(e.write("s.toml", "")), "--out", str(e.tmp / "s")],
                         "is empty: a study names at least its"),
    "fine-tune with another codec": (lambda e: e.train_args("--init-from", str(e.model), "--codec", "character",
                                                            "--out", str(e.tmp / "f")), "codec cannot change"),
    # seeds, sizes and saved files that used to end in a traceback
    "bo --seed -1": (lambda e: e.bo_args("--seed", "-1", "--out", str(e.tmp / "c")), "seed must be an integer from 0"),
    "bo --seed 1e20": (lambda e: e.bo_args("--seed", "99999999999999999999", "--out", str(e.tmp / "c")),
                       "seed must be an integer from 0"),
    "bo --init-size 1": (lambda e: e.bo_args("--init-size", "1", "--out", str(e.tmp / "c")),
                         "init_size 1 leaves no search box"),
    "meta.json codec a number": (_codec_number, "unreadable config/meta"),
    "sample -n 200000000": (lambda e: ["sample", "--model", str(e.model), "-n", "200000000"],
                            r"-n 200000000 samples needs about .* GiB of memory; .* GiB are available"),
    "latent_dim 100000000": (lambda e: _config(e, "latent_dim = 100000000"),
                             r"a model with latent_dim=100000000.* needs about .* GiB of memory"),
    "crafted state.pt": (_crafted_state, r"corrupt or unsafe checkpoint \(UnpicklingError: [^)]*\); latentbo loads"),
    "molecules without --task zinc": (lambda e: e.train_args("--dataset", str(e.write("my.smi", "CCO\n")), "--out",
                                                              str(e.tmp / "o")), r"holds molecules: add --task zinc"),
    # usage errors: one line, not Typer's box
    "--iterations 0": (lambda e: e.bo_args("--iterations", "0", "--out", str(e.tmp / "c")),
                       r"latentbo bo: Invalid value for '--iterations'"),
    "--batch -1": (lambda e: e.bo_args("--batch", "-1", "--out", str(e.tmp / "c")), "Invalid value for '--batch'"),
    "sample -n 0": (lambda e: ["sample", "--model", str(e.model), "-n", "0"], "Invalid value for '--samples' / '-n'"),
    "an unknown option": (lambda e: ["train", "--nosuch", "1"], "No such option: --nosuch"),
    # nothing to encode
    "every line skipped": (lambda e: ["encode", "--model", str(e.model), "--input",
                                      str(e.write("in.txt", "cos( x )\n\nnot one\n")), "--out", str(e.tmp / "z.npy")],
                           "no line of .* could be encoded.* line 1: .* line 3: "),
    "zinclike of nothing readable": (lambda e: ["data", "zinclike", "--dataset", str(e.write("m.smi", "nope\n")),
                                                "--out", str(e.tmp / "z.smi")],
                                     "no molecule of .* could be read, so nothing was written"),
}

@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_line_and_exit_2(case: str, env: Env) -> None:
    build, message = CASES[case]
    code, _, err = cli(build(env))
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("latentbo: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert "weights_only=False" not in err  # never advise loading code


def test_study_checks_come_before_any_training(env: Env) -> None:
    code, _, _ = cli(_study(env, '[grid]\nobjectives = ["nosuch"]\n'))
    assert code == 2 and not (env.tmp / "study").exists()


def test_val_fraction_fails_before_training(env: Env) -> None:
    code, _, _ = cli(_config(env, "val_fraction = 0.99"))
    assert code == 2 and not (env.tmp / "o" / "metrics.csv").exists()


def test_directory_named_like_a_dataset_is_not_available(env: Env) -> None:
    code, out, _ = cli(["--data-dir", str(_dataset_dir(env, None)), "data", "list", "--json"])
    rows = {r["name"]: r for r in json.loads(out)["datasets"]}
    assert code == 0 and rows["expressions"]["available"] is False


def test_skipped_lines_are_numbered_as_in_the_file(env: Env) -> None:
    """Blank lines are not inputs, but they count when a skip is named by line."""
    text = "x + 1\n\n\ncos( x )\nsin( x )\n\n)(\n"
    code, out, err = cli(["encode", "--model", str(env.model), "--input", str(env.write("in.txt", text)), "--out",
                          str(env.tmp / "z.npy"), "--json"])
    assert code == 0, err
    assert json.loads(out)["skipped_lines"] == [4, 7]
    assert "line 4: " in err and "line 7: " in err
    assert np.load(env.tmp / "z.npy").shape == (2, 4)


def test_a_2mb_line_is_skipped_as_too_long_without_parsing(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.codecs.parser import LRParser

    def no_parse(*_a: object) -> None:
        raise AssertionError("the parser ran on an over-long line")

    monkeypatch.setattr(LRParser, "parse", no_parse)
    path = env.write("in.txt", "x + " * 500_000 + "1\n")
    code, out, err = cli(["encode", "--model", str(env.model), "--input", str(path), "--out", str(env.tmp / "z.npy")])
    assert code == 2 and "too_long" in err and "2000001 characters" in err
