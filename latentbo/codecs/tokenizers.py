"""Tokenizers: text -> list of grammar terminals, and back.

Each tokenizer is built from a grammar's terminal set and registered by name in
:data:`TOKENIZERS`; a grammar file names the one it uses in its header.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from latentbo.errors import InvalidInputError


def _longest_match(terminals: Sequence[str]) -> re.Pattern[str]:
    alternatives = sorted(terminals, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in alternatives))


class Tokenizer:
    """Base: ``tokenize`` splits, ``join`` writes tokens back in canonical form."""

    separator = ""
    #: whitespace only separates tokens (so a string without it means the same)
    ignores_whitespace = False

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def join(self, tokens: Sequence[str]) -> str:
        return self.separator.join(tokens)

    def canonical(self, text: str) -> str:
        """The canonical spelling of ``text`` (what decoding its encoding gives)."""
        return self.join(self.tokenize(text))


class TerminalTokenizer(Tokenizer):
    """Longest match over the grammar's terminals, whitespace ignored; tokens are
    written back separated by one space (the Grammar-VAE expression format)."""

    separator = " "
    ignores_whitespace = True

    def __init__(self, terminals: Sequence[str]) -> None:
        self._pattern = _longest_match([t for t in terminals if t.strip()])

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        pos, n = 0, len(text)
        while pos < n:
            if text[pos].isspace():
                pos += 1
                continue
            m = self._pattern.match(text, pos)
            if m is None:
                bad = re.match(r"\S+?(?=\s|$)|\S", text[pos:]).group(0)[:16]
                raise InvalidInputError(
                    text, "unknown_token", f"unknown token {bad!r} at character {pos}", token=bad, position=len(tokens)
                )
            tokens.append(m.group(0))
            pos = m.end()
        return tokens


class SmilesTokenizer(Tokenizer):
    """SMILES lexemes (bracket atoms, two-letter halogens, ``%nn`` ring bonds, single
    characters); bracket atoms are further split into the grammar's terminals."""

    _LEXEME = re.compile(r"\[[^\[\]]*\]|%\d\d|Br|Cl|.", re.DOTALL)

    def __init__(self, terminals: Sequence[str]) -> None:
        self._terminals = frozenset(terminals)
        self._inner = _longest_match([t for t in terminals if t not in "[]"])

    def tokenize(self, text: str) -> list[str]:
        tokens: list[str] = []
        for lexeme in self._LEXEME.findall(text.strip()):
            if lexeme.startswith("[") and lexeme.endswith("]") and len(lexeme) > 1:
                tokens.append("[")
                inner, pos = lexeme[1:-1], 0
                while pos < len(inner):
                    m = self._inner.match(inner, pos)
                    if m is None:
                        raise InvalidInputError(
                            text,
                            "unknown_token",
                            f"bracket atom {lexeme!r}: {inner[pos:]!r} is not in the grammar",
                            token=lexeme,
                            position=len(tokens),
                        )
                    tokens.append(m.group(0))
                    pos = m.end()
                tokens.append("]")
            elif lexeme == "[":
                raise InvalidInputError(text, "unclosed_bracket", "'[' without a matching ']'", token="[")
            elif lexeme in self._terminals:
                tokens.append(lexeme)
            else:
                raise InvalidInputError(
                    text, "unknown_token", f"token {lexeme!r} is not in the grammar", token=lexeme, position=len(tokens)
                )
        return tokens


class CharacterTokenizer(Tokenizer):
    """Every character is a token (the character-VAE baseline)."""

    def tokenize(self, text: str) -> list[str]:
        return list(text)


TOKENIZERS: dict[str, Callable[[Sequence[str]], Tokenizer]] = {
    "terminals": TerminalTokenizer,
    "smiles": SmilesTokenizer,
}
