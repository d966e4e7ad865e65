"""Converged expression models (issue #13, item 2): every model trained on all 100k
expressions until its held-out loss stops improving (early stopping, patience 6) or
the epoch cap, in passes of a time budget that ``--resume`` continues.

    python benchmarks/baselines_expressions.py --data-dir ../shared/data --runs runs/conv [--minutes 15] [--models gmm_dae,gvae] [--epochs 200]

With ``--minutes`` each model first trains (or resumes) for that long, one torch
thread, exactly as ``latentbo --data-dir DIR train --task expressions --arch M
--epochs EPOCHS --out RUNS/M --max-minutes MIN [--resume]`` (``--epochs`` above a
run's own trains it longer). Then every model folder is
scored: the best checkpoint's held-out exact reconstruction (``val_seq_acc`` of the
saved epoch: the lowest validation loss, for WELBO the lowest reconstruction loss; 10%
held out by the run's seed), prior validity and
uniqueness over 1,000 prior samples, epochs and training time (from samples/s), and
what stopped it (early stopping, the epoch cap or the time budget), and the geometry of its codes of
5,000 held-out expressions (the run's own split): ``code_dims``, the participation
ratio of their covariance (how many of the latent dimensions they use);
``nn_over_spread``, the median distance from a code to its nearest neighbour over the
codes' overall spread (how far apart the decoder must tell inputs); ``shared_code``,
the fraction of expressions whose code is also another expression's (within 1e-6 of
the spread): of those, at most one per code can be reconstructed; ``exact_bound``, the
held-out exact reconstruction those shared codes leave possible at most (one string per
group of equal codes; codes shared with training expressions would only lower it);
``shared_at_first_relu``, the fraction of those sharing expressions whose difference from
another one is already gone after the encoder's first convolution and ReLU (the tokens
where they differ switch no channel on, so no gradient can tell them apart). And where
the errors are, from the same 5,000 reconstructions: ``recon_valid``, the fraction that
decode to an expression; ``wrong_labels_only``, of the wrong ones, the fraction whose
skeleton (functions and brackets, token for token) is right and only the labels of its
nodes differ (leaves ``1 2 3 x`` and operators ``+ * /``);
``leaf_probe``, the held-out accuracy of a small MLP that reads an expression's first
leaf from its code (trained on 4,000 codes, tested on 1,000; ``leaf_majority``, the
accuracy of always guessing the commonest leaf, is what a code without that
information scores). Writes benchmarks/results/baselines_expressions.{csv,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from _common import run, write_table
from latentbo.codecs import GrammarCodec
from latentbo.data import load_strings, set_data_dir
from latentbo.metrics import grammar_valid, sample_quality
from latentbo.models import load_model
from latentbo.tasks import get_task
from latentbo.training import saved_epoch

MODELS = ["gmm_dae", "gwae", "edvae", "cvae", "gvae", "grae", "gcvvae", "welbo"]
#: The H100 checkpoints' held-out exact reconstruction (49 epochs, ../shared/pretrained, commit ae0476a).
H100 = {"gmm_dae": 0.883, "gvae": 0.110, "edvae": 0.110, "cvae": 0.038, "grae": 0.027, "welbo": 0.0, "gcvvae": 0.0}


def train_pass(model: str, out: Path, data_dir: str | None, minutes: float, epochs: int) -> None:
    cmd = [sys.executable, "-m", "latentbo.cli", *(["--data-dir", data_dir] if data_dir else []), "train", "--task",
           "expressions", "--arch", model, "--epochs", str(epochs), "--out", str(out), "--no-progress", "--max-minutes",
           str(minutes)]
    if (out / "training_state.pt").exists():
        cmd.append("--resume")
    subprocess.run(cmd, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})


def held_out(out: Path, config, n: int = 5000) -> list[str]:
    """The first ``n`` held-out expressions of a run with ``config`` (its seeded split, as training made it)."""
    report = json.loads((out / "data_report.json").read_text())
    if report["encoded"] != report["read"]:
        raise SystemExit(f"{out}: some strings were skipped; the split cannot be rebuilt from the file alone")
    strings, _ = load_strings("expressions", allow_fallback=False)
    if hashlib.sha256("\n".join(strings).encode("utf-8")).hexdigest()[:16] != report["fingerprint"]:
        raise SystemExit(f"{out} was trained on other expressions than --data-dir holds")
    perm = np.random.default_rng(config.seed).permutation(len(strings))
    return [strings[i] for i in perm[: int(round(config.val_fraction * len(strings)))][:n]]


@torch.no_grad()
def first_block(ae, batch) -> torch.Tensor:
    """The encoder's activations after its first ReLU for an encoded ``batch``, ``N x C x L'``."""
    x = ae.codec.one_hot(torch.from_numpy(batch.indices.astype(np.int64))).transpose(1, 2)
    for layer in ae.eval().encoder.convs:
        x = layer(x)
        if isinstance(layer, torch.nn.ReLU):
            return x
    raise ValueError("the encoder has no ReLU")


def code_geometry(ae, strings: list[str], z: torch.Tensor, batch) -> dict:
    """How the codes ``z`` (``N x d``) of ``strings``, encoded as ``batch``, spread (see the module docstring)."""
    z, a1 = z.double(), first_block(ae, batch)
    ev = torch.linalg.eigvalsh(torch.cov(z.T)).clamp_min(0)
    spread = float(ev.sum().sqrt())
    nearest, shared, erased = [], set(), set()  # expressions sharing a code with another; of them, at the first ReLU
    group = list(range(len(z)))  # union-find over codes within 1e-6 of the spread

    def root(i: int) -> int:
        while group[i] != i:
            group[i] = group[group[i]]
            i = group[i]
        return i

    for i in range(0, len(z), 1000):
        d = torch.cdist(z[i : i + 1000], z)
        d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        nearest.append(d.min(1).values)
        close = d <= 1e-6 * spread
        for r, j in close.nonzero().tolist():
            group[root(i + r)] = root(j)
            if strings[i + r] != strings[j]:
                shared.add(i + r)
                if torch.equal(a1[i + r], a1[j]):
                    erased.add(i + r)
    # One code decodes to one string: of each group of equal codes, only the copies of one string can be right.
    members = pd.DataFrame({"group": [root(i) for i in range(len(z))], "string": strings})
    bound = members.groupby(["group", "string"]).size().groupby(level=0).max().sum()
    nn_over_spread = float(torch.cat(nearest).median()) / spread if spread > 0 else float("nan")  # nan: one code
    return {"code_dims": float(ev.sum() ** 2 / (ev**2).sum()), "nn_over_spread": nn_over_spread,
            "shared_code": len(shared) / len(z), "exact_bound": float(bound) / len(z),
            "shared_at_first_relu": len(erased) / len(shared) if shared else 0.0}


LEAVES = ("1", "2", "3", "x")
LABELS = (*LEAVES, "+", "*", "/")


def wrong_labels_only(recon: list[str | None], strings: list[str]) -> float:
    """Of the reconstructions that differ from their string, the fraction with the same
    skeleton (functions and brackets, token for token) and other node labels only."""

    def skeleton(s: str) -> list[str]:
        return ["label" if t in LABELS else t for t in s.split()]

    wrong = [(r, s) for r, s in zip(recon, strings, strict=True) if r != s]
    return float(np.mean([r is not None and skeleton(r) == skeleton(s) for r, s in wrong])) if wrong else float("nan")


def leaf_probe(z: torch.Tensor, strings: list[str], train: float = 0.8) -> tuple[float, float]:
    """``(accuracy, majority)``: how well a small MLP trained on the first ``train`` of the
    ``N x d`` codes ``z`` reads each string's first leaf from the rest, and the accuracy
    of always guessing the commonest leaf there (what codes without that information score)."""
    first = torch.tensor([LEAVES.index(next(t for t in s.split() if t in LEAVES)) for s in strings])
    n = int(train * len(z))
    x = (z - z[:n].mean(0)) / z[:n].std(0).clamp_min(1e-12)
    torch.manual_seed(0)
    probe = torch.nn.Sequential(torch.nn.Linear(z.shape[1], 256), torch.nn.ReLU(), torch.nn.Linear(256, len(LEAVES)))
    opt = torch.optim.Adam(probe.parameters(), 3e-3)
    for _ in range(1500):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(probe(x[:n]), first[:n]).backward()
        opt.step()
    with torch.no_grad():
        accuracy = float((probe(x[n:]).argmax(1) == first[n:]).float().mean())
    return accuracy, float(np.bincount(first[n:].numpy()).max() / (len(z) - n))


def leaf_diagnosis(ae, strings: list[str], z: torch.Tensor) -> dict:
    """Where the reconstructions of ``strings`` from their codes ``z`` (``N x d``) go wrong,
    and whether the codes know the first leaf (see the module docstring)."""
    recon = ae.decode_latents(z)
    grammar = GrammarCodec(get_task(ae.config.task).grammar)
    accuracy, majority = leaf_probe(z, strings)
    return {"recon_valid": float(np.mean([r is not None and grammar_valid(grammar, r) for r in recon])),
            "wrong_labels_only": wrong_labels_only(recon, strings), "leaf_probe": accuracy, "leaf_majority": majority}


def score(run: str, out: Path) -> dict:
    m = pd.read_csv(out / "metrics.csv")
    ae = load_model(out)
    config = ae.config
    best = saved_epoch(m)
    n_train = json.loads((out / "data_report.json").read_text())["encoded"] * (1 - config.val_fraction)
    quality, _ = sample_quality(ae, 1000, seed=0)
    z, batch = ae.encode_strings(strings := held_out(out, config))
    if len(z) != len(strings):
        raise SystemExit(f"{out}: {len(strings) - len(z)} held-out expressions do not encode; its codes would misalign")
    since_best = len(m) - 1 - int(best.name)  # epochs after the saved one (metrics.csv rows are 0..n-1)
    stopped = ("early stopping" if since_best > config.patience else
               "epoch cap" if len(m) >= config.epochs else "no (budget)")
    return {"run": run, "model": config.model, "seed": config.seed, "reg_params": json.dumps(config.reg_params), "min_lr": config.min_lr, "epochs": len(m),
            "epoch_cap": config.epochs,
            "best_epoch": int(best["epoch"]), "stopped_by": stopped,
            "train_hours": float((n_train / m["samples_per_s"]).sum() / 3600),
            "val_token_acc": float(best["val_token_acc"]), "val_seq_acc": float(best["val_seq_acc"]),
            "prior_valid": quality["valid_fraction"], "prior_unique": quality["unique_fraction"],
            **code_geometry(ae, strings, z, batch), **leaf_diagnosis(ae, strings, z),
            "h100_49ep_seq_acc": H100.get(config.model)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--runs", type=Path, default=Path("runs/conv"))
    ap.add_argument("--models", default=",".join(MODELS), help="run folders under --runs (default: one per model)")
    ap.add_argument("--minutes", type=float, default=None, help="train/resume each model this long first")
    ap.add_argument("--epochs", type=int, default=100, help="the epoch cap of --minutes' runs (more: train longer)")
    ap.add_argument("--name", default="baselines_expressions", help="results table name (e.g. for runs of other settings)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    set_data_dir(args.data_dir)
    rows = []
    for model in args.models.split(","):
        out = args.runs / model
        if args.minutes:
            train_pass(model, out, args.data_dir, args.minutes, args.epochs)
        if not (out / "metrics.csv").exists():
            print(f"skipped {out}: no metrics.csv (not trained)", file=sys.stderr, flush=True)
            continue
        rows.append(score(model, out))
        print(rows[-1], flush=True)
    write_table(args.name, rows,
                "All 100k expressions (10% held out, by the run's seed), the presets of latentbo/models/config.py. "
                "val_seq_acc = held-out exact reconstruction at the saved epoch (lowest validation loss; "
                "WELBO: lowest reconstruction loss, since its penalty's weight moves); prior_* over 1,000 decodes of prior samples; train_hours from the logged samples/s on the machine that trained the run; "
                "stopped_by: early stopping (6 epochs without a better validation loss), the run's epoch cap (epoch_cap: 100, more for the models still improving there), or not yet (the time budget). h100_49ep_seq_acc: the "
                "H100 checkpoints of ../shared/pretrained (before the fixes of issue #13), for comparison. code_dims "
                "(of 25), nn_over_spread, shared_code, exact_bound, shared_at_first_relu: the geometry of the codes of 5,000 held-out expressions; "
                "recon_valid, wrong_labels_only, leaf_probe (vs leaf_majority): where their reconstructions go wrong and whether "
                "their codes know the first leaf (see the script's docstring).")


if __name__ == "__main__":
    run(main)
