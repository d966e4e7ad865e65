import pytest

from latentbo.chem import canonical_smiles, molecule_invalidity


@pytest.mark.parametrize(("smiles", "reason"), [
    ("CC(=O)Nc1ccc(O)cc1", None),
    (None, "unfinished"),
    ("", "unfinished"),
    ("C1CC", "unclosed_ring"),
    ("C(", "parse"),
    ("C(C)(C)(C)(C)C", "valence"),
    ("c1cccc1", "kekulisation"),
    ("Cc", "aromatic_outside_ring"),
])
def test_reasons_users_read_in_reports(smiles: str | None, reason: str | None) -> None:
    assert molecule_invalidity(smiles) == reason


def test_randomized_smiles_are_other_spellings_of_the_same_molecule() -> None:
    from rdkit import Chem

    from latentbo.chem import randomized_smiles

    mols = ["CC(=O)Nc1ccc(O)cc1", "C[C@H](N)C(=O)O", "CC[NH3+]", "not a molecule"]
    out = randomized_smiles(mols, 5, seed=0)
    assert out == randomized_smiles(mols, 5, seed=0) and out != randomized_smiles(mols, 5, seed=1)
    canon = {Chem.MolToSmiles(Chem.MolFromSmiles(m)) for m in mols[:3]}
    assert {Chem.MolToSmiles(Chem.MolFromSmiles(r)) for r in out} == canon  # stereo and charges kept
    assert not set(out) & set(mols) and 3 < len(out) <= 15


def test_canonical_smiles_keeps_stereo_and_refuses_what_rdkit_cannot_read() -> None:
    assert canonical_smiles("OCC") == canonical_smiles("C(O)C") == "CCO"
    assert canonical_smiles("C[C@H](N)O") != canonical_smiles("C[C@@H](N)O")
    assert canonical_smiles("C1CC") is None and canonical_smiles(None) is None and canonical_smiles("") is None
