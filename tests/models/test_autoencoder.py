import pytest
import torch

from latentbo.errors import ConfigError
from latentbo.models import SequenceAutoencoder
from latentbo.testing import stub_model


def _model(reg: str = "vae", decoder: str = "gru") -> SequenceAutoencoder:
    return stub_model(arch=reg, decoder=decoder).train()


@pytest.mark.parametrize("decoder", ["gru", "fast"])
def test_shapes(decoder: str) -> None:
    model = _model(decoder=decoder)
    idx = model.codec.encode(["x + 1", "sin( x )"])
    mu, raw = model.encode_stats(model.codec.one_hot(idx))
    assert mu.shape == raw.shape == (2, 4)
    assert model.decode_logits(mu).shape == (2, 15, 12)
    terms = model.loss(idx)
    assert terms["loss"].ndim == 0 and float(terms["loss"].detach()) > 0
    assert float(terms["seq_acc"]) == 0.0  # an untrained decoder gets no whole string right


def test_decode_latents_checks_shape() -> None:
    with pytest.raises(ConfigError, match="N x 4"):
        _model().decode_latents(torch.zeros(2, 5))
