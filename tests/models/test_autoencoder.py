import pytest
import torch

from latentbo.errors import ConfigError
from latentbo.models import SequenceAutoencoder
from latentbo.models.autoencoder import fit_gmm
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


def test_fit_gmm_fits_a_seeded_subsample_of_many_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.mixture import GaussianMixture

    seen = []
    fit = GaussianMixture.fit
    monkeypatch.setattr(GaussianMixture, "fit", lambda self, x: seen.append(x) or fit(self, x))
    gen = torch.Generator().manual_seed(0)
    codes = torch.cat([torch.randn(600, 2, generator=gen) * 0.3 - 3, torch.randn(400, 2, generator=gen) * 0.3 + 3])
    gmm = fit_gmm(codes, components=2, seed=1, max_codes=200)
    assert seen[0].shape == (200, 2)
    assert sorted(round(m[0]) for m in gmm["means"]) == [-3, 3]  # the subsample still finds both modes
    assert fit_gmm(codes, components=2, seed=1, max_codes=200) == gmm
    assert (seen[1] == seen[0]).all()
    fit_gmm(codes, components=2, seed=2, max_codes=200)
    assert not (seen[2] == seen[0]).all()  # another seed, another subsample
    fit_gmm(codes[:150], components=2, seed=1, max_codes=200)
    assert seen[3].shape == (150, 2)  # fewer codes than the cap: all of them
