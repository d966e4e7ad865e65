"""Fast left-most-derivation parser generated from a :class:`~latentbo.codecs.cfg.Grammar`.

lark's LALR(1) analyser builds the automaton from the grammar file's productions.
Some grammars are not LALR(1): in the ZINC SMILES grammar, after an atom a bond
token may start a ring bond (``C=1``) or a chain bond (``C=C``), which one token of
lookahead cannot decide. lark resolves such shift/reduce conflicts by always
shifting, which would reject most molecules. We keep *every* action of the
automaton and drive it with a small backtracking LR driver: at a conflict it tries
the actions in order and backs up when the choice dies. For an unambiguous grammar
the surviving parse is the unique derivation, i.e. identical to nltk's
ChartParser, at LR speed (the tests compare both).
"""

from __future__ import annotations

from lark.common import ParserConf
from lark.grammar import NonTerminal, Rule, Terminal
from lark.parsers.lalr_analysis import LALR_Analyzer

from latentbo.codecs.cfg import Grammar

_END = "$END"
# Bound on backtracking so a pathological input cannot hang the parser.
_MAX_BACKTRACKS = 10_000


class ParseFailure(Exception):
    """Internal: the token at ``position`` cannot continue any parse."""

    def __init__(self, position: int, expected: set[str]) -> None:
        super().__init__(position)
        self.position = position
        self.expected = expected


class LRParser:
    """Parses token lists into production-index sequences (left-most derivation).

    Args:
        grammar: The grammar whose productions define the automaton.
    """

    def __init__(self, grammar: Grammar) -> None:
        defined = {p.lhs for p in grammar.productions} - {grammar.padding_symbol}
        nt = {name: NonTerminal(f"n{i}") for i, name in enumerate(sorted(defined))}
        self.terminal_names = {t: f"T{i}" for i, t in enumerate(grammar.terminals)}
        rules = []
        for p in grammar.productions:
            if p.lhs == grammar.padding_symbol:
                continue
            # A production naming an undefined nonterminal can never finish a derivation.
            if any(not t and s not in defined for s, t in zip(p.rhs, p.is_terminal)):
                continue
            expansion = [Terminal(self.terminal_names[s]) if t else nt[s] for s, t in zip(p.rhs, p.is_terminal)]
            rules.append(Rule(nt[p.lhs], expansion, alias=str(p.index)))
        analyzer = LALR_Analyzer(ParserConf(rules, {}, [nt[grammar.start].name]), debug=False, strict=False)
        analyzer.compute_lalr()
        state_id = {s: i for i, s in enumerate(analyzer.lr0_itemsets)}
        # actions[state][terminal] -> list of ("s", next_state) / ("r", rule index, lhs, length)
        self._actions: list[dict[str, list[tuple]]] = [dict() for _ in state_id]
        self._goto: list[dict[str, int]] = [dict() for _ in state_id]
        for s, i in state_id.items():
            for sym, nxt in s.transitions.items():
                if sym.is_term:
                    self._actions[i].setdefault(sym.name, []).append(("s", state_id[nxt]))
                else:
                    self._goto[i][sym.name] = state_id[nxt]
            for la, rs in s.lookaheads.items():
                for r in rs:
                    self._actions[i].setdefault(la.name, []).append(
                        ("r", int(r.alias), r.origin.name, len(r.expansion))
                    )
        start_nt = nt[grammar.start].name
        self._start = state_id[analyzer.lr0_start_states[start_nt]]
        # Having reduced to the start symbol at the end of input is acceptance.
        self._actions[self._goto[self._start][start_nt]].setdefault(_END, []).append(("a",))

    def parse(self, tokens: list[str]) -> list[int]:
        """Return the left-most derivation of ``tokens`` as production indices.

        Raises:
            ParseFailure: no parse exists; ``position`` is the furthest token reached
                and ``expected`` the terminals that would have been accepted there.
        """
        names = self.terminal_names
        seq = [names[t] for t in tokens] + [_END]
        actions, goto = self._actions, self._goto
        states: list[int] = [self._start]
        nodes: list = []
        pos = 0
        choice_points: list[tuple] = []
        furthest, expected = 0, set()
        backtracks = 0
        while True:
            acts = actions[states[-1]].get(seq[pos])
            if acts is None:
                if pos >= furthest:
                    furthest, expected = pos, set(actions[states[-1]])
                if not choice_points or backtracks >= _MAX_BACKTRACKS:
                    raise ParseFailure(furthest, expected)
                backtracks += 1
                states, nodes, pos, acts = choice_points.pop()
            if len(acts) > 1:
                choice_points.append((states[:], nodes[:], pos, acts[1:]))
            act = acts[0]
            kind = act[0]
            if kind == "s":
                states.append(act[1])
                nodes.append(None)
                pos += 1
            elif kind == "r":
                _, rule, lhs, length = act
                if length:
                    children = [c for c in nodes[-length:] if c is not None]
                    del nodes[-length:], states[-length:]
                else:
                    children = []
                nodes.append((rule, children))
                states.append(goto[states[-1]][lhs])
            else:
                return _preorder(nodes[-1])


def _preorder(root: tuple) -> list[int]:
    """Production indices in pre-order = the left-most derivation."""
    out: list[int] = []
    stack = [root]
    while stack:
        rule, children = stack.pop()
        out.append(rule)
        stack.extend(reversed(children))
    return out
