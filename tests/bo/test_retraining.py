"""Weighted retraining's rank weights and checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch

from latentbo.bo.retraining import RANK_K, load_retrained, rank_weights, save_retrained
from latentbo.errors import CheckpointError


def test_rank_weights_follow_tripp_et_al() -> None:
    scores = np.array([0.1, 3.0, -2.0, 3.0])
    w = rank_weights(scores)
    ranks = np.array([2, 0, 3, 1])  # ties: the earlier one ranks first
    expected = 1 / (RANK_K * 4 + ranks)
    np.testing.assert_allclose(w, expected / expected.sum())
    assert w.sum() == pytest.approx(1.0) and w[1] > w[3] > w[0] > w[2]


def test_retraining_checkpoint_round_trips_and_refuses_other_files(tmp_path: Path) -> None:
    assert load_retrained(tmp_path) is None
    state = {"iteration": 2, "weights": {"w": torch.ones(2)}, "init_codes": torch.zeros(3, 2),
             "eval_codes": torch.zeros(1, 2)}
    save_retrained(tmp_path, state)
    loaded = load_retrained(tmp_path)
    assert loaded["iteration"] == 2 and torch.equal(loaded["weights"]["w"], torch.ones(2))
    torch.save({"iteration": 1}, tmp_path / "retrained.pt")
    with pytest.raises(CheckpointError, match="not a retraining checkpoint"):
        load_retrained(tmp_path)
    (tmp_path / "retrained.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="unreadable"):
        load_retrained(tmp_path)
