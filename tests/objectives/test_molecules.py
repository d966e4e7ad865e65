import numpy as np
import pytest

from latentbo.objectives import make_objective
from latentbo.objectives.molecules import CYCLE_MEAN, CYCLE_STD, LOGP_MEAN, LOGP_STD, SA_MEAN, SA_STD
from latentbo.testing import ObjectiveContract


def test_plogp_known_molecules() -> None:
    obj = make_objective("plogp")
    # paracetamol: logP 1.3506, SA 1.4073, no large ring
    score = obj(["CC(=O)Nc1ccc(O)cc1"])[0]
    expected = (1.3506 - LOGP_MEAN) / LOGP_STD + (-1.4073 - SA_MEAN) / SA_STD + (0 - CYCLE_MEAN) / CYCLE_STD
    assert score == pytest.approx(expected, abs=1e-3)
    (detail,) = obj.details(["C1CCCCCCCCC1"])
    assert detail["cycle"] == 4 and detail["plogp_raw"] == pytest.approx(detail["logp"] - detail["sa"] - 4)
    assert np.isnan(obj(["C1CC", None, "not a smiles"])).all()


def test_qed_and_logp_known_values() -> None:
    """RDKit's QED and Crippen logP of ethanol and butane."""
    assert make_objective("qed")(["CCO"])[0] == pytest.approx(0.4068, abs=1e-4)
    np.testing.assert_allclose(make_objective("logp")(["CCCC", "CCO", None]), [1.8064, -0.0014, np.nan], atol=1e-4)


class TestPenalizedLogPContract(ObjectiveContract):
    objective = make_objective("plogp")
    valid = ["c1ccccc1O", "CCO"]
    invalid = [None, "C1CC", "C(C)(C)(C)(C)C"]
