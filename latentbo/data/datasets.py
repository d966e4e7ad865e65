"""Dataset registry and the data-directory setting.

The data directory comes from, in order: :func:`set_data_dir` (the CLI's global
``--data-dir``), the ``LATENTBO_DATA_DIR`` environment variable. Its layout is
``expressions/``, ``zinc250k/``, ``moses/``, ``fashion-mnist/``, ``mnist/``. Datasets
with an embedded default (the Grammar VAE's expression space, RDKit's NCI 5k
molecules) work without it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentbo.errors import DatasetError, DatasetNotFoundError
from latentbo.io import read_text

ENV_VAR = "LATENTBO_DATA_DIR"
_override: Path | None = None


def set_data_dir(path: str | Path | None) -> None:
    """Set the data directory for this process (``None`` falls back to the env var)."""
    global _override
    _override = Path(path).expanduser() if path is not None else None


def data_dir() -> Path | None:
    """The configured data directory, or ``None`` when neither flag nor env var is set."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else None


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset.

    Attributes:
        name: registry key.
        kind: ``"expressions"``, ``"molecules"`` or ``"images"``.
        relpath: file (or folder) inside the data directory; ``None`` for embedded data.
        description: one line for ``latentbo data list``.
        reader: reads the file into strings (string datasets only).
        fallback: produces the embedded default when the file is absent.
        grammar: the grammar its strings are parsed with (string datasets only).
        images: loads a split (``train`` / ``test``) as an ``ImageSet`` (image datasets
            only; they register themselves in :mod:`latentbo.data.images`).
    """

    name: str
    kind: str
    relpath: str | None
    description: str
    reader: Callable[[Path], list[str]] | None = None
    fallback: Callable[[], list[str]] | None = None
    grammar: str | None = None
    images: Callable[[str], Any] | None = None

    def path(self) -> Path | None:
        root = data_dir()
        return root / self.relpath if (root is not None and self.relpath) else None

    def available(self) -> bool:
        """The file (a folder for image datasets) is where it should be."""
        p = self.path()
        return p is not None and (p.is_dir() if self.kind == "images" else p.is_file())


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in read_text(path, "dataset file").splitlines() if line.strip()]


def _read_smiles_csv(path: Path) -> list[str]:
    lines = _read_lines(path)
    if not lines or lines[0].split(",")[0].strip().upper() != "SMILES":
        raise DatasetError(f"{path}: expected a CSV whose first column is headed 'SMILES'")
    return [line.split(",")[0].strip() for line in lines[1:]]


#: The held-out part of the ZINC250k subset (``benchmarks/zinc_split.py``): line numbers of
#: ``zinc250k/valid.txt`` that no training run reads, none of them in MOSES train.
ZINC_HELD_OUT = Path(__file__).with_name("zinc250k_test.json")


def _zinc_part(held_out: bool) -> Callable[[Path], list[str]]:
    """A reader of the ZINC250k subset's training part (``held_out=False``) or its
    held-out part. Another file at that path has no known held-out part: it is read
    whole for training (with a warning) and refused as a test set."""
    def read(path: Path) -> list[str]:
        raw = path.read_bytes()
        split = json.loads(ZINC_HELD_OUT.read_text(encoding="utf-8"))
        lines = raw.decode("utf-8").splitlines()
        if hashlib.sha256(raw).hexdigest() != split["sha256"]:
            if held_out:
                raise DatasetError(f"{path} is not the ZINC250k subset whose held-out part latentbo knows (its "
                                   "SHA-256 differs): pass your own test molecules as --dataset FILE")
            logging.getLogger("latentbo").warning("%s is not the ZINC250k subset latentbo holds a test part of: "
                                                  "all of it is read, none held out", path)
            return [line.strip() for line in lines if line.strip()]
        held = set(split["lines"])
        return [line.strip() for i, line in enumerate(lines) if line.strip() and (i in held) == held_out]
    return read


def _nci_5k() -> list[str]:
    """RDKit's bundled 5,000 NCI molecules, rewritten as canonical aromatic SMILES
    (the form ZINC uses) so that the ZINC grammar can parse them."""
    from rdkit import Chem, RDConfig, RDLogger

    RDLogger.DisableLog("rdApp.*")
    path = Path(RDConfig.RDDataDir) / "NCI" / "first_5K.smi"
    out = []
    for line in _read_lines(path):
        mol = Chem.MolFromSmiles(line.split()[0])
        if mol is not None:
            out.append(Chem.MolToSmiles(mol))
    return out


def generate_expressions(n: int = 100_000, seed: int = 0, grammar: str = "expressions") -> list[str]:
    """Distinct expressions drawn from the grammar, deterministically.

    Random left-most derivations: each step picks uniformly among the productions
    of the expanded nonterminal that can still finish within ``max_length``
    productions (so no draw is wasted), de-duplicated in order of generation.

    Args:
        n: number of distinct expressions wanted.
        seed: RNG seed; the same seed always gives the same list.
        grammar: grammar name or path.
    """
    from latentbo.codecs.grammar import GrammarCodec  # nltk: imported when expressions are drawn, not with the registry

    codec = GrammarCodec(grammar)
    g = codec.grammar
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    for _ in range(50 * n):
        if len(seen) >= n:
            break
        seen.setdefault(codec.derivation_to_string(g.random_derivation(g.start, g.max_length,
                                                                       lambda k: int(rng.integers(k)))))
    if len(seen) < n:
        raise DatasetError(f"grammar {g.name} yielded only {len(seen)} distinct strings in {50 * n} draws")
    return list(seen)


def grammar_vae_expressions(n: int = 100_000, seed: int = 0) -> list[str]:
    """``n`` distinct expressions drawn (seeded) from the space the Grammar VAE's
    dataset comes from: ``a op b + f + g`` with leaves ``x, 1, 2, 3``, ``op`` one of
    ``+ * /``, ``f`` a leaf, ``( leaf )`` or ``sin``/``exp`` of one, and ``g`` the same or
    ``( a op b )`` or ``sin``/``exp`` of it: 122,880 strings. Every line of
    ``equation2_15_dataset.txt`` (100k) is one of them, and its shapes occur in the same
    proportions, so a model trained on either reads the other.
    """
    leaves, ops = ("x", "1", "2", "3"), ("+", "*", "/")
    pairs = [f"{a} {o} {b}" for a in leaves for o in ops for b in leaves]
    wrap = lambda inner: [f"( {inner} )", f"sin( {inner} )", f"exp( {inner} )"]  # noqa: E731
    first = [v for leaf in leaves for v in (leaf, *wrap(leaf))]
    last = first + [v for p in pairs for v in wrap(p)]
    space = len(pairs) * len(first) * len(last)
    if not 0 < n <= space:
        raise DatasetError(f"the Grammar-VAE expression space holds {space} strings; asked for {n}")
    pick = np.random.default_rng(seed).permutation(space)[:n]
    return [f"{pairs[i // (len(first) * len(last))]} + {first[i // len(last) % len(first)]} + {last[i % len(last)]}"
            for i in pick]


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "expressions",
            "expressions",
            "expressions/equation2_15_dataset.txt",
            "Grammar-VAE arithmetic expressions (100k); when absent, 100k drawn from the same space",
            _read_lines,
            grammar_vae_expressions,
            "expressions",
        ),
        DatasetSpec(
            "zinc250k",
            "molecules",
            "zinc250k/valid.txt",
            "ZINC250k subset (24,445 SMILES) less its 2,000 held-out molecules (zinc250k-test)",
            _zinc_part(held_out=False),
            None,
            "zinc_smiles",
        ),
        DatasetSpec(
            "zinc250k-test",
            "molecules",
            "zinc250k/valid.txt",
            "2,000 held-out molecules of the ZINC250k subset, in no training set (nor in MOSES train)",
            _zinc_part(held_out=True),
            None,
            "zinc_smiles",
        ),
        DatasetSpec(
            "moses", "molecules", "moses/train.csv.gz", "MOSES training set (1.58M SMILES, CSV)", _read_smiles_csv, None,
            "zinc_smiles",
        ),
        DatasetSpec(
            "nci5k", "molecules", None, "RDKit's bundled 5,000 NCI molecules (embedded default)", None, _nci_5k,
            "zinc_smiles",
        ),
    ]
}


#: Columns taken as a CSV's strings when no column is named (case-insensitive).
STRING_COLUMNS = ("smiles", "selfies", "expression", "string")


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}, or a path to a file "
                                   "(one string per line, or a CSV with a header row)")
    return DATASETS[name]


def is_dataset_path(name: str) -> bool:
    """Whether ``name`` means a user file rather than a registry dataset: it is not a
    registry name and it exists or looks like a path (a suffix or a folder part)."""
    path = Path(name)
    return name not in DATASETS and (path.exists() or bool(path.suffix) or len(path.parts) > 1)


def line_string(path: Path) -> Callable[[str], str]:
    """How a stripped line of a non-CSV file gives its string: a ``.smi`` line's first
    field (a name may follow), any other line whole."""
    return (lambda line: line.split()[0]) if path.suffix.lower() == ".smi" else (lambda line: line)


def read_dataset_file(
    path: str | Path, column: str | None = None, score_column: str | None = None
) -> tuple[list[str], np.ndarray | None, str]:
    """Strings (and optionally known scores) from a user file.

    A ``.csv`` (or ``.csv.gz``) file has a header row; its strings are the column
    ``column`` (default: the one named smiles, selfies, expression or string, or the
    only column). Any other file holds one string per line; in a ``.smi`` file only
    the first whitespace-separated field of a line (the SMILES; a name may follow).

    Args:
        path: the file.
        column: the CSV column holding the strings.
        score_column: a CSV column of known scores (empty or ``nan``: invalid).

    Returns:
        ``(strings, scores or None, source)``; ``source`` names the file and the
        first 16 hex digits of its content's SHA-256, so a run records what it read.

    Raises:
        DatasetError: unreadable file, missing column, an empty string cell, a score
            that is not a number, or no data rows.
    """
    path = Path(path)
    if not path.exists():
        raise DatasetNotFoundError(f"dataset file {path} does not exist")
    text = read_text(path, "dataset file")
    source = f"{path} (sha256 {hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]})"
    is_csv = path.name.lower().endswith((".csv", ".csv.gz"))
    if not is_csv:
        if column is not None or score_column is not None:
            raise DatasetError(f"{path}: --column and --score-column need a CSV file with a header row (.csv)")
        first = line_string(path)
        strings = [first(line.strip()) for line in text.splitlines() if line.strip()]
        if not strings:
            raise DatasetError(f"{path} holds no data lines")
        return strings, None, source
    rows = csv.reader(text.splitlines())
    header = [h.strip() for h in next(rows, [])]
    if not any(header):
        raise DatasetError(f"{path} is empty; expected a header row naming its columns")
    lower = {h.lower(): i for i, h in enumerate(header)}
    if column is None:
        known = [lower[c] for c in STRING_COLUMNS if c in lower]
        if not known and len(header) > 1:
            raise DatasetError(f"{path}: name the column of strings with --column; columns: {header}")
        col = known[0] if known else 0
    elif column.lower() in lower:
        col = lower[column.lower()]
    else:
        raise DatasetError(f"{path} has no column {column!r}; columns: {header}")
    if score_column is not None and score_column.lower() not in lower:
        raise DatasetError(f"{path} has no column {score_column!r}; columns: {header}")
    sc = lower.get((score_column or "").lower())
    strings, scores = [], []
    for line_no, row in enumerate(rows, 2):
        if not any(cell.strip() for cell in row):
            continue
        cells = [c.strip() for c in row] + [""] * (len(header) - len(row))
        if not cells[col]:
            raise DatasetError(f"{path} line {line_no}: column {header[col]!r} is empty")
        strings.append(cells[col])
        if sc is not None:
            try:
                scores.append(float(cells[sc]) if cells[sc] else math.nan)
            except ValueError:
                raise DatasetError(f"{path} line {line_no}: score {cells[sc]!r} in column {header[sc]!r} is not a "
                                   "number (leave it empty, or nan, for an invalid string)") from None
    if not strings:
        raise DatasetError(f"{path} holds a header but no data rows")
    return strings, (np.array(scores, dtype=float) if sc is not None else None), source


def load_strings(
    name: str, limit: int | None = None, allow_fallback: bool = True, column: str | None = None
) -> tuple[list[str], str]:
    """Load a string dataset: a registry name or a user file.

    Args:
        name: a key of :data:`DATASETS`, a path (see :func:`read_dataset_file`), or
            several of them joined by commas (``zinc250k,moses``): concatenated in
            that order, each string kept once (its first occurrence), so a held-out
            split never holds a copy of a training string.
        limit: keep only the first ``limit`` strings.
        allow_fallback: use the embedded default when the file is absent.
        column: the CSV column of strings (user files only).

    Returns:
        ``(strings, source)``; ``source`` is the file path (with the content hash
        for user files) or ``"embedded:<name>"``.

    Raises:
        DatasetNotFoundError: the file is absent and there is no (allowed) fallback;
            the message names the file expected and where.
        DatasetError: the file is empty or malformed.
    """
    if "," in name:
        return _load_many([n.strip() for n in name.split(",")], limit, allow_fallback, column)
    if is_dataset_path(name):
        strings, _, source = read_dataset_file(name, column)
        return (strings[:limit] if limit is not None else strings), source
    if column is not None:
        raise DatasetError(f"--column applies to a dataset file, not to the registry dataset {name!r}")
    spec = _spec(name)
    if spec.kind == "images":
        raise DatasetError(f"{name} is an image dataset; it has no strings")
    path = spec.path()
    if path is not None and path.exists() and not spec.available():
        raise DatasetError(f"dataset {name!r}: {path} is a {'file' if path.is_file() else 'directory'}, "
                           f"expected a {'directory' if spec.kind == 'images' else 'file'}")
    if spec.available():
        strings = spec.reader(path)
        source = str(path)
        if not strings:
            raise DatasetError(f"{path} holds no data lines")
    elif spec.fallback is not None and allow_fallback:
        strings, source = spec.fallback(), f"embedded:{name}"
    else:
        where = str(path) if path is not None else f"<data dir>/{spec.relpath} (no data dir set: use --data-dir or {ENV_VAR})"
        raise DatasetNotFoundError(f"dataset {name!r} needs the file {where}")
    return (strings[:limit] if limit is not None else strings), source


def _load_many(names: list[str], limit: int | None, allow_fallback: bool,
               column: str | None) -> tuple[list[str], str]:
    if len(set(names)) != len(names) or not all(names):
        raise DatasetError(f"datasets {names}: name each dataset once, separated by commas")
    seen: dict[str, None] = {}
    sources = []
    for n in names:
        strings, source = load_strings(n, None, allow_fallback, column if is_dataset_path(n) else None)
        before = len(seen)
        seen.update(dict.fromkeys(strings))
        sources.append(f"{source}: {len(seen) - before} of {len(strings)} new")
    strings = list(seen)
    return (strings[:limit] if limit is not None else strings), " + ".join(sources)


def dataset_status() -> list[dict[str, object]]:
    """One row per dataset: name, kind, expected path, availability, size on disk."""
    rows = []
    for spec in DATASETS.values():
        path = spec.path()
        available = spec.available()
        size = None
        if available:
            files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
            size = sum(p.stat().st_size for p in files)
        rows.append(
            {
                "name": spec.name,
                "kind": spec.kind,
                "path": str(path) if path else (f"<data dir>/{spec.relpath}" if spec.relpath else "embedded"),
                "available": available or spec.relpath is None,
                "fallback": spec.fallback is not None,
                "bytes": size,
                "description": spec.description,
            }
        )
    return rows
