"""RDKit's verdict on a SMILES string, by the names users read in reports. RDKit is
imported on first use, so the tasks (and the CLI) can name this check without it."""

from __future__ import annotations

import re
from collections import Counter

_BRACKET = re.compile(r"\[[^\]]*\]")
_RING_LABEL = re.compile(r"%\d\d|\d")
# RDKit's sanitisation problems, by the names users read in reports.
_PROBLEMS = {"AtomValenceException": "valence", "KekulizeException": "kekulisation",
             "AtomKekulizeException": "aromatic_outside_ring"}


def molecule_invalidity(smiles: str | None) -> str | None:
    """Why RDKit rejects a SMILES string, or ``None`` if it is a valid molecule.

    Reasons: ``unfinished`` (no string: the derivation did not finish),
    ``unclosed_ring``, ``parse`` (other SMILES errors, e.g. a ring closed on its own
    atom), ``valence``, ``kekulisation``, ``aromatic_outside_ring``, ``other``.
    """
    if not smiles:
        return "unfinished"
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        labels = Counter(_RING_LABEL.findall(_BRACKET.sub("", smiles)))
        return "unclosed_ring" if any(n % 2 for n in labels.values()) else "parse"
    problems = Chem.DetectChemistryProblems(mol)
    if not problems:
        return None
    return _PROBLEMS.get(problems[0].GetType(), "other")


def canonical_smiles(smiles: str | None, stereo: bool = True) -> str | None:
    """RDKit's canonical SMILES (stereo kept unless ``stereo`` is False), ``None`` for what
    RDKit cannot read."""
    if not smiles:
        return None
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    return Chem.MolToSmiles(mol, isomericSmiles=stereo) if mol is not None else None


def closed_shell_smiles(smiles: str | None) -> tuple[str | None, bool]:
    """RDKit's canonical SMILES with every unpaired electron made a hydrogen, and
    whether there was one (``None, False`` for what RDKit cannot read).

    A SELFIES symbol with its hydrogens written out (``[C@@H1]``, ``[NH1+1]``: ZINC's
    stereocentres and charges) keeps them wherever a decoder puts it; with a neighbour
    fewer than in its molecule the atom is a radical, which no chemist would make.
    """
    if not smiles:
        return None, False
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None, False
    radicals = [a for a in mol.GetAtoms() if a.GetNumRadicalElectrons()]
    for atom in radicals:
        atom.SetNumExplicitHs(atom.GetNumExplicitHs() + atom.GetNumRadicalElectrons())
        atom.SetNumRadicalElectrons(0)
    if radicals:
        Chem.SanitizeMol(mol)
        Chem.AssignStereochemistry(mol, cleanIt=True, force=True)  # a centre with two hydrogens is none
    return Chem.MolToSmiles(mol), bool(radicals)


def randomized_smiles(smiles: list[str], copies: int, seed: int) -> list[str]:
    """Up to ``copies`` other spellings of each molecule (RDKit's random atom orders,
    seeded per molecule), each distinct from the molecule's other spellings; molecules
    RDKit rejects give none."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    out = []
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            continue
        seen = {s}
        for r in Chem.MolToRandomSmilesVect(mol, copies, randomSeed=seed * 1_000_003 + i + 1):
            if r not in seen:
                seen.add(r)
                out.append(r)
    return out


#: The pH of :func:`zinclike`'s protonation states (ZINC's are near pH 7).
ZINCLIKE_PH = 7.0


def zinclike(smiles: list[str], seed: int = 0) -> list[str | None]:
    """Molecules as ZINC has them: the protonation state that dimorphite-dl gives at
    pH 7 (precision 0: one state), then every unassigned stereocentre or stereo double
    bond given a configuration drawn by RDKit's ``EnumerateStereoisomers`` (seeded per
    molecule from ``seed``). On 2,000 ZINC molecules, neutralised and protonated again,
    81% came back in ZINC's own charge state (71% left neutral):
    ``benchmarks/results/zinclike_moses_corpus.md``.

    Returns:
        One canonical SMILES per input, ``None`` where RDKit or dimorphite-dl cannot read it.

    Raises:
        ConfigError: dimorphite-dl is not installed.
    """
    import logging
    import random

    try:
        from dimorphite_dl import protonate_smiles
    except ImportError as exc:
        from latentbo.errors import ConfigError

        raise ConfigError("ZINC-like protonation needs dimorphite-dl: pip install dimorphite-dl") from exc
    from rdkit import Chem, RDLogger
    from rdkit.Chem.EnumerateStereoisomers import EnumerateStereoisomers, StereoEnumerationOptions

    RDLogger.DisableLog("rdApp.*")
    logging.getLogger("dimorphite_dl").setLevel(logging.ERROR)  # it logs every molecule it cannot read
    out: list[str | None] = []
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s) if s else None
        states = protonate_smiles(Chem.MolToSmiles(mol), ph_min=ZINCLIKE_PH, ph_max=ZINCLIKE_PH,
                                  precision=0.0) if mol is not None else []
        mol = Chem.MolFromSmiles(states[0]) if states else None
        if mol is None:
            out.append(None)
            continue
        opts = StereoEnumerationOptions(onlyUnassigned=True, maxIsomers=1, tryEmbedding=False, unique=True,
                                        rand=random.Random(seed * 1_000_003 + i))
        out.append(Chem.MolToSmiles(next(iter(EnumerateStereoisomers(mol, options=opts)), mol)))
    return out
