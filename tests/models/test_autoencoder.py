import json
from pathlib import Path

import pytest
import torch

from latentbo.errors import CheckpointError, ConfigError
from latentbo.models import MODELS, ModelConfig, SequenceAutoencoder, load_model, save_model
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


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = _model("gmm_dae")
    model.eval()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    strings = ["x + 1", "sin( x ) * 2"]
    z1, _ = model.encode_strings(strings)
    z2, _ = loaded.encode_strings(strings)
    torch.testing.assert_close(z1, z2)
    assert loaded.decode_latents(z1) == model.decode_latents(z1)
    torch.testing.assert_close(loaded.regularizer.lambda_ks, model.regularizer.lambda_ks)


def test_corrupt_and_foreign_checkpoints(tmp_path: Path) -> None:
    model = _model()
    save_model(model, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 50)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(tmp_path)
    save_model(model, tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["codec"]["fingerprint"] = "0" * 16  # made with another version of the grammar
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="grammar file changed"):
        load_model(tmp_path)
    with pytest.raises(CheckpointError, match="no model folder .*nowhere"):
        load_model(tmp_path / "nowhere")


def test_decode_latents_checks_shape() -> None:
    with pytest.raises(ConfigError, match="N x 4"):
        _model().decode_latents(torch.zeros(2, 5))


def test_config_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        ModelConfig.for_model("expressions", "nope")
    with pytest.raises(ConfigError, match="unknown config key"):
        ModelConfig.for_model("expressions", "gvae", latent=3)
    with pytest.raises(ConfigError, match="decoder"):
        ModelConfig.for_model("expressions", "gvae", decoder="lstm")
    cfg = ModelConfig.for_model("zinc", "gmm_dae")
    assert (cfg.latent_dim, cfg.decoder_hidden, cfg.conv_kernels) == (56, 501, [9, 9, 11])
    path = tmp_path / "c.toml"
    path.write_text(cfg.to_toml())
    assert ModelConfig.from_dict(ModelConfig.from_toml(path)) == cfg
    assert set(MODELS) >= {"gvae", "cvae", "gcvvae", "grae", "gmm_dae", "welbo", "edvae"}


def test_precision_and_lr_scaling_are_validated_and_scale() -> None:
    with pytest.raises(ConfigError, match="precision must be one of"):
        ModelConfig.for_model("expressions", "gvae", precision="fp16")
    with pytest.raises(ConfigError, match="lr_scaling must be one of"):
        ModelConfig.for_model("expressions", "gvae", lr_scaling="cubic")
    kw = {"lr": 1e-3, "lr_reference_batch": 256}
    assert ModelConfig.for_model("expressions", "gvae", batch_size=1024, **kw).effective_lr == 1e-3  # no scaling
    assert ModelConfig.for_model("expressions", "gvae", batch_size=1024, lr_scaling="sqrt", **kw).effective_lr == 2e-3
    assert ModelConfig.for_model("expressions", "gvae", batch_size=64, lr_scaling="linear", **kw).effective_lr == 2.5e-4


@pytest.mark.parametrize("decoder", ["fast", "ar"])
def test_transformer_decoders_get_their_own_sizes_and_bad_widths_fail_clearly(decoder: str) -> None:
    cfg = ModelConfig.for_model("zinc", "gvae", decoder=decoder)
    assert (cfg.decoder_hidden, cfg.decoder_layers) == (128, 2)  # not the GRU's 501 x 3
    assert ModelConfig.for_model("zinc", "gvae").decoder_hidden == 501
    with pytest.raises(ConfigError, match="multiple of its 4 attention heads"):
        ModelConfig.for_model("zinc", "gvae", decoder=decoder, decoder_hidden=501)
