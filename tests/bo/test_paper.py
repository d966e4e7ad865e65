from latentbo.bo.paper import LATER_WORK_500, PAPER, paper_row


def test_paper_columns_for_the_papers_objective_only() -> None:
    assert paper_row("expressions", "gmm_dae", "expr") == {
        "paper_top1": 0.03, "paper_top2": 0.40, "paper_top3": 0.41, "paper_valid": "0.99-1.00", "paper_avg": 3.32}
    assert paper_row("zinc", "gvae", "plogp")["paper_valid"] == 0.28
    # another objective, or a model the paper did not run, has no paper numbers
    assert set(paper_row("expressions", "gmm_dae", "qed").values()) == {"-"}
    assert set(paper_row("expressions", "gwae", "expr").values()) == {"-"}
    assert paper_row("zinc", "grae", "plogp")["paper_avg"] == "-"


def test_weighted_retraining_objective_stands_beside_that_protocols_papers() -> None:
    row = paper_row("expressions", "gvae", "expr_wr")
    assert row["paper_top1"] == "0.394 (weighted retraining); 0.462 (LOL-BO); 0.147 (CoBO)"
    assert {row[f"paper_{k}"] for k in ("top2", "top3", "valid", "avg")} == {"-"}


def test_tables_are_complete_rows() -> None:
    for task in PAPER.values():
        for row in task.values():
            assert set(row) == {"top1", "top2", "top3", "valid", "avg"}
            assert row["top1"] is not None
    assert LATER_WORK_500["CoBO"] < LATER_WORK_500["LOL-BO"]
