"""Datasets: where they live (the data-directory setting), how to load them, and
an on-disk cache of their parsed encodings."""

from latentbo.data.cache import encode_dataset
from latentbo.data.datasets import (
    DATASETS,
    DatasetSpec,
    data_dir,
    dataset_status,
    is_dataset_path,
    load_strings,
    read_dataset_file,
    set_data_dir,
)

__all__ = ["DATASETS", "DatasetSpec", "data_dir", "dataset_status", "encode_dataset", "is_dataset_path", "load_strings",
           "read_dataset_file", "set_data_dir"]
