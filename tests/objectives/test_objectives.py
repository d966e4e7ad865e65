import math
from pathlib import Path

import numpy as np
import pytest

from latentbo.errors import ConfigError, InvalidInputError
from latentbo.objectives import ExpressionFit, evaluate, make_objective
from latentbo.objectives.molecules import CYCLE_MEAN, CYCLE_STD, LOGP_MEAN, LOGP_STD, SA_MEAN, SA_STD
from latentbo.testing import ObjectiveContract


def test_evaluator_precedence_and_functions() -> None:
    x = np.array([0.0, 1.0, 2.0])
    np.testing.assert_allclose(evaluate("x + 1 * 2", x), x + 2)
    np.testing.assert_allclose(evaluate("1 / 3 + x + sin( x * x )", x), 1 / 3 + x + np.sin(x * x))
    np.testing.assert_allclose(evaluate("exp(x)/(x+1)", x), np.exp(x) / (x + 1))
    np.testing.assert_allclose(evaluate("( x + 1 ) * 2", x), (x + 1) * 2)
    for bad in ["x +", "( x", "x x", "__import__('os')", "sin( x"]:
        with pytest.raises(InvalidInputError):
            evaluate(bad, x)


def test_expression_scores() -> None:
    obj = make_objective("expr")
    assert obj.maximize is False
    scores = obj(["1 / 3 + x + sin( x * x )", "x", None, "x +", "exp( x * x * x )", "x / ( x - x )"])
    assert scores[0] == 0.0
    target = 1 / 3 + np.linspace(-10, 10, 1000) + np.sin(np.linspace(-10, 10, 1000) ** 2)
    expected = math.log1p(np.minimum((np.linspace(-10, 10, 1000) - target) ** 2, 1000).mean())
    assert scores[1] == pytest.approx(expected)
    assert np.isnan(scores[2]) and np.isnan(scores[3])
    # overflow to inf is capped at 1000 per point: finite, at most the worst value
    assert np.isfinite(scores[4]) and scores[4] <= obj.worst + 1e-12
    assert obj.worst == pytest.approx(math.log(1001))


def test_expression_nan_is_invalid() -> None:
    obj = ExpressionFit(x=np.array([0.0, 1.0]))
    assert np.isnan(obj(["x / x"])[0])  # 0/0 at x = 0


def test_weighted_retraining_variant_clips() -> None:
    obj = make_objective("expr_wr")
    assert obj(["exp( exp( exp( x ) ) )"])[0] <= 7.0 and obj.worst == 7.0


def test_csv_target(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    xs = np.linspace(-1, 1, 11)
    np.savetxt(path, np.c_[xs, 2 * xs], delimiter=",")
    obj = make_objective("expr", target=str(path))
    assert obj(["x * 2"])[0] == pytest.approx(0.0)
    (tmp_path / "bad.csv").write_text("1,2,3\n")
    with pytest.raises(ConfigError):
        make_objective("expr", target=str(tmp_path / "bad.csv"))
    # a header row, as spreadsheets write it, and a comment
    (tmp_path / "h.csv").write_text("x,y  # measured\n" + "".join(f"{x},{2 * x}\n" for x in xs))
    with_header = make_objective("expr", target=str(tmp_path / "h.csv"))
    assert np.array_equal(with_header.x, obj.x) and np.array_equal(with_header.y, obj.y)
    (tmp_path / "words.csv").write_text("x,y\n1,two\n")
    with pytest.raises(ConfigError, match="cannot read target CSV"):
        make_objective("expr", target=str(tmp_path / "words.csv"))


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


def test_plogp_known_molecules() -> None:
    obj = make_objective("plogp")
    # paracetamol: logP 1.3506, SA 1.4073, no large ring
    score = obj(["CC(=O)Nc1ccc(O)cc1"])[0]
    expected = (1.3506 - LOGP_MEAN) / LOGP_STD + (-1.4073 - SA_MEAN) / SA_STD + (0 - CYCLE_MEAN) / CYCLE_STD
    assert score == pytest.approx(expected, abs=1e-3)
    (detail,) = obj.details(["C1CCCCCCCCC1"])
    assert detail["cycle"] == 4 and detail["plogp_raw"] == pytest.approx(detail["logp"] - detail["sa"] - 4)
    assert np.isnan(obj(["C1CC", None, "not a smiles"])).all()


def test_qed_logp_and_import_path() -> None:
    assert 0 < make_objective("qed")(["CCO"])[0] < 1
    assert make_objective("logp")(["CCCC"])[0] > make_objective("logp")(["CCO"])[0]
    obj = make_objective("tests.objectives.helpers:length")
    np.testing.assert_array_equal(obj(["ab", None]), [2.0, np.nan])
    with pytest.raises(ConfigError):
        make_objective("no.such.module:f")
    with pytest.raises(ConfigError):
        make_objective("nope")


class TestExpressionFitContract(ObjectiveContract):
    objective = make_objective("expr")
    valid = ["x + 1", "sin( x ) * 2", "exp( x ) / 3"]
    invalid = [None, "x +", "sin( x"]  # unfinished, unparsable


class TestPenalizedLogPContract(ObjectiveContract):
    objective = make_objective("plogp")
    valid = ["c1ccccc1O", "CCO"]
    invalid = [None, "C1CC", "C(C)(C)(C)(C)C"]


class TestFunctionObjectiveContract(ObjectiveContract):
    objective = make_objective("tests.objectives.helpers:length")
    valid = ["a", "abc"]
    invalid = [None]
