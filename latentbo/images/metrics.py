"""Image metrics: Fréchet distance on LeNet features ("FD-LeNet"), precision and recall
of samples on the same features, and unsupervised clustering accuracy.

Inception weights cannot be downloaded here, so the default Fréchet distance uses
the penultimate (84-d) features of a LeNet-5 classifier that the project trains
once per dataset (accuracy reported, weights cached). It is computed by
torchmetrics' ``FrechetInceptionDistance`` with that network as a custom feature
extractor. FD-LeNet values are not comparable to published Inception FIDs.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from latentbo.data import ImageSet
from latentbo.io import cache_dir
from latentbo.errors import ConfigError


class LeNet(nn.Module):
    """LeNet-5 on ``C x 32 x 32`` images; :meth:`features` is the 84-d layer."""

    num_features = 84

    def __init__(self, channels: int = 1, classes: int = 10) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        )
        self.head = nn.Linear(84, classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


class _Features(nn.Module):
    """Adapter for torchmetrics: float images in [0, 1] -> features (double)."""

    def __init__(self, net: nn.Module, num_features: int) -> None:
        super().__init__()
        self.net = net
        self.num_features = num_features

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).double()


def _fingerprint(data: ImageSet) -> str:
    h = hashlib.sha256(str(tuple(data.x.shape)).encode())
    h.update(data.x[:: max(1, len(data.x) // 1000)].numpy().tobytes())
    return h.hexdigest()[:16]


def feature_net(train: ImageSet, test: ImageSet, epochs: int = 3, seed: int = 0,
                progress: bool = False) -> tuple[LeNet, float]:
    """The dataset's LeNet (trained once, then loaded from the cache).

    Args:
        train, test: labelled images ``N x C x 32 x 32``.
        epochs, seed: training budget and seed.

    Returns:
        ``(net, test accuracy)``.

    Raises:
        ConfigError: the data has no labels or is not 32 x 32.
    """
    if train.y is None or test.y is None:
        raise ConfigError(f"{train.source}: FD-LeNet needs labelled data to train its feature network")
    if train.size != 32:
        raise ConfigError(f"FD-LeNet works on 32 x 32 images, got {train.size}")
    key = f"lenet-{_fingerprint(train)}-{_fingerprint(test)}-e{epochs}-s{seed}"
    path = cache_dir() / f"{key}.safetensors"
    torch.manual_seed(seed)  # before the net is built: its initial weights come from this seed
    net = LeNet(train.channels)
    if path.exists():
        net.load_state_dict(load_file(path))
        return net.eval(), json.loads(path.with_suffix(".json").read_text())["accuracy"]
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in tqdm(range(epochs), disable=not progress, desc="FD-LeNet classifier", unit="epoch"):
        net.train()
        for idx in torch.randperm(len(train.x), generator=gen).split(128):
            loss = nn.functional.cross_entropy(net(train.x[idx]), train.y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(test.x[i : i + 1000]).argmax(1) for i in range(0, len(test.x), 1000)])
    accuracy = float((pred == test.y).float().mean())
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(net.state_dict(), str(path))
    path.with_suffix(".json").write_text(json.dumps({"accuracy": accuracy, "epochs": epochs, "seed": seed}))
    return net, accuracy


def frechet_distance(real: Tensor, fake: Tensor, features: nn.Module, num_features: int,
                     batch_size: int = 500) -> float:
    """Fréchet distance between the feature distributions of two image sets.

    Args:
        real, fake: ``N x C x S x S`` images in [0, 1] (sizes may differ in N).
        features: maps a batch of images to ``B x num_features``.
        num_features: feature dimension.

    Returns:
        ``||m_r - m_f||^2 + Tr(C_r + C_f - 2 (C_r C_f)^(1/2))``.
    """
    if len(real) < 2 or len(fake) < 2:
        raise ConfigError("the Fréchet distance needs at least two images per set")
    fid = FrechetInceptionDistance(feature=_Features(features, num_features), normalize=True,
                                   reset_real_features=True)
    with torch.no_grad():
        for imgs, is_real in ((real, True), (fake, False)):
            for i in range(0, len(imgs), batch_size):
                fid.update(imgs[i : i + batch_size].float(), real=is_real)
        return float(fid.compute())


#: Nearest neighbours whose distance is each feature vector's radius (Naeem et al.'s k).
PR_NEIGHBOURS = 5
#: At most this many images per set enter precision and recall (the radii need N x N distances).
PR_MAX = 5000


def image_features(images: Tensor, features: nn.Module, batch_size: int = 500) -> np.ndarray:
    """``N x F`` features (float64) of ``N x C x S x S`` images in [0, 1]."""
    with torch.no_grad():
        return torch.cat([features(images[i : i + batch_size].float()).double()
                          for i in range(0, len(images), batch_size)]).numpy()


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = PR_NEIGHBOURS) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019) of ``M x F`` fake
    features against ``N x F`` real ones, by the ``prdc`` package (Naeem et al. 2020):
    precision is the share of fake vectors inside some real vector's ``k``-NN ball
    (fidelity), recall the share of real vectors inside some fake vector's (diversity),
    so that a sampler that draws sharp images of a few modes scores high precision and
    low recall, where a Fréchet distance sees one number.

    Returns:
        ``precision``, ``recall`` in [0, 1].

    Raises:
        ConfigError: fewer than ``k + 1`` vectors in a set, or the feature widths differ.
    """
    from prdc import compute_prdc

    real, fake = np.asarray(real, dtype=np.float64), np.asarray(fake, dtype=np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ConfigError(f"precision and recall need two N x F feature sets of one width, got {real.shape} and "
                          f"{fake.shape}")
    if min(len(real), len(fake)) <= k:
        raise ConfigError(f"precision and recall with k = {k} need more than {k} vectors per set, got "
                          f"{len(real)} and {len(fake)}")
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        out = compute_prdc(real, fake, nearest_k=k)
    return {"precision": float(out["precision"]), "recall": float(out["recall"])}


def clustering_accuracy(pred: np.ndarray | Tensor, labels: np.ndarray | Tensor) -> float:
    """Unsupervised clustering accuracy: the best one-to-one matching of clusters to
    labels (Hungarian algorithm), as a fraction in [0, 1].

    Args:
        pred: ``N`` cluster ids; labels: ``N`` class ids (both non-negative ints).
    """
    from scipy.optimize import linear_sum_assignment

    pred, labels = np.asarray(pred, dtype=np.int64), np.asarray(labels, dtype=np.int64)
    if pred.shape != labels.shape or pred.ndim != 1 or not len(pred):
        raise ConfigError(f"pred and labels must be equal-length 1-D arrays, got {pred.shape} and {labels.shape}")
    k = int(max(pred.max(), labels.max())) + 1
    counts = np.zeros((k, k), dtype=np.int64)
    np.add.at(counts, (pred, labels), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(pred))


class InceptionFeatures(nn.Module):
    """The 2048-d pool features of torch-fidelity's Inception-v3 (the FID network)
    from weights the user supplies (``pt_inception-2015-12-05`` file): with them the
    Fréchet distance is the true FID. Grey images are repeated to three channels.

    Raises:
        ConfigError: torch-fidelity is not installed or the weights file is missing.
    """

    num_features = 2048

    def __init__(self, weights: str | Path) -> None:
        super().__init__()
        if not Path(weights).is_file():
            raise ConfigError(f"Inception weights {weights} not found (FID needs the FID Inception-v3 weights file)")
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise ConfigError("true FID needs torch-fidelity: pip install 'latentbo[fid]'") from None
        try:
            self.net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                                   feature_extractor_weights_path=str(weights))
        except Exception as exc:  # torch-fidelity's own load: any failure means an unusable file
            raise ConfigError(f"cannot load Inception weights {weights}: {type(exc).__name__}: {exc}") from None

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        return self.net((x.clamp(0, 1) * 255).to(torch.uint8))[0].reshape(len(x), -1)
