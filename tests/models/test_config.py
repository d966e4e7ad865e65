from pathlib import Path

import pytest

from latentbo.errors import ConfigError
from latentbo.models import IMAGE_MODELS, MODELS, ImageConfig, ModelConfig


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


@pytest.mark.parametrize("make", [lambda **kw: ModelConfig.for_model("expressions", "gvae", **kw),
                                  lambda **kw: ImageConfig.for_model("fashion-mnist", "vae", **kw)],
                         ids=["sequence", "image"])
def test_both_kinds_share_one_validation_path(make) -> None:
    for field, bad, message in (("latent_dim", 0, "latent_dim must be >= 1"), ("epochs", 0, "epochs must be >= 1"),
                                ("batch_size", 0, "batch_size must be >= 1"), ("lr", 0.0, "lr must be positive"),
                                ("recon_weight", -1.0, "recon_weight must be positive"),
                                ("lr", float("nan"), "finite"), ("epochs", "ten", "of type int"),
                                ("depth", 3, "unknown config key")):
        with pytest.raises(ConfigError, match=message):
            make(**{field: bad})
    cfg = make()
    assert type(cfg).from_dict({"kind": cfg.kind, **cfg.to_dict()}) == cfg
    other = "image" if cfg.kind == "sequence" else "sequence"
    with pytest.raises(ConfigError, match=f"a '{other}' config is not a '{cfg.kind}' one"):
        type(cfg).from_dict({**cfg.to_dict(), "kind": other})
    assert cfg.to_toml().startswith(f'kind = "{cfg.kind}"')


def test_image_presets() -> None:
    with pytest.raises(ConfigError, match="unknown image model"):
        ImageConfig.for_model("fashion-mnist", "gan")
    with pytest.raises(ConfigError, match="unknown image dataset"):
        ImageConfig.for_model("cifar", "vae")
    with pytest.raises(ConfigError, match="multiple of 16"):
        ImageConfig.for_model("mnist", "vae", size=20)
    celeba = ImageConfig.for_model("celeba", "gmm_dae")
    assert (celeba.latent_dim, celeba.reg_params["modes"], celeba.size, celeba.channels) == (64, 20, 64, 3)
    assert "placement" not in celeba.reg_params  # 20 one-hot modes fit 64 dimensions
    assert ImageConfig.for_model("svhn", "vae").channels == 3
    # reg_params overrides merge into the model's own (the VAE keeps its summed KL)
    assert ImageConfig.for_model("mnist", "vae", reg_params={"beta": 2.0}).reg_params == {
        "kl_reduction": "sum", "noise_std": 1.0, "beta": 2.0}
    assert set(IMAGE_MODELS) >= {"vae", "rae", "gmm_dae", "two_stage"}
