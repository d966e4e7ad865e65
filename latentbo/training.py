"""One training loop for every autoencoder: Adam, ReduceLROnPlateau, early stopping
on validation loss, tqdm progress, per-epoch metrics CSV, atomic checkpoints
(best + last) and resume. Epoch summaries go to the ``latentbo`` logger (the CLI
prints them on stderr, with or without progress bars)."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from latentbo.codecs import CharacterCodec, Codec, GrammarCodec, SelfiesCodec
from latentbo.data.cache import encode_dataset
from latentbo.devices import resolve_device
from latentbo.errors import CheckpointError, ConfigError, DatasetError
from latentbo.io import atomic_write_bytes, atomic_write_text, run_folder
from latentbo.models.autoencoder import SequenceAutoencoder, load_model, save_model
from latentbo.models.config import ModelConfig
from latentbo.tasks import get_task

STATE_FILE = "training_state.pt"
log = logging.getLogger("latentbo")


@dataclass
class TrainResult:
    model: SequenceAutoencoder
    metrics: pd.DataFrame
    out_dir: Path
    skipped: int
    #: stopped by ``max_minutes`` before its epochs were done (resume to go on)
    out_of_time: bool = False


def build_codec(config: ModelConfig, strings: list[str]) -> Codec:
    """The task's grammar codec, or a character / SELFIES codec fitted on ``strings``."""
    if config.codec == "grammar":
        return GrammarCodec(get_task(config.task).grammar)
    fitted = {"character": CharacterCodec, "selfies": SelfiesCodec}[config.codec]
    return fitted.fit(strings, config.char_max_length or None)


def _check_same_data(out: Path, fingerprint: str, n: int) -> None:
    """Refuse to resume a run on other data than it was started with (runs from
    before the fingerprint are checked by their line count)."""
    try:
        report = json.loads((out / "data_report.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"cannot resume {out}: its data_report.json is unreadable ({exc})") from exc
    same = report["fingerprint"] == fingerprint if "fingerprint" in report else report.get("read") == n
    if not same:
        raise CheckpointError(
            f"cannot resume {out}: it was started on other data ({report.get('read')} strings from "
            f"{report.get('source') or 'a source not recorded'}, fingerprint {report.get('fingerprint', 'not recorded')}; "
            f"now {n} strings, {fingerprint}); pass the same --dataset and --limit as the run that was started"
        )


def _batches(data: np.ndarray, rows: np.ndarray, size: int, gen: torch.Generator | None,
             device: torch.device | None = None):
    """Batches of ``data[rows]`` (shuffled by ``gen``); ``data`` may be the cache's
    memory map, so only the rows of each batch are read."""
    order = torch.randperm(len(rows), generator=gen).numpy() if gen is not None else np.arange(len(rows))
    for i in range(0, len(rows), size):
        yield torch.from_numpy(data[rows[order[i : i + size]]].astype(np.int64)).to(device or "cpu")


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
) -> TrainResult:
    """Train an autoencoder on ``strings`` and write everything to ``out_dir``.

    Args:
        config: model and training configuration (ignored on resume in favour of the
            saved one, which must exist).
        strings: training data (bad lines are skipped and reported in
            ``out_dir/data_report.json``).
        out_dir: output folder: ``config.toml``, ``meta.json``, ``model.safetensors``
            (best), ``last.safetensors``, ``training_state.pt``, ``metrics.csv``.
        resume: continue from ``out_dir``'s last checkpoint.
        progress: show tqdm bars.
        device: where to train (``cpu`` default, ``cuda``...). Checkpoints are
            saved on the CPU; a GPU resume is not bit-exact (CUDA RNG not saved).
        max_minutes: time budget: once passed, the current epoch finishes, the
            ex-post GMM is fitted and the model saved (``--resume`` goes on later).
        source: where ``strings`` came from, recorded in ``data_report.json``.
        overwrite: replace a run already in ``out_dir`` (:func:`~latentbo.io.clear_run`).

    Raises:
        ConfigError: the device is not available.
        CheckpointError: ``out_dir`` already holds a run and ``resume`` is False, or
            resume was asked and the state is missing/corrupt.
        DatasetError: nothing could be encoded.
        BusyError: another process is training into ``out_dir``.
    """
    device = resolve_device(device)
    if max_minutes is not None and not max_minutes > 0:
        raise ConfigError(f"max_minutes must be positive, got {max_minutes}")
    deadline = time.monotonic() + 60 * max_minutes if max_minutes is not None else math.inf
    with run_folder(out_dir, resume, overwrite) as out:
        fresh = not resume and not (out / STATE_FILE).exists()
        try:
            return _train(config, strings, out, resume, progress, device, deadline, source)
        except BaseException:
            if fresh and not (out / STATE_FILE).exists():  # no epoch finished: leave no half-made run
                for name in ("data_report.json", "config.toml", "meta.json", "model.safetensors", "last.safetensors",
                             "metrics.csv"):
                    (out / name).unlink(missing_ok=True)
            raise


def _train(config: ModelConfig, strings: list[str], out: Path, resume: bool, progress: bool,
           device: torch.device, deadline: float, source: str | None) -> TrainResult:
    state_path = out / STATE_FILE
    fingerprint = hashlib.sha256("\n".join(strings).encode("utf-8")).hexdigest()[:16]
    if resume:
        if not state_path.exists():
            raise CheckpointError(f"nothing to resume in {out}: {STATE_FILE} is missing")
        _check_same_data(out, fingerprint, len(strings))
        model = load_model(out, "last")
        config, codec = model.config, model.codec
    else:
        if state_path.exists():
            raise CheckpointError(f"{out} already holds a training run; pass --resume or choose another --out")
        codec = build_codec(config, strings)
    batch, _ = encode_dataset(codec, strings, progress=progress)
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
    held_out = "\n".join(strings[batch.kept[i]] for i in sorted(perm[:n_val]))
    atomic_write_text(out / "data_report.json", json.dumps({
        "source": source, "fingerprint": fingerprint, "read": batch.n_input, "encoded": len(batch.kept),
        "skipped": len(batch.failures), "skipped_by_reason": batch.failure_counts(),
        "skipped_examples": [f.__dict__ for f in batch.failures[:20]],
        # which strings validation saw (seeded): the same data and seed always hold out the same ones
        "held_out": {"n": n_val, "fingerprint": hashlib.sha256(held_out.encode("utf-8")).hexdigest()[:16]},
    }, indent=2))

    torch.manual_seed(config.seed)
    if not resume:
        model = SequenceAutoencoder(config, codec)
    model.to(device)
    dtype = autocast_dtype(config.precision, device)
    opt = torch.optim.Adam(model.parameters(), lr=config.effective_lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=config.lr_factor, patience=config.lr_patience,
                                                       min_lr=config.min_lr)
    rows: list[dict] = []
    start_epoch, best_val, bad_epochs = 0, math.inf, 0
    if resume:
        try:
            state = torch.load(state_path, map_location="cpu", weights_only=True)
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["rng"])
            rows, start_epoch = list(state["rows"]), int(state["epoch"])
            best_val, bad_epochs = float(state["best_val"]), int(state["bad_epochs"])
        except Exception as exc:  # any failure here (a missing key too) means the state file is unusable
            raise CheckpointError(f"{state_path} is corrupt: {type(exc).__name__}: {exc}") from exc

    gen = torch.Generator()
    out_of_time = False
    for epoch in range(start_epoch, config.epochs):
        if bad_epochs > config.patience:
            break
        if epoch > start_epoch and time.monotonic() >= deadline:  # at least one epoch per call
            out_of_time = True
            break
        gen.manual_seed(config.seed * 100_003 + epoch)  # epoch order independent of resume
        model.train()
        sums: dict[str, float] = {}
        seen = 0
        t0 = time.perf_counter()
        bar = tqdm(total=len(train_rows), disable=not progress, unit="seq", desc=f"epoch {epoch + 1}/{config.epochs}")
        for xb in _batches(batch.indices, train_rows, config.batch_size, gen, device):
            terms = model.train_step(xb, opt, dtype)
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v * len(xb)
            seen += len(xb)
            bar.update(len(xb))
            bar.set_postfix(loss=f"{terms['loss']:.3f}")
        bar.close()
        elapsed = time.perf_counter() - t0
        model.regularizer.after_epoch({k: v / seen for k, v in sums.items()})
        val = _evaluate(model, batch.indices, val_rows, config.batch_size, device, dtype)
        if not math.isfinite(val["loss"]):
            raise DatasetError(f"validation loss became {val['loss']} at epoch {epoch + 1}; lower lr or check data")
        sched.step(val["loss"])
        row = {"epoch": epoch + 1, "lr": opt.param_groups[0]["lr"], "samples_per_s": seen / elapsed,
               **{f"train_{k}": v / seen for k, v in sums.items()}, **{f"val_{k}": v for k, v in val.items()},
               **model.regularizer.log_state()}
        rows.append(row)
        save_model(model, out, "last")
        if val["loss"] < best_val:
            best_val, bad_epochs = val["loss"], 0
            save_model(model, out, "model")
        else:
            bad_epochs += 1
        buf = io.BytesIO()
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": torch.get_rng_state(),
                    "rows": rows, "epoch": epoch + 1, "best_val": best_val, "bad_epochs": bad_epochs}, buf)
        atomic_write_bytes(state_path, buf.getvalue())
        atomic_write_text(out / "metrics.csv", pd.DataFrame(rows).to_csv(index=False))
        log.info("epoch %d/%d: val loss %.4f, seq acc %.3f (%.0f samples/s)", epoch + 1, config.epochs, val["loss"],
                 val["seq_acc"], seen / elapsed)

    best = load_model(out, "model")
    with torch.no_grad():
        codes = torch.cat([best.encode_stats(codec.one_hot(b))[0]
                           for b in _batches(batch.indices, train_rows, 1024, None)])
    best.fit_expost_gmm(codes, components=min(10, len(codes)), seed=config.seed)
    best.regularizer.fit_sampler(codes, seed=config.seed)
    save_model(best, out, "model")
    return TrainResult(best, pd.DataFrame(rows), out, len(batch.failures), out_of_time)


__all__ = ["TrainResult", "build_codec", "train"]
