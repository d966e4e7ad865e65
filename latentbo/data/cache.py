"""On-disk cache of parsed datasets, keyed by codec spec + dataset content, so a
second run does not re-parse. An entry is two files: the ``M x L`` id array as a
plain ``.npy`` (int16), read back as a memory map so a run over millions of
molecules pages in only the rows of its batches, and a small ``.npz`` (which
strings were kept, what was skipped) written last, so an entry without it is
never read. Writes are atomic (temp file, fsync, rename); an entry is checked (shapes,
dtype, id range, positions, content hash) before use and rebuilt otherwise."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from latentbo.codecs.base import Codec, EncodedBatch, Failure
from latentbo.io import atomic_write_with, cache_dir

def cache_key(codec: Codec, strings: list[str]) -> str:
    h = hashlib.sha256(json.dumps(codec.spec(), sort_keys=True).encode())
    for s in strings:
        h.update(s.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:24]


def encode_dataset(
    codec: Codec, strings: list[str], use_cache: bool = True, progress: bool = False, workers: int | None = None
) -> tuple[EncodedBatch, bool]:
    """Encode ``strings`` with ``codec``, reusing a cached result when one exists
    (its ``indices`` then a read-only memory map).

    Returns:
        ``(batch, from_cache)``.
    """
    stem = cache_dir() / f"encoded-{cache_key(codec, strings)}"
    ids_path, meta_path = stem.with_suffix(".npy"), stem.with_suffix(".npz")
    if use_cache and meta_path.exists():
        try:
            with np.load(meta_path, allow_pickle=False) as z:
                failures = [Failure(**f) for f in json.loads(str(z["failures"]))]
                kept, n_input, digest = z["kept"], int(z["n_input"]), str(z["digest"])
            indices = np.load(ids_path, mmap_mode="r", allow_pickle=False)
            _check_entry(codec, indices, kept, failures, n_input, len(strings), digest)
            return EncodedBatch(indices, kept, failures, n_input), True
        except (OSError, ValueError, KeyError, TypeError):  # corrupt or edited entry: rebuild it
            meta_path.unlink(missing_ok=True)
            ids_path.unlink(missing_ok=True)
    batch = codec.encode_many(strings, workers=workers, progress=progress)
    if use_cache:
        atomic_write_with(ids_path, lambda fh: np.save(fh, batch.indices, allow_pickle=False))
        atomic_write_with(meta_path, lambda fh: np.savez(
            fh, kept=batch.kept, n_input=np.int64(batch.n_input), digest=np.str_(_digest(batch.indices, batch.kept)),
            failures=np.str_(json.dumps([f.__dict__ for f in batch.failures]))))
    return batch, False


def _digest(indices: np.ndarray, kept: np.ndarray) -> str:
    """SHA-256 of the ids and of which strings they belong to."""
    h = hashlib.sha256(np.ascontiguousarray(indices).tobytes())
    h.update(np.ascontiguousarray(kept, dtype=np.int64).tobytes())
    return h.hexdigest()


def _check_entry(codec: Codec, indices: np.ndarray, kept: np.ndarray, failures: list[Failure], n_input: int,
                 n_strings: int, digest: str) -> None:
    """An entry is used only if it is what was written for these strings: shapes, dtype,
    id range, the kept / skipped positions, and the content hash (rows edited or
    reordered on disk change it).

    Raises:
        ValueError: naming what does not fit.
    """
    if indices.dtype != np.int16 or indices.shape != (len(kept), codec.max_length):
        raise ValueError(f"ids of dtype {indices.dtype} and shape {indices.shape} for {len(kept)} kept strings")
    positions = sorted([*(int(k) for k in kept), *(f.index for f in failures)])
    if n_input != n_strings or positions != list(range(n_strings)):
        raise ValueError("kept and skipped positions do not cover the strings once each")
    if len(indices) and (int(indices.min()) < 0 or int(indices.max()) >= codec.vocab_size):
        raise ValueError(f"ids outside 0..{codec.vocab_size - 1}")
    if _digest(indices, kept) != digest:
        raise ValueError("ids differ from those written")
