"""Codecs: strings <-> tensors. Each codec class registers itself by kind
(:func:`register_codec`), so configs name it and checkpoints rebuild it."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from latentbo.codecs.base import CODECS, Codec, EncodedBatch, Failure, register_codec
from latentbo.codecs.cfg import Grammar
from latentbo.codecs.character import CharacterCodec
from latentbo.codecs.grammar import GrammarCodec
from latentbo.codecs.selfies import SelfiesCodec
from latentbo.codecs.tokens import TokenCodec
from latentbo.errors import CheckpointError

# Every module of the package is imported, so each codec class registers itself.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")


def codec_from_spec(spec: dict[str, Any]) -> Codec:
    """Rebuild a codec from :meth:`Codec.spec`, checking a grammar's fingerprint.

    Raises:
        CheckpointError: unknown kind, or the grammar file changed since the spec was made.
    """
    kind = spec.get("kind")
    if kind not in CODECS:
        raise CheckpointError(f"unknown codec kind {kind!r}; known: {sorted(CODECS)}")
    return CODECS[kind].from_spec(spec)


__all__ = ["CODECS", "CharacterCodec", "Codec", "EncodedBatch", "Failure", "Grammar", "GrammarCodec", "SelfiesCodec",
           "TokenCodec", "codec_from_spec", "register_codec"]
