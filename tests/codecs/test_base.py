"""What every codec inherits from ``Codec``: batch encoding with reported skips, token
ids that end at the first padding, and step-by-step decoding for autoregressive models."""

import numpy as np
import pytest
import torch

from latentbo.codecs import CharacterCodec
from latentbo.errors import ConfigError

CODEC = CharacterCodec.fit(["ab", "ba", "abba"])


def test_encode_many_reports_skips_by_line() -> None:
    batch = CODEC.encode_many(["ab", "abc", "ba", "zz"], workers=1)
    assert batch.kept.tolist() == [0, 2] and batch.indices.dtype == np.int16
    assert batch.failure_counts() == {"unknown_token": 2}
    report = batch.report(line_numbers=[1, 3, 4, 7])
    assert report.startswith("encoded 2 of 4 strings, skipped 2") and "line 3:" in report and "line 7:" in report
    assert CODEC.encode_many(["ab"], workers=1).report() == "encoded all 1 strings"


def test_token_ids_end_at_the_first_padding() -> None:
    logits = torch.full((1, CODEC.max_length, CODEC.vocab_size), -5.0)
    a, b = CODEC.encode_one("a")[0], CODEC.encode_one("b")[0]
    logits[0, 0, a] = logits[0, 1, CODEC.pad_index] = logits[0, 2, b] = 5.0
    assert CODEC.token_ids(logits).tolist() == [[a] + [CODEC.pad_index] * (CODEC.max_length - 1)]
    assert CODEC.decode(logits) == ["a"]
    with pytest.raises(ConfigError, match=f"N x L x {CODEC.vocab_size}"):
        CODEC.token_ids(torch.zeros(1, 3))


def test_decode_steps_feeds_each_choice_back_and_drops_finished_rows() -> None:
    """A stub model that writes row r's target one id per step: rows stop at their
    first padding and the cache is told which rows go on."""
    targets = ["a", "abba", "ab"]
    kept = []

    def start(rows):
        alive, t = list(rows), [0]

        def step(keep, prev):
            nonlocal alive
            if keep is not None:
                kept.append(keep.tolist())
                alive = [alive[k] for k in keep]
            out = torch.zeros(len(alive), CODEC.vocab_size)
            for r, row in enumerate(alive):
                word = targets[row]
                out[r, CODEC.encode_one(word[t[0]])[0] if t[0] < len(word) else CODEC.pad_index] = 1.0
            t[0] += 1
            return out
        return step

    strings, status = CODEC.decode_steps(start, 3)
    assert strings == targets and status == ["ok"] * 3
    assert kept == [[1, 2], [0]]  # "a" ends after step 1, "ab" after step 2
    with pytest.raises(ConfigError, match="no semantic masks"):
        CODEC.decode_steps(start, 1, semantic=True)
