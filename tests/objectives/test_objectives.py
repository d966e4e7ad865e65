"""The objective registry and how a spec (name, module:function, file.py:function,
callable) becomes an objective."""

from pathlib import Path

import numpy as np
import pytest

from latentbo.errors import ConfigError
from latentbo.objectives import make_objective


def test_objective_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registry names, module:function from the working directory, file.py:function,
    callables, and the direction."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lab_scores.py").write_text("def score(strings):\n    return [1.0 for _ in strings]\n"
                                            "score.batch_size = 2\nnot_a_function = 3\n")
    obj = make_objective("lab_scores:score")
    assert obj.maximize and obj.batch_size == 2 and obj(["a", None, "c"]).tolist() == [1.0, 1.0, 1.0]
    assert make_objective(str(tmp_path / "lab_scores.py") + ":score", minimize=True).maximize is False
    with pytest.raises(ConfigError, match="not a function"):
        make_objective("lab_scores:not_a_function")
    with pytest.raises(ConfigError, match="AttributeError"):
        make_objective("lab_scores:missing")
    with pytest.raises(ConfigError, match="no file"):
        make_objective("nowhere.py:score")
    assert make_objective("expr").maximize is False and make_objective("expr", minimize=False).maximize is True
    assert make_objective("expr").maximize is False  # the override is per instance, not the class's
    fn = make_objective(lambda strings: [0.0] * len(strings))
    assert fn.name.startswith("python:") and fn(["x"]).tolist() == [0.0]
    with pytest.raises(ConfigError, match="pass it again"):
        make_objective(fn.name)


def test_import_paths_and_unknown_names() -> None:
    obj = make_objective("tests.objectives.helpers:length")
    np.testing.assert_array_equal(obj(["ab", None]), [2.0, np.nan])
    with pytest.raises(ConfigError, match="no.such.module"):
        make_objective("no.such.module:f")
    with pytest.raises(ConfigError, match="nope"):
        make_objective("nope")


def test_the_registry_names_its_instances_and_refuses_a_second_registration() -> None:
    from latentbo.objectives import ExpressionFit, register_objective

    wr = make_objective("expr_wr")
    assert (wr.name, wr.clip, make_objective("expr").name) == ("expr_wr", 7.0, "expr")
    with pytest.raises(ConfigError, match="registered twice"):
        register_objective("expr")(ExpressionFit)
