"""Datasets: one registry (:data:`DATASETS`) of string and image datasets, where they
live (the data-directory setting), how to load them, and an on-disk cache of their
parsed encodings.

Names are imported on first use, so setting the data directory costs no torch import."""

from latentbo.lazy import lazy_getattr

_WHERE = {
    "encode_dataset": "cache", "DATASETS": "datasets", "DatasetSpec": "datasets", "data_dir": "datasets",
    "dataset_status": "datasets", "is_dataset_path": "datasets", "load_strings": "datasets",
    "read_dataset_file": "datasets", "set_data_dir": "datasets", "ImageSet": "images", "image_datasets": "images",
    "load_images": "images", "read_idx": "images",
}


__getattr__ = lazy_getattr(__name__, _WHERE, globals())

__all__ = sorted(_WHERE)
