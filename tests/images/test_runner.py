from __future__ import annotations

import json

import pytest
import torch

from latentbo.errors import CheckpointError, ConfigError, DatasetError
from latentbo.images import Generative, ImageSet, LeNet, evaluate, feature_net, train_image_model
from latentbo.models import IMAGE_MODELS, ImageAutoencoder, ImageConfig, load_model


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
    loaded = load_model(tmp_path / "m", kind="image")
    assert torch.equal(loaded.encode(test.x[:8]), m.encode(test.x[:8]))
    net, _ = feature_net(train, test, epochs=1)
    result = evaluate(Generative.of(loaded), test, net.features, LeNet.num_features, n=100, out=tmp_path / "e",
                      name="gmm_dae")
    for key in ("fd_sampling", "fd_gmm", "fd_reconstruction", "fd_interpolation"):
        assert 0 < result[key] < float("inf")  # made images never match the test set exactly
    for key in ("precision_sampling", "recall_sampling", "precision_gmm", "recall_gmm"):
        assert 0 <= result[key] <= 1
    gen = Generative.of(loaded)
    with torch.no_grad():  # the MSE of reconstructions (not of samples or interpolations)
        expected = float((gen.decode(gen.encode(test.x[:100])) - test.x[:100]).pow(2).mean())
    assert result["test_mse"] == pytest.approx(expected, rel=1e-5) and expected > 0
    assert result["clustering_acc"] > 0.3  # the GMM prior's 10 modes cluster the 10 classes well above chance
    for png in ("samples.png", "reconstructions.png", "interpolations.png", "latent.png"):
        assert (tmp_path / "e" / png).stat().st_size > 1000
    with pytest.raises(CheckpointError, match="already holds"):
        train_image_model(_cfg("gmm_dae"), train, test, tmp_path / "m", progress=False)


def test_resume_continues_to_the_same_model(toy_sets, tmp_path, monkeypatch) -> None:
    """A run killed in its third epoch resumes (with the config it was started with) to
    the model of an uninterrupted run, refuses another config, and trains longer when
    given more epochs."""
    train, test = toy_sets
    full, _ = train_image_model(_cfg("rae"), train, test, tmp_path / "a", progress=False)
    step, calls = ImageAutoencoder.train_step, []

    def dies_in_epoch_3(self, *args):
        calls.append(1)
        if len(calls) > 2 * len(train.x) // 50:
            raise KeyboardInterrupt
        return step(self, *args)

    monkeypatch.setattr(ImageAutoencoder, "train_step", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        train_image_model(_cfg("rae"), train, test, tmp_path / "b", progress=False)
    monkeypatch.setattr(ImageAutoencoder, "train_step", step)
    with pytest.raises(CheckpointError, match="other settings.*seed 0 -> 1"):
        train_image_model(_cfg("rae", seed=1), train, test, tmp_path / "b", resume=True, progress=False)
    resumed, rows = train_image_model(_cfg("rae"), train, test, tmp_path / "b", resume=True, progress=False)
    assert len(rows) == 3
    assert torch.allclose(resumed.encode(test.x[:8]), full.encode(test.x[:8]), atol=1e-5)
    _, rows = train_image_model(_cfg("rae", epochs=4), train, test, tmp_path / "b", resume=True, progress=False)
    assert list(rows["epoch"]) == [1, 2, 3, 4]  # trained one epoch longer


def test_max_minutes_stops_after_the_first_epoch_and_resume_finishes_the_run(toy_sets, tmp_path) -> None:
    train, test = toy_sets
    full, _ = train_image_model(_cfg("rae"), train, test, tmp_path / "a", progress=False)
    _, rows = train_image_model(_cfg("rae"), train, test, tmp_path / "b", progress=False, max_minutes=1e-9)
    assert len(rows) == 1  # the first epoch always finishes; nothing after the deadline
    assert load_model(tmp_path / "b", kind="image").expost_gmm is None  # samplers are fitted once it is done
    resumed, rows = train_image_model(_cfg("rae"), train, test, tmp_path / "b", resume=True, progress=False)
    assert len(rows) == 3 and resumed.expost_gmm is not None
    assert torch.allclose(resumed.encode(test.x[:8]), full.encode(test.x[:8]), atol=1e-5)
    with pytest.raises(ConfigError, match="max_minutes"):
        train_image_model(_cfg("rae"), train, test, tmp_path / "c", progress=False, max_minutes=0)


def test_resume_refuses_other_images(toy_sets, tmp_path) -> None:
    train, test = toy_sets
    train_image_model(_cfg("rae", epochs=1), train, test, tmp_path / "r", progress=False)
    other = ImageSet(train.x.flip(0), train.y, "flipped")
    with pytest.raises(CheckpointError, match="other data"):
        train_image_model(_cfg("rae"), other, test, tmp_path / "r", resume=True, progress=False)


def test_no_training_images_is_refused_before_anything_is_written(toy_sets, tmp_path) -> None:
    train, test = toy_sets
    with pytest.raises(DatasetError, match="no training images in empty"):
        train_image_model(_cfg("rae"), ImageSet(train.x[:0], train.y[:0], "empty"), test, tmp_path / "r",
                          progress=False)
    assert not (tmp_path / "r").exists()


def test_runs_of_earlier_versions_load_and_resume(toy_sets, tmp_path) -> None:
    """An image run as earlier versions wrote it: config.toml without ``kind`` (and the
    old dataset name), weights only in model.safetensors and in the state file, no data
    report: it loads, and resumes from its state."""
    train, test = toy_sets
    train_image_model(_cfg("rae", epochs=2), train, test, tmp_path / "n", progress=False)
    old = tmp_path / "old"
    old.mkdir()
    toml = (tmp_path / "n" / "config.toml").read_text()
    (old / "config.toml").write_text(toml.replace('kind = "image"\n', "").replace("fashion-mnist", "fashion_mnist")
                                    .replace("epochs = 2", "epochs = 3"))  # killed after 2 of its 3 epochs
    (old / "meta.json").write_text(json.dumps({"expost_gmm": None}))
    (old / "model.safetensors").write_bytes((tmp_path / "n" / "last.safetensors").read_bytes())
    state = torch.load(tmp_path / "n" / "training_state.pt", weights_only=True)
    last = load_model(tmp_path / "n", "last", kind="image")
    torch.save({"model": last.state_dict(), "optimizer": state["optimizer"], "rng": state["rng"],
                "rows": state["rows"]}, old / "training_state.pt")
    loaded = load_model(old)
    assert loaded.config.dataset == "fashion-mnist" and loaded.config.kind == "image"
    assert torch.equal(loaded.encode(test.x[:4]), last.encode(test.x[:4]))
    resumed, rows = train_image_model(_cfg("rae"), train, test, old, resume=True, progress=False)
    full, _ = train_image_model(_cfg("rae"), train, test, tmp_path / "full", progress=False)
    assert len(rows) == 3
    assert torch.allclose(resumed.encode(test.x[:8]), full.encode(test.x[:8]), atol=1e-5)
