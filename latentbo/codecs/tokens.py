"""Token codec: one id per whitespace-separated token (``sin( x ) + 1`` is four
tokens), alphabet fitted on the training strings. The smallest example of adding a
codec: this file and its test (``--codec tokens``)."""

from __future__ import annotations

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

    def canonical(self, text: str) -> str:
        return " ".join(text.split())
