"""A trial's checkpoint: round trip, disagreement, and the ask/tell batch pending."""

from pathlib import Path

import pytest
import torch

from latentbo.bo import CampaignConfig
from latentbo.bo.acquisition import make_proposer
from latentbo.bo.checkpoint import PENDING, Batch, load_pending, load_trial, save_pending, save_trial
from latentbo.errors import CheckpointError


def _turbo():
    return make_proposer("turbo", 3, CampaignConfig())


def test_trial_round_trip_and_disagreement(tmp_path: Path) -> None:
    fresh = load_trial(tmp_path / "trial_0", _turbo(), "turbo", batch=2)
    assert (fresh.iteration, fresh.records, fresh.gp_state) == (0, [], None)
    fresh.records = [{"score": 1.0}, {"score": None}]
    fresh.iteration, fresh.elapsed, fresh.gp_state = 1, 2.5, {"w": torch.ones(2)}
    fresh.proposer.update(3.0)
    save_trial(fresh)
    back = load_trial(tmp_path / "trial_0", _turbo(), "turbo", batch=2)
    assert (back.iteration, back.elapsed, back.records) == (1, 2.5, fresh.records)
    assert torch.equal(back.gp_state["w"], torch.ones(2))
    assert back.proposer.state_dict() == fresh.proposer.state_dict()
    (tmp_path / "trial_0" / "evaluations.jsonl").write_text('{"score": 1.0}\n')  # one evaluation lost
    with pytest.raises(CheckpointError, match="1 evaluations on disk, expected 2"):
        load_trial(tmp_path / "trial_0", _turbo(), "turbo", batch=2)


def test_pending_batch(tmp_path: Path) -> None:
    trial = load_trial(tmp_path / "trial_0", _turbo(), "turbo", batch=2)
    assert load_pending(trial) is None
    batch = Batch(torch.zeros(2, 3), ["x", None], [{}, {}], seed=7)
    trial.proposer.region.best = 1.5  # proposing set the region's first best
    save_pending(trial, batch)
    got, gp_state, elapsed, proposer = load_pending(trial)
    assert (got.strings, got.seed, gp_state, elapsed, proposer["best"]) == (["x", None], 7, None, 0.0, 1.5)
    trial.iteration = 2
    save_pending(trial, batch)
    trial.iteration = 0  # a batch from a later iteration than the trial's state
    with pytest.raises(CheckpointError, match="does not belong to iteration 0"):
        load_pending(trial)
    # told and recorded, then stopped before removing it: removed on the next look
    save_pending(trial, batch)
    trial.iteration = 1
    assert load_pending(trial) is None and not (trial.dir / PENDING).exists()
