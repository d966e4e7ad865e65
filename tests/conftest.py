"""Shared fixtures. Real data is read from LATENTBO_DATA_DIR when set (CI points it
at ../shared/data); otherwise the embedded defaults stand in."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from latentbo.codecs import GrammarCodec
from latentbo.data import ImageSet, datasets
from tests.toy_images import toy_mnist, write_idx

# One thread per test process: two xdist workers on two cores must not each spawn two
# (torch's, and the semantic decoder's numba threads, which follow torch's count).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same global RNG states, whatever ran before it in its
    worker: a test's result never depends on the order xdist gives it."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    datasets.set_data_dir(None)


@pytest.fixture(scope="session")
def expr_codec() -> GrammarCodec:
    return GrammarCodec("expressions")


@pytest.fixture(scope="session")
def zinc_codec() -> GrammarCodec:
    return GrammarCodec("zinc_smiles")


def _real(relpath: str) -> Path | None:
    root = os.environ.get("LATENTBO_DATA_DIR")
    path = Path(root) / relpath if root else None
    return path if path is not None and path.exists() else None


@pytest.fixture(scope="session")
def molecules() -> list[str]:
    """ZINC molecules when the data dir has them, else RDKit's NCI set (canonical)."""
    path = _real("zinc250k/valid.txt")
    if path is not None:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return datasets._nci_5k()


@pytest.fixture(scope="session")
def expressions() -> list[str]:
    path = _real("expressions/equation2_15_dataset.txt")
    if path is not None:
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return datasets.generate_expressions(20_000)


@pytest.fixture
def toy_data_dir(tmp_path: Path) -> Path:
    """A data dir with a small Fashion-MNIST-shaped dataset (train 300, test 100)."""
    root = tmp_path / "data" / "fashion-mnist"
    root.mkdir(parents=True)
    for split, n, seed in (("train", 300, 0), ("t10k", 100, 1)):
        images, labels = toy_mnist(n, seed)
        write_idx(root / f"{split}-images-idx3-ubyte.gz", images)
        write_idx(root / f"{split}-labels-idx1-ubyte.gz", labels)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def toy_sets() -> tuple[ImageSet, ImageSet]:
    sets = []
    for n, seed in ((400, 0), (200, 1)):
        images, labels = toy_mnist(n, seed)
        x = torch.nn.functional.pad(torch.from_numpy(images / 255.0).float().unsqueeze(1), (2, 2, 2, 2))
        sets.append(ImageSet(x, torch.from_numpy(labels.astype(np.int64)), f"toy{seed}"))
    return sets[0], sets[1]
