from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from latentbo.errors import ConfigError
from latentbo.images import clustering_accuracy, feature_net, frechet_distance, precision_recall


def test_clustering_accuracy_known_assignments() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    assert clustering_accuracy(np.array([3, 3, 0, 0, 1, 1, 1, 2]), labels) == 1.0  # a relabelling
    assert clustering_accuracy(np.array([3, 3, 0, 0, 1, 1, 0, 2]), labels) == 7 / 8
    assert clustering_accuracy(np.zeros(8, dtype=int), labels) == 3 / 8  # one cluster: the biggest class
    with pytest.raises(ConfigError):
        clustering_accuracy(np.zeros(3, dtype=int), labels)


class FirstPixels(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1)[:, :4]


def test_frechet_distance_identical_vs_shifted() -> None:
    g = torch.Generator().manual_seed(0)
    a = torch.rand(4000, 1, 4, 4, generator=g) * 0.5
    b = torch.rand(4000, 1, 4, 4, generator=g) * 0.5
    assert frechet_distance(a, a, FirstPixels(), 4) == pytest.approx(0, abs=1e-6)
    same_law = frechet_distance(a, b, FirstPixels(), 4)
    shifted = frechet_distance(a, b + 0.3, FirstPixels(), 4)  # mean shift 0.3 in each of 4 features
    assert same_law < 1e-3
    assert shifted == pytest.approx(4 * 0.3**2, rel=0.05)
    with pytest.raises(ConfigError):
        frechet_distance(a[:1], b, FirstPixels(), 4)


def test_precision_and_recall_on_distributions_with_known_answers() -> None:
    rng = np.random.default_rng(0)
    real = rng.normal(size=(1000, 8))
    same = precision_recall(real, rng.normal(size=(1000, 8)))
    assert same["precision"] > 0.9 and same["recall"] > 0.9  # the same law: both near 1
    far = precision_recall(real, rng.normal(size=(1000, 8)) + 100)
    assert far == {"precision": 0.0, "recall": 0.0}
    # Mode dropping: real data in two far modes, samples from one: sharp but half the data.
    two_modes = np.concatenate([rng.normal(size=(500, 8)), rng.normal(size=(500, 8)) + 20])
    dropped = precision_recall(two_modes, rng.normal(size=(1000, 8)))
    assert dropped["precision"] > 0.9 and 0.4 < dropped["recall"] < 0.55
    # Collapse: every sample near the mode's centre is realistic, and covers almost nothing.
    collapsed = precision_recall(real, 0.01 * rng.normal(size=(1000, 8)))
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.05
    with pytest.raises(ConfigError, match="more than 5"):
        precision_recall(real, real[:5])
    with pytest.raises(ConfigError, match="one width"):
        precision_recall(real, real[:, :4])


def test_feature_net_is_trained_once_and_cached(toy_sets, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path))
    train, test = toy_sets
    net, acc = feature_net(train, test, epochs=3)
    assert acc > 0.5  # ten positions of a bright square are easy to tell apart
    assert len(list(tmp_path.glob("lenet-*.safetensors"))) == 1
    again, acc2 = feature_net(train, test, epochs=3)
    assert acc2 == acc
    assert all(torch.equal(p, q) for p, q in zip(net.state_dict().values(), again.state_dict().values()))
    # the seed alone fixes the net, whatever the global RNG did before (a fresh cache retrains it)
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "fresh"))
    torch.manual_seed(99)
    retrained, acc3 = feature_net(train, test, epochs=3)
    assert acc3 == acc and all(torch.equal(p, q) for p, q in zip(net.state_dict().values(),
                                                                retrained.state_dict().values()))
    unlabelled = type(train)(train.x, None, "x")
    with pytest.raises(ConfigError, match="labelled"):
        feature_net(unlabelled, test)


def test_true_fid_needs_the_weights_file(tmp_path) -> None:
    from latentbo.images.metrics import InceptionFeatures

    with pytest.raises(ConfigError, match="Inception weights .* not found"):
        InceptionFeatures(tmp_path / "pt_inception-2015-12-05.pth")
