"""Codecs: strings <-> tensors. Registered by kind so checkpoints can rebuild them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from latentbo.codecs.base import Codec, EncodedBatch, Failure
from latentbo.codecs.character import CharacterCodec
from latentbo.codecs.cfg import Grammar
from latentbo.codecs.grammar import GrammarCodec
from latentbo.codecs.selfies import SelfiesCodec
from latentbo.errors import CheckpointError

CODECS: dict[str, Callable[[dict[str, Any]], Codec]] = {
    # Checkpoints from before the semantic masks have no "semantic": the grammar's default.
    "grammar": lambda spec: GrammarCodec(spec["grammar"], spec.get("semantic")),
    "character": lambda spec: CharacterCodec(list(spec["alphabet"]), int(spec["max_length"])),
    "selfies": lambda spec: SelfiesCodec(list(spec["alphabet"]), int(spec["max_length"])),
}


def codec_from_spec(spec: dict[str, Any]) -> Codec:
    """Rebuild a codec from :meth:`Codec.spec`, checking a grammar's fingerprint.

    Raises:
        CheckpointError: unknown kind, or the grammar file changed since the spec was made.
    """
    kind = spec.get("kind")
    if kind not in CODECS:
        raise CheckpointError(f"unknown codec kind {kind!r}; known: {sorted(CODECS)}")
    codec = CODECS[kind](spec)
    if isinstance(codec, GrammarCodec) and spec.get("fingerprint") != codec.grammar.fingerprint:
        raise CheckpointError(
            f"grammar {spec['grammar']!r} has fingerprint {codec.grammar.fingerprint}, but this was made with "
            f"{spec.get('fingerprint')}: the grammar file changed, so production ids no longer match"
        )
    return codec


__all__ = ["CODECS", "CharacterCodec", "Codec", "EncodedBatch", "Failure", "Grammar", "GrammarCodec", "SelfiesCodec",
           "codec_from_spec"]
