"""Validity reasons and sample quality (latentbo.metrics)."""

from __future__ import annotations

import pytest
import torch

from latentbo.codecs import GrammarCodec
from latentbo.chem import molecule_invalidity
from latentbo.metrics import sample_quality
from latentbo.models import ModelConfig, SequenceAutoencoder


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("CCO", None),
        ("c1ccccc1", None),
        (None, "unfinished"),
        ("", "unfinished"),
        ("C1CC", "unclosed_ring"),
        ("C[C@@H]1CC2CC1", "unclosed_ring"),
        ("CC11", "parse"),
        ("C((C", "parse"),
        ("C(C)(C)(C)(C)C", "valence"),
        ("c1cccc1", "kekulisation"),
        ("Cc", "aromatic_outside_ring"),
    ],
)
def test_molecule_invalidity(smiles: str | None, reason: str | None) -> None:
    assert molecule_invalidity(smiles) == reason


@pytest.fixture(scope="module")
def untrained_zinc_model() -> SequenceAutoencoder:
    # Untrained weights decode to near-random logits: the hardest case for validity.
    torch.manual_seed(0)
    cfg = ModelConfig.for_model("zinc", "gvae", decoder="fast", latent_dim=8, hidden=32, decoder_hidden=32,
                                decoder_layers=1)
    return SequenceAutoencoder(cfg, GrammarCodec("zinc_smiles"))


def test_sample_quality_reports_reasons_and_status(untrained_zinc_model: SequenceAutoencoder) -> None:
    model = untrained_zinc_model
    masked, strings = sample_quality(model, 60, seed=3, stochastic=True)
    assert masked["valid_fraction"] >= 0.95
    assert sum(masked["decode_status"].values()) == 60
    invalid = round(60 * (1 - masked["valid_fraction"]))
    assert sum(masked["invalid_reasons"].values()) == invalid
    model.codec.set_semantic(False)
    try:
        plain, _ = sample_quality(model, 60, seed=3, stochastic=True)
    finally:
        model.codec.set_semantic(True)
    assert plain["valid_fraction"] < 0.5
    assert set(plain["decode_status"]) <= {"ok", "unfinished"}
    assert sum(plain["invalid_reasons"].values()) == round(60 * (1 - plain["valid_fraction"]))
