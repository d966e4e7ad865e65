"""The token codec: the one-file codec example (registered, trained, saved, loaded)."""

from pathlib import Path

import pytest

from latentbo.codecs import CODECS, codec_from_spec
from latentbo.codecs.tokens import TokenCodec
from latentbo.data.datasets import generate_expressions
from latentbo.errors import ConfigError
from latentbo.models import ModelConfig, load_model
from latentbo.testing import CodecContract
from latentbo.training import train


class TestTokenCodec(CodecContract):
    codec = TokenCodec.fit(["x + 1", "sin( x ) * 2", "exp( x / 3 )"])
    valid = ["x + 1", "sin( 1 ) * x", "exp( 2 )"]
    invalid = ["x + 4", "", "x + 1 * 2 + 3 + x"]  # unknown token, empty, longer than max_length


def test_tokens_not_characters() -> None:
    codec = CODECS["tokens"].fit(["sin( x ) + 1"])
    assert codec.alphabet == sorted(["sin(", "x", ")", "+", "1"]) and codec.max_length == 5
    assert codec.canonical("x   +  1") == "x + 1"
    assert codec.encode_one("x  + 1") == codec.encode_one("x + 1")
    with pytest.raises(ConfigError, match="distinct tokens"):
        TokenCodec(["x", "a b"], 3)
    assert codec_from_spec(codec.spec()).alphabet == codec.alphabet


def test_a_model_trains_saves_and_loads_with_it(tmp_path: Path) -> None:
    cfg = ModelConfig.for_model("expressions", "gmm_dae", codec="tokens", epochs=2, hidden=32, decoder_hidden=32,
                                decoder_layers=1, latent_dim=4, batch_size=64)
    result = train(cfg, generate_expressions(300, seed=1), tmp_path, progress=False)
    model = load_model(tmp_path)
    assert isinstance(model.codec, TokenCodec) and model.codec.alphabet == result.model.codec.alphabet
    strings = model.decode_latents(model.sample_latents(5))
    assert len(strings) == 5 and all(s is None or "  " not in s for s in strings)
