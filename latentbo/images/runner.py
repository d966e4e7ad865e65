"""Train and evaluate image autoencoders (the GMM-DAE paper's Table 1 columns).

Evaluation works on any model that can encode, decode and sample (see
:class:`Generative`), so peers (pythae) are scored by exactly the same code.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from latentbo.data import ImageSet
from latentbo.devices import resolve_device
from latentbo.errors import CheckpointError, ConfigError, DatasetError
from latentbo.images.metrics import PR_MAX, clustering_accuracy, frechet_distance, image_features, precision_recall
from latentbo.io import atomic_write_text
from latentbo.models import ImageAutoencoder, ImageConfig, load_model, save_model
from latentbo.training import STATE_FILE, check_same_data, fit, fit_samplers, training_run


def train_image_model(config: ImageConfig, train: ImageSet, test: ImageSet, out: str | Path,
                      resume: bool = False, progress: bool = True, device: str | torch.device | None = None,
                      overwrite: bool = False, max_minutes: float | None = None) -> tuple[ImageAutoencoder, pd.DataFrame]:
    """Train with Adam in the shared loop (:func:`latentbo.training.fit`): per epoch the
    loss terms, the test MSE and the time in ``metrics.csv``, the checkpoint after
    every epoch (atomic; the latest epoch is the model), then the ex-post GMM (10
    components) and any post-hoc sampler fitted on the training codes. ``device`` is
    where the epochs run (CPU by default); the returned model is on the CPU.
    ``overwrite`` replaces a run already in ``out`` (:func:`~latentbo.io.clear_run`).
    A resumed run goes on with the config it was started with (only ``epochs`` may
    differ: train longer or shorter), and only on the same images. ``max_minutes``:
    no batch starts after that many minutes (the first epoch always finishes); a run
    so stopped returns fewer metrics rows than ``config.epochs``, has saved its state
    and no samplers, and goes on from the next batch with ``resume``.

    Raises:
        ConfigError: the device is not available.
        DatasetError: ``train`` holds no images.
        CheckpointError: ``out`` holds a run and ``resume`` is False, the saved state is
            unusable, or the config (but for ``epochs``) or the training images differ from the run's.
        BusyError: another process is training into ``out``.
    """
    device = resolve_device(device)
    if len(train.x) == 0:
        raise DatasetError(f"no training images in {train.source}")
    if max_minutes is not None and not max_minutes > 0:
        raise ConfigError(f"max_minutes must be positive, got {max_minutes}")
    deadline = time.monotonic() + 60 * max_minutes if max_minutes is not None else math.inf
    with training_run(out, resume, overwrite) as folder:
        return _train_image_model(config, train, test, folder, resume, progress, device, deadline)


def _train_image_model(config: ImageConfig, train: ImageSet, test: ImageSet, out: Path, resume: bool,
                       progress: bool, device: torch.device, deadline: float) -> tuple[ImageAutoencoder, pd.DataFrame]:
    if (out / STATE_FILE).exists() and not resume:
        raise CheckpointError(f"{out} already holds a training run; pass --resume or choose another --out")
    if resume:
        if not (out / STATE_FILE).exists():
            raise CheckpointError(f"nothing to resume in {out}: {STATE_FILE} is missing")
        # runs of earlier versions saved only model.safetensors (their latest epoch)
        model = load_model(out, "last" if (out / "last.safetensors").exists() else "model", kind="image")
        model.config = config = model.config.resumed_with(config)
    x = train.x[: config.limit] if config.limit else train.x
    fingerprint = hashlib.sha256(x.numpy().tobytes()).hexdigest()[:16]
    if resume and (out / "data_report.json").exists():  # runs of earlier versions have none
        check_same_data(out, fingerprint, len(x), "images")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "data_report.json", json.dumps(
        {"source": train.source, "fingerprint": fingerprint, "read": len(x)}, indent=2))
    torch.manual_seed(config.seed)
    if not resume:
        model = ImageAutoencoder(config)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)

    def evaluate() -> dict[str, float]:
        recon = model.decode_batches(model.encode(test.x))
        return {"test_mse": float((recon - test.x).pow(2).mean())}

    result = fit(model, opt, out, epochs=config.epochs, seed=config.seed,
                 batches=lambda gen: (x[idx].to(device) for idx in torch.randperm(len(x), generator=gen).split(
                     config.batch_size)),
                 n_train=len(x), evaluate=evaluate, resume=resume, progress=progress, deadline=deadline, unit="image")
    # the training codes are encoded where the model trained: at the paper's width a CPU takes minutes
    codes = None if result.out_of_time else model.encode(x)
    model.to("cpu")
    if codes is not None:
        fit_samplers(model, codes, config.seed)
        save_model(model, out)
    return model.eval(), pd.DataFrame(result.rows)


@dataclass
class Generative:
    """What evaluation needs from a model: ``encode`` (images -> codes), ``decode``
    (codes -> images), ``sample`` (n, generator) from the model's own sampler, and
    ``sample_gmm`` (n, generator) from a 10-component GMM fitted on training codes.
    ``assign`` (codes -> mode ids) when the prior has modes."""

    encode: Callable[[Tensor], Tensor]
    decode: Callable[[Tensor], Tensor]
    sample: Callable[[int, torch.Generator], Tensor]
    sample_gmm: Callable[[int, torch.Generator], Tensor]
    assign: Callable[[Tensor], Tensor] | None = None

    @classmethod
    def of(cls, model: ImageAutoencoder) -> Generative:
        prior = model.regularizer.prior
        return cls(model.encode, model.decode_batches, lambda n, g: model.sample_latents(n, g),
                   lambda n, g: model.sample_latents(n, g, expost=True), getattr(prior, "assign", None))


def evaluate(gen_model: Generative, test: ImageSet, features: torch.nn.Module, num_features: int,
             n: int = 2000, seed: int = 0, out: str | Path | None = None, name: str = "") -> dict[str, Any]:
    """The Table-1 columns on ``n`` test images: sampling FD (the model's sampler),
    GMM FD, reconstruction FD, interpolation FD (midpoints of random test pairs),
    test MSE, precision and recall of both samplers' images on the same features (the
    first :data:`~latentbo.images.metrics.PR_MAX` of each set), and clustering accuracy
    when the prior has modes and the data labels.
    With ``out``, also writes ``samples.png``, ``reconstructions.png``,
    ``interpolations.png`` and ``latent.png``.
    """
    g = torch.Generator().manual_seed(seed)
    real = test.x[:n]
    with torch.no_grad():
        codes = gen_model.encode(real)
        recon = gen_model.decode(codes)
        samples = gen_model.decode(gen_model.sample(len(real), g).float())
        gmm_samples = gen_model.decode(gen_model.sample_gmm(len(real), g).float())
        pair = torch.randperm(len(real), generator=g)
        mid = gen_model.decode(0.5 * (codes + codes[pair]))
    fd = lambda fake: frechet_distance(real, fake, features, num_features)
    result: dict[str, Any] = {
        "fd_sampling": fd(samples), "fd_gmm": fd(gmm_samples), "fd_reconstruction": fd(recon),
        "fd_interpolation": fd(mid), "test_mse": float((recon - real).pow(2).mean()), "clustering_acc": None,
    }
    real_features = image_features(real[:PR_MAX], features)
    for sampler, fake in (("sampling", samples), ("gmm", gmm_samples)):
        pr = precision_recall(real_features, image_features(fake[:PR_MAX], features))
        result.update({f"precision_{sampler}": pr["precision"], f"recall_{sampler}": pr["recall"]})
    if gen_model.assign is not None and test.y is not None:
        result["clustering_acc"] = clustering_accuracy(gen_model.assign(codes).numpy(), test.y[:n].numpy())
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        save_grid(out / "samples.png", samples[:64], 8)
        # Pairs side by side: test image, its reconstruction.
        save_grid(out / "reconstructions.png", torch.stack([real[:32], recon[:32]], 1).flatten(0, 1), 8)
        steps = torch.linspace(0, 1, 8).view(1, 8, 1)
        path = (1 - steps) * codes[:8].unsqueeze(1) + steps * codes[pair[:8]].unsqueeze(1)
        with torch.no_grad():
            save_grid(out / "interpolations.png", gen_model.decode(path.flatten(0, 1)), 8)
        save_latent_plot(out / "latent.png", codes, None if test.y is None else test.y[:n], name)
        atomic_write_text(out / "metrics.json", json.dumps(result, indent=2))
    return result


def save_grid(path: Path, images: Tensor, per_row: int) -> None:
    """Tile ``N x C x S x S`` images into one PNG (1-pixel white gutters, no resampling)."""
    import matplotlib.image

    imgs = images.detach().clamp(0, 1).permute(0, 2, 3, 1).numpy()
    rows, s = -(-len(imgs) // per_row), imgs.shape[1]
    canvas = np.ones((rows * (s + 1) + 1, per_row * (s + 1) + 1, imgs.shape[3]), dtype=np.float32)
    for i, im in enumerate(imgs):
        r, c = divmod(i, per_row)
        canvas[r * (s + 1) + 1 : (r + 1) * (s + 1), c * (s + 1) + 1 : (c + 1) * (s + 1)] = im
    matplotlib.image.imsave(path, canvas.squeeze(-1) if canvas.shape[-1] == 1 else canvas, cmap="gray", vmin=0, vmax=1)


def save_latent_plot(path: Path, codes: Tensor, labels: Tensor | None, title: str = "") -> None:
    """2-D PCA projection of the codes, coloured by label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    centred = codes - codes.mean(0)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    xy = (centred @ v[:2].T).numpy()
    fig, ax = plt.subplots(figsize=(4, 4))
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=None if labels is None else labels.numpy(), cmap="tab10", s=3)
    if labels is not None:
        fig.colorbar(sc, ax=ax, label="label")
    ax.set_title(f"{title} latent codes (PCA)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)

