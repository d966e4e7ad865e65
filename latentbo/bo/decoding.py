"""From the GP's latent candidates to strings: the search box, and decoding each
candidate several times with a vote among its valid decodes."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch
from torch import Tensor

from latentbo.filters import MoleculeFilter
from latentbo.models import SequenceAutoencoder
from latentbo.models.priors import GMMPrior
from latentbo.tasks import Task


def search_box(model: SequenceAutoencoder, codes: Tensor, bounds: str) -> Tensor:
    """``2 x d`` search box: ``data`` spans ``codes`` (``N x d``); ``prior`` is +-3 sd of
    the model's prior (around its modes for a GMM prior)."""
    if bounds == "data":
        lo, hi = codes.min(0).values, codes.max(0).values
        return torch.stack([lo, torch.maximum(hi, lo + 1e-6)]).double()
    prior = model.regularizer.prior
    if isinstance(prior, GMMPrior):
        lo, hi = prior.means.min(0).values - 3 * prior.sigma, prior.means.max(0).values + 3 * prior.sigma
        return torch.stack([lo, hi]).double()
    return torch.stack([-3 * torch.ones(model.latent_dim), 3 * torch.ones(model.latent_dim)]).double()


def decode_candidates(model: SequenceAutoencoder, task: Task, z: Tensor, n_decode: int, seed: int,
                      filters: MoleculeFilter | None = None) -> tuple[list[str | None], list[dict[str, Any]]]:
    """Decode each of the ``N x d`` candidates ``n_decode`` times (stochastic when more
    than once); keep the most frequent valid string (preferring those decoded as they
    came, ``ok``, over repairs: the semantic masks' fallback pass, SELFIES radicals
    saturated), ``None`` when no decode is
    valid (:meth:`~latentbo.tasks.Task.invalidity`) or passes ``filters``.

    Returns:
        The strings and, per candidate, how it was decoded: ``valid_decodes`` (of
        ``n_decode``), the decoder ``status`` of the string kept (``fallback``: the
        semantic masks' second pass made it; ``saturated``: hydrogens replaced its
        unpaired electrons) and, when none was valid, the commonest
        ``reason``.
    """
    n = n_decode  # decodes per candidate: rows i*n .. (i+1)*n of the repeated codes
    gen = torch.Generator().manual_seed(seed)
    rep = z.float().repeat_interleave(n, dim=0)
    decoded, status = model.decode_latents_with_status(rep, stochastic=n > 1, generator=gen)
    reason = {s: task.invalidity(s) for s in set(decoded)}  # RDKit once per distinct string
    if filters is not None:
        from latentbo.objectives.molecules import to_mol

        reason = {s: r or filters.reason(to_mol(s)) for s, r in reason.items()}
    valid = {s: r is None for s, r in reason.items()}
    out: list[str | None] = []
    info: list[dict[str, Any]] = []
    for i in range(len(z)):
        block = range(i * n, (i + 1) * n)
        counts = Counter(decoded[j] for j in block if valid[decoded[j]])
        if counts:
            # A string decoded as it came beats a repaired one.
            faithful = Counter(decoded[j] for j in block if valid[decoded[j]] and status[j] == "ok")
            best = (faithful or counts).most_common(1)[0][0]
            out.append(best)
            info.append({"valid_decodes": sum(counts.values()),
                         "status": next(status[j] for j in block if decoded[j] == best)})
        else:
            out.append(None)
            reasons = Counter(reason[decoded[j]] for j in block)
            info.append({"valid_decodes": 0, "status": None, "reason": reasons.most_common(1)[0][0]})
    return out, info
