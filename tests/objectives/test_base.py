import numpy as np
import pytest

from latentbo.errors import ConfigError, ObjectiveError
from latentbo.objectives import make_objective
from latentbo.objectives.base import ExternalObjective, FunctionObjective
from latentbo.testing import ObjectiveContract


class TestFunctionObjectiveContract(ObjectiveContract):
    objective = make_objective("tests.objectives.helpers:length")
    valid = ["a", "abc"]
    invalid = [None]


def test_a_user_function_is_called_in_batches_and_checked() -> None:
    calls = []

    def score(strings):
        calls.append(len(strings))
        return [float(len(s)) if s else float("nan") for s in strings]

    score.batch_size = 2
    obj = FunctionObjective(score, "python:score")
    np.testing.assert_array_equal(obj(["a", None, "abc", "ab", "x"]), [1.0, np.nan, 3.0, 2.0, 1.0])
    assert calls == [2, 2, 1]
    np.testing.assert_array_equal(FunctionObjective(lambda s: [np.inf, -np.inf], "f")(["a", "b"]), [np.nan, np.nan])
    for bad, message in ((lambda s: ["high"] * len(s), "must return numbers"), (lambda s: [1.0], "shape"),
                         (lambda s: 1 / 0, "raised ZeroDivisionError")):
        with pytest.raises(ObjectiveError, match=message):
            FunctionObjective(bad, "f")(["a", "b"])
    score.batch_size = 0
    with pytest.raises(ConfigError, match="batch_size must be a positive integer"):
        FunctionObjective(score, "f")


def test_external_scores_are_never_computed() -> None:
    with pytest.raises(ConfigError, match="Campaign.tell"):
        ExternalObjective()(["x"])
