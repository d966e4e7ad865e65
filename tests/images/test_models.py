from __future__ import annotations

import pytest
import torch

from latentbo.errors import CheckpointError, ConfigError
from latentbo.images import (IMAGE_MODELS, Generative, ImageConfig, LeNet, evaluate, feature_net, load_image_model,
                             train_image_model)


def _cfg(model: str, **kw) -> ImageConfig:
    return ImageConfig.for_model("fashion-mnist", model, **{"width": 4, "epochs": 3, "batch_size": 50, "lr": 2e-3, **kw})


@pytest.mark.parametrize("model", sorted(IMAGE_MODELS))
def test_tiny_training_run_lowers_the_loss(model: str, toy_sets, tmp_path) -> None:
    train, test = toy_sets
    m, rows = train_image_model(_cfg(model), train, test, tmp_path, progress=False)
    assert len(rows) == 3
    assert rows["train_loss"].iloc[-1] < rows["train_loss"].iloc[0]
    assert rows["test_mse"].iloc[-1] < rows["test_mse"].iloc[0]
    assert m.expost_gmm is not None
    z = m.sample_latents(5, torch.Generator().manual_seed(0))  # two_stage: from its fitted second stage
    assert z.shape == (5, 10) and torch.isfinite(z).all()


def test_save_load_evaluate(toy_sets, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "cache"))
    train, test = toy_sets
    m, _ = train_image_model(_cfg("gmm_dae"), train, test, tmp_path / "m", progress=False)
    loaded = load_image_model(tmp_path / "m")
    assert torch.equal(loaded.encode(test.x[:8]), m.encode(test.x[:8]))
    net, _ = feature_net(train, test, epochs=1)
    result = evaluate(Generative.of(loaded), test, net.features, LeNet.num_features, n=100, out=tmp_path / "e",
                      name="gmm_dae")
    for key in ("fd_sampling", "fd_gmm", "fd_reconstruction", "fd_interpolation"):
        assert 0 < result[key] < float("inf")  # made images never match the test set exactly
    gen = Generative.of(loaded)
    with torch.no_grad():  # the MSE of reconstructions (not of samples or interpolations)
        expected = float((gen.decode(gen.encode(test.x[:100])) - test.x[:100]).pow(2).mean())
    assert result["test_mse"] == pytest.approx(expected, rel=1e-5) and expected > 0
    assert 0.1 <= result["clustering_acc"] <= 1.0  # the GMM prior's modes give clusters
    for png in ("samples.png", "reconstructions.png", "interpolations.png", "latent.png"):
        assert (tmp_path / "e" / png).stat().st_size > 1000
    with pytest.raises(CheckpointError, match="already holds"):
        train_image_model(_cfg("gmm_dae"), train, test, tmp_path / "m", progress=False)


def test_resume_continues_to_the_same_model(toy_sets, tmp_path) -> None:
    train, test = toy_sets
    full, _ = train_image_model(_cfg("rae"), train, test, tmp_path / "a", progress=False)
    train_image_model(_cfg("rae", epochs=2), train, test, tmp_path / "b", progress=False)
    resumed, rows = train_image_model(_cfg("rae"), train, test, tmp_path / "b", resume=True, progress=False)
    assert len(rows) == 3
    assert torch.allclose(resumed.encode(test.x[:8]), full.encode(test.x[:8]), atol=1e-5)


def test_bad_configs_and_checkpoints(tmp_path) -> None:
    with pytest.raises(ConfigError, match="unknown image model"):
        ImageConfig.for_model("fashion-mnist", "gan")
    with pytest.raises(ConfigError, match="unknown image config"):
        ImageConfig.for_model("fashion-mnist", "vae", depth=3)
    assert ImageConfig.for_model("celeba", "gmm_dae").reg_params["modes"] == 20
    assert ImageConfig.for_model("svhn", "vae").channels == 3
    with pytest.raises(CheckpointError, match="not an image model folder"):
        load_image_model(tmp_path)
    (tmp_path / "config.toml").write_text("model = 'vae'\nregularizer = 'vae'\n")
    (tmp_path / "meta.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_image_model(tmp_path)
