"""The LR parser must give exactly nltk's left-most derivation (the reference)."""

import functools

import nltk
import pytest

from latentbo.codecs import GrammarCodec
from latentbo.codecs.parser import ParseFailure
from latentbo.errors import InvalidInputError


@functools.cache
def _nltk_cfg(text: str) -> nltk.CFG:
    """nltk's own reading of a grammar file (the codec reads its productions from a cache)."""
    return nltk.CFG.fromstring(text)


def _nltk_rules(codec: GrammarCodec, parser: nltk.ChartParser, text: str) -> list[int]:
    index = {p: i for i, p in enumerate(_nltk_cfg(codec.grammar.text).productions())}
    tree = next(parser.parse(codec.tokenize(text)))
    return [index[p] for p in tree.productions()]


def test_zinc_matches_nltk(zinc_codec: GrammarCodec, molecules: list[str]) -> None:
    parser = nltk.ChartParser(_nltk_cfg(zinc_codec.grammar.text))
    # every 16th molecule up to 400 comparisons: nltk needs 15-75 ms per molecule (this machine's speed drifts)
    sample = molecules[::16][:400]
    checked = 0
    for smi in sample:
        try:
            ours = zinc_codec.parser.parse(zinc_codec.tokenize(smi))
        except (InvalidInputError, ParseFailure):
            continue  # not in the grammar; the codec tests cover errors
        assert ours == _nltk_rules(zinc_codec, parser, smi), smi
        checked += 1
    assert checked >= 0.9 * len(sample)


def test_ring_bond_conflict_resolved(zinc_codec: GrammarCodec) -> None:
    # "C=1" needs the ring-bond reading, "C=C" the chain-bond one: the LALR conflict.
    parser = nltk.ChartParser(_nltk_cfg(zinc_codec.grammar.text))
    for smi in ["C=1CCCCC=1", "C1CC=CC1", "c1cc(Br)c=1", "C/C=C\\1CCC/1"]:
        assert zinc_codec.parser.parse(zinc_codec.tokenize(smi)) == _nltk_rules(zinc_codec, parser, smi)


def test_expressions_match_nltk(expr_codec: GrammarCodec, expressions: list[str]) -> None:
    parser = nltk.ChartParser(_nltk_cfg(expr_codec.grammar.text))
    for expr in expressions[::20][:3000]:
        assert expr_codec.parser.parse(expr_codec.tokenize(expr)) == _nltk_rules(expr_codec, parser, expr)


@pytest.mark.parametrize("text", ["x +", "( x", "x x", ") x"])
def test_syntax_error_position(expr_codec: GrammarCodec, text: str) -> None:
    from latentbo.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as info:
        expr_codec.encode_one(text)
    assert info.value.reason == "syntax"
    assert "expected one of" in info.value.detail
