"""The shipped contracts fail on implementations that break them (a contract that
passes everything would check nothing), and the stub model is a working model."""

import numpy as np
import pytest
import torch

from latentbo.codecs import CharacterCodec
from latentbo.objectives.base import FunctionObjective
from latentbo.testing import CodecContract, ObjectiveContract, ProposerContract, RegularizerContract, stub_model


class _LossyCodec(CharacterCodec):
    """Decodes every string one character short."""

    def decode(self, logits, stochastic=False, generator=None):
        return [None if s is None else s[:-1] for s in super().decode(logits, stochastic, generator)]


def test_codec_contract_catches_a_lossy_decode() -> None:
    contract = CodecContract()
    contract.codec = _LossyCodec.fit(["ab", "ba", "abba"])
    contract.valid, contract.invalid = ["ab", "abba"], ["abc"]
    contract.test_one_hot_shape()  # the parts that hold still pass
    contract.test_invalid_raises_project_error()
    with pytest.raises(AssertionError):
        contract.test_round_trip()


def test_objective_contract_catches_scores_for_invalid_strings() -> None:
    contract = ObjectiveContract()
    contract.objective = FunctionObjective(lambda s: [0.0] * len(s), "always_zero")
    contract.valid, contract.invalid = ["a"], [None]
    contract.test_deterministic_and_named()
    with pytest.raises(AssertionError):
        contract.test_scores_one_float_per_string_nan_for_invalid()


def test_regularizer_contract_catches_a_posterior_that_is_noisy_in_eval(monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.models.regularizers import REGULARIZERS

    class NoisyAE(REGULARIZERS["rae"]):
        def posterior(self, mu, raw):
            return mu + 0.1 * torch.randn_like(mu), {}

    monkeypatch.setitem(REGULARIZERS, "_noisy", NoisyAE)
    contract = RegularizerContract()
    contract.name = "_noisy"
    contract.test_loss_is_finite_and_trains_the_codes()
    with pytest.raises(AssertionError):
        contract.test_eval_posterior_is_the_mean()


def test_proposer_contract_catches_points_outside_the_box(monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.bo.acquisition import ACQUISITIONS

    random = ACQUISITIONS["random"]
    monkeypatch.setattr(random, "propose", lambda self, model, x, y, bounds, q, seed: torch.randn(
        q, self.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 10)
    contract = ProposerContract()
    contract.name = "random"
    with pytest.raises(AssertionError):
        contract.test_proposer_contract()


def test_stub_model_is_a_small_untrained_model_of_its_task() -> None:
    model = stub_model("expressions", arch="rae", seed=3)
    assert (model.latent_dim, model.config.regularizer, model.training) == (4, "rae", False)
    z, batch = model.encode_strings(["x + 1", "x +"])
    assert z.shape == (1, 4) and [f.index for f in batch.failures] == [1]
    assert len(model.decode_latents(torch.zeros(3, 4))) == 3
    again = stub_model("expressions", arch="rae", seed=3)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    with torch.no_grad():
        assert np.isfinite(float(model.loss(model.codec.encode(["x + 1"]))["loss"]))
