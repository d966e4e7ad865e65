"""Objectives: registry by name, a ``module:function`` import path, a Python callable,
or scores told from outside (ask/tell)."""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentbo.errors import ConfigError
from latentbo.objectives.base import OBJECTIVES, ExternalObjective, FunctionObjective, Objective, register_objective
from latentbo.objectives.expressions import ExpressionFit, evaluate
from latentbo.objectives.molecules import PenalizedLogP

# Every module of the package is imported, so each objective registers itself.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def _import_function(spec: str) -> Any:
    """``package.module:function`` (importable, or a module in the working directory)
    or ``path/to/file.py:function``."""
    module, _, attr = spec.rpartition(":")
    try:
        if module.endswith(".py"):
            path = Path(module)
            if not path.is_file():
                raise ImportError(f"no file {path}")
            loader = importlib.util.spec_from_file_location(f"latentbo_objective_{path.stem}", path)
            mod = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(mod)
        else:
            # The working directory is searched as `python -m` would, without PYTHONPATH=. .
            sys.path.insert(0, os.getcwd())
            try:
                mod = importlib.import_module(module)
            finally:
                sys.path.remove(os.getcwd())
        fn = getattr(mod, attr)
    except Exception as exc:  # ImportError, AttributeError, or the module's own code failing
        raise ConfigError(f"cannot import objective {spec!r}: {type(exc).__name__}: {exc}") from None
    if not callable(fn):
        raise ConfigError(f"objective {spec!r} is a {type(fn).__name__}, not a function")
    return fn


def callable_name(fn: Callable[..., Any]) -> str:
    """How a campaign records an objective passed as a Python callable."""
    return f"python:{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', type(fn).__name__)}"


def make_objective(
    spec: str | Callable[..., Any] | Objective | None, target: str | None = None, minimize: bool | None = None
) -> Objective:
    """The objective a campaign optimises.

    Args:
        spec: a registry name (:data:`OBJECTIVES`); ``module:function`` (importable or in
            the working directory) or ``file.py:function``; a Python callable
            ``f(list[str | None]) -> floats`` (see :class:`FunctionObjective` for the
            contract); an :class:`Objective`; or ``None`` for scores told from outside
            (:meth:`~latentbo.bo.Campaign.tell`).
        target: the target of ``expr`` objectives.
        minimize: ``True`` to minimise, ``False`` to maximise; ``None`` keeps the
            objective's own direction (user functions and told scores are maximised).

    Raises:
        ConfigError: unknown name or unimportable function.
    """
    if spec is None:
        obj: Objective = ExternalObjective()
    elif isinstance(spec, Objective):
        obj = spec
    elif callable(spec):
        obj = FunctionObjective(spec, callable_name(spec))
    elif spec in OBJECTIVES:
        obj = OBJECTIVES[spec](target=target)
    elif spec.startswith("python:"):
        raise ConfigError(f"objective {spec!r} was a Python callable: pass it again as Campaign(..., objective=fn)")
    elif ":" in spec:
        obj = FunctionObjective(_import_function(spec), spec)
    else:
        raise ConfigError(f"unknown objective {spec!r}; known: {sorted(OBJECTIVES)}, module:function or "
                          "file.py:function")
    if minimize is not None:
        obj.maximize = not minimize  # type: ignore[misc]  # the instance's direction, not the class's
    return obj


__all__ = ["OBJECTIVES", "ExpressionFit", "ExternalObjective", "FunctionObjective", "Objective", "PenalizedLogP",
           "callable_name", "evaluate", "make_objective", "register_objective"]
