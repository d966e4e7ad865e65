"""Grammar codec: strings <-> left-most-derivation production sequences.

Decoding follows the Grammar VAE: a stack of symbols per sample; at each step the
top nonterminal restricts which productions the logits may choose (masked argmax,
or masked Gumbel-max sampling in stochastic mode). Unlike the reference, all N
samples advance together with array operations; only the time loop is in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from latentbo.codecs.base import Codec, register_codec
from latentbo.codecs.cfg import Grammar
from latentbo.codecs.parser import LRParser, ParseFailure
from latentbo.codecs.semantics import DEAD_END, NOT_KEKULE, STATUS_NAMES, UNFINISHED, SmilesSemantics
from latentbo.codecs.tokenizers import Tokenizer
from latentbo.errors import ConfigError, InvalidInputError

#: ``step(keep, prev) -> rows x n_rules`` logits (see :meth:`GrammarCodec.decode_steps`).
StepFn = Callable[[np.ndarray | None, torch.Tensor | None], torch.Tensor]
#: ``start(rows) -> step``: a fresh step-by-step decode of the given rows.
StartFn = Callable[[np.ndarray], StepFn]
BlockFn = Callable[[np.ndarray, int, int, "np.ndarray | None"], np.ndarray]

# Semantic masks by the tokenizer a grammar names: the language, not the file.
SEMANTICS = {"smiles": SmilesSemantics}


@register_codec
class GrammarCodec(Codec):
    """Encode strings as production-index sequences of a context-free grammar.

    Args:
        grammar: A :class:`Grammar`, a path to a ``.cfg`` file or the name of a
            bundled grammar (``"expressions"``, ``"zinc_smiles"``).
        semantic: decode with the semantic masks of the grammar's language (SMILES:
            rings, valence, aromaticity; see :mod:`latentbo.codecs.semantics`).
            ``None``: on where the grammar has them. ``False`` is the Grammar VAE's
            paper-faithful decoding.
    """

    kind = "grammar"
    forced_padding = True  # the padding nonterminal has one production
    _BLOCK_BYTES = 1 << 20  # scores staged per block in decode: about one core's L2 cache

    def __init__(self, grammar: Grammar | str | Path, semantic: bool | None = None) -> None:
        self.grammar = grammar if isinstance(grammar, Grammar) else Grammar(grammar)
        g = self.grammar
        self.semantic = g.tokenizer_name in SEMANTICS
        self.set_semantic(semantic)
        self._semantics = None
        self.tokenizer: Tokenizer = g.tokenizer
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
        self._start = g.nt_index[g.start]
        self._pad_nt = g.nt_index[g.padding_symbol]
        # A production's leading terminals are emitted as soon as it is chosen; the
        # rest of its right-hand side (which starts with a nonterminal) is pushed
        # reversed onto the stack.
        splits = []
        for p in g.productions:
            ids = [term_id[s] if t else g.nt_index[s] for s, t in zip(p.rhs, p.is_terminal)]
            n_lead = next((i for i, t in enumerate(p.is_terminal) if not t), len(ids))
            # The padding rule re-pushes its nonterminal, which doubles as the
            # bottom-of-stack sentinel: an empty stack reads as "pad from here on".
            splits.append(([], [self._pad_nt]) if p.index == g.padding_rule else (ids[:n_lead], ids[n_lead:][::-1]))
        # Symbol ids are stored narrow: the stacks then stay cache-sized.
        self._symbol_dtype = np.int16 if k + len(g.terminals) < 2**15 else np.int32
        lead_width = max(1, max(len(a) for a, _ in splits))
        rest_width = max(1, max(len(b) for _, b in splits))
        self._lead = np.zeros((g.n_rules, lead_width), dtype=self._symbol_dtype)
        self._lead_len = np.array([len(a) for a, _ in splits], dtype=np.int64)
        self._rest = np.zeros((g.n_rules, rest_width), dtype=self._symbol_dtype)
        self._rest_len = np.array([len(b) for _, b in splits], dtype=np.int64)
        for r, (a, b) in enumerate(splits):
            self._lead[r, : len(a)] = a
            self._rest[r, : len(b)] = b
        self._is_terminal = np.arange(k + len(g.terminals)) >= k
        # Candidate productions per nonterminal, padded with the first candidate:
        # argmax over this window equals the masked argmax over all productions
        # (ties included), while reading ~10 scores instead of all n_rules.
        width = max(1, int(g.masks.sum(axis=1).max()))
        self._window = np.full((k, width), g.padding_rule, dtype=np.int64)
        for nt in range(k):
            cols = np.flatnonzero(g.masks[nt])
            if cols.size:
                self._window[nt] = np.concatenate([cols, np.full(width - cols.size, cols[0])])
        # Fewest productions each symbol still needs: a row whose stack needs more
        # than the steps left cannot finish and leaves the working set early.
        need = np.concatenate([np.nan_to_num(g.min_steps, posinf=0), np.zeros(len(g.terminals))]).astype(np.int64)
        need[self._pad_nt] = 0
        self._need_start = need[self._start]
        self._need_delta = np.array(
            [need[self._rest[r, : self._rest_len[r]]].sum() - need[g.rule_lhs[r]] for r in range(g.n_rules)]
        )
        # Most non-space characters a derivation within max_length can spell: longer
        # input is rejected before the parser spends time on it.
        self._max_chars = self.max_length * max(
            sum(len(s) for s, t in zip(p.rhs, p.is_terminal) if t) for p in g.productions)
        self._masks = g.masks
        self._masks_t = torch.from_numpy(g.masks)
        self._rule_lhs_t = torch.from_numpy(g.rule_lhs)

    def set_semantic(self, on: bool | None) -> None:
        if on and self.grammar.tokenizer_name not in SEMANTICS:
            raise ConfigError(f"grammar {self.grammar.name!r} has no semantic masks "
                              f"(grammars with tokenizer {sorted(SEMANTICS)} do)")
        if on is not None:
            self.semantic = on

    # -- encoding ---------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer.tokenize(text)

    def canonical(self, text: str) -> str:
        return self.tokenizer.canonical(text)

    def encode_one(self, text: str) -> list[int]:
        if not isinstance(text, str):
            raise InvalidInputError(repr(text), "not_a_string", f"expected a string, got {type(text).__name__}")
        if len(text) > self._max_chars and len("".join(text.split())) > self._max_chars:
            raise InvalidInputError(text[:80] + "...", "too_long", f"{len(text)} characters; a derivation of at most "
                                    f"max_length={self.max_length} productions spells at most {self._max_chars}")
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
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None,
        semantic: bool | None = None,
    ) -> list[str | None]:
        """Grammar-constrained decoding, vectorised over the batch.

        Args:
            logits: ``N x L x n_rules`` unnormalised scores (``L <= max_length``).
            stochastic: sample from the masked softmax (Gumbel-max) instead of argmax.
            generator: torch RNG for stochastic decoding (reproducibility).
            semantic: use the semantic masks (default: the codec's ``semantic``).

        Returns:
            ``N`` strings in canonical spelling; ``None`` where the derivation was
            not finished within ``L`` steps.
        """
        return self.decode_with_status(logits, stochastic, generator, semantic)[0]

    def decode_with_status(
        self, logits: torch.Tensor, stochastic: bool = False, generator: torch.Generator | None = None,
        semantic: bool | None = None,
    ) -> tuple[list[str | None], list[str]]:
        """:meth:`decode`, plus per row how it was decoded: ``ok``, ``unfinished``
        and, with semantic masks, ``fallback`` (decoded again without aromatic or
        bracket atoms or ring-bond symbols) or ``dead_end`` (no production kept it
        valid, even in the fallback pass; the row may be invalid)."""
        semantic = self._use_semantic(semantic)
        scores = self._scores(logits, stochastic, generator)
        if not len(scores):
            return [], []
        if semantic:
            return self._semantic_strings(*self._decode_semantic(scores)[:3])
        strings = self._decode_grammar(len(scores), scores.shape[1],
                                       lambda active, t, steps, _: scores[active, t : t + steps])
        return strings, ["ok" if s is not None else "unfinished" for s in strings]

    def decode_steps(
        self, start: StartFn, n: int, stochastic: bool = False, generator: torch.Generator | None = None,
        semantic: bool | None = None,
    ) -> tuple[list[str | None], list[str]]:
        """Decode an autoregressive model one step at a time under the grammar masks:
        the production chosen for each row is fed back to the model for the next step.

        Args:
            start: ``start(rows) -> step`` begins decoding the given rows (of ``n``);
                ``step(keep, prev) -> len x n_rules`` gives the logits of the next position
                for the rows still decoding: ``keep`` (positions among the previous
                step's rows, or ``None`` for all of them) says which are left, ``prev``
                the productions they chose at the previous step (``None`` at the first).
            n: rows.
            stochastic: Gumbel-max sampling from each step's masked softmax.
            generator: torch RNG for stochastic decoding.
            semantic: use the semantic masks (default: the codec's ``semantic``).

        With semantic masks each step's choice is the semantic decoder's, its state
        carried from step to step (:class:`~latentbo.codecs.semantics.SemanticSteps`):
        the productions of a row are those :meth:`decode_with_status` chooses from the
        logits the model gives for those same productions. The rows the first pass
        fails are decoded again, from their first step, by the fallback pass.

        Returns:
            strings and status, as :meth:`decode_with_status`.
        """
        if not self._use_semantic(semantic):
            strings = self._decode_steps_grammar(start, np.arange(n), stochastic, generator)
            return strings, ["ok" if s is not None else "unfinished" for s in strings]
        tables = self._semantic_tables()
        out = lengths = status = None
        rows = np.arange(n)
        for mode in (0, 1):
            if mode == 1:
                rows = np.flatnonzero((status == NOT_KEKULE) | (status == DEAD_END))
                if not rows.size:
                    break
            decode = tables.steps(len(rows), self.max_length, mode)
            step, keep, prev = start(rows), None, None
            while decode.active.size:
                scores = self._scores(step(keep, prev).unsqueeze(1), stochastic, generator)[:, 0]
                keep, chosen = decode.step(scores)
                prev = torch.from_numpy(chosen)
            o, m, st, _ = decode.result()
            if out is None:
                out, lengths, status = o, m, st
            else:
                out[rows], lengths[rows], status[rows] = o, m, st
        return self._semantic_strings(out, lengths, status)

    def _decode_steps_grammar(self, start: StartFn, rows: np.ndarray, stochastic: bool,
                              generator: torch.Generator | None) -> list[str | None]:
        """Step-by-step grammar decode of ``rows``."""
        step = start(rows)
        state = {"rows": np.arange(len(rows))}

        def block_of(active: np.ndarray, t: int, steps: int, prev: np.ndarray | None) -> np.ndarray:
            keep = None if len(active) == len(state["rows"]) else np.searchsorted(state["rows"], active)
            state["rows"] = active
            return self._scores(step(keep, None if prev is None else torch.from_numpy(prev)).unsqueeze(1),
                                stochastic, generator)

        return self._decode_grammar(len(rows), self.max_length, block_of)

    def _use_semantic(self, semantic: bool | None) -> bool:
        semantic = self.semantic if semantic is None else semantic
        if semantic and self.grammar.tokenizer_name not in SEMANTICS:
            raise ConfigError(f"grammar {self.grammar.name!r} has no semantic masks")
        return semantic

    def _decode_semantic(self, scores: np.ndarray, passes: int = -1) -> tuple[np.ndarray, ...]:
        return self._semantic_tables().decode(scores, passes)

    def _semantic_tables(self) -> SmilesSemantics:
        if self._semantics is None:
            self._semantics = SEMANTICS[self.grammar.tokenizer_name](self)
        return self._semantics

    def _semantic_strings(self, out: np.ndarray, lengths: np.ndarray,
                          status: np.ndarray) -> tuple[list[str | None], list[str]]:
        terms, join, k = self._terminal_strings, self.tokenizer.join, self._n_nonterminals
        strings = [join([terms[s - k] for s in row[:m]]) if st != UNFINISHED else None
                   for row, m, st in zip(out, lengths, status)]
        return strings, [STATUS_NAMES[s] for s in status]

    def _decode_grammar(self, n: int, length: int, block_of: BlockFn) -> list[str | None]:
        """Masked greedy decoding of ``n`` rows for ``length`` steps; ``block_of(active,
        t, steps, prev)`` gives the scores (``len(active) x s x n_rules``, ``1 <= s <=
        steps``) of the live rows from step ``t``, ``prev`` being the productions they
        chose at step ``t - 1``. Returns the strings."""
        n_rules = self.vocab_size
        rows = np.arange(n)
        lead, lead_len, rest, rest_len = self._lead, self._lead_len, self._rest, self._rest_len
        is_terminal, window, pad_nt = self._is_terminal, self._window, self._pad_nt
        # All rows share flat arrays; ``sp`` and ``n_out`` are absolute indices, so
        # every step is a handful of 1-D gathers and scatters.
        depth = 2 + (length + 1) * rest.shape[1]
        base = rows * depth
        stack = np.empty(n * depth, dtype=self._symbol_dtype)
        stack[base], stack[base + 1] = pad_nt, self._start
        sp = base + 1  # index of each stack's top
        out_depth = depth + length * lead.shape[1]
        out_base = rows * out_depth
        out = np.empty(n * out_depth, dtype=self._symbol_dtype)
        n_out = out_base.copy()
        rest_slots, lead_slots, lead_first = np.arange(rest.shape[1]), np.arange(lead.shape[1]), lead[:, 0].copy()
        width = window.shape[1]
        # Rows leave the working set once finished (stack down to the sentinel) or
        # hopeless (their stack needs more productions than steps remain: they
        # decode to None), so late steps cost in proportion to the live derivations.
        active = rows
        final_sp, final_out = sp, n_out
        top = stack[sp]
        need, need_delta = np.full(n, self._need_start), self._need_delta
        block_end = 0
        rule = None
        for t in range(length):
            if t == block_end:
                running = (top != pad_nt) & (need <= length - t)
                if not running.all():
                    final_sp[active], final_out[active] = sp, n_out
                    active, sp, n_out, top, need = (a[running] for a in (active, sp, n_out, top, need))
                    rule = rule[running] if rule is not None else None
                    if not active.size:
                        break  # every derivation finished or failed: the rest is padding
                # The next steps' scores of the live rows, copied into one cache-sized
                # block: per-step gathers then hit the cache instead of DRAM.
                steps = min(length - t, max(1, self._BLOCK_BYTES // (active.size * n_rules * 4)))
                block = block_of(active, t, steps, rule)
                steps = block.shape[1]
                block_start, block_end = t, t + steps
                block = block.reshape(-1)
                row_offset = np.arange(active.size) * (steps * n_rules)
                row_window = np.arange(active.size) * width
            cols = window[top]
            picked = block[(row_offset + (t - block_start) * n_rules)[:, None] + cols].argmax(axis=1)
            rule = cols.reshape(-1)[row_window + picked]
            # Fixed-width writes: slots past a row's length land beyond its stack
            # top / output end, where nothing reads them before they are overwritten.
            if lead.shape[1] == 1:
                out[n_out] = lead_first[rule]
            else:
                out[n_out[:, None] + lead_slots] = lead[rule]
            n_out += lead_len[rule]
            need += need_delta[rule]
            stack[sp[:, None] + rest_slots] = rest[rule]
            sp += rest_len[rule] - 1
            top = stack[sp]
            # Terminals that surface (closing brackets after a finished branch) are
            # emitted at once; only the rows that have one take part.
            idx = np.flatnonzero(is_terminal[top])
            while idx.size:
                out[n_out[idx]] = top[idx]
                n_out[idx] += 1
                below = sp[idx] - 1
                sp[idx] = below
                top[idx] = stack[below]
                idx = idx[is_terminal[top[idx]]]
        final_sp[active], final_out[active] = sp, n_out
        sp, n_out = final_sp, final_out
        terms, join = self._terminal_strings, self.tokenizer.join
        k = self._n_nonterminals
        done = sp == base
        return [
            join([terms[s - k] for s in out[out_base[i] : n_out[i]]]) if done[i] else None for i in range(n)
        ]

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
        return {"kind": self.kind, "grammar": self.grammar.name, "fingerprint": self.grammar.fingerprint,
                "semantic": self.semantic}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> GrammarCodec:
        """Rebuild from :meth:`spec`, checking that the grammar file has not changed
        (checkpoints from before the semantic masks have no ``semantic``: the grammar's
        default).

        Raises:
            CheckpointError: the grammar's fingerprint differs from the spec's.
        """
        from latentbo.errors import CheckpointError

        codec = cls(spec["grammar"], spec.get("semantic"))
        if spec.get("fingerprint") != codec.grammar.fingerprint:
            raise CheckpointError(
                f"grammar {spec['grammar']!r} has fingerprint {codec.grammar.fingerprint}, but this was made with "
                f"{spec.get('fingerprint')}: the grammar file changed, so production ids no longer match")
        return codec

    @classmethod
    def for_training(cls, grammar: str, strings: Any, max_length: int | None) -> GrammarCodec:
        return cls(grammar)

    def __repr__(self) -> str:
        return f"GrammarCodec({self.grammar!r})"
