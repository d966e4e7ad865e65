"""SELFIES codec: molecules as sequences of SELFIES symbols, every decode a molecule.

SELFIES (Krenn et al. 2020) is a string grammar in which any sequence of symbols
derives a valid molecule, so a decoder cannot produce an invalid one. The alphabet
is built from the training data and saved with the model; strings go in and come
out as SMILES (decoded molecules in RDKit's canonical spelling, closed-shell: an
unpaired electron that a misplaced ``[C@@H1]`` leaves is made a hydrogen, and the
decode's status says so).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import selfies as sf
import torch

from latentbo.chem import canonical_smiles, closed_shell_smiles
from latentbo.codecs.base import CHUNK, PARALLEL_THRESHOLD, Codec, register_codec
from latentbo.errors import ConfigError, InvalidInputError

PAD = "[nop]"  # SELFIES' own no-operation symbol; id 0, and a decode ends at the first


@register_codec
class SelfiesCodec(Codec):
    """SMILES <-> fixed-length sequences of SELFIES symbol ids (0 = padding).

    Args:
        alphabet: the SELFIES symbols, in id order starting at 1.
        max_length: most symbols in a sequence.
    """

    kind = "selfies"
    molecules_only = True

    def __init__(self, alphabet: Sequence[str], max_length: int) -> None:
        symbols = list(alphabet)
        if len(set(symbols)) != len(symbols) or PAD in symbols:
            raise ConfigError(f"SELFIES alphabet must be distinct symbols without {PAD}")
        bad = [s for s in symbols if not (s.startswith("[") and s.endswith("]"))]
        if bad:
            raise ConfigError(f"not SELFIES symbols: {bad[:5]}")
        if max_length < 1:
            raise ConfigError(f"max_length must be positive, got {max_length}")
        self.alphabet = symbols
        self._ids = {s: i + 1 for i, s in enumerate(symbols)}
        self._symbols = np.array(["", *symbols], dtype=object)  # padding spells nothing
        self.max_length = max_length
        self.vocab_size = len(symbols) + 1
        self.pad_index = 0

    @classmethod
    def fit(cls, smiles: Sequence[str], max_length: int | None = None, workers: int | None = None) -> SelfiesCodec:
        """Alphabet (and, by default, ``max_length``) from the molecules that SELFIES
        can encode; the others are left for :meth:`encode_many` to report. Large inputs
        are read on ``workers`` processes (default all cores), as :meth:`encode_many` does."""
        chunks = [smiles[i : i + CHUNK] for i in range(0, len(smiles), CHUNK)]
        workers = workers or (os.cpu_count() or 1)
        if workers > 1 and len(smiles) >= PARALLEL_THRESHOLD:
            with ProcessPoolExecutor(workers) as pool:
                parts = list(pool.map(_symbols, chunks))
        else:
            parts = [_symbols(c) for c in chunks]
        alphabet = set().union(*(a for a, _ in parts)) - {PAD}
        longest = max((n for _, n in parts), default=0)
        if not longest:
            raise ConfigError("cannot fit a SELFIES codec: no molecule could be encoded")
        return cls(sorted(alphabet), max_length or longest)

    def extended(self, smiles: Sequence[str]) -> SelfiesCodec:
        """This codec with the symbols of ``smiles`` that its alphabet lacks appended
        (sorted; the old ids unchanged) and the same ``max_length``."""
        new = set(type(self).fit(smiles, self.max_length).alphabet) - set(self.alphabet)
        return type(self)([*self.alphabet, *sorted(new)], self.max_length)

    def canonical(self, text: str) -> str:
        """RDKit's canonical SMILES of ``text`` (what decoding its encoding returns)."""
        if not text.strip():
            raise InvalidInputError(text, "empty", "empty input")
        out = canonical_smiles(text)
        if not out:
            raise InvalidInputError(text, "syntax", "RDKit cannot parse this SMILES")
        return out

    def encode_one(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InvalidInputError(repr(text), "not_a_string", f"expected a string, got {type(text).__name__}")
        # Every spelling of a molecule gets the same symbols: SELFIES of RDKit's canonical SMILES.
        canonical = self.canonical(text)
        try:
            symbols = list(sf.split_selfies(sf.encoder(canonical, strict=True)))
        except sf.EncoderError as exc:
            raise InvalidInputError(text, "syntax", f"SELFIES cannot encode it: {str(exc).splitlines()[0]}") from None
        if "." in symbols:
            raise InvalidInputError(text, "fragments", "disconnected fragments ('.') are not supported")
        if len(symbols) > self.max_length:
            raise InvalidInputError(text, "too_long",
                                    f"{len(symbols)} SELFIES symbols, more than max_length={self.max_length}")
        try:
            return [self._ids[s] for s in symbols]
        except KeyError as exc:
            sym = exc.args[0]
            raise InvalidInputError(text, "unknown_token", f"SELFIES symbol {sym} is not in the alphabet",
                                    token=sym, position=symbols.index(sym)) from None

    def decode(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> list[str | None]:
        """Argmax (or sampled) symbol per position up to the first padding id, then
        SELFIES -> SMILES (canonical, closed-shell). An empty sequence is ``None``."""
        return self.decode_with_status(logits, stochastic, generator)[0]

    def decode_with_status(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[list[str | None], list[str]]:
        """:meth:`decode` and how: ``ok``, ``unfinished`` (no atom), or ``saturated``: the
        molecule SELFIES derived had unpaired electrons, each made a hydrogen
        (:func:`~latentbo.chem.closed_shell_smiles`)."""
        out: list[str | None] = []
        status: list[str] = []
        for row in self._symbols[self.token_ids(logits, stochastic, generator)]:
            text = "".join(row)
            smiles, saturated = closed_shell_smiles(sf.decoder(text) if text else None)
            out.append(smiles or None)  # symbols that derive no atom decode to nothing
            status.append("unfinished" if not smiles else "saturated" if saturated else "ok")
        return out, status

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "alphabet": self.alphabet, "max_length": self.max_length}

    def __repr__(self) -> str:
        return f"SelfiesCodec(vocab={self.vocab_size}, max_length={self.max_length})"


def _symbols(smiles: Sequence[str]) -> tuple[set[str], int]:
    """The SELFIES symbols of the molecules SELFIES can encode, and the most symbols
    in one of them (0 when none could be encoded)."""
    encoded = []
    for s in smiles:
        canonical = canonical_smiles(s) if isinstance(s, str) and s.strip() else None
        try:
            encoded.append(sf.encoder(canonical, strict=True))
        except (sf.EncoderError, TypeError):
            continue
    if not encoded:
        return set(), 0
    return sf.get_alphabet_from_selfies(encoded), max(sf.len_selfies(e) for e in encoded)
