"""Character codec for the character-VAE baseline (CVAE): one id per character. Codecs
over other symbols (:mod:`latentbo.codecs.tokens`) change how a string splits."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

import numpy as np
import torch

from latentbo.codecs.base import Codec, register_codec
from latentbo.codecs.cfg import Grammar
from latentbo.codecs.tokenizers import Tokenizer
from latentbo.errors import ConfigError, InvalidInputError

PAD = ""  # the padding id (0) decodes to nothing


@cache
def grammar_tokenizer(grammar: str) -> Tokenizer:
    """The tokenizer of a bundled (or ``grammars/``) grammar, by name."""
    return Grammar(grammar).tokenizer


def _squeeze(text: str) -> str:
    return "".join(text.split())


@register_codec
class CharacterCodec(Codec):
    """Strings as fixed-length sequences of character ids, id 0 = padding.

    Args:
        alphabet: the characters, in id order starting at 1.
        max_length: longest string accepted.
        grammar: the grammar whose language the strings are, where its tokenizer
            ignores whitespace (the expressions): whitespace is then dropped before
            encoding, as the Grammar VAE's character model spells ``sin( x ) + 1`` as
            ``sin(x)+1`` (19 characters at most, not 31), and decodes are written back
            in the grammar's spelling. ``None``: every character is a symbol.
    """

    kind = "character"
    #: what one id stands for, in messages
    unit = "character"
    #: what joins the symbols of a decoded string
    sep = ""

    def __init__(self, alphabet: Sequence[str], max_length: int, grammar: str | None = None) -> None:
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
        self.grammar = grammar
        self._tokenizer = grammar_tokenizer(grammar) if grammar is not None else None
        if self._tokenizer is not None and not self._tokenizer.ignores_whitespace:
            raise ConfigError(f"grammar {grammar!r} does not ignore whitespace: a {self.kind} codec keeps its spaces")

    @staticmethod
    def split(text: str) -> list[str]:
        """The symbols of a string, in order."""
        return list(text)

    @staticmethod
    def valid_symbol(symbol: str) -> bool:
        return len(symbol) == 1

    @classmethod
    def fit(cls, texts: Sequence[str], max_length: int | None = None, grammar: str | None = None) -> CharacterCodec:
        """Alphabet from ``texts`` (without whitespace where ``grammar`` is given);
        ``max_length`` defaults to the longest string."""
        if not texts:
            raise ConfigError(f"cannot fit a {cls.kind} codec on no strings")
        symbols = [cls.split(_squeeze(t) if grammar is not None else t) for t in texts]
        return cls(sorted({c for row in symbols for c in row}), max_length or max(map(len, symbols)), grammar)

    @classmethod
    def for_training(cls, grammar: str, strings: Sequence[str], max_length: int | None) -> CharacterCodec:
        """Fitted on ``strings``, spelt without whitespace where ``grammar`` ignores it."""
        return cls.fit(strings, max_length, grammar if grammar_tokenizer(grammar).ignores_whitespace else None)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> CharacterCodec:
        return cls(cls.split(spec["alphabet"]), int(spec["max_length"]), spec.get("grammar"))

    def canonical(self, text: str) -> str:
        """``text`` as decoding its encoding writes it (with a grammar: its tokenizer's
        spelling, raising :class:`InvalidInputError` on a token the grammar lacks)."""
        return self._tokenizer.canonical(text) if self._tokenizer is not None else text

    def _respell(self, text: str | None) -> str | None:
        """A decode in the grammar's spelling; one the grammar cannot tokenize stays as decoded."""
        if text is None or self._tokenizer is None:
            return text
        try:
            return self._tokenizer.canonical(text)
        except InvalidInputError:
            return text

    def encode_one(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InvalidInputError(repr(text), "not_a_string", f"expected a string, got {type(text).__name__}")
        symbols = self.split(_squeeze(text) if self._tokenizer is not None else text)
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
        return [self._respell(self.sep.join(c for c in row if c) or None) for row in rows]

    def spec(self) -> dict[str, Any]:
        spec = {"kind": self.kind, "alphabet": self.sep.join(self.alphabet), "max_length": self.max_length}
        return spec if self.grammar is None else {**spec, "grammar": self.grammar}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab={self.vocab_size}, max_length={self.max_length})"
