"""Contract tests that ship with the package (as GPyTorch ships its kernel test
cases): a test class inherits one, sets what it names, and gets every check. They
are what a new codec, regulariser, objective or acquisition must pass; the
project's own tests run every registered one through them.

    from latentbo.testing import CodecContract

    class TestMyCodec(CodecContract):
        codec = MyCodec(...)
        valid = ["..."]
        invalid = ["..."]

Needs pytest (the ``test`` extra).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from latentbo.codecs import Codec, codec_from_spec
from latentbo.errors import InvalidInputError


class CodecContract:
    codec: Codec
    valid: list[str]
    invalid: list[str]

    def test_round_trip(self) -> None:
        idx = self.codec.encode(self.valid)
        assert idx.shape == (len(self.valid), self.codec.max_length)
        assert self.codec.decode(self.codec.one_hot(idx)) == [self.codec.canonical(s) for s in self.valid]

    def test_one_hot_shape(self) -> None:
        oh = self.codec.one_hot(self.codec.encode(self.valid))
        assert oh.shape == (len(self.valid), self.codec.max_length, self.codec.vocab_size)
        assert torch.all(oh.sum(-1) == 1)

    def test_invalid_raises_project_error(self) -> None:
        for s in self.invalid:
            with pytest.raises(InvalidInputError) as info:
                self.codec.encode_one(s)
            assert info.value.text == s

    def test_encode_many_reports_every_skip(self) -> None:
        mixed = [*self.valid, *self.invalid]
        batch = self.codec.encode_many(mixed, workers=1)
        assert len(batch.kept) == len(self.valid)
        assert [f.index for f in batch.failures] == list(range(len(self.valid), len(mixed)))
        assert sum(batch.failure_counts().values()) == len(self.invalid)

    def test_spec_rebuilds_equal_codec(self) -> None:
        clone = codec_from_spec(self.codec.spec())
        assert torch.equal(clone.encode(self.valid), self.codec.encode(self.valid))

    def test_stochastic_decode_is_seeded(self) -> None:
        logits = torch.randn(16, self.codec.max_length, self.codec.vocab_size, generator=torch.Generator().manual_seed(1))
        a = self.codec.decode(logits, stochastic=True, generator=torch.Generator().manual_seed(7))
        b = self.codec.decode(logits, stochastic=True, generator=torch.Generator().manual_seed(7))
        assert a == b


class RegularizerContract:
    """Set ``name`` (a :data:`~latentbo.models.regularizers.REGULARIZERS` key) and,
    optionally, ``params``."""

    name: str
    params: ClassVar[dict[str, Any]] = {}
    dim: ClassVar[int] = 3

    def _codes(self, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        return torch.randn(n, self.dim, generator=gen), torch.randn(n, self.dim, generator=gen)

    def _make(self):
        from latentbo.models.regularizers import make_regularizer

        return make_regularizer(self.name, self.dim, self.params)

    def test_loss_is_finite_and_trains_the_codes(self) -> None:
        reg = self._make()
        mu, raw = self._codes()
        mu.requires_grad_(True)
        z, stats = reg.posterior(mu, raw if reg.stochastic else None)
        assert z.shape == mu.shape
        terms = reg.loss(z, stats)
        assert "reg" in terms and all(t.ndim == 0 and torch.isfinite(t) for t in terms.values())
        (grad,) = torch.autograd.grad(terms["reg"], mu)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0

    def test_eval_posterior_is_the_mean(self) -> None:
        reg = self._make().eval()
        mu, raw = self._codes()
        assert torch.equal(reg.posterior(mu, raw if reg.stochastic else None)[0], mu)

    def test_prior_samples_are_seeded(self) -> None:
        reg = self._make()
        reg.fit_sampler(self._codes(256)[0], seed=0)  # the hook after training (a 2-stage VAE's second stage)
        a = reg.prior.sample(50, torch.Generator().manual_seed(3))
        b = reg.prior.sample(50, torch.Generator().manual_seed(3))
        assert a.shape == (50, self.dim) and torch.equal(a, b) and a.std() > 0

    def test_state_round_trip(self) -> None:
        reg = self._make()
        mu, raw = self._codes()
        for scale in (1.0, 2.0):  # two epochs, as training reports them: schedules move their state
            terms = reg.loss(*reg.posterior(scale * mu, raw if reg.stochastic else None))
            reg.after_epoch({"loss": 1.0, "recon": 1.0, **{k: float(v) for k, v in terms.items()}})
        clone = self._make()
        clone.load_state_dict(reg.state_dict())
        reg.eval(), clone.eval()
        raw = raw if reg.stochastic else None
        torch.manual_seed(1)  # losses that draw prior samples (WAE) draw the same ones
        a = reg.loss(*reg.posterior(mu, raw))
        torch.manual_seed(1)
        b = clone.loss(*clone.posterior(mu, raw))
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
        assert clone.log_state() == reg.log_state()


class ObjectiveContract:
    """Set ``objective`` (an :class:`~latentbo.objectives.base.Objective`), ``valid``
    strings it scores and ``invalid`` ones it cannot."""

    objective: Any
    valid: list[str]
    invalid: list[str | None]

    def test_scores_one_float_per_string_nan_for_invalid(self) -> None:
        strings = [*self.valid, *self.invalid]
        out = np.asarray(self.objective(strings))
        assert out.shape == (len(strings),) and out.dtype.kind == "f"
        assert np.isfinite(out[: len(self.valid)]).all() and np.isnan(out[len(self.valid) :]).all()

    def test_deterministic_and_named(self) -> None:
        a, b = self.objective(self.valid), self.objective(self.valid)
        np.testing.assert_array_equal(a, b)
        assert isinstance(self.objective.name, str) and self.objective.name
        assert isinstance(self.objective.maximize, bool)
        assert len(self.objective.details(self.valid)) == len(self.valid)


class ProposerContract:
    """Set ``name`` (an :data:`~latentbo.bo.acquisition.ACQUISITIONS` key). Checks on a
    GP fitted to 30 points of a smooth function in a box that is not the unit cube:
    ``q`` distinct points inside the box, the same seed gives the same batch, and a
    proposer rebuilt from its ``state_dict`` proposes what the original would."""

    name: str
    dim: ClassVar[int] = 3
    _problem: ClassVar[tuple | None] = None

    @classmethod
    def problem(cls) -> tuple:
        if ProposerContract._problem is None:
            from latentbo.bo.surrogate import fit_gp

            gen = torch.Generator().manual_seed(0)
            bounds = torch.tensor([[-2.0] * cls.dim, [1.0] * cls.dim], dtype=torch.float64)
            x = bounds[0] + (bounds[1] - bounds[0]) * torch.rand(30, cls.dim, generator=gen, dtype=torch.float64)
            y = -(x + 0.5).pow(2).sum(1)
            ProposerContract._problem = (fit_gp(x, y.unsqueeze(-1), bounds), x, y, bounds)
        return ProposerContract._problem

    def test_proposer_contract(self) -> None:
        from latentbo.bo import CampaignConfig
        from latentbo.bo.acquisition import make_proposer

        gp, x, y, bounds = self.problem()
        cfg = CampaignConfig(num_restarts=2, raw_samples=32)
        first = make_proposer(self.name, self.dim, cfg)
        model = gp if first.uses_model else None
        cand = first.propose(model, x, y, bounds, 5, seed=7)
        assert cand.shape == (5, self.dim) and cand.dtype == torch.float64
        assert ((cand >= bounds[0] - 1e-9) & (cand <= bounds[1] + 1e-9)).all()
        assert len({tuple(c.tolist()) for c in cand}) == 5
        torch.testing.assert_close(make_proposer(self.name, self.dim, cfg).propose(model, x, y, bounds, 5, seed=7), cand)
        first.update(float(y.max()) + 1.0)
        restored = make_proposer(self.name, self.dim, cfg)
        restored.load_state_dict(first.state_dict())
        assert restored.state_dict() == first.state_dict()
        torch.testing.assert_close(restored.propose(model, x, y, bounds, 5, seed=8),
                                   first.propose(model, x, y, bounds, 5, seed=8))
        first.update(-math.inf)  # a batch with nothing valid is a normal update


def stub_model(task: str = "expressions", arch: str = "gmm_dae", decoder: str = "gru", seed: int = 0):
    """An untrained, tiny model (latent 4, widths 32) of ``task``, for tests that need
    one without training."""
    from latentbo.codecs import GrammarCodec
    from latentbo.models import ModelConfig, SequenceAutoencoder
    from latentbo.tasks import get_task

    torch.manual_seed(seed)
    cfg = ModelConfig.for_model(task, arch, decoder=decoder, hidden=32, decoder_hidden=32, decoder_layers=1,
                                latent_dim=4, seed=seed)
    return SequenceAutoencoder(cfg, GrammarCodec(get_task(task).grammar)).eval()


__all__ = ["CodecContract", "ObjectiveContract", "ProposerContract", "RegularizerContract", "stub_model"]
