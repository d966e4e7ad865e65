"""Reusable codec contract tests (GPyTorch-style mixins): a test class sets
``codec`` and ``valid`` / ``invalid`` examples and inherits every check."""

from __future__ import annotations

import pytest
import torch

from latentbo.codecs import Codec, codec_from_spec
from latentbo.errors import InvalidInputError


class CodecContract:
    codec: Codec
    valid: list[str]
    invalid: list[str]

    def test_round_trip(self) -> None:
        idx = self.codec.encode(self.valid)
        assert idx.shape == (len(self.valid), self.codec.max_length)
        assert self.codec.decode(self.codec.one_hot(idx)) == [self.codec.canonical(s) for s in self.valid]

    def test_one_hot_shape(self) -> None:
        oh = self.codec.one_hot(self.codec.encode(self.valid))
        assert oh.shape == (len(self.valid), self.codec.max_length, self.codec.vocab_size)
        assert torch.all(oh.sum(-1) == 1)

    def test_invalid_raises_project_error(self) -> None:
        for s in self.invalid:
            with pytest.raises(InvalidInputError) as info:
                self.codec.encode_one(s)
            assert info.value.text == s

    def test_encode_many_reports_every_skip(self) -> None:
        mixed = [*self.valid, *self.invalid]
        batch = self.codec.encode_many(mixed, workers=1)
        assert len(batch.kept) == len(self.valid)
        assert [f.index for f in batch.failures] == list(range(len(self.valid), len(mixed)))
        assert sum(batch.failure_counts().values()) == len(self.invalid)

    def test_spec_rebuilds_equal_codec(self) -> None:
        clone = codec_from_spec(self.codec.spec())
        assert torch.equal(clone.encode(self.valid), self.codec.encode(self.valid))

    def test_stochastic_decode_is_seeded(self) -> None:
        logits = torch.randn(16, self.codec.max_length, self.codec.vocab_size, generator=torch.Generator().manual_seed(1))
        a = self.codec.decode(logits, stochastic=True, generator=torch.Generator().manual_seed(7))
        b = self.codec.decode(logits, stochastic=True, generator=torch.Generator().manual_seed(7))
        assert a == b
