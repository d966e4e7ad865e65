"""Character codec for the character-VAE baseline (CVAE): one id per character. Codecs
over other symbols (:mod:`latentbo.codecs.tokens`) change how a string splits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from latentbo.codecs.base import Codec, register_codec
from latentbo.errors import ConfigError, InvalidInputError

PAD = ""  # the padding id (0) decodes to nothing


@register_codec
class CharacterCodec(Codec):
    """Strings as fixed-length sequences of character ids, id 0 = padding.

    Args:
        alphabet: the characters, in id order starting at 1.
        max_length: longest string accepted.
    """

    kind = "character"
    #: what one id stands for, in messages
    unit = "character"
    #: what joins the symbols of a decoded string
    sep = ""

    def __init__(self, alphabet: Sequence[str], max_length: int) -> None:
        alphabet = list(alphabet)
        if len(set(alphabet)) != len(alphabet) or not all(self.valid_symbol(c) for c in alphabet):
            raise ConfigError(f"alphabet must be distinct {self.unit}s")
        if max_length < 1:
            raise ConfigError(f"max_length must be positive, got {max_length}")
        self.alphabet = alphabet
        self._ids = {c: i + 1 for i, c in enumerate(self.alphabet)}
        self._chars = np.array([PAD, *self.alphabet], dtype=object)
        self.max_length = max_length
        self.vocab_size = len(self.alphabet) + 1
        self.pad_index = 0

    @staticmethod
    def split(text: str) -> list[str]:
        """The symbols of a string, in order."""
        return list(text)

    @staticmethod
    def valid_symbol(symbol: str) -> bool:
        return len(symbol) == 1

    @classmethod
    def fit(cls, texts: Sequence[str], max_length: int | None = None) -> CharacterCodec:
        """Alphabet from ``texts``; ``max_length`` defaults to the longest string."""
        if not texts:
            raise ConfigError(f"cannot fit a {cls.kind} codec on no strings")
        symbols = [cls.split(t) for t in texts]
        return cls(sorted({c for row in symbols for c in row}), max_length or max(map(len, symbols)))

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> CharacterCodec:
        return cls(cls.split(spec["alphabet"]), int(spec["max_length"]))

    def canonical(self, text: str) -> str:
        return text

    def encode_one(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InvalidInputError(repr(text), "not_a_string", f"expected a string, got {type(text).__name__}")
        symbols = self.split(text)
        if not symbols:
            raise InvalidInputError(text, "empty", "empty input")
        if len(symbols) > self.max_length:
            raise InvalidInputError(text, "too_long",
                                    f"{len(symbols)} {self.unit}s, more than max_length={self.max_length}")
        try:
            return [self._ids[c] for c in symbols]
        except KeyError as exc:
            ch = exc.args[0]
            raise InvalidInputError(text, "unknown_token", f"{self.unit} {ch!r} is not in the alphabet", token=ch,
                                    position=symbols.index(ch)) from None

    def decode(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> list[str | None]:
        """Argmax (or sampled) symbol per position; the string ends at the first
        padding id. Empty results are invalid (``None``)."""
        rows = self._chars[self.token_ids(logits, stochastic, generator)]
        return [self.sep.join(c for c in row if c) or None for row in rows]

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "alphabet": self.sep.join(self.alphabet), "max_length": self.max_length}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab={self.vocab_size}, max_length={self.max_length})"
