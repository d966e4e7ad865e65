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
        """Scores from the user function; infinities count as invalid (NaN).

        Raises:
            ObjectiveError: the function raised, or returned anything but one number
                per string.
        """
        from latentbo.errors import ObjectiveError

        try:
            raw = self.fn(list(strings))
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
