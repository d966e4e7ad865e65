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
