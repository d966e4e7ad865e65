import json
from pathlib import Path

import numpy as np
import pytest

from latentbo.codecs import Grammar
from latentbo.errors import GrammarError


@pytest.mark.parametrize(("name", "n_rules", "max_length"), [("expressions", 12, 15), ("zinc_smiles", 76, 277)])
def test_bundled_grammars(name: str, n_rules: int, max_length: int) -> None:
    g = Grammar(name)
    assert g.n_rules == n_rules
    assert g.max_length == max_length
    assert g.padding_rule == n_rules - 1
    assert g.masks.shape == (len(g.nonterminals), n_rules)
    # every production is allowed under exactly its own left-hand side (unproductive ones nowhere)
    for p in g.productions:
        rows = np.flatnonzero(g.masks[:, p.index])
        expected = [g.nt_index[p.lhs]] if (g.productive[p.index] or p.index == g.padding_rule) else []
        assert rows.tolist() == expected


def test_undefined_nonterminal_is_unproductive() -> None:
    g = Grammar("zinc_smiles")
    uses_class = [p.index for p in g.productions if "class" in p.rhs]
    assert uses_class and not g.productive[uses_class].any()


def test_min_steps() -> None:
    g = Grammar("expressions")  # T -> 'x' is one step; S -> T two; padding one
    assert dict(zip(g.nonterminals, g.min_steps.tolist())) == {"S": 2, "T": 1, "Nothing": 1, "None": np.inf}
    z = Grammar("zinc_smiles")
    assert z.min_steps[z.nt_index["smiles"]] == 5  # smiles -> chain -> branched_atom -> atom -> organic -> 'C'
    assert np.isinf(z.min_steps[z.nt_index["class"]])


@pytest.mark.parametrize("name", ["expressions", "zinc_smiles"])
def test_random_derivations_finish_within_their_budget(name: str) -> None:
    """Every draw is a whole derivation of its symbol (the codec spells it and parses
    it back to the same productions) in at most ``budget`` productions; the smallest
    budget gives a derivation of exactly ``min_steps``."""
    import random

    from latentbo.codecs import GrammarCodec

    codec = GrammarCodec(name)
    g = codec.grammar
    rng = random.Random(0)
    lengths = []
    for budget in [int(g.min_steps[g.nt_index[g.start]]), 8, 15, g.max_length]:
        for _ in range(30):
            rules = g.random_derivation(g.start, budget, rng.randrange)
            assert len(rules) <= budget
            assert codec.encode_one(codec.derivation_to_string(rules)) == rules
            lengths.append(len(rules))
    assert lengths[0] == g.min_steps[g.nt_index[g.start]]
    assert len(set(lengths)) > 5  # the draws vary in size


def test_subtree_end() -> None:
    """In 1 / 3 + x + sin( x * x ): the whole derivation and its subtrees rooted at
    ``1 / 3``, ``x``, ``sin( x * x )`` and ``x * x`` end where they should."""
    from latentbo.codecs import GrammarCodec

    codec = GrammarCodec("expressions")
    g = codec.grammar
    rules = codec.encode_one("1 / 3 + x + sin( x * x )")
    assert [str(g.productions[r]) for r in rules[6:9]] == ["T -> 'x'", "T -> 'sin(' S ')'", "S -> S '*' T"]
    assert [g.subtree_end(rules, i) for i in (0, 2, 6, 7, 8)] == [12, 6, 7, 12, 12]
    assert codec.derivation_to_string(rules[2:6]) == "1 / 3"  # S-rooted subtrees spell on their own
    assert codec.derivation_to_string(rules[8:12]) == "x * x"


def test_missing_grammar_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(GrammarError, match="nope.cfg not found"):
        Grammar(tmp_path / "nope.cfg")
    with pytest.raises(GrammarError, match=r"available: \['expressions', 'zinc_smiles'\]"):
        Grammar("nope")


def test_bare_name_is_the_bundled_grammar_whatever_the_working_directory(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "expressions").mkdir()  # as in a data directory
    monkeypatch.chdir(tmp_path)
    grammar = Grammar("expressions")
    assert grammar.path.parent.name == "grammars" and grammar.path.is_file()
    assert grammar.n_rules == 12


def test_header_required(tmp_path: Path) -> None:
    path = tmp_path / "g.cfg"
    path.write_text("S -> 'a'\n")
    with pytest.raises(GrammarError, match="max_length"):
        Grammar(path)


def test_new_grammar_is_just_a_file(tmp_path: Path) -> None:
    from latentbo.codecs import GrammarCodec

    path = tmp_path / "ab.cfg"
    path.write_text("#: max_length = 8\n#: padding = Nothing\n#: tokenizer = terminals\nS -> 'a' S 'b'\nS -> 'c'\nNothing -> None\n")
    codec = GrammarCodec(path)
    assert codec.decode(codec.one_hot(codec.encode(["a a c b b"]))) == ["a a c b b"]
    assert codec.grammar.fingerprint != Grammar("expressions").fingerprint


def test_grammar_builds_the_tokenizer_its_header_names(tmp_path: Path) -> None:
    from latentbo.codecs.tokenizers import TerminalTokenizer
    from latentbo.errors import ConfigError

    assert isinstance(Grammar("expressions").tokenizer, TerminalTokenizer)
    path = tmp_path / "g.cfg"
    path.write_text("#: max_length = 8\n#: padding = Nothing\n#: tokenizer = nope\nS -> 'c'\nNothing -> None\n")
    with pytest.raises(ConfigError, match=r"g.cfg: unknown tokenizer 'nope'; known: \["):
        _ = Grammar(path).tokenizer


def test_parsed_grammars_are_cached_and_a_bad_entry_is_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A grammar is parsed by nltk once; later loads read the cache (no nltk import), and
    an entry that is truncated or edited is ignored and rewritten."""
    import sys

    from latentbo.io import cache_dir

    first = Grammar("zinc_smiles")
    (entry,) = (cache_dir() / "grammars").glob("*.json")
    monkeypatch.setitem(sys.modules, "nltk", None)  # importing nltk now fails: the cache must serve
    assert [str(p) for p in Grammar("zinc_smiles").productions] == [str(p) for p in first.productions]
    monkeypatch.delitem(sys.modules, "nltk")
    stored = json.loads(entry.read_text())
    stored["parsed"][1][0][1] = ["tampered"]
    for bad in (entry.read_text()[:50], json.dumps(stored)):
        entry.write_text(bad)
        again = Grammar("zinc_smiles")
        assert [str(p) for p in again.productions] == [str(p) for p in first.productions]
        assert json.loads(entry.read_text())["parsed"][1][0][1] != ["tampered"]
