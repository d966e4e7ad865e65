"""SELFIES codec: the Codec contract, validity of every decode, round trip on real data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from latentbo.codecs import SelfiesCodec, codec_from_spec
from latentbo.data.check import round_trip_report
from latentbo.errors import ConfigError, InvalidInputError
from latentbo.testing import CodecContract

TRAIN = ["CCO", "c1ccccc1Cl", "C[C@@H](N)C(=O)[O-]", "CC(=O)Nc1ccc(O)cc1", "[NH3+]CC#N", "C/C=C/Br", "O=C1CCCN1"]


class TestSelfiesCodec(CodecContract):
    codec = SelfiesCodec.fit(TRAIN)
    valid = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in TRAIN]
    invalid = ["", "C1CC", "C(C", "[Si](C)C", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", "X"]


def test_every_decode_is_a_molecule() -> None:
    codec = SelfiesCodec.fit(TRAIN)
    logits = torch.randn(300, codec.max_length, codec.vocab_size, generator=torch.Generator().manual_seed(0))
    decoded = codec.decode(logits) + codec.decode(logits, stochastic=True, generator=torch.Generator().manual_seed(1))
    made = [s for s in decoded if s is not None]
    assert len(made) >= 0.9 * len(decoded)  # None only where the first symbol is padding
    mols = [Chem.MolFromSmiles(s) for s in made]
    assert all(m is not None for m in mols)
    assert not any(a.GetNumRadicalElectrons() for m in mols for a in m.GetAtoms())  # closed-shell


def test_radicals_a_decoder_leaves_become_hydrogens_and_the_status_says_so() -> None:
    """``[C@@H1]`` keeps its one hydrogen wherever it lands: between two carbons SELFIES
    derives C[CH]C, a radical; the codec returns propane, status ``saturated``."""
    codec = SelfiesCodec.fit(TRAIN)
    rows = [["[C]", "[C@@H1]", "[C]"], ["[C]", "[C]", "[O]"], []]
    ids = torch.tensor([[codec.alphabet.index(t) + 1 for t in r] + [0] * (codec.max_length - len(r)) for r in rows])
    strings, status = codec.decode_with_status(codec.one_hot(ids))
    assert (strings, status) == (["CCC", "CCO", None], ["saturated", "ok", "unfinished"])
    assert codec.decode(codec.one_hot(ids)) == strings


def test_errors_are_project_errors() -> None:
    codec = SelfiesCodec.fit(TRAIN)
    with pytest.raises(InvalidInputError, match="RDKit cannot parse") as info:
        codec.encode_one("C1CC")
    assert info.value.reason == "syntax"
    with pytest.raises(InvalidInputError, match="semantic constraints"):  # divalent iodine
        codec.encode_one("Fc1ccc([I]c2ccc(F)cc2)cc1")
    with pytest.raises(InvalidInputError, match="fragments") as info:
        codec.encode_one("CCO.Cl")
    assert info.value.reason == "fragments"
    with pytest.raises(InvalidInputError, match="not in the alphabet") as info:
        codec.encode_one("CCS")
    assert info.value.reason == "unknown_token" and info.value.token == "[S]"
    with pytest.raises(InvalidInputError):
        codec.canonical("C1CC")
    with pytest.raises(ConfigError, match="no molecule"):
        SelfiesCodec.fit(["C1CC", "X"])
    with pytest.raises(ConfigError, match="not SELFIES symbols"):
        SelfiesCodec(["C"], 5)
    assert codec_from_spec(codec.spec()).alphabet == codec.alphabet


def test_round_trip_on_real_molecules(molecules: list[str]) -> None:
    sample = molecules[:3000]
    report = round_trip_report(SelfiesCodec.fit(sample), sample, workers=1)
    # Every molecule it encodes comes back (canonical SMILES); the skips are counted
    # by reason: NCI has salts ('.') and a few atoms SELFIES will not encode.
    assert report["round_trip_exact"] == report["parsed"]
    assert report["read"] - report["parsed"] == sum(report["failures"].values())
    assert set(report["failures"]) <= {"fragments", "syntax"}
    assert report["parsed"] >= 0.97 * len(sample)
    assert np.isfinite(report["decode_per_second"])


def test_alphabet_fitted_on_molecules_with_stereo_and_charges_keeps_them() -> None:
    """A SELFIES codec fitted on data with stereocentres and charges encodes and decodes
    them exactly; one fitted without them names the symbol it lacks."""
    data = ["C[C@H](N)C(=O)O", "C[C@@H](O)CC", "CC[NH3+]", "CC(=O)[O-]", "F/C=C/F", "CCO"]
    codec = SelfiesCodec.fit(data)
    assert {"[C@H1]", "[C@@H1]", "[NH3+1]", "[O-1]", "[/C]"} <= set(codec.alphabet)
    for smiles in data:
        ids = codec.encode_one(smiles)
        one_hot = torch.nn.functional.one_hot(torch.tensor([ids + [0] * (codec.max_length - len(ids))]),
                                              codec.vocab_size).float()
        assert codec.decode(one_hot) == [codec.canonical(smiles)]
    plain = SelfiesCodec.fit(["CCO", "CCN", "CC(C)O"])
    with pytest.raises(InvalidInputError, match=r"SELFIES symbol \[NH3\+1\] is not in the alphabet"):
        plain.encode_one("CC[NH3+]")


def test_fitting_on_several_processes_gives_the_alphabet_of_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large datasets are read on all cores (the GPU machine's 1.6M molecules); the
    chunks' symbols and lengths combine to what one process finds."""
    from latentbo.codecs import selfies

    monkeypatch.setattr(selfies, "PARALLEL_THRESHOLD", 4)
    monkeypatch.setattr(selfies, "CHUNK", 3)
    data = [*TRAIN, "not a molecule", "CC(C)(C)c1ccc(cc1)S(=O)(=O)N"]
    one, many = SelfiesCodec.fit(data, workers=1), SelfiesCodec.fit(data, workers=2)
    assert (many.alphabet, many.max_length) == (one.alphabet, one.max_length)
    assert one.max_length == max(len(one.encode_one(s)) for s in data if s != "not a molecule")
    extended = SelfiesCodec.fit(["CCO"]).extended(data)
    assert extended.alphabet[:2] == SelfiesCodec.fit(["CCO"]).alphabet and set(extended.alphabet) == set(one.alphabet)
