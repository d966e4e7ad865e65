"""Expression objective: how well an expression fits target data, with a safe,
vectorised evaluator (no ``eval``)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from latentbo.errors import ConfigError, InvalidInputError
from latentbo.objectives.base import Objective, register_objective

DEFAULT_TARGET = "1 / 3 + x + sin( x * x )"
_TOKEN = re.compile(r"\s*(sin\(|exp\(|\d+\.?\d*|x|[-+*/()])")
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}
#: Deepest nesting of parentheses and signs read (the evaluator recurses on each);
#: the grammar's expressions nest a few levels, a target rarely more than ten.
MAX_DEPTH = 100


def _tokens(text: str) -> list[str]:
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise InvalidInputError(text, "unknown_token", f"cannot read expression at character {pos}: {text[pos:pos + 8]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def evaluate(text: str, x: np.ndarray) -> np.ndarray:
    """Evaluate an arithmetic expression in ``x`` with the usual precedence
    (``*``, ``/`` before ``+``, ``-``; left-associative), as Python would.

    Supports numbers, ``x``, ``+ - * /``, parentheses, ``sin(``, ``exp(``.
    Overflow and division by zero give inf/NaN values, not exceptions.

    Raises:
        InvalidInputError: the text is not such an expression.
    """
    toks = _tokens(text)
    pos = 0

    def atom(depth: int) -> np.ndarray:
        nonlocal pos
        if depth > MAX_DEPTH:
            raise InvalidInputError(text, "too_deep", f"expression nested more than {MAX_DEPTH} levels deep")
        if pos >= len(toks):
            raise InvalidInputError(text, "syntax", "expression ends early")
        tok = toks[pos]
        pos += 1
        if tok == "x":
            return x
        if tok[0].isdigit():
            return np.full_like(x, float(tok))
        if tok in ("(", "sin(", "exp("):
            val = expr(0, depth + 1)
            if pos >= len(toks) or toks[pos] != ")":
                raise InvalidInputError(text, "syntax", "missing ')'")
            pos += 1
            return val if tok == "(" else (np.sin(val) if tok == "sin(" else np.exp(val))
        if tok == "-":
            return -atom(depth + 1)
        raise InvalidInputError(text, "syntax", f"unexpected {tok!r}", token=tok)

    def expr(min_prec: int, depth: int) -> np.ndarray:
        nonlocal pos
        left = atom(depth)
        while pos < len(toks) and toks[pos] in _PRECEDENCE and _PRECEDENCE[toks[pos]] > min_prec:
            op = toks[pos]
            pos += 1
            right = expr(_PRECEDENCE[op], depth + 1)
            left = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide}[op](left, right)
        return left

    with np.errstate(all="ignore"):
        value = expr(0, 0)
    if pos != len(toks):
        raise InvalidInputError(text, "syntax", f"unexpected {toks[pos]!r} after a complete expression", token=toks[pos])
    return value


def _read_target_csv(path: Path) -> np.ndarray:
    """``N x 2`` rows of a target CSV; a first row that is not numbers is a header
    (``x,y``) and skipped, ``#`` starts a comment."""
    from latentbo.io import read_text

    lines = [ln.split("#")[0].strip() for ln in read_text(path, "target CSV", ConfigError).splitlines()]
    lines = [ln for ln in lines if ln]
    try:
        float(lines[0].split(",")[0]) if lines else None
    except ValueError:
        lines = lines[1:]
    try:
        return np.loadtxt(lines, delimiter=",", ndmin=2) if lines else np.empty((0, 2))
    except ValueError as exc:
        raise ConfigError(f"cannot read target CSV {path}: {exc}") from None


@register_objective("expr")
# the weighted-retraining variant: min(7, log(1 + MSE)), no per-point cap
@register_objective("expr_wr", cap=math.inf, clip=7.0)
class ExpressionFit(Objective):
    """``log(1 + mean(min((f(x) - y)^2, cap)))`` over the target points (lower is better).

    Args:
        target: an expression string, or a path to a CSV of ``x,y`` rows.
        x: evaluation points for a string target (default ``linspace(-10, 10, 1000)``).
        cap: per-point squared-error cap (1000; 1000 points, so the worst score is
            ``log(1 + cap)``).
        clip: optional score ceiling (the weighted-retraining variant uses 7).

    A string that is not an expression (``None``, unparsable) or whose values are
    NaN anywhere is invalid (NaN); :attr:`worst` (``log(1 + cap)``) is what reports
    substitute for it. Infinite values count as the capped error.
    """

    name = "expr"
    maximize = False
    optimum = 0.0

    def __init__(self, target: str | Path = DEFAULT_TARGET, x: np.ndarray | None = None, cap: float = 1000.0,
                 clip: float | None = None) -> None:
        path = Path(str(target))
        if str(target).endswith(".csv"):
            data = _read_target_csv(path)
            if data.shape[1] != 2 or len(data) == 0 or not np.isfinite(data).all():
                raise ConfigError(f"target CSV {path} must hold finite x,y rows")
            self.x, self.y = data[:, 0], data[:, 1]
            self.target = str(path)
        else:
            self.x = np.linspace(-10, 10, 1000) if x is None else np.asarray(x, dtype=float)
            self.y = evaluate(str(target), self.x)
            if not np.isfinite(self.y).all():
                raise ConfigError(f"target {target!r} is not finite on the evaluation points")
            self.target = str(target)
        self.cap = cap
        self.clip = clip
        self.worst = math.log1p(cap) if clip is None else min(math.log1p(cap), clip)

    def score_one(self, text: str | None) -> float:
        if not text:
            return float("nan")
        try:
            f = evaluate(text, self.x)
        except InvalidInputError:
            return float("nan")
        if np.isnan(f).any():
            return float("nan")
        with np.errstate(all="ignore"):
            err = np.minimum((f - self.y) ** 2, self.cap)
        err[np.isnan(err)] = self.cap  # inf - inf where target and f both overflow
        score = float(np.log1p(err.mean()))
        return min(score, self.clip) if self.clip is not None else score

    def __call__(self, strings: Sequence[str | None]) -> np.ndarray:
        return np.array([self.score_one(s) for s in strings], dtype=float)
