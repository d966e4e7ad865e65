"""Sample-quality metrics: validity (with the reason a molecule is invalid),
uniqueness, novelty."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from latentbo.codecs import CharacterCodec, GrammarCodec
from latentbo.errors import InvalidInputError


def grammar_valid(codec: GrammarCodec, text: str | None) -> bool:
    """The string is a complete derivation of the codec's grammar."""
    if not text:
        return False
    try:
        codec.encode_one(text)
    except InvalidInputError:
        return False
    return True


def _canonical_set(codec: Any, strings: list[str]) -> set[str]:
    out = set()
    for s in strings:
        try:
            out.add(codec.canonical(s))
        except InvalidInputError:
            continue  # a reference string the codec cannot spell cannot equal a decode either
    return out


def sample_quality(
    model: Any,
    n: int,
    seed: int = 0,
    expost: bool = False,
    stochastic: bool = False,
    reference: list[str] | None = None,
) -> tuple[dict[str, Any], list[str | None]]:
    """Sample ``n`` codes, decode them and measure the results.

    Returns:
        ``(summary, strings)``; summary keys: ``n``, ``valid_fraction`` (grammar
        complete; for molecules also RDKit-valid), ``grammar_valid_fraction``,
        ``unique_fraction`` (distinct valid / valid), ``novel_fraction`` (valid
        strings not in ``reference`` / valid; ``None`` without a reference),
        ``invalid_reasons`` (count per :func:`~latentbo.chem.molecule_invalidity` reason),
        ``decode_status`` (count per decoder status: ``ok``, ``fallback``,
        ``dead_end``, ``unfinished``), ``seed``.
    """
    from latentbo.tasks import get_task

    gen = torch.Generator().manual_seed(seed)
    z = model.sample_latents(n, gen, expost=expost)
    strings, status = model.decode_latents_with_status(z, stochastic=stochastic, generator=gen)
    grammar_ok = [s is not None for s in strings]
    if isinstance(model.codec, CharacterCodec):  # the CVAE's strings must also parse by the grammar
        grammar = GrammarCodec(get_task(model.config.task).grammar)
        grammar_ok = [grammar_valid(grammar, s) for s in strings]
    task = get_task(model.config.task)
    molecules = task.molecules
    why = [task.invalidity(s) for s in strings] if molecules else [None] * n  # RDKit once per string
    valid = [s for s, ok, r in zip(strings, grammar_ok, why) if ok and r is None]
    reasons = dict(Counter(r for r in why if r is not None)) if molecules else {"unfinished": n - sum(grammar_ok)}
    ref = _canonical_set(model.codec, reference) if reference is not None else None
    summary = {
        "n": n,
        "valid_fraction": len(valid) / n,
        "grammar_valid_fraction": sum(grammar_ok) / n,
        "unique_fraction": len(set(valid)) / len(valid) if valid else 0.0,
        "novel_fraction": (sum(v not in ref for v in valid) / len(valid) if valid else 0.0) if ref is not None else None,
        "invalid_reasons": reasons,
        "decode_status": dict(Counter(status)),
        "seed": seed,
        "source": "expost_gmm" if expost else "prior",
    }
    return summary, strings
