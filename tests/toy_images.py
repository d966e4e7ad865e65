"""Small MNIST-shaped image data for tests: IDX files and ``ImageSet`` pairs."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np


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
