"""Where a GMM-DAE's own prior loses FD against samplers fitted to its codes afterwards.

    python benchmarks/image_prior_gap.py --profile cpu --presets quick [--datasets fashion-mnist,mnist]
        [--models gmm_dae] [--seeds 3] [--data-dir ../shared/data] [--work runs/image_table]

Reads the GMM-DAE runs that ``image_table.py`` trained and scored (same folders, same
presets), encodes their training images, gives each code its nearest prior mode and
decodes samples of the prior with one part at a time replaced by what the codes have:

  prior           the training prior: modes at mu_k, sigma^2 I, weights 1/K
  recentred       each mode moved to the mean of its codes; sigma and weights kept
  recentred+cov   also each mode's weight and full covariance from its codes
  prior+cov       the prior's centres with the codes' per-mode covariances

Scored as image_table scores (FD-LeNet against the same images, improved precision and
recall, the same LeNet and seed). Also per run: how far the codes' mode means lie from
the prior's centres (mean over modes) and the share of that offset orthogonal to the
centre's own axis. Writes image_prior_gap_<profile>[_<datasets>].{csv,md}.
"""

from __future__ import annotations

import argparse

import torch
from _common import run, write_table
from image_table import (
    METRIC_SEED,
    PROFILES,
    aggregate,
    datasets_of,
    load_presets,
    preset,
    run_folder,
    table_name,
)

from latentbo.data import set_data_dir
from latentbo.errors import DatasetError
from latentbo.images import LeNet, feature_net
from latentbo.images.metrics import PR_MAX, frechet_distance, image_features, precision_recall
from latentbo.models import load_model
from latentbo.models.autoencoder import sample_gmm
from latentbo.models.priors import GMMPrior

SAMPLERS = ("prior", "recentred", "recentred+cov", "prior+cov")


def mode_stats(codes: torch.Tensor, prior: GMMPrior) -> dict[str, torch.Tensor]:
    """Per prior mode the codes nearest to it: their share (``K``), mean (``K x d``) and
    covariance (``K x d x d``).

    Raises:
        DatasetError: a mode has fewer than two codes (no covariance to take).
    """
    nearest = prior.assign(codes)
    counts = torch.bincount(nearest, minlength=prior.k)
    if int(counts.min()) < 2:
        raise DatasetError(f"a prior mode holds {int(counts.min())} of {len(codes)} codes; need two to measure it")
    return {"share": counts.float() / len(codes),
            "mean": torch.stack([codes[nearest == k].mean(0) for k in range(prior.k)]),
            "cov": torch.stack([torch.cov(codes[nearest == k].T) for k in range(prior.k)])}


def samplers(prior: GMMPrior, stats: dict[str, torch.Tensor]) -> dict[str, dict]:
    """Each of :data:`SAMPLERS` as a GMM that :func:`~latentbo.models.autoencoder.sample_gmm` draws from."""
    k, d = prior.means.shape
    uniform, iso = torch.full((k,), 1.0 / k), prior.sigma**2 * torch.eye(d).expand(k, d, d)
    cov = stats["cov"] + 1e-6 * torch.eye(d)
    made = {"prior": (uniform, prior.means, iso), "recentred": (uniform, stats["mean"], iso),
            "recentred+cov": (stats["share"], stats["mean"], cov), "prior+cov": (uniform, prior.means, cov)}
    return {name: {"weights": w.tolist(), "means": m.tolist(), "covariances": c.tolist()}
            for name, (w, m, c) in made.items()}


def offsets(prior: GMMPrior, stats: dict[str, torch.Tensor]) -> dict[str, float]:
    """Mean distance of the codes' mode means from the prior's centres, and the share of
    it (in squared length) orthogonal to each centre's own direction."""
    gap = stats["mean"] - prior.means
    axis = prior.means / prior.means.norm(dim=1, keepdim=True)
    radial = (gap * axis).sum(1)
    return {"centre_offset": float(gap.norm(dim=1).mean()),
            "orthogonal_share": float(1 - radial.pow(2).sum() / gap.pow(2).sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    ap.add_argument("--presets", choices=sorted(PROFILES), default=None)
    ap.add_argument("--datasets", default=None)
    ap.add_argument("--models", default="gmm_dae", help="our GMM-DAE models (their prior has modes)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--work", default="runs/image_table")
    args = ap.parse_args()
    p = PROFILES[args.profile]
    datasets = args.datasets.split(",") if args.datasets else p["datasets"]
    presets = load_presets(args.presets or args.profile)
    set_data_dir(args.data_dir)
    rows, missing = [], []
    for dataset in datasets:
        train, test = datasets_of(dataset, sweep=False)
        net, _ = feature_net(train, test, epochs=p["lenet_epochs"], seed=METRIC_SEED)
        real = test.x[: p["n_eval"]]
        real_features = image_features(real[:PR_MAX], net.features)
        for model in args.models.split(","):
            entry = f"latentbo {model}"
            for seed in range(args.seeds):
                out = run_folder(args.work, args.profile, dataset, "test", seed, entry, preset(presets, dataset, entry))
                if not (out / "eval" / "metrics.json").exists():
                    missing.append(str(out))
                    continue
                m = load_model(out, kind="image").eval()
                prior = m.regularizer.prior
                with torch.no_grad():
                    stats = mode_stats(m.encode(train.x), prior)
                g = torch.Generator().manual_seed(METRIC_SEED)
                for name, gmm in samplers(prior, stats).items():
                    with torch.no_grad():
                        fake = m.decode_batches(sample_gmm(gmm, len(real), g))
                    pr = precision_recall(real_features, image_features(fake[:PR_MAX], net.features))
                    rows.append({"dataset": dataset, "model": entry, "sampler": name, "seed": seed,
                                 "fd": frechet_distance(real, fake, net.features, LeNet.num_features), **pr,
                                 **(offsets(prior, stats) if name == "prior" else {})})
                    print({k: v for k, v in rows[-1].items() if k != "dataset"}, flush=True)
    if missing:
        print(f"not trained and scored by image_table.py, left out: {', '.join(missing)}")
    if not rows:
        raise DatasetError("no scored GMM-DAE run under --work; train them with image_table.py first")
    metrics = ("fd", "precision", "recall", "centre_offset", "orthogonal_share")
    table = aggregate(rows, ("dataset", "model", "sampler"), metrics)
    write_table(f"image_prior_gap_{table_name(args.profile, datasets)}", table, notes=(
        "Samplers: see the script's docstring. Modes are the prior's, each code joins its nearest centre "
        "(no EM). FD-LeNet and precision / recall as in image_table (same LeNet, same scored images, seed "
        f"{METRIC_SEED}); centre_offset: mean over modes of |codes' mode mean - prior centre|; orthogonal_share: "
        "the part of the squared offsets off each centre's axis. Mean ± sd over seeds "
        f"0-{args.seeds - 1}." + (f" Not scored yet, left out: {len(missing)} run(s)." if missing else "")))


if __name__ == "__main__":
    run(main)
