"""The codec interface: strings <-> integer sequences <-> one-hot tensors.

A codec fixes a vocabulary (grammar productions or characters) and a maximum
length ``L``. Encoding gives ``N x L`` integer tensors, ``one_hot`` turns them into
``N x L x V`` floats for the encoder, and ``decode`` turns ``N x L x V`` logits back
into strings, ``None`` marking an explicitly invalid decode.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from latentbo.errors import ConfigError, InvalidInputError

# Below this many strings a process pool costs more than it saves; a task reads CHUNK of them.
PARALLEL_THRESHOLD = 20_000
CHUNK = 2_000


@dataclass(frozen=True)
class Failure:
    """One string that could not be encoded: its position in the input, the text,
    a short reason code and a human-readable detail."""

    index: int
    text: str
    reason: str
    detail: str


@dataclass
class EncodedBatch:
    """Result of encoding many strings, skipping (and reporting) bad ones.

    Attributes:
        indices: ``M x L`` int16 array of token/production ids for the kept strings.
        kept: ``M`` int array, position of each kept string in the input.
        failures: one :class:`Failure` per skipped string, in input order.
        n_input: number of strings given.
    """

    indices: np.ndarray
    kept: np.ndarray
    failures: list[Failure] = field(default_factory=list)
    n_input: int = 0

    def failure_counts(self) -> dict[str, int]:
        return dict(Counter(f.reason for f in self.failures))

    def report(self, max_examples: int = 5, line_numbers: Sequence[int] | None = None) -> str:
        """One-paragraph account of what was skipped and why.

        Args:
            max_examples: skips quoted.
            line_numbers: the file line of each input string, to name skips by line
                (blank lines were not inputs); otherwise by their position among the inputs.
        """
        if not self.failures:
            return f"encoded all {self.n_input} strings"
        where = (lambda i: f"line {line_numbers[i]}") if line_numbers is not None else (lambda i: f"string #{i + 1}")
        examples = "; ".join(f"{where(f.index)}: {f.detail}" for f in self.failures[:max_examples])
        return (
            f"encoded {len(self.kept)} of {self.n_input} strings, skipped {len(self.failures)} "
            f"{self.failure_counts()} e.g. {examples}"
        )


#: Codec classes by ``kind`` (the name configs and checkpoints use), filled by
#: :func:`register_codec`; ``latentbo.codecs`` imports every module of the package.
CODECS: dict[str, type[Codec]] = {}


def register_codec(cls: type[Codec]) -> type[Codec]:
    """Class decorator: make a codec available by its ``kind`` to configs
    (``ModelConfig.codec``), training and checkpoints."""
    if cls.kind in CODECS:
        raise ConfigError(f"codec kind {cls.kind!r} is registered twice")
    CODECS[cls.kind] = cls
    return cls


class Codec(ABC):
    """Strings <-> tensors. Subclasses define the vocabulary and the decoding rule,
    and register with :func:`register_codec`."""

    #: registry key of the codec type, stored in configs and checkpoints
    kind: str
    #: only for tasks whose strings are molecules (SELFIES)
    molecules_only: bool = False
    max_length: int
    vocab_size: int
    pad_index: int
    #: decode with semantic masks (only codecs that have them: see GrammarCodec)
    semantic: bool = False
    #: :meth:`target_mask` allows only padding after a sequence's end (its loss there is 0)
    forced_padding: bool = False

    def set_semantic(self, on: bool | None) -> None:
        """Switch semantic masks on or off (``None``: leave as is).

        Raises:
            ConfigError: masks asked of a codec that has none.
        """
        if on:
            raise ConfigError(f"the {self.kind} codec has no semantic masks")

    @abstractmethod
    def encode_one(self, text: str) -> list[int]:
        """Ids of one string (unpadded).

        Raises:
            InvalidInputError: the string cannot be represented.
        """

    @abstractmethod
    def decode(self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None) -> list[str | None]:
        """Decode ``N x L x V`` logits to ``N`` strings (``None`` = invalid)."""

    def decode_with_status(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> tuple[list[str | None], list[str]]:
        """:meth:`decode`, plus how each row was decoded: ``ok`` or ``unfinished``
        (``None``); codecs with repair passes add their own (see GrammarCodec)."""
        strings = self.decode(logits, stochastic, generator)
        return strings, ["ok" if s is not None else "unfinished" for s in strings]

    def decode_steps(
        self, start: Any, n: int, stochastic: bool = False, generator: torch.Generator | None = None,
        semantic: bool | None = None,
    ) -> tuple[list[str | None], list[str]]:
        """Decode an autoregressive model one step at a time: each row's argmax (or
        Gumbel-max sample) is fed back as its next input, and a row stops at its first
        padding id. ``start`` and the result are as in
        :meth:`GrammarCodec.decode_steps <latentbo.codecs.GrammarCodec.decode_steps>`."""
        self.set_semantic(semantic)  # refuses masks this codec does not have
        step = start(np.arange(n))
        ids = np.full((n, self.max_length), self.pad_index, dtype=np.int64)
        active, keep, prev = np.arange(n), None, None
        for t in range(self.max_length):
            x = step(keep, prev).detach().to("cpu", torch.float64)
            if stochastic:
                u = torch.rand(x.shape, generator=generator, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
                x = x - torch.log(-torch.log(u))
            pick = x.argmax(1).numpy()
            ids[active, t] = pick
            live = pick != self.pad_index
            if not live.any():
                break
            keep = None if live.all() else np.flatnonzero(live)
            active, prev = active[live], torch.from_numpy(pick[live])
        return self.decode_with_status(self.one_hot(torch.from_numpy(ids)))

    @abstractmethod
    def canonical(self, text: str) -> str:
        """The spelling ``decode(one_hot(encode(text)))`` returns for a valid ``text``."""

    @abstractmethod
    def spec(self) -> dict[str, Any]:
        """JSON/TOML-serialisable description from which :meth:`from_spec` rebuilds it."""

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Codec:
        """Rebuild a codec from :meth:`spec` (fitted codecs: their alphabet and length).

        Raises:
            KeyError: the spec lacks a field (checkpoints report it as a ``CheckpointError``).
            ConfigError: the alphabet or length is not valid.
        """
        return cls(spec["alphabet"], int(spec["max_length"]))  # type: ignore[call-arg]

    @classmethod
    def for_training(cls, grammar: str, strings: Sequence[str], max_length: int | None) -> Codec:
        """The codec a new model trains with: by default fitted on its training strings
        (``max_length`` ``None``: the longest); the grammar codec takes the task's
        ``grammar`` instead."""
        return cls.fit(strings, max_length)  # type: ignore[attr-defined]

    def target_mask(self, indices: torch.Tensor) -> torch.Tensor:
        """``N x L x V`` bool: which ids the loss may choose from at each position
        (all of them unless the codec constrains decoding)."""
        return torch.ones((*indices.shape, self.vocab_size), dtype=torch.bool, device=indices.device)

    def token_ids(self, logits: torch.Tensor, stochastic: bool = False,
                  generator: torch.Generator | None = None) -> np.ndarray:
        """``N x L`` ids for token codecs (character, SELFIES): the argmax, or a
        Gumbel-max sample, per position; everything after the first padding id is
        padding.

        Raises:
            ConfigError: ``logits`` is not ``N x L x vocab_size``.
        """
        if logits.ndim != 3 or logits.shape[2] != self.vocab_size:
            raise ConfigError(f"logits must be N x L x {self.vocab_size}, got {tuple(logits.shape)}")
        x = logits.detach().to("cpu", torch.float64)
        if stochastic:
            u = torch.rand(x.shape, generator=generator, dtype=torch.float64).clamp_(1e-12, 1 - 1e-12)
            x = x - torch.log(-torch.log(u))
        ids = x.argmax(dim=2).numpy()
        ended = np.cumsum(ids == self.pad_index, axis=1) > 0
        return np.where(ended, self.pad_index, ids)

    def pad(self, ids: Sequence[int]) -> np.ndarray:
        out = np.full(self.max_length, self.pad_index, dtype=np.int16)
        out[: len(ids)] = ids
        return out

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """``N x L`` long tensor for strings that must all be valid.

        Raises:
            InvalidInputError: at the first string that cannot be encoded.
        """
        if not texts:
            return torch.empty((0, self.max_length), dtype=torch.long)
        return torch.from_numpy(np.stack([self.pad(self.encode_one(t)) for t in texts]).astype(np.int64))

    def one_hot(self, indices: torch.Tensor) -> torch.Tensor:
        """``N x L`` ids -> ``N x L x V`` float one-hot."""
        return torch.nn.functional.one_hot(indices.long(), self.vocab_size).float()

    def encode_many(self, texts: Sequence[str], workers: int | None = None, progress: bool = False) -> EncodedBatch:
        """Encode a list, skipping bad strings and recording each skip.

        Args:
            texts: input strings (e.g. the lines of a dataset file).
            workers: processes to use; default all cores for large inputs.
            progress: show a tqdm progress bar.

        Returns:
            An :class:`EncodedBatch`; ``failures`` lists every skipped string.
        """
        n = len(texts)
        workers = workers or (os.cpu_count() or 1)
        chunks = [(i, texts[i : i + CHUNK]) for i in range(0, n, CHUNK)]
        bar = tqdm(total=n, disable=not progress, unit="str", desc="encoding")
        results = []
        if workers > 1 and n >= PARALLEL_THRESHOLD:
            with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(self,)) as pool:
                for res in pool.map(_encode_chunk_in_worker, chunks):
                    results.append(res)
                    bar.update(len(res[1]) + len(res[2]))
        else:
            for chunk in chunks:
                results.append(_encode_chunk(self, chunk))
                bar.update(len(chunk[1]))
        bar.close()
        rows = [r for res in results for r in res[0]]
        kept = [k for res in results for k in res[1]]
        failures = [f for res in results for f in res[2]]
        indices = np.stack(rows) if rows else np.empty((0, self.max_length), dtype=np.int16)
        return EncodedBatch(indices, np.asarray(kept, dtype=np.int64), failures, n)


def _encode_chunk(codec: Codec, chunk: tuple[int, Sequence[str]]) -> tuple[list[np.ndarray], list[int], list[Failure]]:
    start, texts = chunk
    rows, kept, failures = [], [], []
    for i, text in enumerate(texts, start):
        try:
            rows.append(codec.pad(codec.encode_one(text)))
            kept.append(i)
        except InvalidInputError as exc:
            failures.append(Failure(i, text, exc.reason, exc.detail))
    return rows, kept, failures


_worker_codec: Codec | None = None


def _init_worker(codec: Codec) -> None:
    # The codec is sent once per worker process, not once per chunk.
    global _worker_codec
    _worker_codec = codec


def _encode_chunk_in_worker(chunk: tuple[int, Sequence[str]]) -> tuple[list[np.ndarray], list[int], list[Failure]]:
    assert _worker_codec is not None
    return _encode_chunk(_worker_codec, chunk)
