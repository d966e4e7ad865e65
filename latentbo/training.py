"""One training loop for every autoencoder, sequence or image (:func:`fit`): seeded
epoch order, tqdm progress, autocast, the regulariser's per-epoch hook, an optional
LR scheduler and early stopping on a monitored metric, a per-epoch metrics CSV,
atomic checkpoints (best + last, :mod:`latentbo.models.checkpoint`) and exact resume.
:func:`train` is the sequence recipe (codec, parse cache, validation split, Adam with
ReduceLROnPlateau); :func:`latentbo.images.runner.train_image_model` the image one.
Epoch summaries go to the ``latentbo`` logger (the CLI prints them on stderr, with or
without progress bars)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from latentbo.codecs import CODECS, Codec
from latentbo.data.cache import encode_dataset
from latentbo.devices import resolve_device
from latentbo.errors import CheckpointError, ConfigError, DatasetError, first_line
from latentbo.io import atomic_write_bytes, atomic_write_text, run_folder
from latentbo.models import LatentModel, SequenceAutoencoder, load_model, save_model
from latentbo.models.checkpoint import weights_fingerprint
from latentbo.models.config import ModelConfig
from latentbo.tasks import get_task

STATE_FILE = "training_state.pt"
#: what a run folder holds once an epoch has finished (removed again if the first epoch fails)
RUN_FILES = ("data_report.json", "config.toml", "meta.json", "model.safetensors", "last.safetensors", "metrics.csv")
log = logging.getLogger("latentbo")
Scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau | torch.optim.lr_scheduler.LRScheduler


@dataclass
class TrainResult:
    model: SequenceAutoencoder
    metrics: pd.DataFrame
    out_dir: Path
    skipped: int
    #: stopped by ``max_minutes`` before its epochs were done (resume to go on)
    out_of_time: bool = False


def build_codec(config: ModelConfig, strings: list[str]) -> Codec:
    """The codec a new model trains with (:meth:`Codec.for_training`): the task's
    grammar codec, or a codec fitted on ``strings`` (character, SELFIES, ...)."""
    return CODECS[config.codec].for_training(get_task(config.task).grammar, strings, config.char_max_length or None)


def check_same_data(out: Path, fingerprint: str, n: int, what: str = "strings") -> None:
    """Refuse to resume a run on other data than it was started with (runs from
    before the fingerprint are checked by their count of ``what``).

    Raises:
        CheckpointError: the data differ, or the run's data report is unreadable.
    """
    try:
        report = json.loads((out / "data_report.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot resume {out}: its data_report.json is unreadable ({exc})") from exc
    same = report["fingerprint"] == fingerprint if "fingerprint" in report else report.get("read") == n
    if not same:
        raise CheckpointError(
            f"cannot resume {out}: it was started on other data ({report.get('read')} {what} from "
            f"{report.get('source') or 'a source not recorded'}, fingerprint {report.get('fingerprint', 'not recorded')}; "
            f"now {n} {what}, {fingerprint}); pass the same --dataset and --limit as the run that was started"
        )


def _batches(data: np.ndarray, rows: np.ndarray, size: int, gen: torch.Generator | None,
             device: torch.device | None = None):
    """Batches of ``data[rows]`` (shuffled by ``gen``); ``data`` may be the cache's
    memory map, so only the rows of each batch are read."""
    order = torch.randperm(len(rows), generator=gen).numpy() if gen is not None else np.arange(len(rows))
    for i in range(0, len(rows), size):
        yield torch.from_numpy(data[rows[order[i : i + size]]].astype(np.int64)).to(device or "cpu")


def epoch_schedule(opt: torch.optim.Optimizer, config: ModelConfig) -> Scheduler:
    """The learning-rate schedule ``config.schedule`` names: ``plateau`` cuts the rate by
    ``lr_factor`` after ``lr_patience`` epochs without a better validation loss;
    ``cosine`` sets epoch e's rate to ``min_lr + (lr - min_lr) (1 + cos(pi e / epochs)) / 2``,
    reaching ``min_lr`` at ``epochs`` (a resume keeps them: ``ModelConfig.resumed_with``)."""
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=config.lr_factor, patience=config.lr_patience,
                                                          min_lr=config.min_lr)
    floor = config.min_lr / config.effective_lr
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: floor + (1 - floor) * (1 + math.cos(math.pi * min(e, config.epochs) / config.epochs)) / 2)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of a config's ``precision`` on ``device`` (``None``: fp32)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def _evaluate(model: SequenceAutoencoder, data: np.ndarray, rows: np.ndarray, batch_size: int, device: torch.device,
              dtype: torch.dtype | None) -> dict[str, float]:
    model.eval()
    sums: dict[str, float] = {}
    n = 0
    with torch.no_grad(), torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        for batch in _batches(data, rows, batch_size, None, device):
            terms = model.loss(batch)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + float(v) * len(batch)
            n += len(batch)
    return {k: v / max(n, 1) for k, v in sums.items()}


@contextlib.contextmanager
def training_run(out_dir: str | Path, resume: bool, overwrite: bool) -> Iterator[Path]:
    """The run folder of a training job (:func:`~latentbo.io.run_folder`: locked,
    refused if it holds another run); a fresh run that fails before its first epoch
    is saved leaves no half-made files behind."""
    with run_folder(out_dir, resume, overwrite) as out:
        fresh = not resume and not (out / STATE_FILE).exists()
        try:
            yield out
        except BaseException:
            if fresh and not (out / STATE_FILE).exists():
                for name in RUN_FILES:
                    (out / name).unlink(missing_ok=True)
            raise


def load_state(out: Path, model: LatentModel, opt: torch.optim.Optimizer,
               scheduler: Scheduler | None) -> dict:
    """Restore the optimiser, scheduler and RNG of a run in ``out``; returns the loop's
    counters (``rows``, ``epoch``, ``best``, ``bad_epochs``, and ``partial``: how far the
    epoch under way had got when a deadline stopped it, else ``None``; ``monitor``: the
    key they were kept on, ``val_loss`` for runs saved before it was recorded).

    Raises:
        CheckpointError: the state file is missing or unusable.
    """
    path = out / STATE_FILE
    if not path.exists():
        raise CheckpointError(f"nothing to resume in {out}: {STATE_FILE} is missing")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if "model" in state:  # image runs of earlier versions kept their weights here
            model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])
        rows = list(state["rows"])
        return {"rows": rows, "epoch": int(state.get("epoch", len(rows))),
                "best": float(state.get("best_val", math.inf)), "bad_epochs": int(state.get("bad_epochs", 0)),
                "partial": state.get("partial"), "monitor": state.get("monitor", "val_loss")}
    except Exception as exc:  # any failure here (a missing key too) means the state file is unusable
        raise CheckpointError(f"{path} is corrupt: {type(exc).__name__}: {first_line(exc)}") from exc


@dataclass
class FitResult:
    rows: list[dict]
    #: stopped by the deadline before its epochs were done (resume to go on)
    out_of_time: bool


def fit(model: LatentModel, opt: torch.optim.Optimizer, out: Path, *, epochs: int, seed: int,
        batches: Callable[[torch.Generator], Iterable[torch.Tensor]], n_train: int,
        evaluate: Callable[[], dict[str, float]], monitor: str | None = None, patience: int | None = None,
        scheduler: Scheduler | None = None, resume: bool = False,
        autocast: torch.dtype | None = None, progress: bool = True, deadline: float = math.inf,
        unit: str = "sample", grad_clip: float = 0.0) -> FitResult:
    """The epochs of a training run, sequence or image.

    Each epoch: batches in a seeded order (``batches(generator)``, the generator seeded
    by ``seed`` and the epoch, so a resumed run sees the same order), one
    :meth:`~latentbo.models.LatentModel.train_step` each, the regulariser's
    ``after_epoch``, ``evaluate()`` (a dict of named floats), the scheduler (a plateau
    rule on ``evaluate()[monitor]``, any other once an epoch); then ``last.safetensors``,
    ``model.safetensors`` (when ``monitor`` improved, or every epoch without a
    ``monitor``), the state file and ``metrics.csv``, each written atomically.

    Args:
        model: on the device the batches come to.
        opt: its optimiser.
        out: the run folder.
        epochs: the epoch to stop after (counting the epochs of a resumed run).
        seed: seeds the epoch order.
        batches: yields the training batches of one epoch in the generator's order.
        n_train: samples in an epoch (for progress and throughput).
        evaluate: the per-epoch evaluation (e.g. ``val_loss``, ``test_mse``).
        monitor: the evaluation key that picks the best model, steps the scheduler and
            stops early; ``None``: the latest epoch is the model.
        patience: stop after this many epochs without improvement (``None``: never).
        scheduler: a ``ReduceLROnPlateau`` (stepped on the monitored value: needs
            ``monitor``) or an epoch schedule (stepped after each epoch).
        resume: continue the run saved in ``out`` (the model's weights already loaded).
        autocast: forward passes under autocast to this dtype (``None``: fp32).
        progress: show a tqdm bar per epoch.
        deadline: ``time.monotonic()`` after which no new batch starts (at least one
            runs per call, and the run's first epoch always finishes): the weights go
            to ``last``, the epoch's progress to the state file, and a resume goes on
            from the next batch of the same order, as if never stopped.
        unit: what a sample is called on the progress bar.
        grad_clip: each step's gradient norm clipped to this (0: never).

    Raises:
        CheckpointError: ``resume`` and the state is missing or corrupt.
        DatasetError: the monitored value became NaN or infinite.
    """
    plateau = isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)
    if plateau and monitor is None:
        raise ConfigError("a scheduler steps on a monitored value: pass monitor")
    counters = load_state(out, model, opt, scheduler) if resume else {
        "rows": [], "epoch": 0, "best": math.inf, "bad_epochs": 0, "partial": None, "monitor": monitor}
    rows, start, best, bad_epochs = counters["rows"], counters["epoch"], counters["best"], counters["bad_epochs"]
    if monitor is not None and counters["monitor"] != monitor and rows:
        # a run kept on another key (by an earlier version): its best epoch by this one
        scores = [r[monitor] for r in rows]
        best = min(scores)
        bad_epochs = len(scores) - 1 - scores.index(best)

    def save_state(epoch: int, partial: dict[str, Any] | None = None) -> None:
        buf = io.BytesIO()
        torch.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict() if scheduler else None,
                    "rng": torch.get_rng_state(), "rows": rows, "epoch": epoch, "best_val": best,
                    "bad_epochs": bad_epochs, "partial": partial, "monitor": monitor}, buf)
        atomic_write_bytes(out / STATE_FILE, buf.getvalue())

    gen = torch.Generator()
    steps = 0  # this call's: at least one runs per call, so every call makes progress
    for epoch in range(start, epochs):
        if patience is not None and bad_epochs > patience:
            break
        if steps and time.monotonic() >= deadline:
            return FitResult(rows, True)
        gen.manual_seed(seed * 100_003 + epoch)  # epoch order independent of resume
        model.train()
        # an epoch a deadline interrupted goes on after the batches it had done, in the same order
        part = counters["partial"] if epoch == start and counters["partial"] else {
            "batches": 0, "sums": {}, "seen": 0, "elapsed": 0.0}
        sums, seen, done = dict(part["sums"]), part["seen"], part["batches"]
        t0 = time.perf_counter()
        bar = tqdm(total=n_train, initial=seen, disable=not progress, unit=unit, desc=f"epoch {epoch + 1}/{epochs}")
        for xb in itertools.islice(batches(gen), done, None):
            if rows and steps and time.monotonic() >= deadline:  # (a model needs one evaluated epoch)
                bar.close()
                save_model(model, out, "last")
                save_state(epoch, {"batches": done, "sums": sums, "seen": seen,
                                   "elapsed": part["elapsed"] + time.perf_counter() - t0})
                log.info("epoch %d/%d stopped by the time budget after %d samples; resume goes on from there",
                         epoch + 1, epochs, seen)
                return FitResult(rows, True)
            terms = model.train_step(xb, opt, autocast, grad_clip)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * len(xb)
            seen += len(xb)
            done += 1
            steps += 1
            bar.update(len(xb))
            bar.set_postfix(loss=f"{terms['loss']:.3f}")
        bar.close()
        elapsed = part["elapsed"] + time.perf_counter() - t0
        model.regularizer.after_epoch({k: v / seen for k, v in sums.items()})
        evaluation = evaluate()
        score = evaluation[monitor] if monitor is not None else None
        if score is not None and not math.isfinite(score):
            raise DatasetError(f"{monitor} became {score} at epoch {epoch + 1}; lower lr or check data")
        if plateau:
            scheduler.step(score)
        elif scheduler is not None:
            scheduler.step()
        rows.append({"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "epoch_s": elapsed,
                     "samples_per_s": seen / elapsed, **{f"train_{k}": v / seen for k, v in sums.items()},
                     **evaluation, **model.regularizer.log_state()})
        save_model(model, out, "last")
        rows[-1]["is_best"] = score is None or score < best
        if rows[-1]["is_best"]:
            best, bad_epochs = best if score is None else score, 0
            save_model(model, out, "model")
        else:
            bad_epochs += 1
        save_state(epoch + 1)
        atomic_write_text(out / "metrics.csv", pd.DataFrame(rows).to_csv(index=False))
        log.info("epoch %d/%d: %s (%.0f samples/s)", epoch + 1, epochs,
                 ", ".join(f"{k} {v:.4g}" for k, v in evaluation.items() if k in ("val_loss", "val_seq_acc", "test_mse")),
                 seen / elapsed)
    return FitResult(rows, False)


def saved_epoch(metrics: pd.DataFrame) -> pd.Series:
    """The row of ``metrics.csv`` whose weights ``model.safetensors`` holds: the last
    one marked ``is_best`` (logs written before that column: the lowest ``val_loss``)."""
    if "is_best" in metrics and metrics["is_best"].eq(True).any():
        return metrics[metrics["is_best"].eq(True)].iloc[-1]
    return metrics.loc[metrics["val_loss"].idxmin()]


def fit_samplers(model: LatentModel, codes: torch.Tensor, seed: int) -> None:
    """After training: the ex-post GMM (RAE's density, up to 10 components) and the
    regulariser's own post-hoc sampler (two-stage VAE) on the training codes."""
    model.fit_expost_gmm(codes, components=min(10, len(codes)), seed=seed)
    model.regularizer.fit_sampler(codes, seed=seed)


def train(
    config: ModelConfig,
    strings: list[str],
    out_dir: str | Path,
    resume: bool = False,
    progress: bool = True,
    device: str | torch.device | None = None,
    max_minutes: float | None = None,
    source: str | None = None,
    overwrite: bool = False,
    init_from: SequenceAutoencoder | None = None,
) -> TrainResult:
    """Train an autoencoder on ``strings`` and write everything to ``out_dir``.

    Args:
        config: model and training configuration; on resume, the run's (refused if it
            differs in anything but ``epochs``, which sets where the resumed run stops).
        strings: training data (bad lines are skipped and reported in
            ``out_dir/data_report.json``).
        out_dir: output folder: ``config.toml``, ``meta.json``, ``model.safetensors``
            (best), ``last.safetensors``, ``training_state.pt``, ``metrics.csv``.
        resume: continue from ``out_dir``'s last checkpoint.
        progress: show tqdm bars.
        device: where to train (``cpu`` default, ``cuda``...). Checkpoints are
            saved on the CPU; a GPU resume is not bit-exact (CUDA RNG not saved).
        max_minutes: time budget: once passed, training stops before the next batch
            (the epoch's progress checkpointed; the first epoch always finishes), the
            ex-post GMM is fitted on the best model so far and saved; ``--resume`` goes
            on from that batch.
        source: where ``strings`` came from, recorded in ``data_report.json``.
        overwrite: replace a run already in ``out_dir`` (:func:`~latentbo.io.clear_run`).
        init_from: fine-tune this trained model: its codec and weights are the start
            (``config`` from :meth:`~latentbo.models.ModelConfig.finetuned`); a SELFIES
            model's alphabet takes the strings' new symbols (recorded in
            ``data_report.json``: ``alphabet_added``); with another codec, strings with
            tokens it lacks are skipped and reported. Ignored on resume (the run's own
            weights go on).

    Raises:
        ConfigError: the device is not available, or ``init_from`` does not fit ``config``
            or the strings.
        CheckpointError: ``out_dir`` already holds a run and ``resume`` is False, or
            resume was asked and the state is missing/corrupt or ``config`` differs.
        DatasetError: nothing could be encoded.
        BusyError: another process is training into ``out_dir``.
    """
    device = resolve_device(device)
    if max_minutes is not None and not max_minutes > 0:
        raise ConfigError(f"max_minutes must be positive, got {max_minutes}")
    deadline = time.monotonic() + 60 * max_minutes if max_minutes is not None else math.inf
    with training_run(out_dir, resume, overwrite) as out:
        return _train(config, strings, out, resume, progress, device, deadline, source, init_from)


def _grown_state(old: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor], vocab: int) -> dict[str, torch.Tensor]:
    """``old`` weights in a model whose vocabulary grew from ``vocab`` ids (new ids at the
    end): a tensor with a vocabulary axis keeps its old ids' slices and, after them, any
    extra slice of the old (the ar decoder's start symbol) moved to the end; the new ids'
    slices are ``fresh``'s initialisation. The grown model reads and scores the old ids
    exactly as the old one did."""
    state = {}
    for name, new in fresh.items():
        was = old[name]
        if was.shape == new.shape:
            state[name] = was
            continue
        axis = next(a for a, (m, n) in enumerate(zip(was.shape, new.shape)) if m != n)
        grown, extra = new.clone(), was.shape[axis] - vocab
        grown.narrow(axis, 0, vocab).copy_(was.narrow(axis, 0, vocab))
        if extra:
            grown.narrow(axis, new.shape[axis] - extra, extra).copy_(was.narrow(axis, vocab, extra))
        state[name] = grown
    return state


def _train(config: ModelConfig, strings: list[str], out: Path, resume: bool, progress: bool,
           device: torch.device, deadline: float, source: str | None,
           init_from: SequenceAutoencoder | None = None) -> TrainResult:
    state_path = out / STATE_FILE
    fingerprint = hashlib.sha256("\n".join(strings).encode("utf-8")).hexdigest()[:16]
    if resume:
        if not state_path.exists():
            raise CheckpointError(f"nothing to resume in {out}: {STATE_FILE} is missing")
        check_same_data(out, fingerprint, len(strings))
        model = load_model(out, "last", kind="sequence")
        model.config = model.config.resumed_with(config)
        config, codec = model.config, model.codec
    else:
        if state_path.exists():
            raise CheckpointError(f"{out} already holds a training run; pass --resume or choose another --out")
        if init_from is not None and (init_from.config.task, init_from.config.codec) != (config.task, config.codec):
            raise ConfigError(f"cannot fine-tune a {init_from.config.task}/{init_from.config.codec} model as "
                              f"{config.task}/{config.codec}")
        codec = init_from.codec if init_from is not None else build_codec(config, strings)
    batch, _ = encode_dataset(codec, strings, progress=progress)
    added: list[str] = []
    if init_from is not None and hasattr(codec, "extended"):
        if not resume and any(f.reason == "unknown_token" for f in batch.failures):
            # New SELFIES symbols get new ids (the old ones keep theirs) and fresh rows in
            # the layers that read or write symbols: see _grown_state.
            codec = codec.extended([f.text for f in batch.failures if f.reason == "unknown_token"])
            batch, _ = encode_dataset(codec, strings, progress=progress)
        added = codec.alphabet[len(init_from.codec.alphabet):]
        if added:
            log.info("alphabet: %d symbols added for fine-tuning (%s)", len(added), " ".join(added))
    if len(batch.kept) < 2:
        raise DatasetError(f"only {len(batch.kept)} of {len(strings)} strings could be encoded: {batch.report()}")
    out.mkdir(parents=True, exist_ok=True)
    if batch.failures:
        log.info("data: %s", batch.report())

    rng = np.random.default_rng(config.seed)
    perm = rng.permutation(len(batch.kept))
    n_val = max(1, int(round(config.val_fraction * len(perm))))
    if len(perm) - n_val < 2:
        raise ConfigError(f"val_fraction={config.val_fraction} holds out {n_val} of the {len(perm)} encoded strings, "
                          "leaving fewer than 2 to train on; lower it or use more data")
    val_rows, train_rows = perm[:n_val], perm[n_val:]
    data, augmented = batch.indices, 0
    if config.augment:  # other spellings of the training molecules only: validation stays as given
        from latentbo.chem import randomized_smiles

        extra, _ = encode_dataset(codec, randomized_smiles([strings[batch.kept[i]] for i in sorted(train_rows)],
                                                           config.augment, config.seed), progress=progress)
        augmented = len(extra.kept)
        data = np.concatenate([np.asarray(batch.indices), np.asarray(extra.indices)])
        train_rows = np.concatenate([train_rows, len(batch.indices) + np.arange(augmented)])
        log.info("augmentation: %d randomized SMILES added (%d could not be encoded)", augmented, len(extra.failures))
    held_out = "\n".join(strings[batch.kept[i]] for i in sorted(perm[:n_val]))
    atomic_write_text(out / "data_report.json", json.dumps({
        "source": source, "fingerprint": fingerprint, "read": batch.n_input, "encoded": len(batch.kept),
        "skipped": len(batch.failures), "skipped_by_reason": batch.failure_counts(),
        "skipped_examples": [f.__dict__ for f in batch.failures[:20]],
        # which strings validation saw (seeded): the same data and seed always hold out the same ones
        "held_out": {"n": n_val, "fingerprint": hashlib.sha256(held_out.encode("utf-8")).hexdigest()[:16]},
        # fine-tuning: the weights it started from
        "init_from": None if init_from is None else weights_fingerprint(init_from),
        "alphabet_added": added,
        "augmented": augmented,
    }, indent=2))

    torch.manual_seed(config.seed)
    if not resume:
        model = SequenceAutoencoder(config, codec)
        if init_from is not None:
            model.load_state_dict(_grown_state(init_from.state_dict(), model.state_dict(), init_from.codec.vocab_size))
    model.to(device)
    dtype = autocast_dtype(config.precision, device)
    opt = torch.optim.Adam(model.parameters(), lr=config.effective_lr)
    sched = epoch_schedule(opt, config)

    def evaluate() -> dict[str, float]:
        terms = _evaluate(model, batch.indices, val_rows, config.batch_size, device, dtype)
        return {f"val_{k}": v for k, v in terms.items()}

    result = fit(model, opt, out, epochs=config.epochs, seed=config.seed,
                 batches=lambda gen: _batches(data, train_rows, config.batch_size, gen, device),
                 n_train=len(train_rows), evaluate=evaluate, patience=config.patience,
                 monitor=f"val_{model.regularizer.monitor}",
                 scheduler=sched, resume=resume, autocast=dtype, progress=progress, deadline=deadline, unit="seq",
                 grad_clip=config.grad_clip)
    best = load_model(out, "model", kind="sequence").to(device)
    with torch.no_grad():  # on the training device: a GPU run's millions of codes would take minutes on its CPU
        codes = torch.cat([best.encode_stats(codec.one_hot(b))[0].cpu()
                           for b in _batches(data, train_rows, 1024, None, device)])
    best.cpu()
    fit_samplers(best, codes, config.seed)
    save_model(best, out, "model")
    return TrainResult(best, pd.DataFrame(result.rows), out, len(batch.failures), result.out_of_time)


__all__ = ["FitResult", "Scheduler", "TrainResult", "build_codec", "check_same_data", "epoch_schedule", "fit",
           "fit_samplers", "saved_epoch", "train", "training_run"]
