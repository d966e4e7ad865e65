import numpy as np
import pytest
import torch

from latentbo.codecs import GrammarCodec
from latentbo.errors import ConfigError, InvalidInputError
from latentbo.testing import CodecContract


class TestExpressionCodec(CodecContract):
    codec = GrammarCodec("expressions")
    valid = ["x + 1", "sin( x * x ) / 3", "exp(x)+2", "1 / 3 + x + sin( x * x )"]
    invalid = ["", "x ++ 1", "cos( x )", "x + 4", "( x", "x + x + x + x + x + x + x + x"]


class TestZincCodec(CodecContract):
    codec = GrammarCodec("zinc_smiles")
    valid = ["CCO", "c1ccccc1Cl", "C[C@@H](N)C(=O)[O-]", "CC(=O)Nc1ccc(O)cc1", "[NH3+]CC#N", "C/C=C/Br"]
    invalid = ["", "C1CC%12", "[Si](C)C", "C(C", "c1ccccc1X", "CCO[", "C" * 300]


def test_errors_name_the_token() -> None:
    codec = GrammarCodec("zinc_smiles")
    with pytest.raises(InvalidInputError, match="'%12'") as info:
        codec.encode_one("C%12CC%12")
    assert info.value.token == "%12"
    with pytest.raises(InvalidInputError, match=r"\[Si\]"):
        codec.encode_one("[Si]")
    with pytest.raises(InvalidInputError, match="max_length") as info:
        codec.encode_one("C" * 300)
    assert info.value.reason == "too_long"


def test_canonical_forms() -> None:
    assert GrammarCodec("expressions").canonical("sin(x)+1") == "sin( x ) + 1"
    assert GrammarCodec("zinc_smiles").canonical(" CCBr ") == "CCBr"


@pytest.mark.parametrize("name", ["expressions", "zinc_smiles"])
def test_batched_decode_equals_per_sample(name: str) -> None:
    codec = GrammarCodec(name)
    logits = torch.randn(64, codec.max_length, codec.vocab_size, generator=torch.Generator().manual_seed(3))
    batched = codec.decode(logits, semantic=False)
    assert batched == codec.decode_per_sample(logits)
    # some random derivations finish, some do not
    assert 0 < sum(s is not None for s in batched) < len(batched)


@pytest.mark.parametrize("length", [12, 40, 277])
def test_batched_decode_equals_per_sample_when_steps_run_short(length: int) -> None:
    # Rows whose stack needs more productions than steps remain leave early.
    codec = GrammarCodec("zinc_smiles")
    logits = torch.randn(256, length, codec.vocab_size, generator=torch.Generator().manual_seed(length))
    assert codec.decode(logits, semantic=False) == codec.decode_per_sample(logits)


def test_derivation_with_exactly_enough_steps_finishes() -> None:
    codec = GrammarCodec("zinc_smiles")
    smiles = "CC(=O)Nc1ccc(O)cc1"
    n = len(codec.encode_one(smiles))
    one_hot = codec.one_hot(codec.encode([smiles]))
    assert codec.decode(one_hot[:, :n], semantic=False) == [smiles]
    assert codec.decode(one_hot[:, : n - 1], semantic=False) == [None]


def test_decoded_strings_are_grammatical() -> None:
    codec = GrammarCodec("zinc_smiles")
    logits = torch.randn(128, codec.max_length, codec.vocab_size, generator=torch.Generator().manual_seed(5))
    for s in codec.decode(logits, stochastic=True, generator=torch.Generator().manual_seed(0)):
        if s is not None:
            assert codec.decode(codec.one_hot(codec.encode([s]))) == [s]


def test_unfinished_derivation_is_none() -> None:
    codec = GrammarCodec("expressions")
    idx = codec.encode(["sin( x + 1 ) * 2"])
    truncated = codec.one_hot(idx)[:, :4]  # 4 of the 9 productions
    assert codec.decode(truncated) == [None]


def test_nan_logits_do_not_pick_forbidden_rules() -> None:
    codec = GrammarCodec("expressions")
    logits = codec.one_hot(codec.encode(["x + 1"]))
    logits[0, 0, :] = float("nan")
    logits[0, 0, 0] = 1.0  # S -> S '+' T allowed at the start
    assert codec.decode(logits) == ["x + 1"]


@pytest.mark.parametrize(("name", "semantic"), [("expressions", False), ("zinc_smiles", False), ("zinc_smiles", True)])
def test_empty_batch_decodes_to_nothing(name: str, semantic: bool) -> None:
    codec = GrammarCodec(name)
    assert codec.decode_with_status(torch.zeros(0, codec.max_length, codec.vocab_size), semantic=semantic) == ([], [])


def test_bad_logits_shape() -> None:
    with pytest.raises(ConfigError, match="logits"):
        GrammarCodec("expressions").decode(torch.zeros(2, 15, 11))


def test_target_mask_is_lhs_mask() -> None:
    codec = GrammarCodec("expressions")
    idx = codec.encode(["x + 1"])
    mask = codec.target_mask(idx)
    assert mask.shape == (1, 15, 12)
    assert mask[0, 0, :4].all() and not mask[0, 0, 4:].any()  # S productions only
    assert mask[0, -1].tolist() == [False] * 11 + [True]  # padding


def test_parallel_encoding_matches_serial(molecules: list[str]) -> None:
    codec = GrammarCodec("zinc_smiles")
    texts = (molecules * 5)[:21000]
    serial = codec.encode_many(texts, workers=1)
    parallel = codec.encode_many(texts, workers=2)
    np.testing.assert_array_equal(serial.indices, parallel.indices)
    assert [f.index for f in serial.failures] == [f.index for f in parallel.failures]
