from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from latentbo.data import datasets, load_images, read_idx
from latentbo.errors import ConfigError, DatasetError, DatasetNotFoundError
from tests.toy_images import toy_mnist, write_idx


@pytest.mark.parametrize("compress", [True, False])
def test_read_idx_round_trip(tmp_path: Path, compress: bool) -> None:
    images, labels = toy_mnist(7)
    write_idx(tmp_path / "i.idx", images, compress=compress)
    write_idx(tmp_path / "l.idx", labels, compress=compress)
    assert np.array_equal(read_idx(tmp_path / "i.idx"), images)
    assert np.array_equal(read_idx(tmp_path / "l.idx"), labels)
    ints = np.arange(6, dtype=">i4").reshape(2, 3)
    write_idx(tmp_path / "x.idx", ints, type_code=0x0C, compress=False)
    assert np.array_equal(read_idx(tmp_path / "x.idx"), ints)


def test_read_idx_rejects_bad_files(tmp_path: Path) -> None:
    (tmp_path / "magic").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(DatasetError, match="bad magic"):
        read_idx(tmp_path / "magic")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09\x05")
    with pytest.raises(DatasetError, match="header says"):
        read_idx(tmp_path / "short")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DatasetError, match="bad magic"):
        read_idx(tmp_path / "empty")
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b" + b"truncated gzip stream")
    with pytest.raises(DatasetError, match="cannot read"):
        read_idx(tmp_path / "bad.gz")


def test_loader_shapes_range_and_labels(toy_data_dir: Path) -> None:
    datasets.set_data_dir(toy_data_dir)
    train, test = load_images("fashion-mnist", "train"), load_images("fashion-mnist", "test", limit=40)
    assert train.x.shape == (300, 1, 32, 32) and test.x.shape == (40, 1, 32, 32)
    assert train.x.dtype.is_floating_point and float(train.x.min()) == 0.0 and float(train.x.max()) == 1.0
    assert float(train.x[:, :, :2].abs().sum()) == 0.0  # the 2-pixel zero border of 28 -> 32
    assert train.y.shape == (300,) and set(train.y.tolist()) <= set(range(10))
    assert train.source.endswith("train-images-idx3-ubyte.gz")


def test_missing_and_unknown_datasets(tmp_path: Path) -> None:
    datasets.set_data_dir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="train-images-idx3-ubyte.gz.*fashion-mnist"):
        load_images("fashion-mnist")
    with pytest.raises(DatasetNotFoundError, match="train_32x32.mat"):
        load_images("svhn")
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba"):
        load_images("celeba")
    with pytest.raises(ConfigError, match=r"unknown image dataset 'cifar'; known: \['celeba', 'fashion-mnist', 'mnist', 'svhn'\]"):
        load_images("cifar")
    with pytest.raises(ConfigError, match="split"):
        load_images("mnist", "val")


@pytest.mark.skipif(not os.environ.get("LATENTBO_DATA_DIR"), reason="needs the real data dir")
def test_real_fashion_mnist_and_mnist() -> None:
    datasets.set_data_dir(os.environ["LATENTBO_DATA_DIR"])
    train, test = load_images("fashion-mnist", "train"), load_images("fashion-mnist", "test")
    assert train.x.shape == (60_000, 1, 32, 32) and test.x.shape == (10_000, 1, 32, 32)
    assert sorted(train.y.unique().tolist()) == list(range(10))
    assert load_images("mnist", "test").x.shape == (10_000, 1, 32, 32)


def test_svhn_mat_files(tmp_path: Path) -> None:
    from scipy.io import savemat

    rng = np.random.default_rng(0)
    (tmp_path / "svhn").mkdir()
    x = rng.integers(0, 256, (32, 32, 3, 5), dtype=np.uint8)
    savemat(tmp_path / "svhn" / "test_32x32.mat", {"X": x, "y": np.array([[10], [1], [2], [10], [9]])})
    datasets.set_data_dir(tmp_path)
    data = load_images("svhn", "test")
    assert data.x.shape == (5, 3, 32, 32) and data.y.tolist() == [0, 1, 2, 0, 9]  # label 10 is the digit 0
    assert np.allclose(data.x[1, 2].numpy(), x[:, :, 2, 1] / 255.0)


def test_celeba_folder_is_cropped_to_64(tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    for i in range(10):
        Image.fromarray(np.full((218, 178, 3), 25 * i, dtype=np.uint8)).save(folder / f"{i:06d}.jpg")
    datasets.set_data_dir(tmp_path)
    train, test = load_images("celeba", "train"), load_images("celeba", "test")
    assert train.x.shape == (9, 3, 64, 64) and test.x.shape == (1, 3, 64, 64) and train.y is None
    assert abs(float(test.x.mean()) - 225 / 255) < 0.02


def test_one_registry_and_one_name_per_image_dataset() -> None:
    """Image datasets are in the same registry as the string ones (so `data list`
    shows them), under the names the image configs use."""
    from latentbo.data import DATASETS, dataset_status, image_datasets
    from latentbo.models import IMAGE_PRESETS

    assert image_datasets() == sorted(IMAGE_PRESETS)
    assert all(DATASETS[name].kind == "images" for name in image_datasets())
    assert {r["name"] for r in dataset_status()} >= set(IMAGE_PRESETS) | {"expressions", "zinc250k", "moses"}
