"""The objective interface: a batch of strings -> floats, NaN for invalid."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

import numpy as np

from latentbo.errors import ConfigError, ObjectiveError

#: Objectives by name, filled by :func:`register_objective` (``latentbo.objectives``
#: imports every module of the package); each entry makes one from an optional target.
OBJECTIVES: dict[str, Callable[[str | None], Objective]] = {}


def register_objective(name: str, **settings: Any) -> Callable[[type[Objective]], type[Objective]]:
    """Class decorator: make an objective available by ``name`` (``bo --objective``,
    campaign configs, studies). ``settings`` go to the class's constructor; a target
    (``--target``) goes to classes that take one and is refused by the others. The
    instance is named ``name``, so a class registered twice (``expr``, ``expr_wr``)
    is recorded as what was asked for."""
    def register(cls: type[Objective]) -> type[Objective]:
        if name in OBJECTIVES:
            raise ConfigError(f"objective {name!r} is registered twice")
        takes_target = "target" in inspect.signature(cls).parameters

        def make(target: str | None = None) -> Objective:
            if target is not None and not takes_target:
                raise ConfigError(f"objective {name!r} takes no target (got {target!r})")
            obj = cls(**settings, **({"target": target} if target is not None else {}))
            obj.name = name  # type: ignore[misc]
            return obj

        OBJECTIVES[name] = make
        return cls

    return register


class Objective:
    """Maps strings to scores.

    Attributes:
        name: registry name.
        maximize: whether higher is better.
        worst: the score an invalid string stands for in reports that need a number
            (e.g. ``log(1001)`` for expressions); the GP never sees it.
        optimum: the best score any string can get, where it is known (expressions:
            0, the target itself); tables count the trials that reached it.
        bounds: the range of every score, where it is fixed; known scores outside it
            (``--score-column``) are warned about.
    """

    name: ClassVar[str] = "objective"
    maximize: ClassVar[bool] = True
    worst: float = float("nan")
    optimum: ClassVar[float | None] = None
    #: the range every score lies in, where it is fixed (QED, the PMO tasks: 0..1)
    bounds: ClassVar[tuple[float, float] | None] = None

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        """``N`` strings (``None`` = failed decode) -> ``N`` float scores, NaN = invalid."""
        raise NotImplementedError

    def details(self, strings: Sequence[str | None]) -> list[dict[str, Any]]:
        """Per-string extra fields recorded beside the score (default none)."""
        return [{} for _ in strings]


class FunctionObjective(Objective):
    """A user function as an objective. The contract:

    * **input**: one ``list`` of strings, ``None`` where a candidate had no valid
      decode (return NaN for it);
    * **output**: one number per string, in order (a list, tuple or array);
      NaN (or +-inf) marks a string the function judges invalid. Numbers must lie
      within +-1e100. Raising an exception stops the campaign with an
      :class:`~latentbo.errors.ObjectiveError` naming the function;
    * **direction**: maximised unless the campaign says ``minimize``;
    * **batch size** (optional): a ``batch_size`` attribute on the function (e.g.
      ``score.batch_size = 8``) makes the campaign call it on at most that many strings
      at a time (a docking queue, an API with a request limit).

    Args:
        fn: the function.
        name: how runs and reports name it.
    """

    def __init__(self, fn: Any, name: str) -> None:
        self.fn = fn
        self.name = name  # type: ignore[misc]
        size = getattr(fn, "batch_size", None)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ConfigError(f"objective {name}: batch_size must be a positive integer, got {size!r}")
        self.batch_size: int | None = size

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        """Scores from the user function; infinities count as invalid (NaN).

        Raises:
            ObjectiveError: the function raised, or returned anything but one number
                per string.
        """
        size = self.batch_size or max(1, len(strings))
        parts = [self._call(list(strings[i:i + size])) for i in range(0, len(strings), size)]
        return np.concatenate(parts) if parts else np.empty(0)

    def _call(self, strings: list[str | None]) -> np.ndarray:
        try:
            raw = self.fn(strings)
        except Exception as exc:  # user code: any failure is reported as the objective's
            raise ObjectiveError(f"objective {self.name} raised {type(exc).__name__}: {exc}") from exc
        out = np.array(raw)
        if out.dtype.kind not in "iuf":
            raise ObjectiveError(f"objective {self.name} must return numbers, one per string (NaN for invalid); "
                                 f"got {out.dtype} values such as {out.flat[0] if out.size else None!r}")
        out = out.astype(float)
        if out.shape != (len(strings),):
            raise ObjectiveError(f"objective {self.name} returned shape {out.shape} for {len(strings)} strings")
        out[np.isinf(out)] = np.nan
        return out


class ExternalObjective(Objective):
    """Scores that come from outside the campaign (a lab, a docking cluster) through
    :meth:`~latentbo.bo.Campaign.tell`; the campaign never calls it."""

    name = "external"

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        raise ConfigError("this campaign has no objective: its scores come from Campaign.tell() (ask/tell), or give "
                          "an objective to score with")
