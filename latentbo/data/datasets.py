"""Dataset registry and the data-directory setting.

The data directory comes from, in order: :func:`set_data_dir` (the CLI's global
``--data-dir``), the ``LATENTBO_DATA_DIR`` environment variable. Its layout is
``expressions/``, ``zinc250k/``, ``moses/``, ``fashion-mnist/``, ``mnist/``. Datasets
with an embedded default (expressions generated from the grammar, RDKit's NCI 5k
molecules) work without it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from latentbo.codecs.cfg import Grammar
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
    """

    name: str
    kind: str
    relpath: str | None
    description: str
    reader: Callable[[Path], list[str]] | None = None
    fallback: Callable[[], list[str]] | None = None
    grammar: str | None = None

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
    from latentbo.codecs.tokenizers import TOKENIZERS

    g = Grammar(grammar)
    tokenizer = TOKENIZERS[g.tokenizer_name](g.terminals)
    usable = [p for p in g.productions if p.index != g.padding_rule and g.productive[p.index]]
    # cost[nt]: fewest productions that finish a derivation from nt (fixpoint).
    cost: dict[str, int] = {}
    changed = True
    while changed:
        changed = False
        for p in usable:
            if all(t or s in cost for s, t in zip(p.rhs, p.is_terminal)):
                c = 1 + sum(cost[s] for s, t in zip(p.rhs, p.is_terminal) if not t)
                if c < cost.get(p.lhs, 1 << 30):
                    cost[p.lhs], changed = c, True
    options = {
        nt: [(p, sum(cost[s] for s, t in zip(p.rhs, p.is_terminal) if not t)) for p in usable if p.lhs == nt]
        for nt in cost
    }
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    for _ in range(50 * n):
        if len(seen) >= n:
            break
        stack, tokens, steps, pending = [(g.start, False)], [], 0, cost[g.start]
        while stack:
            sym, term = stack.pop()
            if term:
                tokens.append(sym)
                continue
            rest = pending - cost[sym]
            fits = [(p, c) for p, c in options[sym] if steps + 1 + rest + c <= g.max_length]
            p, c = fits[rng.integers(len(fits))]
            steps, pending = steps + 1, rest + c
            stack.extend(zip(reversed(p.rhs), reversed(p.is_terminal)))
        seen.setdefault(tokenizer.join(tokens))
    if len(seen) < n:
        raise DatasetError(f"grammar {g.name} yielded only {len(seen)} distinct strings in {50 * n} draws")
    return list(seen)


DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in [
        DatasetSpec(
            "expressions",
            "expressions",
            "expressions/equation2_15_dataset.txt",
            "Grammar-VAE arithmetic expressions (100k); generated from the grammar when absent",
            _read_lines,
            generate_expressions,
            "expressions",
        ),
        DatasetSpec(
            "zinc250k",
            "molecules",
            "zinc250k/valid.txt",
            "24,445-molecule ZINC250k subset (one SMILES per line)",
            _read_lines,
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
        DatasetSpec("fashion-mnist", "images", "fashion-mnist", "Fashion-MNIST IDX files (70k images)"),
        DatasetSpec("mnist", "images", "mnist", "MNIST IDX files (test split here)"),
    ]
}


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise DatasetNotFoundError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}")
    return DATASETS[name]


def load_strings(name: str, limit: int | None = None, allow_fallback: bool = True) -> tuple[list[str], str]:
    """Load a string dataset.

    Args:
        name: a key of :data:`DATASETS`.
        limit: keep only the first ``limit`` strings.
        allow_fallback: use the embedded default when the file is absent.

    Returns:
        ``(strings, source)``; ``source`` is the file path or ``"embedded:<name>"``.

    Raises:
        DatasetNotFoundError: the file is absent and there is no (allowed) fallback;
            the message names the file expected and where.
        DatasetError: the file is empty or malformed.
    """
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
