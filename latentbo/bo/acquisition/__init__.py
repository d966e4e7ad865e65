"""Acquisitions: how a campaign proposes the next batch of latent points.

A :class:`Proposer` gets the fitted GP (or ``None`` if it does not use one), the
training points and the search box, and returns ``q`` candidates; it may keep state
between batches (TuRBO's trust region), saved with each trial's checkpoint. A
:class:`Breeder` proposes strings instead (a genetic algorithm's offspring, chosen by
the GP at their codes); the campaign encodes them and no decoder is involved. Every
module of this package defines one and registers it with :func:`register`; the
registry (:data:`ACQUISITIONS`) is what config validation, the campaign and
``bo --acquisition`` read, so adding an acquisition is one new module here.

The modules import torch and BoTorch inside their functions: the CLI reads the
registry for its help text without loading them.
"""

from __future__ import annotations

import importlib
import math
import pkgutil
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from latentbo.errors import ConfigError

if TYPE_CHECKING:
    import random

    import numpy as np
    from botorch.models import SingleTaskGP
    from torch import Tensor

    from latentbo.bo.campaign import CampaignConfig
    from latentbo.codecs.base import Codec
    from latentbo.tasks import Task


class Proposer(ABC):
    """Proposes batches for one trial; one instance per trial.

    Args:
        dim: latent dimension ``d``.
        config: the campaign's settings (e.g. ``num_restarts``).
    """

    #: registry key (``bo --acquisition``)
    name: ClassVar[str]
    #: one line for ``--help``
    summary: ClassVar[str]
    #: whether :meth:`propose` reads the GP (if not, the campaign fits none)
    uses_model: ClassVar[bool] = True
    #: whether it searches in trust regions (``tr_length`` sets their first side)
    trust_region: ClassVar[bool] = False
    #: whether it proposes strings (a :class:`Breeder`) rather than codes
    breeds: ClassVar[bool] = False

    def __init__(self, dim: int, config: CampaignConfig) -> None:
        self.dim, self.config = dim, config

    @abstractmethod
    def propose(self, model: SingleTaskGP | None, x: Tensor, y: Tensor, bounds: Tensor, q: int, seed: int) -> Tensor:
        """The next ``q x d`` candidates.

        Args:
            model: the GP fitted on ``x``, ``y`` (``None`` when ``uses_model`` is False).
            x: ``n x d`` training codes (float64).
            y: ``n`` scores, to be maximised.
            bounds: ``2 x d`` search box.
            q: batch size.
            seed: this batch's seed (same seed, same batch).
        """

    def update(self, batch_best: float) -> None:
        """After a batch is scored: its best (maximised) score, ``-inf`` if none was valid."""

    def crowded(self, batch_best: float) -> None:
        """Called instead of :meth:`update` when most of the batch decoded to strings
        evaluated before (left unscored): the proposals were finer than the decoder's
        resolution, which says nothing of their scores. By default the same as
        :meth:`update`."""
        self.update(batch_best)

    def told(self, candidates: Tensor, scores: np.ndarray, crowded: bool) -> None:
        """After a batch is scored, what the campaign calls: the ``q x d`` candidates
        proposed and their ``q`` scores (maximised; NaN where invalid or unscored), and
        whether the batch was crowded. By default :meth:`crowded` or :meth:`update` with
        the batch's best; a proposer that needs each candidate's score (several trust
        regions) overrides this."""
        best = batch_best(scores)
        self.crowded(best) if crowded else self.update(best)

    def state_dict(self) -> dict[str, Any]:
        """What :meth:`load_state_dict` needs to go on after a restart (numbers only)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`'s output (stateless proposers have nothing to restore)."""


#: Offspring a breeder breeds per proposal: the GP chooses ``q`` of ``OFFSPRING * q``.
OFFSPRING = 10
#: The best scored strings parents are drawn from (mol-ga's default population).
POPULATION = 10_000


class Breeder(Proposer):
    """Proposes strings bred from the evaluated ones (a genetic algorithm's offspring);
    the GP chooses among them at their codes. The campaign calls :meth:`breed` instead
    of :meth:`propose`; a subclass says which models it can breed for
    (:meth:`unsupported`) and how parents make children (:meth:`offspring`)."""

    breeds = True

    def propose(self, model: SingleTaskGP | None, x: Tensor, y: Tensor, bounds: Tensor, q: int, seed: int) -> Tensor:
        raise TypeError(f"{self.name} proposes strings: call breed(), not propose()")

    @classmethod
    @abstractmethod
    def unsupported(cls, task: Task, codec: Codec) -> str | None:
        """Why this breeder cannot breed a model's strings, as the end of a sentence
        ("breeds molecules; ..."); ``None`` when it can."""

    @abstractmethod
    def offspring(self, parents: list[tuple[float, str]], n: int, codec: Codec, rng: random.Random) -> set[str]:
        """About ``n`` children (fewer when they repeat each other) of ``parents``,
        ``(score, string)`` sorted best first, drawn with ``rng`` alone."""

    def breed(self, model: SingleTaskGP | None, population: list[tuple[float, str]],
              encode: Callable[[list[str]], tuple[Tensor, list[int]]], admissible: Callable[[str], bool], q: int,
              seed: int, codec: Codec) -> tuple[list[str], Tensor]:
        """Up to ``q`` new strings and their ``q' x d`` codes: the admissible and
        encodable :meth:`offspring` of the best :data:`POPULATION`, of which sample
        ``i`` of the GP's posterior takes its best not yet taken (Thompson sampling).

        Args:
            model: the GP fitted on the codes of the initial and evaluated strings
                (``None`` for a breeder that does not use one: a random choice).
            population: ``(score, string)`` of every string scored so far (maximised,
                finite).
            encode: strings -> (``k x d`` codes under the campaign's current weights,
                float64 on the GP's device; the positions of the ``k`` strings the
                codec could encode).
            admissible: whether a string may be proposed (valid, passes the
                campaign's filters, not evaluated before).
            q: batch size.
            seed: this batch's seed (same seed, same population: same batch).
            codec: the model's codec (what the strings are spelt in).
        """
        import heapq
        import random

        import torch

        from latentbo.bo.acquisition.turbo import thompson_select

        rng = random.Random(seed)
        parents = heapq.nlargest(POPULATION, population)  # ties broken by the string: the same order every run
        # offspring come as a set, whose order varies between processes: sorted for exact resume
        bred = sorted(s for s in self.offspring(parents, OFFSPRING * q, codec, rng) if admissible(s))
        codes, kept = encode(bred) if bred else (None, [])
        if not kept:
            return [], torch.zeros(0, self.dim, dtype=torch.float64)
        if model is None:  # a breeder without a GP (uses_model False): q of the offspring at random
            pick = torch.randperm(len(kept), generator=torch.Generator().manual_seed(seed))[:q].to(codes.device)
        else:
            torch.manual_seed(seed)
            pick = thompson_select(model, codes, min(q, len(kept)))
        return [bred[kept[i]] for i in pick.tolist()], codes[pick]


def batch_best(scores: np.ndarray) -> float:
    """The best finite score of a batch (maximised), ``-inf`` when none is finite."""
    import numpy as np

    finite = scores[np.isfinite(scores)]
    return float(finite.max()) if len(finite) else -math.inf


ACQUISITIONS: dict[str, type[Proposer]] = {}


def register(cls: type[Proposer]) -> type[Proposer]:
    """Class decorator: add a proposer to :data:`ACQUISITIONS` under its ``name``."""
    ACQUISITIONS[cls.name] = cls
    return cls


def register_random_choice(breeder: type[Breeder], name: str, summary: str) -> type[Breeder]:
    """Register ``breeder`` without its GP as ``name``: the same population and operators,
    ``q`` of the offspring chosen at random; the baseline that measures what the GP adds."""
    doc = f":class:`{breeder.__name__}`'s offspring, ``q`` of them chosen at random (no GP)."
    cls = type(f"{breeder.__name__}Random", (breeder,), {"name": name, "summary": summary, "uses_model": False,
                                                         "__doc__": doc, "__module__": breeder.__module__})
    return register(cls)


def make_proposer(name: str, dim: int, config: CampaignConfig) -> Proposer:
    """The registered proposer ``name`` for a ``dim``-dimensional latent space.

    Raises:
        ConfigError: no acquisition of that name.
    """
    if name not in ACQUISITIONS:
        raise ConfigError(f"unknown acquisition {name!r}; known: {', '.join(sorted(ACQUISITIONS))}")
    return ACQUISITIONS[name](dim, config)


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

from latentbo.bo.acquisition.qlogei import propose_qlogei  # after the registry is filled
from latentbo.bo.acquisition.turbo import TrustRegion, propose_turbo

__all__ = ["ACQUISITIONS", "Breeder", "Proposer", "TrustRegion", "make_proposer", "propose_qlogei", "propose_turbo",
           "register", "register_random_choice"]
