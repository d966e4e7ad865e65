"""Each task owns its domain rules: validity, the papers' objective."""

import pytest

from latentbo.bo.paper import paper_row
from latentbo.errors import ConfigError
from latentbo.tasks import TASKS, get_task


def test_validity_is_the_tasks() -> None:
    zinc, expressions = get_task("zinc"), get_task("expressions")
    assert zinc.molecules and not expressions.molecules
    assert zinc.invalidity("c1ccccc1O") is None
    assert zinc.invalidity("C1CC") == "unclosed_ring" and zinc.invalidity("C(C)(C)(C)(C)C") == "valence"
    assert zinc.invalidity(None) == expressions.invalidity(None) == "unfinished"
    assert expressions.invalidity("x + sin( x )") is None  # a finished derivation is a valid expression


def test_paper_objective_is_the_tasks() -> None:
    assert {t: task.objective for t, task in TASKS.items()} == {"expressions": "expr", "zinc": "plogp"}
    assert paper_row("zinc", "gmm_dae", "plogp")["paper_top1"] == 4.15
    assert paper_row("zinc", "gmm_dae", "qed")["paper_top1"] == "-"  # the paper has no qed table
    with pytest.raises(ConfigError, match="unknown task"):
        get_task("proteins")
