from __future__ import annotations

from pathlib import Path

import pytest

from latentbo.errors import ConfigError
from latentbo.study import StudySpec, derive_seed

BASE = {
    "study": {"name": "t", "seed": 7, "profile": "quick"},
    "grid": {"tasks": ["expressions"], "models": ["gvae"], "objectives": {"expressions": ["expr"]},
             "acquisitions": ["turbo"], "trials": 2},
    "train": {"epochs": 1},
    "bo": {"iterations": 1},
    "profiles": {"full": {"train": {"epochs": 100}, "bo": {"iterations": 5}}},
}


def _spec(**changes) -> StudySpec:
    raw = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for section, values in changes.items():
        raw[section] = {**raw.get(section, {}), **values}
    return StudySpec.from_dict(raw)


def test_grid_expands_to_train_then_bo_cells() -> None:
    cells = _spec().cells()
    assert [c.id for c in cells] == ["train/expressions-gvae", "bo/expressions-gvae-expr-turbo/trial_0",
                                     "bo/expressions-gvae-expr-turbo/trial_1"]
    assert all(c.depends_on == "train/expressions-gvae" for c in cells[1:])
    assert cells[1].settings["iterations"] == 1 and cells[0].settings["epochs"] == 1
    assert len({c.seed for c in cells}) == 3


def test_seeds_depend_on_coordinates_not_position() -> None:
    before = {c.id: c.seed for c in _spec().cells()}
    after = {c.id: c.seed for c in _spec(grid={"models": ["gmm_dae", "gvae"], "trials": 3}).cells()}
    assert len(after) == 2 * len(before) + 2
    assert all(after[cid] == seed for cid, seed in before.items())
    assert {c.seed for c in _spec(study={"seed": 8}).cells()}.isdisjoint(before.values())
    assert derive_seed(0, "a", 1) == derive_seed(0, "a", 1) != derive_seed(0, "a", 2)


def test_profile_overrides_and_fingerprints() -> None:
    full = StudySpec.from_dict(BASE, profile="full")
    assert full.train["epochs"] == 100 and full.grids[0].bo["iterations"] == 5
    quick, full_cells = _spec().cells(), full.cells()
    assert [c.seed for c in quick] == [c.seed for c in full_cells]  # same coordinates, same seeds
    assert all(a.fingerprint != b.fingerprint for a, b in zip(quick, full_cells))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"grid": {"models": ["nope"]}}, "unknown model"),
        ({"grid": {"tasks": ["nope"]}}, "unknown task"),
        ({"train": {"epoch": 3}}, "unknown \\[train\\] keys"),
        ({"train": {"seed": 3}}, "seeds are derived"),
        ({"bo": {"objective": "qed"}}, "objective/trials/seed come from"),
        ({"grid": {"acquisitions": ["ei"]}}, "acquisition must be"),
        ({"grid": {"trials": 0}}, "trials"),
        ({"grid": {"bo": {"objective": "qed"}}}, "objective/trials/seed come from"),
        ({"grid": {"size": 3}}, "unknown \\[grid\\] keys \\['size'\\]"),
        ({"study": {"bo_cells": "group"}}, "bo_cells must be one of"),
        ({"use": {"vae": "x"}}, "\\[use\\] key 'vae'"),
        ({"use": {"zink/gvae": "x"}}, "\\[use\\] key 'zink/gvae'"),
        ({"use": {"gvae": "no/such/folder"}}, "no model folder"),
        ({"use": {"zinc/gvae": "no/such/folder"}}, "\\[use\\] 'zinc/gvae' matches no task/model of the grid"),
    ],
)
def test_invalid_studies_fail_clearly(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _spec(**changes)


def test_unknown_profile_and_bad_file(tmp_path) -> None:
    with pytest.raises(ConfigError, match="profile 'fulll' not defined"):
        StudySpec.from_dict(BASE, profile="fulll")
    bad = tmp_path / "s.toml"
    bad.write_text("[grid\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        StudySpec.from_toml(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        StudySpec.from_toml(tmp_path / "missing.toml")
    (tmp_path / "empty.toml").write_text("")
    with pytest.raises(ConfigError, match="is empty"):  # never a default study
        StudySpec.from_toml(tmp_path / "empty.toml")


def test_cell_ids_stay_inside_the_study_folder(tmp_path) -> None:
    from latentbo.errors import StudyError
    from latentbo.study.runner import cell_dir

    spec = _spec()
    # (from_dict refuses objectives that do not import; names are sanitised regardless)
    spec.grids[0].objectives = {"expressions": ["x:y/../../../../escaped", "x:y/../../../../other"]}
    bo = [c for c in spec.cells() if c.kind == "bo"]
    assert len({c.id for c in bo}) == len(bo)  # distinct names stay distinct
    for c in bo:
        assert c.id.count("/") == 2 and ".." not in c.id
        assert cell_dir(tmp_path, c.id).is_relative_to(tmp_path / "cells")
    with pytest.raises(StudyError, match="outside"):
        cell_dir(tmp_path, "bo/../../escaped")


def _blocks(*blocks: dict, **sections) -> StudySpec:
    return StudySpec.from_dict({"study": {"name": "t", "seed": 7}, "bo": {"iterations": 1}, "grid": list(blocks),
                                **sections})


def test_grid_blocks_add_named_groups_with_their_own_settings() -> None:
    spec = _blocks({"models": ["gvae"], "acquisitions": ["turbo", "qlogei"], "trials": 2},
                   {"name": "sequential", "models": ["gvae"], "acquisitions": ["qlogei"], "trials": 1,
                    "bo": {"batch": 1, "iterations": 250}})
    cells = spec.cells()
    assert [c.id for c in cells] == [
        "train/expressions-gvae",  # one training cell for both blocks
        "bo/expressions-gvae-expr-turbo/trial_0", "bo/expressions-gvae-expr-turbo/trial_1",
        "bo/expressions-gvae-expr-qlogei/trial_0", "bo/expressions-gvae-expr-qlogei/trial_1",
        "bo/expressions-gvae-expr-qlogei-sequential/trial_0"]
    assert cells[-1].settings["batch"] == 1 and cells[-1].settings["iterations"] == 250
    assert cells[3].settings["iterations"] == 1 and "batch" not in cells[3].settings
    assert cells[-1].seed != cells[3].seed  # the name is a coordinate
    with pytest.raises(ConfigError, match="repeat bo/expressions-gvae-expr-qlogei/trial_0; give one of them a name"):
        _blocks({"models": ["gvae"], "acquisitions": ["qlogei"]}, {"models": ["gvae", "cvae"], "acquisitions": ["qlogei"]})


def test_campaign_cells_share_the_study_seed() -> None:
    spec = _blocks({"models": ["gvae", "cvae"], "acquisitions": ["turbo"], "trials": 3}, study={"seed": 4, "bo_cells": "campaign"})
    bo = [c for c in spec.cells() if c.kind == "bo"]
    assert [c.id for c in bo] == ["bo/expressions-gvae-expr-turbo", "bo/expressions-cvae-expr-turbo"]
    assert {c.seed for c in bo} == {4} and {c.settings["trials"] for c in bo} == {3}
    assert "trial" not in bo[0].settings


def _model_folder(path, task: str = "expressions", model: str = "gvae"):
    from latentbo.models import ModelConfig

    path.mkdir()
    (path / "config.toml").write_text(ModelConfig.for_model(task, model).to_toml())
    return path


def test_used_models_replace_their_training_cells(tmp_path) -> None:
    folder = _model_folder(tmp_path / "gvae")
    spec = _blocks({"tasks": ["expressions"], "models": ["gvae", "cvae"], "acquisitions": ["turbo"], "trials": 1},
                   use={"expressions/gvae": str(folder)})
    cells = spec.cells()
    assert [c.id for c in cells] == ["train/expressions-cvae", "bo/expressions-gvae-expr-turbo/trial_0",
                                     "bo/expressions-cvae-expr-turbo/trial_0"]
    assert cells[1].depends_on is None and cells[1].settings["use"] == str(folder)
    assert cells[2].depends_on == "train/expressions-cvae" and "use" not in cells[2].settings
    # a model trained as another model, or for another task, is refused before anything runs
    with pytest.raises(ConfigError, match="is a sequence model of task 'expressions', model 'gvae'"):
        _blocks({"models": ["cvae"]}, use={"cvae": str(folder)})
    with pytest.raises(ConfigError, match="is a sequence model of task 'expressions'"):
        _blocks({"tasks": ["zinc"], "models": ["gvae"]}, use={"gvae": str(folder)})


STUDIES = sorted((Path(__file__).parents[2] / "benchmarks" / "studies").glob("*.toml"))


@pytest.mark.parametrize("path", STUDIES, ids=lambda p: p.stem)
def test_benchmark_study_files_are_valid(path: Path, tmp_path: Path) -> None:
    from latentbo.io import read_toml
    from latentbo.models.zoo import zoo_names

    raw = read_toml(path)
    # Folders of models trained elsewhere are not in a clone: stand-ins of the same task
    # and model; pretrained names must resolve as they are.
    for key, used in raw.get("use", {}).items():
        if used not in zoo_names():
            task, model = key.split("/")
            raw["use"][key] = str(_model_folder(tmp_path / key.replace("/", "-"), task, model))
    spec = StudySpec.from_dict(raw, source=str(path))
    bo = [c for c in spec.cells() if c.kind == "bo"]
    assert spec.bo_cells == "campaign" and {c.seed for c in bo} == {0}  # tables compare on common random numbers
    assert len(bo) == sum(len(g.tasks) * len(g.models) * len(g.acquisitions) * len(next(iter(g.objectives.values())))
                          for g in spec.grids)


def test_a_profile_may_move_cells_onto_a_gpu_without_changing_them() -> None:
    raw = {**BASE, "profiles": {"gpu": {"resources": {"gpus": 1}}}}
    cpu, gpu = StudySpec.from_dict(raw), StudySpec.from_dict(raw, profile="gpu")
    assert (cpu.gpus, gpu.gpus) == (0.0, 1.0)
    assert [c.fingerprint for c in cpu.cells()] == [c.fingerprint for c in gpu.cells()]  # finished cells still count
    with pytest.raises(ConfigError, match=r"\[profiles.gpu.resources\] gpus must be of type"):
        StudySpec.from_dict({**BASE, "profiles": {"gpu": {"resources": {"gpus": "one"}}}})
    with pytest.raises(ConfigError, match="may hold only"):
        StudySpec.from_dict({**BASE, "profiles": {"gpu": {"grid": {}}}})
