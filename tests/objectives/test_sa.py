"""The synthetic-accessibility objective: the one-file objective example."""

import numpy as np
import pytest

from latentbo.errors import ConfigError
from latentbo.objectives import OBJECTIVES, make_objective
from latentbo.testing import ObjectiveContract


class TestSyntheticAccessibilityContract(ObjectiveContract):
    objective = make_objective("sa")
    valid = ["CCO", "c1ccccc1O"]
    invalid = [None, "C1CC"]


def test_registered_minimised_and_known_values() -> None:
    obj = make_objective("sa")
    assert "sa" in OBJECTIVES and obj.name == "sa" and obj.maximize is False
    # paracetamol and ethanol are easy to make; a bridged polycycle with quaternary carbons less so
    np.testing.assert_allclose(obj(["CC(=O)Nc1ccc(O)cc1", "CCO", "CC12CC3CC(C1)(C)CC(C3)C2"]), [1.4073, 1.9803, 4.0590],
                               atol=1e-3)
    with pytest.raises(ConfigError, match="objective 'sa' takes no target"):
        make_objective("sa", target="CCO")
    assert np.isnan(obj(["not a molecule"])[0])
