import pytest

from latentbo.chem import molecule_invalidity


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
