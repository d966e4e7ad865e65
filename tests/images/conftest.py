from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from latentbo.images import ImageSet


def write_idx(path: Path, array: np.ndarray, type_code: int = 0x08, compress: bool = True) -> None:
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", s) for s in array.shape)
    data = header + array.astype(">u1" if type_code == 0x08 else array.dtype).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def toy_mnist(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """28x28 uint8 images: class c is a bright 6x6 square at one of 10 places, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        r, col = divmod(int(c), 5)
        images[i, 4 + 12 * r : 10 + 12 * r, 1 + 5 * col : 7 + 5 * col] = 255
    return images, labels


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
