"""Token codec: one id per whitespace-separated token (``sin( x ) + 1`` is four
tokens), alphabet fitted on the training strings. The smallest example of adding a
codec: this file and its test (``--codec tokens``)."""

from __future__ import annotations

from collections.abc import Sequence

from latentbo.codecs.base import register_codec
from latentbo.codecs.character import CharacterCodec


@register_codec
class TokenCodec(CharacterCodec):
    """Strings as sequences of whitespace-separated token ids, id 0 = padding; decoded
    strings join their tokens with one space."""

    kind = "tokens"
    unit = "token"
    sep = " "

    @staticmethod
    def split(text: str) -> list[str]:
        return text.split()

    @staticmethod
    def valid_symbol(symbol: str) -> bool:
        return bool(symbol) and not any(c.isspace() for c in symbol)

    @classmethod
    def for_training(cls, grammar: str, strings: Sequence[str], max_length: int | None) -> TokenCodec:
        """Fitted on ``strings``: its symbols are the words whitespace separates."""
        return cls.fit(strings, max_length)

    def canonical(self, text: str) -> str:
        return " ".join(text.split())
