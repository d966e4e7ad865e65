"""Context-free grammars loaded from ``.cfg`` files: bundled with the package
(``latentbo/grammars/``), added by a user to a checkout's ``grammars/``, or any path.

A grammar file is nltk CFG text. Header lines of the form ``#: key = value`` carry
what the codec needs beyond the productions (nltk skips them as comments):

* ``max_length``: maximum number of productions in a derivation (tensor length).
* ``padding``: the nonterminal whose single production pads finished derivations
  (written ``Nothing -> None`` as in the Grammar VAE); its right-hand side is
  treated as empty.
* ``tokenizer``: name of a tokenizer in :data:`latentbo.codecs.tokenizers.TOKENIZERS`.

Adding a grammar means adding a file; nothing grammar-specific lives in Python.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from latentbo.codecs.tokenizers import TOKENIZERS, Tokenizer
from latentbo.errors import ConfigError, GrammarError
from latentbo.io import atomic_write_text, cache_dir

BUNDLED = importlib.resources.files("latentbo") / "grammars"  # package data: works from a wheel
GRAMMAR_DIR = Path(__file__).resolve().parents[2] / "grammars"  # a source checkout's own grammars
_HEADER = re.compile(r"^#:\s*(\w+)\s*=\s*(.+?)\s*$")


@dataclass(frozen=True)
class Production:
    """One production ``lhs -> rhs`` with terminals as ``str`` and nonterminals
    as ``Symbol`` names kept apart by ``is_terminal``."""

    index: int
    lhs: str
    rhs: tuple[str, ...]
    is_terminal: tuple[bool, ...]

    def __str__(self) -> str:
        parts = (repr(s) if t else s for s, t in zip(self.rhs, self.is_terminal))
        return f"{self.lhs} -> {' '.join(parts)}"


def _locate(name: str | Path) -> Path:
    """A path (with a suffix or a folder) as given; a bare name: the bundled grammar of that
    name, else the checkout's ``grammars/`` (never a folder of that name in the
    working directory).

    Raises:
        GrammarError: no such grammar.
    """
    path = Path(name)
    if path.suffix or len(path.parts) > 1:  # a path, not a bare name
        if path.is_file():
            return path
        raise GrammarError(f"grammar file {path} not found")
    for folder in (BUNDLED, GRAMMAR_DIR):
        candidate = folder / f"{name}.cfg"
        if candidate.is_file():
            return Path(str(candidate))
    available = sorted({p.name[:-4] for folder in (BUNDLED, GRAMMAR_DIR) if folder.is_dir()
                        for p in folder.iterdir() if p.name.endswith(".cfg")})
    raise GrammarError(f"grammar {name!r} not found; available: {available} (or give a path to a .cfg file)")


Parsed = tuple[str, list[tuple[str, tuple[str, ...], tuple[bool, ...]]]]


def _parse(text: str, path: Path) -> Parsed:
    """The start symbol and the productions ``(lhs, rhs, is_terminal)`` of a grammar's
    text, as nltk parses it. Cached by the text's SHA-256 with a checksum of the result
    (importing nltk takes 2-3 s of a command's start, reading the entry milliseconds);
    an entry that is unreadable or fails its checksum is parsed again.

    Raises:
        GrammarError: nltk rejects the text.
    """
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    entry = cache_dir() / "grammars" / f"{key[:24]}.json"
    try:
        stored = json.loads(entry.read_text(encoding="utf-8"))
        body = json.dumps(stored["parsed"])
        if stored["text_sha256"] == key and stored["parsed_sha256"] == hashlib.sha256(body.encode()).hexdigest():
            start, rows = stored["parsed"]
            return start, [(lhs, tuple(rhs), tuple(term)) for lhs, rhs, term in rows]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import nltk  # only on a cache miss: see above

    try:
        cfg = nltk.CFG.fromstring(text)
    except ValueError as exc:
        raise GrammarError(f"{path}: not a valid nltk CFG: {exc}") from exc
    rows = []
    for p in cfg.productions():
        term = tuple(isinstance(s, str) for s in p.rhs())
        rows.append((str(p.lhs()), tuple(s if t else str(s) for s, t in zip(p.rhs(), term)), term))
    parsed = [str(cfg.start()), [[lhs, list(rhs), list(term)] for lhs, rhs, term in rows]]
    checksum = hashlib.sha256(json.dumps(parsed).encode()).hexdigest()
    try:
        atomic_write_text(entry, json.dumps({"text_sha256": key, "parsed_sha256": checksum, "parsed": parsed}))
    except OSError:  # a read-only cache only costs the next start the parse
        pass
    return str(cfg.start()), rows


class Grammar:
    """A CFG with the tables grammar-constrained encoding and decoding need.

    Args:
        path: Path to a grammar file, or the bare name of a bundled grammar
            (``"expressions"``, ``"zinc_smiles"``) or of one in a checkout's ``grammars/``.
    """

    def __init__(self, path: str | Path) -> None:
        path = _locate(path)
        self.path = path
        self.text = path.read_text(encoding="utf-8")
        self.name = path.stem
        header = {m.group(1): m.group(2) for m in map(_HEADER.match, self.text.splitlines()) if m}
        missing = {"max_length", "padding", "tokenizer"} - header.keys()
        if missing:
            raise GrammarError(f"{path}: header lacks {sorted(missing)} (lines like '#: max_length = 15')")
        try:
            self.max_length = int(header["max_length"])
        except ValueError as exc:
            raise GrammarError(f"{path}: max_length must be an integer") from exc
        self.padding_symbol = header["padding"]
        self.tokenizer_name = header["tokenizer"]
        self.start, rows = _parse(self.text, path)
        self.productions = [Production(i, lhs, rhs, term) for i, (lhs, rhs, term) in enumerate(rows)]
        pads = [p.index for p in self.productions if p.lhs == self.padding_symbol]
        if len(pads) != 1:
            raise GrammarError(f"{path}: padding nonterminal {self.padding_symbol!r} must have exactly one production")
        self.padding_rule = pads[0]
        # Nonterminals in order of first appearance as a left-hand side, then any
        # that are used but never defined (the ZINC grammar's ``class``). The padding
        # nonterminal is what an empty stack "pops".
        used = (s for p in self.productions for s, t in zip(p.rhs, p.is_terminal) if not t)
        self.nonterminals = list(dict.fromkeys([*(p.lhs for p in self.productions), *used]))
        self.terminals = sorted({s for p in self.productions for s, t in zip(p.rhs, p.is_terminal) if t})

    @property
    def n_rules(self) -> int:
        return len(self.productions)

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the grammar file (first 16 hex digits): identifies the grammar
        in caches and checkpoints."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:16]

    @cached_property
    def tokenizer(self) -> Tokenizer:
        """The tokenizer the header names, over this grammar's terminals."""
        if self.tokenizer_name not in TOKENIZERS:
            raise ConfigError(f"{self.path}: unknown tokenizer {self.tokenizer_name!r}; known: {sorted(TOKENIZERS)}")
        return TOKENIZERS[self.tokenizer_name](self.terminals)

    @cached_property
    def nt_index(self) -> dict[str, int]:
        return {nt: i for i, nt in enumerate(self.nonterminals)}

    @cached_property
    def productive(self) -> np.ndarray:
        """``n_rules`` bool: productions that can finish a derivation. A production
        naming a nonterminal that derives no terminal string (e.g. one never defined)
        cannot, so the masks leave it out and decoding never dead-ends on it."""
        done: set[str] = set()
        changed = True
        while changed:
            changed = False
            for p in self.productions:
                if p.lhs not in done and all(t or s in done for s, t in zip(p.rhs, p.is_terminal)):
                    done.add(p.lhs)
                    changed = True
        return np.array([all(t or s in done for s, t in zip(p.rhs, p.is_terminal)) for p in self.productions])

    @cached_property
    def min_steps(self) -> np.ndarray:
        """``n_nonterminals`` float: the fewest productions that derive a terminal
        string from each nonterminal (``inf`` where none can; the padding rule counts
        as one step with an empty right-hand side)."""
        steps = dict.fromkeys(self.nonterminals, np.inf)
        changed = True
        while changed:
            changed = False
            for p in self.productions:
                pending = () if p.index == self.padding_rule else p.rhs
                cost = 1 + sum(steps[s] for s, t in zip(pending, p.is_terminal) if not t)
                if cost < steps[p.lhs]:
                    steps[p.lhs], changed = cost, True
        return np.array([steps[nt] for nt in self.nonterminals])

    @cached_property
    def masks(self) -> np.ndarray:
        """``n_nonterminals x n_rules`` boolean: which productive productions expand
        each nonterminal (the padding nonterminal's row allows only padding)."""
        m = np.zeros((len(self.nonterminals), self.n_rules), dtype=bool)
        for p in self.productions:
            m[self.nt_index[p.lhs], p.index] = self.productive[p.index] or p.index == self.padding_rule
        return m

    @cached_property
    def rule_lhs(self) -> np.ndarray:
        """``n_rules`` int: nonterminal index of each production's left-hand side."""
        return np.array([self.nt_index[p.lhs] for p in self.productions], dtype=np.int64)

    @cached_property
    def _steps(self) -> dict[str, float]:
        return dict(zip(self.nonterminals, self.min_steps.tolist()))

    @cached_property
    def _expansions(self) -> dict[str, list[tuple[int, float, list[str]]]]:
        """Per nonterminal: its productive productions (padding aside) as ``(index,
        fewest productions that finish it, its right-hand nonterminals)``."""
        steps = self._steps
        out: dict[str, list[tuple[int, float, list[str]]]] = {}
        for p in self.productions:
            if p.index != self.padding_rule and self.productive[p.index]:
                rest = [s for s, t in zip(p.rhs, p.is_terminal) if not t]
                out.setdefault(p.lhs, []).append((p.index, 1 + sum(steps[s] for s in rest), rest))
        return out

    def random_derivation(self, symbol: str, budget: int, pick: Callable[[int], int]) -> list[int]:
        """A left-most derivation of ``symbol`` in at most ``budget`` productions (at
        least its :attr:`min_steps`): each step takes, by ``pick(k)`` (an index below
        ``k``), one of the productions of the nonterminal expanded that can still finish
        within the budget, in grammar order; no draw is wasted."""
        steps = self._steps
        out: list[int] = []
        stack = [symbol]
        while stack:
            top = stack.pop()
            left = budget - len(out) - sum(steps[s] for s in stack)
            fits = [c for c in self._expansions[top] if c[1] <= left]
            index, _, rest = fits[pick(len(fits))]
            out.append(index)
            stack.extend(reversed(rest))
        return out

    def subtree_end(self, rules: list[int], i: int) -> int:
        """The end (exclusive) of the subtree whose root production is ``rules[i]`` in
        a left-most derivation: where the nonterminals it opened are all expanded."""
        open_ = 1
        while open_:
            p = self.productions[rules[i]]
            open_ += sum(not t for t in p.is_terminal) - 1
            i += 1
        return i

    def __repr__(self) -> str:
        return f"Grammar({self.name!r}, rules={self.n_rules}, max_length={self.max_length})"
