"""Semantic masks of the SMILES grammar decoder (latentbo.codecs.semantics)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem, RDLogger

from latentbo.codecs import GrammarCodec, codec_from_spec
from latentbo.codecs.semantics import _ORGANIC, SmilesSemantics
from latentbo.errors import ConfigError

RDLogger.DisableLog("rdApp.*")
CODEC = GrammarCodec("zinc_smiles")


def rdkit_valid(s: str | None) -> bool:
    return s is not None and Chem.MolFromSmiles(s) is not None


def random_logits(n: int, seed: int, scale: float = 1.0, length: int = 277) -> torch.Tensor:
    return scale * torch.randn(n, length, CODEC.vocab_size, generator=torch.Generator().manual_seed(seed))


def test_random_logits_decode_to_valid_molecules() -> None:
    logits = random_logits(400, seed=11)
    plain = CODEC.decode(logits, semantic=False)
    masked, status = CODEC.decode_with_status(logits, semantic=True)
    plain_valid = np.mean([rdkit_valid(s) for s in plain])
    masked_valid = np.mean([rdkit_valid(s) for s in masked])
    assert plain_valid < 0.1  # measured 0.04: the grammar alone rarely makes a molecule
    assert masked_valid >= 0.99
    # Only rows the masks gave up on can be invalid.
    assert all(rdkit_valid(s) for s, st_ in zip(masked, status) if st_ in ("ok", "fallback"))


def test_masks_never_forbid_a_real_molecule(molecules: list[str]) -> None:
    batch = CODEC.encode_many(molecules, workers=1)
    idx = torch.from_numpy(batch.indices.astype(np.int64))
    for start in range(0, len(idx), 4096):
        strings, status = CODEC.decode_with_status(CODEC.one_hot(idx[start : start + 4096]), semantic=True)
        expected = [CODEC.canonical(molecules[i]) for i in batch.kept[start : start + 4096]]
        assert strings == expected
        assert set(status) == {"ok"}


@pytest.mark.parametrize(
    "smiles",
    [
        "C1CC",  # a ring that never closes
        "CC11",  # a ring closed on the atom that opened it
        "C(C)(C)(C)(C)C",  # five bonds on a carbon
        "O=O=O",  # three bonds on an oxygen
        "c1cccc1",  # five aromatic carbons cannot alternate double bonds
        "Cc",  # an aromatic atom outside any ring
        "C12CC12",  # two ring bonds between the same atoms
        "[CH5]",  # too many hydrogens
    ],
)
def test_grammatical_but_invalid_strings_are_repaired(smiles: str) -> None:
    logits = CODEC.one_hot(CODEC.encode([smiles]))
    assert CODEC.decode(logits, semantic=False) == [smiles]
    assert not rdkit_valid(smiles)
    [repaired] = CODEC.decode(logits, semantic=True)
    assert rdkit_valid(repaired)


def test_rows_are_independent_of_the_batch() -> None:
    logits = random_logits(64, seed=4)
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    whole = CODEC.decode_with_status(logits)
    permuted = CODEC.decode_with_status(logits[perm])
    assert permuted[0] == [whole[0][i] for i in perm]
    assert permuted[1] == [whole[1][i] for i in perm]
    assert CODEC.decode(logits[5:6]) == [whole[0][5]]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.1, 1.0, 5.0]),
    length=st.integers(1, 277),
    stochastic=st.booleans(),
)
def test_fuzz_decoder_state(seed: int, scale: float, length: int, stochastic: bool) -> None:
    logits = random_logits(8, seed, scale, length)
    strings, status = CODEC.decode_with_status(
        logits, stochastic=stochastic, generator=torch.Generator().manual_seed(seed), semantic=True
    )
    for s, st_ in zip(strings, status):
        assert (s is None) == (st_ == "unfinished")
        if st_ in ("ok", "fallback"):
            assert rdkit_valid(s), s
            # still a derivation of the grammar, spelled canonically
            assert CODEC.decode(CODEC.one_hot(CODEC.encode([s])), semantic=False) == [s]


def _steps_of(logits: torch.Tensor, seen: list[tuple[int, np.ndarray]]):
    """A stand-in autoregressive model whose step ``t`` gives ``logits[rows, t]``,
    whatever was chosen before; it records the rows it was asked for."""
    def start(rows: np.ndarray):
        state = {"rows": rows, "t": 0}

        def step(keep: np.ndarray | None, prev: torch.Tensor | None) -> torch.Tensor:
            if keep is not None:
                state["rows"] = state["rows"][keep]
            assert (prev is None) == (state["t"] == 0) and (prev is None or len(prev) == len(state["rows"]))
            seen.append((state["t"], state["rows"]))
            state["t"] += 1
            return logits[torch.from_numpy(state["rows"]), state["t"] - 1]

        return step

    return start


def test_one_pass_decode_equals_the_whole_matrix_decode() -> None:
    """Fed one step of scores at a time, with its state carried between steps, the
    semantic decoder chooses what it chooses from the whole score matrix: first pass,
    fallback pass, dead ends and rows that cannot finish alike."""
    logits = torch.cat([random_logits(150, seed=21), random_logits(30, seed=22, scale=5.0, length=277)])
    logits[:20, :, :] = random_logits(20, seed=23, scale=0.1)
    seen: list[tuple[int, np.ndarray]] = []
    stepped = CODEC.decode_steps(_steps_of(logits, seen), len(logits))
    whole = CODEC.decode_with_status(logits)
    assert stepped == whole
    assert {"ok", "fallback"} <= set(whole[1])
    # Rows leave as they finish: the model is asked for an ``ok`` row's steps and no more.
    starts = [k for k, (t, _) in enumerate(seen) if t == 0]
    asked = np.zeros(len(logits), dtype=int)
    for _, rows in seen[: starts[1]]:
        asked[rows] += 1
    ok = [i for i, st_ in enumerate(whole[1]) if st_ == "ok"]
    assert [asked[i] for i in ok] == [len(CODEC.encode_one(whole[0][i])) for i in ok]
    # The fallback pass restarts only the rows the first pass failed.
    again = {i for i, st_ in enumerate(whole[1]) if st_ in ("fallback", "dead_end")}
    second = set(seen[starts[1]][1].tolist())
    assert len(starts) == 2 and again <= second and second.isdisjoint(ok)


def test_fallback_rows_have_no_aromatic_or_bracket_atoms() -> None:
    strings, status = CODEC.decode_with_status(random_logits(200, seed=2))
    fallback = [s for s, st_ in zip(strings, status) if st_ == "fallback"]
    assert fallback  # random logits rarely make a kekulisable aromatic system
    assert not any(set(s) & set("cnos[]") for s in fallback)


def test_element_capacities_follow_rdkit() -> None:
    sem = SmilesSemantics(CODEC)
    index = {e: _ORGANIC.index(e) for e in ("C", "N", "O", "F")}
    assert sem.cap[index["C"], 1] == 4
    assert sem.cap[index["N"], 2] == 4  # N+ bonds like carbon
    assert sem.cap[index["O"], 0] == 1  # O-
    assert sem.cap[index["F"], 1] == 1


def test_semantic_option() -> None:
    assert CODEC.semantic
    assert not GrammarCodec("expressions").semantic
    with pytest.raises(ConfigError, match="no semantic masks"):
        GrammarCodec("expressions", semantic=True)
    plain = GrammarCodec("zinc_smiles", semantic=False)
    assert codec_from_spec(plain.spec()).semantic is False
    # Checkpoints written before the masks existed get the grammar's default.
    old = {k: v for k, v in CODEC.spec().items() if k != "semantic"}
    assert codec_from_spec(old).semantic is True


def test_decoding_keeps_torch_thread_count() -> None:
    # A fresh process: only numba's first parallel launch resets OpenMP's thread count (to
    # NUMBA_NUM_THREADS, 2 here so that a one-core machine shows it too).
    code = ("import torch; torch.set_num_threads(1); from latentbo.codecs import GrammarCodec; "
            "c = GrammarCodec('zinc_smiles'); c.decode(torch.randn(4, 277, c.vocab_size), semantic=True); "
            "print(torch.get_num_threads())")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**os.environ, "NUMBA_NUM_THREADS": "2"})
    assert proc.stdout.strip() == "1"
