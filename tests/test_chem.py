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
    assert canonical_smiles("C[C@H](N)O", stereo=False) == canonical_smiles("C[C@@H](N)O", stereo=False) == "CC(N)O"
    assert canonical_smiles("C1CC") is None and canonical_smiles(None) is None and canonical_smiles("") is None


def test_zinclike_protonates_at_ph_7_and_assigns_stereo_reproducibly() -> None:
    """Acids lose a proton and amines gain one at pH 7 (ZINC's states); a molecule with
    unassigned stereocentres comes back with all of them assigned, the same way for the
    same seed; an assigned one keeps its configuration; an unreadable one is None."""
    from rdkit import Chem

    from latentbo.chem import zinclike

    inputs = ["CC(=O)O", "CCN(CC)CC", "CC(N)C(F)(Cl)Br", "C[C@H](O)CC", "not a molecule", "c1ccccc1"]
    out = zinclike(inputs, seed=3)
    assert out[0] == "CC(=O)[O-]" and out[1] == "CC[NH+](CC)CC"
    stereo = Chem.FindPotentialStereo(Chem.MolFromSmiles(out[2]))
    assert len(stereo) == 2 and all(s.specified == Chem.StereoSpecified.Specified for s in stereo)
    assert "[NH3+]" in out[2]
    assert out[3] == Chem.MolToSmiles(Chem.MolFromSmiles("C[C@H](O)CC"))
    assert out[4] is None and out[5] == "c1ccccc1"
    assert zinclike(inputs, seed=3) == out
    # over seeds, the drawn configurations differ (a fixed choice would be one isomer every time)
    assert len({zinclike(["CC(N)C(F)(Cl)Br"], seed=s)[0] for s in range(12)}) > 1


def test_zinclike_without_dimorphite_says_how_to_install_it(monkeypatch) -> None:
    import sys

    from latentbo.chem import zinclike
    from latentbo.errors import ConfigError

    monkeypatch.setitem(sys.modules, "dimorphite_dl", None)  # import fails as if not installed
    with pytest.raises(ConfigError, match="pip install dimorphite-dl"):
        zinclike(["CCO"])


@pytest.mark.parametrize("smiles, expected", [
    ("CCNC(=O)[CH]N1CCCC1", ("CCNC(=O)CN1CCCC1", True)),  # a carbon radical: CH -> CH2
    ("CC[NH+]C", ("CC[NH2+]C", True)),  # a charged nitrogen short of a bond
    ("C[C@@H]C", ("CCC", True)),  # a "stereocentre" with two hydrogens is none
    ("C[C@H](N)O", ("C[C@H](N)O", False)),
    ("c1ccccc1", ("c1ccccc1", False)),
    ("C1CC", (None, False)), (None, (None, False)),
])
def test_closed_shell_smiles_makes_unpaired_electrons_hydrogens(smiles: str | None, expected: tuple) -> None:
    from latentbo.chem import closed_shell_smiles

    assert closed_shell_smiles(smiles) == expected

