"""Datasets: one registry (:data:`DATASETS`) of string and image datasets, where they
live (the data-directory setting), how to load them, and an on-disk cache of their
parsed encodings."""

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
from latentbo.data.images import ImageSet, image_datasets, load_images, read_idx

__all__ = ["DATASETS", "DatasetSpec", "ImageSet", "data_dir", "dataset_status", "encode_dataset", "image_datasets",
           "is_dataset_path", "load_images", "load_strings", "read_dataset_file", "read_idx", "set_data_dir"]
