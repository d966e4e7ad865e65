"""Character codec for the character-VAE baseline (CVAE): one token per character."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from latentbo.codecs.base import Codec
from latentbo.errors import ConfigError, InvalidInputError

PAD = ""  # the padding id (0) decodes to nothing


class CharacterCodec(Codec):
    """Strings as fixed-length sequences of character ids, id 0 = padding.

    Args:
        alphabet: the characters, in id order starting at 1.
        max_length: longest string accepted.
    """

    kind = "character"

    def __init__(self, alphabet: Sequence[str], max_length: int) -> None:
        if len(set(alphabet)) != len(alphabet) or any(len(c) != 1 for c in alphabet):
            raise ConfigError("alphabet must be distinct single characters")
        if max_length < 1:
            raise ConfigError(f"max_length must be positive, got {max_length}")
        self.alphabet = list(alphabet)
        self._ids = {c: i + 1 for i, c in enumerate(self.alphabet)}
        self._chars = np.array([PAD, *self.alphabet], dtype=object)
        self.max_length = max_length
        self.vocab_size = len(self.alphabet) + 1
        self.pad_index = 0

    @classmethod
    def fit(cls, texts: Sequence[str], max_length: int | None = None) -> CharacterCodec:
        """Alphabet from ``texts``; ``max_length`` defaults to the longest string."""
        if not texts:
            raise ConfigError("cannot fit a character codec on no strings")
        return cls(sorted(set("".join(texts))), max_length or max(map(len, texts)))

    def canonical(self, text: str) -> str:
        return text

    def encode_one(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InvalidInputError(repr(text), "not_a_string", f"expected a string, got {type(text).__name__}")
        if not text:
            raise InvalidInputError(text, "empty", "empty input")
        if len(text) > self.max_length:
            raise InvalidInputError(text, "too_long", f"{len(text)} characters, more than max_length={self.max_length}")
        try:
            return [self._ids[c] for c in text]
        except KeyError as exc:
            ch = exc.args[0]
            raise InvalidInputError(
                text, "unknown_token", f"character {ch!r} is not in the alphabet", token=ch, position=text.index(ch)
            ) from None

    def decode(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> list[str | None]:
        """Argmax (or sampled) character per position; the string ends at the first
        padding id. Empty results are invalid (``None``)."""
        return ["".join(row) or None for row in self._chars[self.token_ids(logits, stochastic, generator)]]

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "alphabet": "".join(self.alphabet), "max_length": self.max_length}

    def __repr__(self) -> str:
        return f"CharacterCodec(vocab={self.vocab_size}, max_length={self.max_length})"
