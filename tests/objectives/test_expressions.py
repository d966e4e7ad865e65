import math
from pathlib import Path

import numpy as np
import pytest

from latentbo.errors import ConfigError, InvalidInputError
from latentbo.objectives import ExpressionFit, evaluate, make_objective
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


class TestExpressionFitContract(ObjectiveContract):
    objective = make_objective("expr")
    valid = ["x + 1", "sin( x ) * 2", "exp( x ) / 3"]
    invalid = [None, "x +", "sin( x"]  # unfinished, unparsable
