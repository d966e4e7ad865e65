"""Objectives: registry by name, or any ``module:function`` import path."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from typing import Any

from latentbo.errors import ConfigError
from latentbo.objectives.base import FunctionObjective, Objective
from latentbo.objectives.expressions import DEFAULT_TARGET, ExpressionFit, evaluate
from latentbo.objectives.molecules import QED, LogP, PenalizedLogP

OBJECTIVES: dict[str, Callable[..., Objective]] = {
    "plogp": lambda **kw: PenalizedLogP(),
    "logp": lambda **kw: LogP(),
    "qed": lambda **kw: QED(),
    "expr": lambda target=None, **kw: ExpressionFit(target or DEFAULT_TARGET),
    # the weighted-retraining variant: min(7, log(1 + MSE)), no per-point cap
    "expr_wr": lambda target=None, **kw: ExpressionFit(target or DEFAULT_TARGET, cap=math.inf, clip=7.0),
}


def make_objective(name: str, target: str | None = None, maximize: bool = True) -> Objective:
    """A registered objective, or ``package.module:function`` wrapped as one.

    Raises:
        ConfigError: unknown name or unimportable path.
    """
    if name in OBJECTIVES:
        return OBJECTIVES[name](target=target)
    if ":" in name:
        module, _, attr = name.partition(":")
        try:
            fn: Any = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"cannot import objective {name!r}: {exc}") from exc
        return FunctionObjective(fn, name, maximize)
    raise ConfigError(f"unknown objective {name!r}; known: {sorted(OBJECTIVES)} or module:function")


__all__ = ["OBJECTIVES", "ExpressionFit", "FunctionObjective", "Objective", "PenalizedLogP", "evaluate", "make_objective"]
