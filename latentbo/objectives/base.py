"""The objective interface: a batch of strings -> floats, NaN for invalid."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np


class Objective:
    """Maps strings to scores.

    Attributes:
        name: registry name.
        maximize: whether higher is better.
        worst: the score an invalid string stands for in reports that need a number
            (e.g. ``log(1001)`` for expressions); the GP never sees it.
    """

    name: ClassVar[str] = "objective"
    maximize: ClassVar[bool] = True
    worst: float = float("nan")

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        """``N`` strings (``None`` = failed decode) -> ``N`` float scores, NaN = invalid."""
        raise NotImplementedError

    def details(self, strings: Sequence[str | None]) -> list[dict[str, Any]]:
        """Per-string extra fields recorded beside the score (default none)."""
        return [{} for _ in strings]


class FunctionObjective(Objective):
    """Wraps a user function ``f(list[str|None]) -> sequence of floats``."""

    def __init__(self, fn: Any, name: str, maximize: bool = True) -> None:
        self.fn = fn
        self.name = name  # type: ignore[misc]
        self.maximize = maximize  # type: ignore[misc]

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        from latentbo.errors import ConfigError

        out = np.asarray(self.fn(list(strings)), dtype=float)
        if out.shape != (len(strings),):
            raise ConfigError(f"objective {self.name} returned shape {out.shape} for {len(strings)} strings")
        out[~np.isfinite(out)] = np.nan
        return out
