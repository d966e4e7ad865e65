import pytest
import torch

from latentbo.codecs import CharacterCodec
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
