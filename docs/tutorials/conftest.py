"""The tutorials run as tests (nbmake, `make test`), each notebook a test."""

from __future__ import annotations

import os

import pytest

# A kernel inherits this: one thread each, like the test processes running beside it.
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _have_fashion_mnist() -> bool:
    from latentbo.data.images import load_images
    from latentbo.errors import DatasetNotFoundError

    try:
        load_images("fashion-mnist", "test", limit=2)
    except DatasetNotFoundError:
        return False
    return True


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    needs_images = [item for item in items if item.path.name == "images.ipynb"]
    if needs_images and not _have_fashion_mnist():
        for item in needs_images:
            item.add_marker(pytest.mark.skip(reason="Fashion-MNIST is not in the data folder (LATENTBO_DATA_DIR)"))
