"""Weighted retraining's rank weights, joint updates and checkpoint."""

from pathlib import Path

import numpy as np
import pytest
import torch

from latentbo.bo.retraining import (JOINT_BATCH, RANK_K, joint_gp_term, load_retrained, rank_weights, retrain,
                                    save_retrained)
from latentbo.data.datasets import generate_expressions
from latentbo.errors import CheckpointError
from latentbo.models import SequenceAutoencoder
from latentbo.testing import stub_model


@pytest.fixture(scope="module")
def tiny() -> tuple[SequenceAutoencoder, list[str], np.ndarray]:
    """An untrained expression model, 100 expressions and scores."""
    model = stub_model()
    strings = generate_expressions(100, seed=1)
    return model, strings, np.array([len(s) for s in strings], dtype=float)


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


def test_joint_gp_term_reaches_the_encoder_and_not_the_decoder(tiny) -> None:
    model, strings, scores = tiny
    bounds = torch.tensor([[-5.0] * 4, [5.0] * 4])
    gp, loss = joint_gp_term(model, model.codec.encode(strings), scores, bounds, None, torch.Generator().manual_seed(0))
    assert len(gp.train_targets) == 100  # all 100 among the best JOINT_POINTS
    value = loss()
    assert len(gp.train_targets) == JOINT_BATCH and torch.isfinite(value)
    value.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.encoder.parameters())
    assert all(p.grad is None for p in model.decoder.parameters())
    assert all(p.grad is not None for p in gp.parameters())
    model.zero_grad(set_to_none=True)
    # Adam may step the noise below its bound (BoTorch bounds it without a transform): the next call clamps it.
    noise = gp.likelihood.noise_covar
    with torch.no_grad():
        noise.raw_noise.fill_(-0.01)
    assert torch.isfinite(loss()) and float(noise.raw_noise) >= float(noise.raw_noise_constraint.lower_bound)


def test_joint_updates_train_the_encoder_towards_the_gp(tiny) -> None:
    model, strings, scores = tiny
    start = {k: v.clone() for k, v in model.state_dict().items()}
    bounds = torch.tensor([[-5.0] * 4, [5.0] * 4])
    ids = model.codec.encode(strings)
    fit = {}
    for joint in (False, True):  # the same seed and steps, with and without the GP term
        model.load_state_dict(start)
        retrain(model, strings, scores, steps=20, seed=4, joint_bounds=bounds if joint else None)
        assert not model.training
        _, loss = joint_gp_term(model, ids, scores, bounds, None, torch.Generator().manual_seed(0))
        with torch.no_grad():  # a fresh GP's misfit at the new codes, the same batches for both
            fit[joint] = sum(float(loss()) for _ in range(5))
    model.load_state_dict(start)
    assert fit[True] < 0.9 * fit[False]


def test_retraining_leaves_out_what_the_codec_cannot_encode(tiny) -> None:
    """A string outside the alphabet is left out and counted: the weights are those of
    retraining on the others alone (its score no longer shifts the ranks)."""
    model, strings, scores = tiny
    start = {k: v.clone() for k, v in model.state_dict().items()}
    assert not model.codec.encode_many(["x @ 1"], workers=1).kept.size
    weights = []
    for extra, extra_scores in (([], []), (["x @ 1"], [1e9])):
        model.load_state_dict(start)
        left_out = retrain(model, strings[:50] + extra + strings[50:], np.concatenate([scores[:50], extra_scores,
                                                                                        scores[50:]]), steps=5, seed=2)
        assert left_out == len(extra)
        weights.append({k: v.clone() for k, v in model.state_dict().items()})
    model.load_state_dict(start)
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
