"""Image datasets, found through the data directory and registered in
:data:`latentbo.data.DATASETS` (kind ``images``) beside the string datasets.

Every loader returns float32 images ``N x C x S x S`` in ``[0, 1]`` (S = 32, or 64
for CelebA) and integer labels (``None`` where the dataset has none). MNIST and
Fashion-MNIST are zero-padded from 28 to 32 pixels, as in the GMM-DAE reference.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from latentbo.data.datasets import DATASETS, DatasetSpec, data_dir
from latentbo.errors import ConfigError, DatasetError, DatasetNotFoundError

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (plain or gzip-compressed): magic ``0 0 type ndim``, ``ndim``
    big-endian uint32 sizes, then the data.

    Raises:
        DatasetError: bad magic, unknown type, or a size that does not match the header.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path}: cannot read IDX file: {exc}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise DatasetError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise DatasetError(f"{path}: IDX header truncated")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    body = raw[4 + 4 * ndim :]
    if len(body) != expected:
        raise DatasetError(f"{path}: header says {shape} ({expected} bytes), file holds {len(body)} bytes")
    return np.frombuffer(body, dtype).reshape(shape)


@dataclass
class ImageSet:
    """Images ``N x C x S x S`` in [0, 1], labels ``N`` (or None), and where they came from."""

    x: Tensor
    y: Tensor | None
    source: str

    @property
    def channels(self) -> int:
        return self.x.shape[1]

    @property
    def size(self) -> int:
        return self.x.shape[-1]


def _root(sub: str, fallbacks: tuple[str, ...] = ()) -> list[Path]:
    roots = [data_dir() / sub] if data_dir() else []
    return roots + [Path(f) for f in fallbacks]


def _find(name: str, candidates: list[Path], files: list[str]) -> Path:
    for root in candidates:
        if all((root / f).exists() for f in files):
            return root
    where = " or ".join(str(c) for c in candidates) or "<data dir>/..."
    raise DatasetNotFoundError(f"dataset {name!r} needs {', '.join(files)} in {where}; set --data-dir / "
                               "LATENTBO_DATA_DIR to the folder that holds it")


def _mnist_like(name: str, sub: str, fallbacks: tuple[str, ...]) -> Callable[[str], ImageSet]:
    def load(split: str) -> ImageSet:
        prefix = {"train": "train", "test": "t10k"}[split]
        files = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
        root = _find(f"{name}/{split}", _root(sub, fallbacks), files)
        images, labels = read_idx(root / files[0]), read_idx(root / files[1])
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(f"{root}: images {images.shape} and labels {labels.shape} do not match")
        x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        x = torch.nn.functional.pad(x, (2, 2, 2, 2))  # 28 -> 32
        return ImageSet(x, torch.from_numpy(labels.astype(np.int64)), str(root / files[0]))

    return load


def _svhn(split: str) -> ImageSet:
    from scipy.io import loadmat

    file = f"{split}_32x32.mat"
    root = _find(f"svhn/{split}", _root("svhn"), [file])
    mat = loadmat(root / file)
    x = torch.from_numpy(mat["X"].transpose(3, 2, 0, 1).astype(np.float32) / 255.0)
    y = torch.from_numpy(mat["y"].reshape(-1).astype(np.int64) % 10)  # SVHN stores digit 0 as label 10
    return ImageSet(x, y, str(root / file))


def _celeba(split: str) -> ImageSet:
    from PIL import Image

    root = _find("celeba", _root("celeba"), ["img_align_celeba"]) / "img_align_celeba"
    files = sorted(root.glob("*.jpg"))
    if not files:
        raise DatasetNotFoundError(f"{root} holds no .jpg images")
    cut = int(0.9 * len(files))  # the last 10% (by file name) is the test split
    files = files[:cut] if split == "train" else files[cut:]
    imgs = []
    for f in files:  # the usual 140-pixel centre crop, resized to 64
        im = Image.open(f).convert("RGB")
        w, h = im.size
        im = im.crop(((w - 140) // 2, (h - 140) // 2, (w + 140) // 2, (h + 140) // 2)).resize((64, 64))
        imgs.append(np.asarray(im, dtype=np.float32) / 255.0)
    return ImageSet(torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).contiguous(), None, str(root))


for _spec in (
    DatasetSpec("fashion-mnist", "images", "fashion-mnist", "Fashion-MNIST IDX files (70k images)",
                images=_mnist_like("fashion-mnist", "fashion-mnist", ("/usr/share/datasets/fashion-mnist",))),
    DatasetSpec("mnist", "images", "mnist", "MNIST IDX files (test split here)", images=_mnist_like("mnist", "mnist", ())),
    DatasetSpec("svhn", "images", "svhn", "SVHN train/test_32x32.mat (not shipped)", images=_svhn),
    DatasetSpec("celeba", "images", "celeba", "CelebA img_align_celeba/*.jpg (not shipped)", images=_celeba),
):
    DATASETS[_spec.name] = _spec


def image_datasets() -> list[str]:
    """The names of the registered image datasets."""
    return sorted(name for name, spec in DATASETS.items() if spec.images is not None)


def load_images(name: str, split: str = "train", limit: int | None = None) -> ImageSet:
    """Load one split of an image dataset.

    Args:
        name: ``fashion-mnist``, ``mnist``, ``svhn`` or ``celeba``.
        split: ``train`` or ``test``.
        limit: keep the first ``limit`` images.

    Raises:
        ConfigError: unknown dataset or split.
        DatasetNotFoundError: the files are not where the data directory says.
    """
    spec = DATASETS.get(name)
    if spec is None or spec.images is None:
        raise ConfigError(f"unknown image dataset {name!r}; known: {image_datasets()}")
    if split not in ("train", "test"):
        raise ConfigError(f"split must be 'train' or 'test', got {split!r}")
    data = spec.images(split)
    if limit is not None:
        data = ImageSet(data.x[:limit], None if data.y is None else data.y[:limit], data.source)
    return data
