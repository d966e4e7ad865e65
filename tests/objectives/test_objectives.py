import math
from pathlib import Path

import numpy as np
import pytest

from latentbo.errors import ConfigError, InvalidInputError
from latentbo.objectives import ExpressionFit, evaluate, make_objective
from latentbo.objectives.molecules import CYCLE_MEAN, CYCLE_STD, LOGP_MEAN, LOGP_STD, SA_MEAN, SA_STD


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
