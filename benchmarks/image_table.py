"""The GMM-DAE paper's Table 1 (image generation) with our models and pythae's, plus
clustering accuracy and the sensitivity to the number of modes and their distance.

    python benchmarks/image_table.py --profile quick [--data-dir ../shared/data] [--work runs/image_table]
        [--sweep | --refine] [--seeds 3] [--max-minutes M [--score-stopped]] [--device cuda] [--models gmm_dae,rae]
        [--pythae RAE_GP] [--epochs E] [--datasets mnist] [--no-train] [--note TEXT]

Every model (ours and pythae's VAE, RAE-L2, RAE-GP, WAE-MMD) is trained on the same
images with the same encoder/decoder, width, epochs, batch (100) and seed, and scored by
the same code: Fréchet distance on the features of a LeNet trained here on the dataset
("FD-LeNet"; not Inception FID, not comparable to published FIDs), for the model's own
sampler, samples of a 10-component GMM fitted on the training codes, test
reconstructions and midpoints of random test pairs; improved precision and recall of
both samplers' images on the same features; clustering accuracy for mixture priors.

Equal tuning (``--sweep``): every model of :data:`SWEEP` (GMM-DAE with and without the
mode-mean term, our RAE and pythae's four) gets six settings (learning rate x its
regulariser's weight or mode distance), each trained once a seed (``--seeds``) on the training
images less the last :data:`VALIDATION` and scored against those held-out images; the setting
with the lowest validation FD of the model's own sampler (mean over the seeds) becomes its preset
(``benchmarks/configs/image_presets_<profile>.json``), which the table then uses. Writes
image_sweep_<profile>.{csv,md}. ``--datasets mnist`` sweeps (or tabulates) MNIST at the
profile's width and epochs instead: its tables are named after it (image_sweep_quick_mnist)
and its picks join the profile's presets. ``--refine``, the second round, tries six changes
to the presets of the models of :data:`REFINE` (the GMM-DAEs and the ex-post samplers) the
same way and keeps the best of the seven (image_sweep_<profile>_refine). ``--models`` /
``--pythae`` tune a part of them: its tables are named after its models
(image_sweep_quick_gmm_dae_mm).

Profiles:
  quick  CPU: Fashion-MNIST, first 20,000 training images, width 16 (16-32-64-128
         channels instead of 128-256-512-1024), 5 epochs, FDs on 2,000 test images.
  cpu    the paper's 30 epochs on all 60,000 Fashion-MNIST training images at width 16, FDs
         on the 10,000 test images: measured 15 (ours) to 40 (pythae's RAE-GP) minutes a
         model on one CPU thread, for background runs across sessions (``--max-minutes``).
  full   the paper's settings: Fashion-MNIST (60k training images) and MNIST, width 128,
         30 epochs, FDs on 10,000 test images (MNIST: only its 10k test split is here,
         so its models train on the first 8,000 of them and are scored on the last 2,000).
  tiny   the pipeline end to end in seconds (200 images, width 2, one epoch):
         a check of the code (the GPU script's test), its numbers mean nothing.

Runs are kept under --work: trained models are reused and evaluations read back, and a
run stopped by ``--max-minutes`` (no training batch of ours, no epoch of pythae's starts
after it) goes on exactly where it stopped when the same command runs again. Writes
benchmarks/results/image_table_<profile>.{csv,md} (Table 1, mean +- sd over ``--seeds``),
image_sensitivity_<profile>.{csv,md} (Figures 4-5) and PNG grids.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _common import run, write_table
from torch import nn

from latentbo.data import set_data_dir
from latentbo.errors import CheckpointError, DatasetNotFoundError
from latentbo.images import Generative, ImageSet, LeNet, evaluate, feature_net, load_images, train_image_model
from latentbo.io import atomic_write_with
from latentbo.models import IMAGE_MODELS, ImageConfig, load_model
from latentbo.models.autoencoder import fit_gmm, sample_gmm
from latentbo.models.image import ImageDecoder, ImageEncoder

PROFILES = {
    "quick": {"datasets": ["fashion-mnist"], "limit": 20_000, "width": 16, "epochs": 5, "n_eval": 2000,
              "lenet_epochs": 3, "modes": [1, 5, 10, 15, 20, 25], "scales": [0.5, 1.0, 2.0, 3.0]},
    "cpu": {"datasets": ["fashion-mnist"], "limit": None, "width": 16, "epochs": 30, "n_eval": 10_000,
            "lenet_epochs": 3, "modes": [1, 5, 10, 15, 20, 25], "scales": [0.5, 1.0, 2.0, 3.0]},
    "full": {"datasets": ["fashion-mnist", "mnist"], "limit": None, "width": 128, "epochs": 30, "n_eval": 10_000,
             "lenet_epochs": 10, "modes": [1, 5, 10, 15, 20, 25], "scales": [0.5, 1.0, 2.0, 3.0]},
    "tiny": {"datasets": ["fashion-mnist"], "limit": 200, "width": 2, "epochs": 1, "n_eval": 100,
             "lenet_epochs": 1, "modes": [1, 10], "scales": [1.0]},
}
DATASETS = ("fashion-mnist", "mnist")
PYTHAE = ["VAE", "RAE_L2", "RAE_GP", "WAE_MMD"]
# Clustering accuracy (%) reported in the GMM-DAE paper (and its baselines).
PAPER_CLUSTERING = {"mnist": {"gmm_dae": 85.53, "JointVAE": 78.33, "CascadeVAE": 84.19},
                    "fashion-mnist": {"gmm_dae": 56.24, "JointVAE": 51.51, "CascadeVAE": 57.72}}
#: Training images held out of the sweep's training for its validation FDs.
VALIDATION = 10_000
#: MNIST's training split is not here: its models train on the first MNIST_TRAIN test images.
MNIST_TRAIN = 8_000
#: The LeNet's and the scoring's seed, whatever --seed is: seeds trained by separate calls
#: (a GPU call a seed, a background CPU job beside another) are scored with the same features.
METRIC_SEED = 0
LRS = (2e-4, 1e-3)
#: The tuning grid: six settings a model, ours and pythae's alike.
SWEEP: dict[str, list[dict]] = {
    **{f"latentbo {m}": [{"lr": lr, "reg_params": {"scale": s}} for lr in LRS for s in (1.0, 2.0, 3.0)]
       for m in ("gmm_dae", "gmm_dae_mm")},
    "latentbo rae": [{"lr": lr, "reg_params": {"beta": b}} for lr in LRS for b in (1e-4, 1e-2, 1.0)],
    "pythae VAE": [{"lr": lr} for lr in (1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3)],
    "pythae RAE_L2": [{"lr": lr, "embedding_weight": w} for lr in LRS for w in (1e-4, 1e-2, 1.0)],
    "pythae RAE_GP": [{"lr": lr, "embedding_weight": w} for lr in LRS for w in (1e-4, 1e-2, 1.0)],
    "pythae WAE_MMD": [{"lr": lr, "reg_weight": w} for lr in LRS for w in (0.03, 0.3, 3.0)],
}
#: ``--refine``: a second round for GMM-DAE and the ex-post samplers it is measured against,
#: six changes of one setting each to the model's preset: learning rates above the first
#: grid's top (every model picked it), GMM-DAE's prior width and fixed loss weights (eq. 10
#: gives lambda_KS 589 and lambda_CV 94 at sigma 0.5 and scale 3, and lambda_MM 3.56 with the
#: mode-mean term: a tenth and ten times those), the RAEs' embedding weight times
#: :data:`FACTOR_KEYS`' factors.
REFINE: dict[str, list[dict]] = {
    "latentbo gmm_dae": [{"lr": 2e-3}, {"lr": 5e-3}, {"reg_params": {"sigma": 0.25}}, {"reg_params": {"sigma": 1.0}},
                         {"reg_params": {"weights": "fixed", "lambda_ks": 59.0, "lambda_cv": 9.4}},
                         {"reg_params": {"weights": "fixed", "lambda_ks": 5900.0, "lambda_cv": 940.0}}],
    "latentbo gmm_dae_mm": [
        {"lr": 2e-3}, {"lr": 5e-3}, {"reg_params": {"sigma": 0.25}}, {"reg_params": {"sigma": 1.0}},
        {"reg_params": {"weights": "fixed", "lambda_ks": 59.0, "lambda_cv": 9.4, "lambda_mm": 0.356}},
        {"reg_params": {"weights": "fixed", "lambda_ks": 5900.0, "lambda_cv": 940.0, "lambda_mm": 35.6}}],
    **{f"pythae {m}": [{"lr": 2e-3}, {"lr": 5e-3}, *({"embedding_weight": f} for f in (1e-2, 0.1, 10.0, 100.0))]
       for m in ("RAE_L2", "RAE_GP")},
}
#: Settings whose value in :data:`REFINE` multiplies the preset's instead of replacing it.
FACTOR_KEYS = {"embedding_weight"}
#: Samplers fitted after training (ex-post densities), not the prior the model was trained
#: towards (our RAE samples its N(0, I) prior; its ex-post GMM is the fd_gmm column).
EXPOST = {"latentbo two_stage", "pythae RAE_L2", "pythae RAE_GP"}
METRICS = ("fd_sampling", "fd_gmm", "fd_reconstruction", "fd_interpolation", "precision_sampling", "recall_sampling",
           "precision_gmm", "recall_gmm", "test_mse", "clustering_acc")
PRESETS = Path(__file__).parent / "configs"


class OutOfTime(Exception):
    """``--max-minutes`` has passed; the same command goes on from here."""


#: The rows the target is stated for: the paper's GMM-DAE and ours with the mode-mean term.
GMM_DAES = ("latentbo gmm_dae", "latentbo gmm_dae_mm")


def preset(presets: dict[str, dict[str, dict]], dataset: str, entry: str) -> dict:
    """A model's settings on ``dataset``: its pick, else ``{}`` (its defaults)."""
    return presets.get(dataset, {}).get(entry, {})


def run_folder(work: str | Path, profile: str, dataset: str, split: str, seed: int, entry: str,
               settings: dict) -> Path:
    """Where one model's run of a table lives: ``work/profile/dataset/split/seedN/entry-settings``."""
    return Path(work) / profile / dataset / split / f"seed{seed}" / f"{entry.replace(' ', '-')}-{tag(settings)}"


def load_presets(profile: str) -> dict[str, dict[str, dict]]:
    """The settings ``--sweep`` chose at ``profile`` (dataset -> model -> settings); none: ``{}``."""
    path = PRESETS / f"image_presets_{profile}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def save_presets(profile: str, chosen: dict[str, dict[str, dict]]) -> None:
    """Write a sweep's picks (dataset -> model -> settings) to ``profile``'s presets; the
    datasets and models it did not sweep keep theirs."""
    PRESETS.mkdir(exist_ok=True)
    path = PRESETS / f"image_presets_{profile}.json"
    merged = load_presets(profile)
    for dataset, models in chosen.items():
        merged[dataset] = {**merged.get(dataset, {}), **models}
    path.write_text(json.dumps(merged, indent=2) + "\n")


def refined(preset: dict, change: dict) -> dict:
    """``preset`` with one :data:`REFINE` change applied (``reg_params`` merged, the
    :data:`FACTOR_KEYS` multiplied)."""
    out = copy.deepcopy(preset)
    for key, value in change.items():
        if key == "reg_params":
            out["reg_params"] = {**out.get("reg_params", {}), **value}
        else:
            out[key] = float(f"{out[key] * value:.3g}") if key in FACTOR_KEYS else value
    return out


def table_name(profile: str, datasets: list[str]) -> str:
    """The tables' name: the profile's for its own datasets, the datasets' added for others
    (``quick_mnist``), so a run of another dataset does not overwrite the profile's tables."""
    return "_".join([profile, *([] if datasets == PROFILES[profile]["datasets"] else datasets)])


def tag(settings: dict) -> str:
    """A folder-name tag of a model's settings (``lr0.001-scale2.0``)."""
    flat = {**{k: v for k, v in settings.items() if k != "reg_params"}, **settings.get("reg_params", {})}
    return "-".join(f"{k}{v}" for k, v in sorted(flat.items())) or "default"


def datasets_of(name: str, sweep: bool) -> tuple:
    """(training images, images scored against). The sweep holds out the last
    :data:`VALIDATION` training images (at most a fifth) and scores against them. MNIST, whose training
    split is not here: the first :data:`MNIST_TRAIN` test images train (the sweep
    validates on the last fifth of those), the rest are scored against."""
    if name == "mnist":
        test = load_images(name, "test")
        cut, end = (MNIST_TRAIN * 4 // 5, MNIST_TRAIN) if sweep else (MNIST_TRAIN, len(test.x))
        part = lambda a, b: ImageSet(test.x[a:b], test.y[a:b], f"{test.source}[{a}:{b}]")  # noqa: E731
        return part(0, cut), part(cut, end)
    train = load_images(name, "train")
    if not sweep:
        return train, load_images(name, "test")
    cut = len(train.x) - min(VALIDATION, len(train.x) // 5)
    return (ImageSet(train.x[:cut], train.y[:cut], f"{train.source}[:{cut}]"),
            ImageSet(train.x[cut:], train.y[cut:], f"{train.source}[{cut}:]"))


def ours(out: Path, dataset: str, model: str, p: dict, train, test, seed: int, device: str, deadline: float,
         score_stopped: bool = False, **overrides) -> tuple:
    """Train (or reuse, or go on with) one of our models; returns (model, mean seconds per
    epoch, epochs trained). ``score_stopped``: a run the deadline stopped is finished at
    the epochs it completed (its samplers fitted; the interrupted epoch's batches stay
    in its weights) instead of raising.

    Raises:
        OutOfTime: the deadline passed before its epochs were done (with ``score_stopped``:
            before its first epoch began).
    """
    cfg = ImageConfig.for_model(dataset, model, epochs=p["epochs"], width=p["width"], limit=p["limit"], seed=seed,
                                **overrides)
    metrics = out / "metrics.csv"
    done = metrics.exists() and len(pd.read_csv(metrics)) >= p["epochs"] and (out / "meta.json").exists() and \
        json.loads((out / "meta.json").read_text())["expost_gmm"] is not None
    if done:
        rows = pd.read_csv(metrics)
        return load_model(out, kind="image"), float(rows["epoch_s"].mean()), len(rows)
    left = (deadline - time.monotonic()) / 60
    if left <= 0:
        raise OutOfTime
    m, rows = train_image_model(cfg, train, test, out, resume=(out / "training_state.pt").exists(), progress=False,
                                device=device, max_minutes=None if left == float("inf") else left)
    if len(rows) < p["epochs"]:
        if not score_stopped:
            raise OutOfTime
        m, rows = train_image_model(dataclasses.replace(cfg, epochs=len(rows)), train, test, out, resume=True,
                                    progress=False, device=device)
    return m, float(rows["epoch_s"].mean()), len(rows)


def saved_scores(out: Path) -> dict | None:
    """``metrics.json`` of an evaluation in ``out`` when it has every column."""
    saved = out / "eval" / "metrics.json"
    result = json.loads(saved.read_text()) if saved.exists() else {}
    return result if set(METRICS) <= set(result) else None


def scored(out: Path, make: Callable[[], tuple[Generative, float, str, int]], score: Callable) -> dict:
    """The scores saved in ``out``, else ``make()`` (model adapter, seconds per epoch,
    name, epochs trained) scored and saved there."""
    if (result := saved_scores(out)) is not None:
        return result
    gm, per_epoch, name, epochs = make()
    result = {**score(gm, out / "eval", name), "s_per_epoch": per_epoch, "epochs": epochs}
    (out / "eval" / "metrics.json").write_text(json.dumps(result, indent=2))
    return result


def aggregate(rows: list[dict], keys: tuple[str, ...], metrics: tuple[str, ...] = ("epochs", "s_per_epoch", *METRICS)
              ) -> list[dict]:
    """One row per ``keys`` value, each of ``metrics`` as ``mean ± sd`` over its rows (the seeds),
    or the value itself when there is one."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, group in groups.items():
        row = {**dict(zip(keys, key)), "seeds": len(group)}
        for m in metrics:
            vals = [g[m] for g in group if g.get(m) is not None]
            if vals:
                row[m] = f"{np.mean(vals):.3g} ± {np.std(vals):.2g}" if len(vals) > 1 else vals[0]
        out.append(row)
    return out


def choose(rows: list[dict], seeds: int = 1) -> dict[str, dict[str, dict]]:
    """Per dataset and model, the settings whose validation FD of the model's own sampler,
    averaged over their rows (the seeds), is the lowest (ties: the first). A model with a
    setting scored on fewer than ``seeds`` rows is not chosen: its means would not be over
    the same seeds."""
    fds: dict[tuple[str, str, str], tuple[dict, list[float]]] = {}
    for r in rows:
        fds.setdefault((r["dataset"], r["model"], tag(r["settings"])), (r["settings"], []))[1].append(r["fd_sampling"])
    short = {(d, m) for (d, m, _), (_, values) in fds.items() if len(values) < seeds}
    best: dict[str, dict[str, tuple[float, dict]]] = {}
    for (dataset, model, _), (settings, values) in fds.items():
        mean, entry = float(np.mean(values)), best.setdefault(dataset, {})
        if (dataset, model) not in short and (model not in entry or mean < entry[model][0]):
            entry[model] = (mean, settings)
    return {d: {m: settings for m, (_, settings) in models.items()} for d, models in best.items()}


def verdict(rows: list[dict], dataset: str, model: str = "latentbo gmm_dae") -> str:
    """Whether ``model``'s sampler beats every other sampler of a training prior and is
    within 10% of the best ex-post one (the target), from the mean sampling FDs."""
    fd = {r["model"]: r["fd_sampling"] for r in rows if r["dataset"] == dataset}
    if model not in fd:
        return ""
    ours_fd = fd.pop(model)
    prior = {m: v for m, v in fd.items() if m not in EXPOST}
    expost = {m: v for m, v in fd.items() if m in EXPOST}
    best_prior = min(prior.items(), key=lambda kv: kv[1]) if prior else None
    best_expost = min(expost.items(), key=lambda kv: kv[1]) if expost else None
    parts = [f"{dataset}: {model.removeprefix('latentbo ')} sampling FD {ours_fd:.3g}"]
    if best_prior:
        parts.append(f"{'best' if ours_fd <= best_prior[1] else 'not the best'} of the samplers of a training prior "
                     f"(next: {best_prior[0]} {best_prior[1]:.3g})")
    if best_expost:
        ratio = ours_fd / best_expost[1]
        parts.append(f"{ratio:.2f} x the best ex-post sampler ({best_expost[0]} {best_expost[1]:.3g}; target <= 1.10)")
    return "; ".join(parts) + "."


def pythae_model(name: str, cfg: ImageConfig, train, seed: int, out: Path, device: str = "cpu",
                 settings: dict | None = None, deadline: float | None = None, score_stopped: bool = False
                 ) -> tuple[Generative, float, int]:
    """Train pythae's model with our encoder/decoder (``settings``: ``lr`` and fields of
    its pythae config); returns (evaluation adapter, s/epoch, epochs trained).

    Its epochs are pythae's ``train_step``s driven here (our configs set no scheduler and
    score the last epoch's weights), so that after each one the weights, the optimisers
    and the RNG are saved atomically in ``out/pythae_state.pt`` and a later call goes on
    from there exactly, as our models do. ``deadline`` (``time.monotonic()``): no epoch
    starts after it (at least one runs a call); ``score_stopped``: a run it stopped is
    scored at the epochs it reached instead of raising.

    Raises:
        OutOfTime: the deadline stopped it before ``cfg.epochs`` (its state is kept).
        CheckpointError: ``out`` holds the state of another training (model, settings,
            epochs, width, seed): delete ``pythae_state.pt`` to start over.
    """
    import pythae.models as pm
    from pythae.data.preprocessors import DataProcessor
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig, CoupledOptimizerTrainer, CoupledOptimizerTrainerConfig

    logging.getLogger("pythae").setLevel(logging.ERROR)
    stochastic = name == "VAE"

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.body = ImageEncoder(cfg.channels, cfg.size, cfg.width)
            self.mu = nn.Linear(self.body.out_features, cfg.latent_dim)
            self.lv = nn.Linear(self.body.out_features, cfg.latent_dim) if stochastic else None

        def forward(self, x):
            h = self.body(x)
            o = ModelOutput(embedding=self.mu(h))
            if self.lv is not None:
                o["log_covariance"] = self.lv(h)
            return o

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = ImageDecoder(cfg.latent_dim, cfg.channels, cfg.size, cfg.width)

        def forward(self, z):
            return ModelOutput(reconstruction=self.net(z))

    config_cls = {"VAE": pm.VAEConfig, "RAE_L2": pm.RAE_L2_Config, "RAE_GP": pm.RAE_GP_Config,
                  "WAE_MMD": pm.WAE_MMD_Config}[name]
    settings = dict(settings or {})
    cfg = dataclasses.replace(cfg, lr=settings.pop("lr", cfg.lr))
    torch.manual_seed(seed)
    model = getattr(pm, name)(config_cls(input_dim=(cfg.channels, cfg.size, cfg.size), latent_dim=cfg.latent_dim,
                                         reconstruction_loss="mse", **settings), encoder=Encoder(), decoder=Decoder())
    common = dict(output_dir=str(out), num_epochs=cfg.epochs, learning_rate=cfg.lr,
                  per_device_train_batch_size=cfg.batch_size, per_device_eval_batch_size=cfg.batch_size, seed=seed,
                  no_cuda=device == "cpu")
    if name == "RAE_L2":  # pythae's RAE-L2 is weight decay on a separate decoder optimiser
        tc = CoupledOptimizerTrainerConfig(**common, encoder_learning_rate=cfg.lr, decoder_learning_rate=cfg.lr,
                                           decoder_optimizer_params={"weight_decay": model.model_config.reg_weight})
    else:
        tc = BaseTrainerConfig(**common)
    x = train.x[: cfg.limit] if cfg.limit else train.x
    trainer = (CoupledOptimizerTrainer if name == "RAE_L2" else BaseTrainer)(
        model, DataProcessor.to_dataset(DataProcessor().process_data(x)), training_config=tc)
    trainer.prepare_training()  # seeds the RNGs, builds the optimisers
    Path(trainer.training_dir).rmdir()  # pythae's dated folder for its own saves, which this loop never makes
    optims = {k: v for k, v in vars(trainer).items() if isinstance(v, torch.optim.Optimizer)}
    run_id = {"model": name, "settings": settings, "epochs": cfg.epochs, "lr": cfg.lr, "width": cfg.width,
              "limit": cfg.limit, "seed": seed, "n": len(x)}
    state_file = out / "pythae_state.pt"
    trained, seconds = 0, 0.0
    if state_file.exists():
        state = torch.load(state_file, map_location="cpu", weights_only=True)
        if state["run"] != run_id:
            raise CheckpointError(f"{state_file} holds another training ({state['run']}, not {run_id}); delete it "
                                  "to start over")
        model.load_state_dict(state["model"])
        for k, opt in optims.items():
            opt.load_state_dict(state["optimizers"][k])
        torch.set_rng_state(state["rng"])
        if state["cuda_rng"] is not None:
            torch.cuda.set_rng_state(state["cuda_rng"])
        trained, seconds = state["epochs"], state["seconds"]
    start = trained
    while trained < cfg.epochs and not (trained > start and deadline is not None and time.monotonic() >= deadline):
        t0 = time.perf_counter()
        trainer.train_step(trained + 1)  # pythae counts epochs from 1
        trained, seconds = trained + 1, seconds + time.perf_counter() - t0
        state = {"run": run_id, "model": model.state_dict(),
                 "optimizers": {k: o.state_dict() for k, o in optims.items()}, "rng": torch.get_rng_state(),
                 "cuda_rng": torch.cuda.get_rng_state() if device != "cpu" else None,
                 "epochs": trained, "seconds": seconds}
        atomic_write_with(state_file, lambda fh: torch.save(state, fh))
    if trained < cfg.epochs and not score_stopped:
        raise OutOfTime
    per_epoch = seconds / trained
    model = model.to(device).eval()  # encodes and decodes where it trained, like ours; the rest on the CPU

    @torch.no_grad()
    def encode(imgs):
        return torch.cat([model.encoder(imgs[i : i + 500].to(device)).embedding.cpu() for i in range(0, len(imgs), 500)])

    @torch.no_grad()
    def decode(z):
        return torch.cat([model.decoder(z[i : i + 500].to(device)).reconstruction.cpu() for i in range(0, len(z), 500)])

    gmm = fit_gmm(encode(x), 10, seed)
    # VAE and WAE sample their N(0, I) prior; RAEs have none, so their own sampler is the GMM.
    sample = (lambda n, g: sample_gmm(gmm, n, g)) if name.startswith("RAE") else \
        (lambda n, g: torch.randn(n, cfg.latent_dim, generator=g))
    return Generative(encode, decode, sample, lambda n, g: sample_gmm(gmm, n, g)), per_epoch, trained


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--work", default="runs/image_table")
    ap.add_argument("--models", default=",".join(IMAGE_MODELS), help="our models in the table")
    ap.add_argument("--seed", type=int, default=0, help="the first seed")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per table row and per sweep setting (mean +- sd; "
                                                         "the sweep chooses by the mean)")
    tune = ap.add_mutually_exclusive_group()
    tune.add_argument("--sweep", action="store_true", help="tune the models of SWEEP on the validation split and "
                                                           "write the profile's presets")
    tune.add_argument("--refine", action="store_true", help="the second round: the models of REFINE try six "
                                                            "changes to their presets on the validation split")
    ap.add_argument("--max-minutes", type=float, default=None, help="no training starts after this; run the same "
                                                                     "command again to go on")
    ap.add_argument("--pythae", default=",".join(PYTHAE), help="pythae's models in the table ('' for none)")
    ap.add_argument("--no-sensitivity", action="store_true")
    ap.add_argument("--no-table", action="store_true", help="train and score only, write no table (the GPU "
                                                            "script's workers, one model each)")
    ap.add_argument("--presets", choices=sorted(PROFILES), default=None,
                    help="the profile whose tuned settings (--sweep) the models use; default: this profile's")
    ap.add_argument("--no-train", action="store_true", help="tabulate the runs already scored (e.g. unpacked "
                                                            "from a GPU run); the rest are listed and left out")
    ap.add_argument("--device", default="cpu", help="where models train (cuda for the full profile)")
    ap.add_argument("--epochs", type=int, default=None, help="instead of the profile's epochs")
    ap.add_argument("--datasets", default=None, help="the datasets to run, in this order (default: the profile's; "
                    "another dataset runs at the profile's width and epochs, its tables named after it)")
    ap.add_argument("--note", default="", help="said first under the table (e.g. where the runs were trained)")
    ap.add_argument("--score-stopped", action="store_true",
                    help="score a run --max-minutes stopped at the epochs it reached (the table's epochs column) "
                         "instead of leaving it for the next call")
    args = ap.parse_args()
    if args.seeds < 1:
        ap.error(f"--seeds must be at least 1, got {args.seeds}")
    if unknown := sorted(set(filter(None, args.pythae.split(","))) - set(PYTHAE)):
        ap.error(f"unknown pythae model(s) {unknown}; known: {PYTHAE}")
    p = dict(PROFILES[args.profile])
    if args.datasets is not None:
        if unknown := sorted(set(args.datasets.split(",")) - set(DATASETS)):
            ap.error(f"unknown dataset(s) {unknown}; known: {list(DATASETS)}")
        p["datasets"] = args.datasets.split(",")
    name = table_name(args.profile, p["datasets"])
    if args.epochs is not None:
        if args.epochs < 1:
            ap.error(f"--epochs must be at least 1, got {args.epochs}")
        p["epochs"] = args.epochs
    set_data_dir(args.data_dir)
    deadline = time.monotonic() + 60 * args.max_minutes if args.max_minutes else float("inf")
    used = args.presets or args.profile
    presets = {} if args.sweep else load_presets(used)
    tuning = args.sweep or args.refine
    split = "validation" if tuning else "test"
    selected = ([f"latentbo {m}" for m in args.models.split(",") if m]
                + [f"pythae {n}" for n in args.pythae.split(",") if n])
    rounds = SWEEP if args.sweep else REFINE if args.refine else {}
    entries = [e for e in rounds if e in selected] if tuning else selected
    if tuning and not entries:
        ap.error(f"none of --models / --pythae is tuned by {'--sweep' if args.sweep else '--refine'}; its models: "
                 f"{list(rounds)}")
    if args.refine and (missing := [f"{d} {e}" for d in p["datasets"] for e in entries
                                    if e not in presets.get(d, {})]):
        ap.error(f"--refine starts from the presets of --sweep; none in image_presets_{used}.json for {missing}")
    rows, sens, lenet, unscored, splits = [], [], {}, [], {}
    try:
        for dataset in p["datasets"]:
            try:
                train, scored_on = datasets_of(dataset, tuning)
            except DatasetNotFoundError as exc:
                print(f"skipping {dataset}: {exc}")
                continue
            net, acc = feature_net(train, scored_on, epochs=p["lenet_epochs"], seed=METRIC_SEED, progress=True)
            lenet[dataset] = acc
            splits[dataset] = f"{Path(train.source).name} against {Path(scored_on.source).name}"
            print(f"{dataset}: FD-LeNet classifier accuracy {acc:.4f} on the images scored against", flush=True)

            def score(gm: Generative, out: Path, name: str) -> dict:
                return evaluate(gm, scored_on, net.features, LeNet.num_features, n=p["n_eval"], seed=METRIC_SEED,
                                out=out, name=name)

            seeds = range(args.seed, args.seed + args.seeds)
            for entry in entries:
                framework, model = entry.split(" ")
                picked = preset(presets, dataset, entry)
                grid = (SWEEP[entry] if args.sweep else [picked, *(refined(picked, c) for c in REFINE[entry])]
                        if args.refine else [picked])
                for settings in grid:
                    for seed in seeds:
                        out = run_folder(args.work, args.profile, dataset, split, seed, entry, settings)
                        if args.no_train and saved_scores(out) is None:
                            unscored.append(str(out))
                            continue
                        if framework == "latentbo":
                            make = _ours_maker(out, dataset, model, p, train, scored_on, seed, args.device, deadline,
                                               settings, args.score_stopped)
                        else:
                            make = _pythae_maker(out, dataset, model, p, train, seed, args.device, deadline, settings,
                                                 args.score_stopped)
                        r = scored(out, make, score)
                        rows.append({"dataset": dataset, "model": entry, "settings": settings, "seed": seed, **r})
                        print({k: v for k, v in rows[-1].items() if k in ("dataset", "model", "settings", "seed",
                                                                            "fd_sampling", "fd_gmm")}, flush=True)
            if not args.no_sensitivity and not tuning and not args.no_train:
                sweeps = [("modes", k, {"modes": k, "placement": "spread", "min_distance": 2.0}) for k in p["modes"]]
                # One-hot modes at scale s are s * sqrt(2) apart: the reference placement, swept in distance.
                sweeps += [("mode_distance", round(s * 2**0.5, 3), {"modes": 10, "placement": "onehot", "scale": s})
                           for s in p["scales"]]
                for what, value, params in sweeps:
                    settings = {"reg_params": params}
                    out = run_folder(args.work, args.profile, dataset, split, args.seed, "latentbo gmm_dae", settings)
                    r = scored(out, _ours_maker(out, dataset, "gmm_dae", p, train, scored_on, args.seed, args.device,
                                                deadline, settings), score)
                    sens.append({"dataset": dataset, "sweep": what, "value": value, **{m: r[m] for m in METRICS}})
                    print(sens[-1], flush=True)
    except OutOfTime:
        print(f"stopped by --max-minutes {args.max_minutes}: what was trained is kept under {args.work}; run the same "
              "command again to go on (no table written)")
        return
    if args.no_table:
        return
    common = (f"FD-LeNet = Fréchet distance on the 84-d features of a LeNet-5 trained here (its accuracy on the "
              f"images scored against: {', '.join(f'{d} {a:.3f}' for d, a in lenet.items())}); it is NOT Inception "
              "FID and cannot be compared with the paper's Inception FIDs. fd_sampling: the model's own sampler "
              "(the prior; ex-post GMM for pythae's RAEs, second stage for two_stage); fd_gmm: 10-component GMM fitted on "
              "training codes; fd_reconstruction, fd_interpolation (decoded midpoints of random pairs); precision / "
              "recall: improved precision and recall (k = 5, prdc) of each sampler's images on the same features, "
              "at most 5,000 a set; clustering_acc: mode assignment vs labels (Hungarian matching), mixture priors "
              "only. s_per_epoch: ours excludes the per-epoch test pass, pythae's is its training time / epochs."
              " pythae's MSE loss is 0.5 x the sum of squared errors, ours 1 x. "
              + ("MNIST: only its 10k test split is here; its models train on the first 8,000 of those images and "
                 "are scored on the last 2,000. " if "mnist" in lenet and not tuning else ""))
    settings_note = (f"{args.note} " if args.note else "") + f"Profile {args.profile}: {json.dumps(p)}."
    if unscored:
        print(f"{len(unscored)} run(s) not scored, left out: {', '.join(unscored)}")
        settings_note += (f" Left out, not scored (--no-train): {len(unscored)} run(s), "
                          f"{', '.join(Path(u).name for u in unscored)}.")
    if tuning:
        table = aggregate([{**r, "settings": tag(r["settings"])} for r in rows], ("dataset", "model", "settings"),
                          ("fd_sampling", "fd_gmm", "precision_sampling", "recall_sampling", "test_mse", "s_per_epoch"))
        chosen = choose(rows, args.seeds)
        save_presets(args.profile, chosen)
        picks = "; ".join(f"{d} {m}: {tag(s)}" for d, ms in chosen.items() for m, s in ms.items())
        if short := sorted({f"{r['dataset']} {r['model']}" for r in rows} - {f"{d} {m}" for d, ms in chosen.items()
                                                                              for m in ms}):
            print(f"not chosen, a setting has fewer than {args.seeds} scored seed(s): {', '.join(short)}")
            picks += f" (not chosen, a setting scored on fewer than {args.seeds} seed(s): {', '.join(short)})"
        first = (f"Second round (--refine): each model's preset from image_presets_{used}.json (its first row) "
                 "and six changes of one setting (REFINE in benchmarks/image_table.py). "
                 if args.refine else "")
        seed_note, by = ((f"Seed {args.seed}", "") if args.seeds == 1 else
                         (f"Seeds {args.seed}-{args.seed + args.seeds - 1} (mean ± sd)", ", mean over the seeds"))
        part = "" if entries == list(rounds) else "_" + "_".join(e.split(" ")[1] for e in entries)
        write_table(f"image_sweep_{name}{part}{'_refine' if args.refine else ''}", table,
                    f"{first}{settings_note} {seed_note}. Each model trained on the first images and scored against "
                    f"the held-out rest (validation): {'; '.join(f'{d}: {s}' for d, s in splits.items())}. Chosen by "
                    f"validation fd_sampling (the model's own sampler{by}) "
                    f"alone, written to benchmarks/configs/image_presets_{args.profile}.json: "
                    f"{picks}. "
                    + common)
        return
    table = aggregate([{**r, "settings": tag(r["settings"])} for r in rows], ("dataset", "model", "settings"))
    means = [{"dataset": r["dataset"], "model": r["model"], "fd_sampling": float(np.mean(
        [x["fd_sampling"] for x in rows if x["dataset"] == r["dataset"] and x["model"] == r["model"]]))}
        for r in table]
    verdicts = " ".join(filter(None, (verdict(means, d, m) for d in lenet for m in GMM_DAES)))
    for r in table:
        r["paper_clustering_%"] = PAPER_CLUSTERING.get(r["dataset"], {}).get(r["model"].split(" ")[1], "-")
    write_table(f"image_table_{name}", table,
                f"{settings_note} Seeds {args.seed}-{args.seed + args.seeds - 1} (mean ± sd). Settings: "
                + (f"the presets of image_presets_{used}.json (--sweep, then --refine for the models of REFINE). "
                   if presets else "the defaults. ")
                + f"Samplers of an ex-post density: {', '.join(sorted(EXPOST))}. {verdicts} " + common
                + "Paper clustering accuracy in %: JointVAE 78.33 / 51.51, CascadeVAE 84.19 / 57.72 on MNIST / "
                  "Fashion-MNIST.")
    if sens:
        write_table(f"image_sensitivity_{name}", sens,
                    f"GMM-DAE on {', '.join(p['datasets'])}, seed {args.seed}: number of modes ('spread' placement, "
                    "centres drawn from N(0, I) at least 2 apart, as one-hot placement allows at most d = 10 modes) "
                    "and distance between the 10 one-hot modes (scale x sqrt(2)), as the paper's Figures 4-5. "
                    "FD-LeNet, not Inception FID.")


def _ours_maker(out: Path, dataset: str, model: str, p: dict, train, scored_on, seed: int, device: str,
                deadline: float, settings: dict,
                score_stopped: bool = False) -> Callable[[], tuple[Generative, float, str, int]]:
    def make() -> tuple[Generative, float, str, int]:
        m, per_epoch, epochs = ours(out, dataset, model, p, train, scored_on, seed, device, deadline, score_stopped,
                                    **settings)
        gm = Generative.of(m)
        if device != "cpu":  # images encoded and decoded where the model trained; codes drawn on the CPU
            net = copy.deepcopy(m).to(device)
            gm = dataclasses.replace(gm, encode=net.encode, decode=net.decode_batches)
        return gm, per_epoch, model, epochs
    return make


def _pythae_maker(out: Path, dataset: str, name: str, p: dict, train, seed: int, device: str, deadline: float,
                  settings: dict, score_stopped: bool = False) -> Callable[[], tuple[Generative, float, str, int]]:
    def make() -> tuple[Generative, float, str, int]:
        if time.monotonic() >= deadline:  # like ours: no call trains after the deadline
            raise OutOfTime
        base = ImageConfig.for_model(dataset, "vae", epochs=p["epochs"], width=p["width"], limit=p["limit"],
                                     seed=seed)
        gm, per_epoch, epochs = pythae_model(name, base, train, seed, out, device, settings, deadline, score_stopped)
        return gm, per_epoch, f"pythae {name}", epochs
    return make


if __name__ == "__main__":
    run(main)
