"""Weighted retraining (Tripp, Daxberger and Hernández-Lobato, 2020): during a campaign the
autoencoder is fine-tuned on the initial and evaluated strings, sampled with weights
that favour the best ranks, so that the latent space grows room around good strings.

With joint updates (LOL-BO, Maus et al. 2022) each step of a retraining also adds a GP's
negative marginal log likelihood of the best strings' scores at their encoder codes, so
that the encoder moves codes where a GP can model the scores (the GP's hyperparameters
learn alongside, from the campaign's last fit).

A trial's retrained weights and the codes of its strings under them are saved in
``trial_<t>/retrained.pt`` (tensors only, loaded with ``weights_only``), written
atomically before the iteration that uses them: a campaign stopped during a retraining
retrains again from the same start, with the same seed, on resume.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from botorch.exceptions import InputDataWarning
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from latentbo.bo.surrogate import hyperparameters
from latentbo.errors import CheckpointError, first_line
from latentbo.io import atomic_write_bytes
from latentbo.models import SequenceAutoencoder

#: Tripp et al.'s rank-weighting constant: weight ∝ 1 / (k N + rank).
RANK_K = 1e-3
#: Strings per optimiser step, and its learning rate (the fine-tuning defaults).
RETRAIN_BATCH, RETRAIN_LR = 32, 1e-4
RETRAINED = "retrained.pt"
#: Joint updates: each step's GP term is the marginal likelihood of JOINT_BATCH strings
#: drawn from the JOINT_POINTS best, the GP's hyperparameters learning at JOINT_GP_LR
#: (LOL-BO's surrogate learning rate).
JOINT_POINTS, JOINT_BATCH, JOINT_GP_LR = 256, 64, 0.01


def rank_weights(scores: np.ndarray, k: float = RANK_K) -> np.ndarray:
    """``N`` sampling weights summing to 1, ``1 / (k N + rank)`` with rank 0 the highest
    score (ties share the better rank's order by position)."""
    n = len(scores)
    rank = np.empty(n)
    rank[np.argsort(-np.asarray(scores, dtype=float), kind="stable")] = np.arange(n)
    w = 1.0 / (k * n + rank)
    return w / w.sum()


def retrain(model: SequenceAutoencoder, strings: list[str], scores: np.ndarray, steps: int, seed: int,
            joint_bounds: Tensor | None = None, gp_state: dict | None = None) -> int:
    """``steps`` Adam steps on batches drawn from ``strings`` by :func:`rank_weights` of
    their ``scores`` (higher is better, all finite); the model is left in eval mode. A
    string the codec cannot encode (a decode whose repaired hydrogen its alphabet lacks)
    is left out. Returns how many were left out.

    Args:
        joint_bounds: ``2 x d`` search box: joint updates. Each step's loss is then the
            autoencoder's loss per token (LOL-BO's scale) plus :func:`joint_gp_term`.
        gp_state: the campaign's last GP fit (``state_dict``), the joint GP's start.
    """
    batch = model.codec.encode_many(strings, workers=1)
    ids = torch.from_numpy(batch.indices.astype(np.int64))
    scores = np.asarray(scores)[batch.kept]
    gen = torch.Generator().manual_seed(seed)
    weights = torch.from_numpy(rank_weights(scores))
    device = next(model.parameters()).device
    groups = [{"params": list(model.parameters()), "lr": RETRAIN_LR}]
    gp_loss = None
    if joint_bounds is not None:
        gp, gp_loss = joint_gp_term(model, ids, scores, joint_bounds, gp_state, gen)
        groups.append({"params": list(gp.parameters()), "lr": JOINT_GP_LR})
        per_token = float((ids != model.codec.pad_index).sum(1).float().mean())
    opt = torch.optim.Adam(groups)
    torch.manual_seed(seed)  # regularisers that draw noise draw it from the global generator
    model.train()
    for _ in range(steps):
        rows = torch.multinomial(weights, RETRAIN_BATCH, replacement=True, generator=gen)
        if gp_loss is None:
            model.train_step(ids[rows].to(device), opt)
            continue
        loss = model.loss(ids[rows].to(device))["loss"] / per_token + gp_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    model.eval()
    return len(strings) - len(batch.kept)


def joint_gp_term(model: SequenceAutoencoder, ids: Tensor, scores: np.ndarray, bounds: Tensor,
                  gp_state: dict | None, gen: torch.Generator) -> tuple[SingleTaskGP, Callable[[], Tensor]]:
    """An exact GP on the :data:`JOINT_POINTS` best of ``N x L`` ``ids`` by ``scores``
    (standardised), inputs normalised to the ``2 x d`` ``bounds``, hyperparameters from
    ``gp_state``; and a function giving, at each call, its negative marginal log likelihood
    (per point) at the encoder's codes of a random :data:`JOINT_BATCH` of them, drawn
    with ``gen``: differentiable in the encoder's weights and the GP's."""
    device = next(model.parameters()).device
    top = torch.from_numpy(np.argsort(-np.asarray(scores), kind="stable")[:JOINT_POINTS].copy())
    y = torch.as_tensor(np.asarray(scores)[top.numpy()], dtype=torch.float64, device=device)
    y = (y - y.mean()) / y.std().clamp_min(1e-9) if len(y) > 1 else y - y.mean()
    top_ids = ids[top].to(device)
    with torch.no_grad():
        start = model.encode_stats(model.codec.one_hot(top_ids))[0].double()
    with warnings.catch_warnings():  # evaluated strings' codes may lie outside the initial codes' box
        warnings.simplefilter("ignore", InputDataWarning)
        gp = SingleTaskGP(start, y.unsqueeze(-1), outcome_transform=None,
                          input_transform=Normalize(start.shape[-1], bounds=bounds.double().to(device)))
    if gp_state is not None:
        gp.load_state_dict(hyperparameters(gp_state), strict=False)
    mll = ExactMarginalLogLikelihood(gp.likelihood, gp)
    gp.train()

    def loss() -> Tensor:
        with torch.no_grad():  # BoTorch bounds some hyperparameters (the noise) by clamping, not by a transform
            for _, param, constraint in gp.named_parameters_and_constraints():
                if constraint is not None and not constraint.enforced:
                    param.clamp_(float(constraint.lower_bound.min()), float(constraint.upper_bound.max()))
        rows = torch.randperm(len(top), generator=gen)[:JOINT_BATCH].to(device)
        z = model.encode_stats(model.codec.one_hot(top_ids[rows]))[0].double()
        gp.set_train_data(inputs=z, targets=y[rows], strict=False)
        return -mll(gp(z), y[rows])

    return gp, loss


def save_retrained(folder: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(folder / RETRAINED, buf.getvalue())


def load_retrained(folder: Path) -> dict[str, Any] | None:
    """The trial's last retraining (``iteration``, ``weights``, ``init_codes``,
    ``eval_codes``; ``left_out``: evaluated strings the codec could not encode, absent
    in campaigns of earlier versions), or ``None`` before the first."""
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
