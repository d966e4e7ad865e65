"""Weighted retraining (Tripp, Daxberger and Hernández-Lobato, 2020): during a campaign the
autoencoder is fine-tuned on the initial and evaluated strings, sampled with weights
that favour the best ranks, so that the latent space grows room around good strings.

A trial's retrained weights and the codes of its strings under them are saved in
``trial_<t>/retrained.pt`` (tensors only, loaded with ``weights_only``), written
atomically before the iteration that uses them: a campaign stopped during a retraining
retrains again from the same start, with the same seed, on resume.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from latentbo.errors import CheckpointError, first_line
from latentbo.io import atomic_write_bytes
from latentbo.models import SequenceAutoencoder

#: Tripp et al.'s rank-weighting constant: weight ∝ 1 / (k N + rank).
RANK_K = 1e-3
#: Strings per optimiser step, and its learning rate (the fine-tuning defaults).
RETRAIN_BATCH, RETRAIN_LR = 32, 1e-4
RETRAINED = "retrained.pt"


def rank_weights(scores: np.ndarray, k: float = RANK_K) -> np.ndarray:
    """``N`` sampling weights summing to 1, ``1 / (k N + rank)`` with rank 0 the highest
    score (ties share the better rank's order by position)."""
    n = len(scores)
    rank = np.empty(n)
    rank[np.argsort(-np.asarray(scores, dtype=float), kind="stable")] = np.arange(n)
    w = 1.0 / (k * n + rank)
    return w / w.sum()


def retrain(model: SequenceAutoencoder, strings: list[str], scores: np.ndarray, steps: int, seed: int) -> None:
    """``steps`` Adam steps on batches drawn from ``strings`` by :func:`rank_weights` of
    their ``scores`` (higher is better); the model is left in eval mode."""
    ids = model.codec.encode(strings)
    gen = torch.Generator().manual_seed(seed)
    weights = torch.from_numpy(rank_weights(scores))
    device = next(model.parameters()).device
    opt = torch.optim.Adam(model.parameters(), lr=RETRAIN_LR)
    torch.manual_seed(seed)  # regularisers that draw noise draw it from the global generator
    model.train()
    for _ in range(steps):
        rows = torch.multinomial(weights, RETRAIN_BATCH, replacement=True, generator=gen)
        model.train_step(ids[rows].to(device), opt)
    model.eval()


def save_retrained(folder: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(folder / RETRAINED, buf.getvalue())


def load_retrained(folder: Path) -> dict[str, Any] | None:
    """The trial's last retraining (``iteration``, ``weights``, ``init_codes``,
    ``eval_codes``), or ``None`` before the first."""
    path = folder / RETRAINED
    if not path.exists():
        return None
    try:
        state = torch.load(path, weights_only=True)
        ok = isinstance(state, dict) and {"iteration", "weights", "init_codes", "eval_codes"} <= set(state)
    except Exception as exc:  # a truncated or crafted file: name it, run nothing
        raise CheckpointError(f"{path} is unreadable: {first_line(exc)}") from None
    if not ok or not all(isinstance(state[k], Tensor) for k in ("init_codes", "eval_codes")):
        raise CheckpointError(f"{path} is not a retraining checkpoint")
    return state
