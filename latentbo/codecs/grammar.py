"""Grammar codec: strings <-> left-most-derivation production sequences.

Decoding follows the Grammar VAE: a stack of symbols per sample; at each step the
top nonterminal restricts which productions the logits may choose (masked argmax,
or masked Gumbel-max sampling in stochastic mode). Unlike the reference, all N
samples advance together with array operations; only the time loop is in Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentbo.codecs.base import Codec
from latentbo.codecs.cfg import Grammar
from latentbo.codecs.parser import LRParser, ParseFailure
from latentbo.codecs.tokenizers import TOKENIZERS, Tokenizer
from latentbo.errors import ConfigError, InvalidInputError


class GrammarCodec(Codec):
    """Encode strings as production-index sequences of a context-free grammar.

    Args:
        grammar: A :class:`Grammar`, a path to a ``.cfg`` file or the name of a
            bundled grammar (``"expressions"``, ``"zinc_smiles"``).
    """

    kind = "grammar"

    def __init__(self, grammar: Grammar | str | Path) -> None:
        self.grammar = grammar if isinstance(grammar, Grammar) else Grammar(grammar)
        g = self.grammar
        if g.tokenizer_name not in TOKENIZERS:
            raise ConfigError(f"{g.path}: unknown tokenizer {g.tokenizer_name!r}; known: {sorted(TOKENIZERS)}")
        self.tokenizer: Tokenizer = TOKENIZERS[g.tokenizer_name](g.terminals)
        self.parser = LRParser(g)
        self.max_length = g.max_length
        self.vocab_size = g.n_rules
        self.pad_index = g.padding_rule
        # Decoding tables. Symbols share one id space: nonterminals 0..K-1 (the
        # grammar's order), terminals K..K+T-1.
        k = len(g.nonterminals)
        self._n_nonterminals = k
        self._terminal_strings = list(g.terminals)
        term_id = {t: k + i for i, t in enumerate(g.terminals)}
        # A production's leading terminals are emitted as soon as it is chosen; the
        # rest of its right-hand side is pushed reversed onto the stack.
        width = max(len(p.rhs) for p in g.productions)
        self._lead = np.zeros((g.n_rules, width), dtype=np.int64)
        self._lead_len = np.zeros(g.n_rules, dtype=np.int64)
        self._rhs_rev = np.zeros((g.n_rules, width), dtype=np.int64)
        self._rhs_len = np.zeros(g.n_rules, dtype=np.int64)
        for p in g.productions:
            if p.index == g.padding_rule:
                continue  # the padding rule expands to nothing
            ids = [term_id[s] if t else g.nt_index[s] for s, t in zip(p.rhs, p.is_terminal)]
            n_lead = next((i for i, t in enumerate(p.is_terminal) if not t), len(ids))
            self._lead[p.index, :n_lead] = ids[:n_lead]
            self._lead_len[p.index] = n_lead
            rest = ids[n_lead:][::-1]
            self._rhs_rev[p.index, : len(rest)] = rest
            self._rhs_len[p.index] = len(rest)
        self._is_terminal = np.arange(k + len(g.terminals)) >= k
        self._start = g.nt_index[g.start]
        self._pad_nt = g.nt_index[g.padding_symbol]
        self._masks = g.masks
        # Additive mask: forbidden productions can never win the argmax.
        self._penalty = np.where(g.masks, 0.0, -np.inf).astype(np.float32)
        self._masks_t = torch.from_numpy(g.masks)
        self._rule_lhs_t = torch.from_numpy(g.rule_lhs)

    # -- encoding ---------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def canonical(self, text: str) -> str:
        return self.tokenizer.canonical(text)

    def encode_one(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InvalidInputError(repr(text), "not_a_string", f"expected a string, got {type(text).__name__}")
        tokens = self.tokenizer.tokenize(text)
        if not tokens:
            raise InvalidInputError(text, "empty", "empty input")
        try:
            rules = self.parser.parse(tokens)
        except ParseFailure as exc:
            if exc.position >= len(tokens):
                detail = f"input ends early; expected one of {self._expected(exc)}"
                token = None
            else:
                token = tokens[exc.position]
                detail = f"unexpected token {token!r} at token {exc.position}; expected one of {self._expected(exc)}"
            raise InvalidInputError(text, "syntax", detail, token=token, position=exc.position) from None
        if len(rules) > self.max_length:
            raise InvalidInputError(
                text, "too_long", f"derivation has {len(rules)} productions, more than max_length={self.max_length}"
            )
        return rules

    def _expected(self, exc: ParseFailure) -> list[str]:
        names = {v: k for k, v in self.parser.terminal_names.items()}
        return sorted(names.get(e, "end of input") for e in exc.expected)

    def target_mask(self, indices: torch.Tensor) -> torch.Tensor:
        """``N x L x V`` bool: the productions of each true production's left-hand side
        (the Grammar VAE's masked loss)."""
        lhs = self._rule_lhs_t.to(indices.device)[indices.long()]
        return self._masks_t.to(indices.device)[lhs]

    # -- decoding ---------------------------------------------------------------
    def decode(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None
    ) -> list[str | None]:
        """Grammar-constrained decoding, vectorised over the batch.

        Args:
            logits: ``N x L x n_rules`` unnormalised scores (``L <= max_length``).
            stochastic: sample from the masked softmax (Gumbel-max) instead of argmax.
            generator: torch RNG for stochastic decoding (reproducibility).

        Returns:
            ``N`` strings in canonical spelling; ``None`` where the derivation was
            not finished within ``L`` steps.
        """
        scores = self._scores(logits, stochastic, generator)
        n, length, _ = scores.shape
        width = self._rhs_rev.shape[1]
        rows = np.arange(n)
        depth = 2 * width + length * width
        stack = np.zeros((n, depth), dtype=np.int64)
        stack[:, 0] = self._start
        sp = np.ones(n, dtype=np.int64)
        out = np.zeros((n, depth), dtype=np.int64)
        n_out = np.zeros(n, dtype=np.int64)
        penalty, rhs_rev, rhs_len = self._penalty, self._rhs_rev, self._rhs_len
        lead, lead_len = self._lead, self._lead_len
        slots = np.arange(width)
        # Flat views with per-row offsets: 1-D fancy indexing is cheaper than 2-D.
        base = rows * depth
        stack_flat, out_flat = stack.reshape(-1), out.reshape(-1)
        for t in range(length):
            self._drain_terminals(stack_flat, out_flat, sp, n_out, base)
            live = sp > 0
            if not live.any():
                break  # every derivation finished: the rest is padding
            top = np.where(live, stack_flat[base + np.maximum(sp - 1, 0)], self._pad_nt)
            rule = (scores[:, t, :] + penalty[top]).argmax(axis=1)
            sp -= live
            # Fixed-width writes: slots past a row's length land beyond its stack
            # top / output end, where nothing reads them before they are overwritten.
            out_flat[(base + n_out)[:, None] + slots] = lead[rule]
            n_out += lead_len[rule]
            stack_flat[(base + sp)[:, None] + slots] = rhs_rev[rule]
            sp += rhs_len[rule]
        self._drain_terminals(stack_flat, out_flat, sp, n_out, base)
        terms, join = self._terminal_strings, self.tokenizer.join
        k = self._n_nonterminals
        return [join([terms[s - k] for s in out[i, : n_out[i]]]) if sp[i] == 0 else None for i in range(n)]

    def _drain_terminals(
        self, stack: np.ndarray, out: np.ndarray, sp: np.ndarray, n_out: np.ndarray, base: np.ndarray
    ) -> None:
        # Terminals on top of a stack are emitted (in order) before the next expansion.
        while True:
            top = stack[base + np.maximum(sp - 1, 0)]
            emit = (sp > 0) & self._is_terminal[top]
            if not emit.any():
                return
            out[(base + n_out)[emit]] = top[emit]
            n_out += emit
            sp -= emit

    def _scores(self, logits: torch.Tensor, stochastic: bool, generator: torch.Generator | None) -> np.ndarray:
        if logits.ndim != 3 or logits.shape[2] != self.vocab_size or logits.shape[1] > self.max_length:
            raise ConfigError(
                f"logits must be N x L x {self.vocab_size} with L <= {self.max_length}, got {tuple(logits.shape)}"
            )
        x = logits.detach().to("cpu", torch.float32)
        if stochastic:
            u = torch.rand(x.shape, generator=generator).clamp_(1e-10, 1 - 1e-7)
            x = x - torch.log(-torch.log(u))
        if not torch.isfinite(x.sum()):  # a sum is non-finite if any entry is, and far cheaper
            # Finite scores keep a NaN/-inf logit from losing to a forbidden rule.
            x = torch.nan_to_num(x, nan=-1e30, neginf=-1e30, posinf=1e30)
        return x.numpy()

    def decode_per_sample(self, logits: torch.Tensor) -> list[str | None]:
        """Greedy decoding one sample and one step at a time, as the Grammar VAE's
        reference does. Kept as the oracle for tests and the baseline of
        ``benchmarks/codec_speed.py``; use :meth:`decode`."""
        scores = self._scores(logits, False, None)
        g = self.grammar
        results: list[str | None] = []
        for x in scores:
            stack, rules = [g.start], []
            for t in range(x.shape[0]):
                top = stack.pop() if stack else g.padding_symbol
                rule = int(np.where(self._masks[g.nt_index[top]], x[t], -np.inf).argmax())
                rules.append(rule)
                p = g.productions[rule]
                if rule != g.padding_rule:
                    stack.extend(s for s, term in zip(reversed(p.rhs), reversed(p.is_terminal)) if not term)
            results.append(self.derivation_to_string(rules) if not stack else None)
        return results

    def derivation_to_string(self, rules: list[int]) -> str | None:
        """Replay a left-most derivation; ``None`` if it does not finish."""
        g = self.grammar
        stack: list[tuple[str, bool]] = [(g.start, False)]
        tokens: list[str] = []
        for rule in rules:
            while stack and stack[-1][1]:
                tokens.append(stack.pop()[0])
            if rule == g.padding_rule:
                continue
            if not stack or stack[-1][0] != g.productions[rule].lhs:
                return None
            stack.pop()
            p = g.productions[rule]
            stack.extend(zip(reversed(p.rhs), reversed(p.is_terminal)))
        while stack and stack[-1][1]:
            tokens.append(stack.pop()[0])
        return self.tokenizer.join(tokens) if not stack else None

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "grammar": self.grammar.name, "fingerprint": self.grammar.fingerprint}

    def __repr__(self) -> str:
        return f"GrammarCodec({self.grammar!r})"
