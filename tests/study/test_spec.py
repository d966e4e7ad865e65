from __future__ import annotations

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
    assert full.train["epochs"] == 100 and full.bo["iterations"] == 5
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


def test_cell_ids_stay_inside_the_study_folder(tmp_path) -> None:
    from latentbo.errors import StudyError
    from latentbo.study.runner import cell_dir

    spec = _spec()
    # (from_dict refuses objectives that do not import; names are sanitised regardless)
    spec.objectives = {"expressions": ["x:y/../../../../escaped", "x:y/../../../../other"]}
    bo = [c for c in spec.cells() if c.kind == "bo"]
    assert len({c.id for c in bo}) == len(bo)  # distinct names stay distinct
    for c in bo:
        assert c.id.count("/") == 2 and ".." not in c.id
        assert cell_dir(tmp_path, c.id).is_relative_to(tmp_path / "cells")
    with pytest.raises(StudyError, match="outside"):
        cell_dir(tmp_path, "bo/../../escaped")
