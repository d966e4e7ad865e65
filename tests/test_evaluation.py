"""A model measured as a user sees it: numbers checked by hand on five molecules, the
KL score on identical and different sets, and the command line."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator
from rdkit.DataStructs import TanimotoSimilarity
from typer.testing import CliRunner

from latentbo.cli import app
from latentbo.codecs.base import EncodedBatch, Failure
from latentbo.evaluation import kl_divergence_score, prior_samples, reconstruction
from latentbo.testing import stub_model

#: input -> what the fake model decodes it to
CASES = {
    "CCO": "OCC",                                     # the same molecule, another spelling: exact
    "C[C@@H](N)C(=O)O": "C[C@H](N)C(=O)O",            # the other enantiomer: exact without stereo only
    "c1ccccc1O": "c1ccccc1N",                         # another molecule
    "CC(=O)Nc1ccc(O)cc1": None,                       # no valid decode
}
SKIPPED = "C[Xe]"  # the fake codec refuses it


class FakeModel:
    """Encodes every string but SKIPPED to a code, decodes codes by CASES."""

    config = SimpleNamespace(task="zinc")

    def __init__(self, inputs: list[str]) -> None:
        self.inputs = inputs

    def encode_strings(self, strings: list[str]):
        kept = [i for i, s in enumerate(strings) if s != SKIPPED]
        failures = [Failure(i, s, "unknown_token", "Xe") for i, s in enumerate(strings) if s == SKIPPED]
        return torch.tensor(kept, dtype=torch.float32).unsqueeze(1), EncodedBatch(
            np.zeros((len(kept), 1), np.int16), np.array(kept), failures, len(strings))

    def decode_latents(self, codes: torch.Tensor):
        return [CASES[self.inputs[int(c)]] for c in codes[:, 0]]


def test_reconstruction_by_hand() -> None:
    strings = [*CASES, SKIPPED]
    out = reconstruction(FakeModel(strings), strings)
    fp = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    phenol_aniline = TanimotoSimilarity(fp.GetFingerprint(Chem.MolFromSmiles("c1ccccc1O")),
                                        fp.GetFingerprint(Chem.MolFromSmiles("c1ccccc1N")))
    assert out["n"] == 5 and out["encoded"] == 4 and out["skipped"] == 1
    assert out["skipped_by_reason"] == {"unknown_token": 1}
    assert out["exact"] == pytest.approx(1 / 5) and out["exact_no_stereo"] == pytest.approx(2 / 5)
    # the enantiomers share their ECFP4 (no chirality in it): 1 + 1 + phenol/aniline + 0 + 0 (skipped)
    assert out["tanimoto"] == pytest.approx((2 + phenol_aniline) / 5)


def test_kl_score_is_one_for_the_same_set_and_lower_for_another() -> None:
    from latentbo.data.datasets import _nci_5k

    nci = _nci_5k()
    same = kl_divergence_score(nci[:200], nci[:200])
    assert same["score"] == pytest.approx(1.0, abs=1e-6) and len(same["kl"]) == 10
    alkanes = ["C" * n for n in range(2, 40)] + ["CC(C)" * n for n in range(1, 12)]
    assert kl_divergence_score(alkanes, nci[:200])["score"] < 0.5 * same["score"]
    assert kl_divergence_score(["CCO"], nci[:10])["score"] is None


def test_prior_samples_of_an_untrained_molecule_model() -> None:
    model = stub_model(task="zinc")
    out = prior_samples(model, 40, seed=0, reference=["CCO", "c1ccccc1O", "CCN"], training={"CCO"})
    gen = torch.Generator().manual_seed(0)
    strings, status = model.decode_latents_with_status(model.sample_latents(40, gen))
    assert out["fallback"] == status.count("fallback") / 40 and out["saturated"] == status.count("saturated") / 40
    assert 0 <= out["radical"] <= 1
    assert 0 < out["valid"] <= 1 and 0 < out["unique"] <= 1 and out["reference_aromatic"] == pytest.approx(1 / 3)
    assert set(out) >= {"qed", "aromatic", "kl_score", "fcd", "novel", "invalid_reasons"}


def test_fcd_is_small_for_the_same_distribution_and_large_for_another() -> None:
    pytest.importorskip("fcd_torch")
    from latentbo.data.datasets import _nci_5k
    from latentbo.evaluation import frechet_chemnet_distance

    nci = _nci_5k()
    same = frechet_chemnet_distance(nci[:200], nci[200:400])
    alkanes = frechet_chemnet_distance(["C" * n for n in range(2, 40)] * 5, nci[200:400])
    assert same is not None and alkanes is not None and 0 < same < alkanes / 3
    assert frechet_chemnet_distance(["CCO"], nci[:10]) is None


def test_models_evaluate_command(tmp_path) -> None:
    (tmp_path / "mine.smi").write_text("CCO ethanol\nc1ccccc1O phenol\nCC(=O)Nc1ccc(O)cc1\n")
    result = CliRunner().invoke(app, ["models", "evaluate", "zinc-gvae", "--dataset", str(tmp_path / "mine.smi"),
                                      "-n", "20", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["reconstruction"]["n"] == 3 and out["prior"]["samples"] == 20
    assert 0 <= out["reconstruction"]["exact"] <= out["reconstruction"]["exact_no_stereo"] <= 1
