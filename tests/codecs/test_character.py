import pytest
import torch

from latentbo.codecs import CharacterCodec, codec_from_spec
from latentbo.errors import ConfigError, InvalidInputError
from latentbo.testing import CodecContract


class TestCharacterCodec(CodecContract):
    codec = CharacterCodec.fit(["CCO", "c1ccccc1Cl", "CC(=O)N", "[NH3+]CC#N"], max_length=20)
    valid = ["CCO", "ClC=O", "N#C"]
    invalid = ["", "CCZ", "C" * 21]


def test_decode_stops_at_padding() -> None:
    codec = CharacterCodec(["a", "b"], max_length=4)
    logits = torch.full((1, 4, 3), -5.0)
    logits[0, 0, 1] = logits[0, 1, 0] = logits[0, 2, 2] = logits[0, 3, 2] = 5.0  # a, pad, b, b
    assert codec.decode(logits) == ["a"]
    assert codec.decode(torch.zeros(1, 4, 3).index_fill_(2, torch.tensor([0]), 1.0)) == [None]


def test_unknown_character_named() -> None:
    codec = CharacterCodec(["a"], max_length=5)
    with pytest.raises(InvalidInputError, match="'z'"):
        codec.encode_one("az")


def test_bad_alphabet() -> None:
    with pytest.raises(ConfigError):
        CharacterCodec(["a", "a"], 3)
    with pytest.raises(ConfigError):
        CharacterCodec.fit([])


class TestCharacterCodecOfExpressions(CodecContract):
    codec = CharacterCodec.for_training("expressions", ["sin( x ) + 1", "x * 2 / exp( 3 )", "( x )"], None)
    valid = ["sin( x ) + 1", "x*2", "exp(3)/x"]
    invalid = ["", "x ^ 2", "sin( x ) + exp( x )"]  # '^' is not an expression character; 14 characters > 13


def test_expressions_are_spelt_without_spaces_and_decoded_with_them() -> None:
    # The Grammar VAE's character model drops the spaces: 'sin( x ) + 1' is 8 characters, not 12.
    codec = CharacterCodec.for_training("expressions", ["sin( x ) + 1"], None)
    assert codec.max_length == 8 and " " not in codec.alphabet
    assert codec.encode_one("sin( x ) + 1") == codec.encode_one("sin(x)+1")
    assert codec.decode(codec.one_hot(codec.encode(["sin(x)+1", "1+x"]))) == ["sin( x ) + 1", "1 + x"]
    # A decode the grammar cannot tokenize is kept as decoded (it is not an expression either way).
    assert codec.decode(codec.one_hot(codec.encode(["sin+"]))) == ["sin+"]


def test_molecules_keep_every_character() -> None:
    codec = CharacterCodec.for_training("zinc_smiles", ["CCO", "c1ccccc1"], None)
    assert codec.grammar is None and "grammar" not in codec.spec()


def test_checkpoints_from_before_keep_their_spaces() -> None:
    codec = codec_from_spec({"kind": "character", "alphabet": " ()+1insx", "max_length": 12})
    assert codec.encode_one("sin( x ) + 1") != codec.encode_one("sin(x)+1")


def test_grammar_that_needs_its_whitespace_refused() -> None:
    with pytest.raises(ConfigError, match="whitespace"):
        CharacterCodec(["C", "O"], 4, grammar="zinc_smiles")
