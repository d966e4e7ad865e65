"""On-disk cache of parsed datasets, keyed by codec spec + dataset content, so a
second run does not re-parse. Writes are atomic (temp file, fsync, rename)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from latentbo.codecs.base import Codec, EncodedBatch, Failure
from latentbo.io import atomic_write_bytes

CACHE_ENV_VAR = "LATENTBO_CACHE_DIR"


def cache_dir() -> Path:
    """``LATENTBO_CACHE_DIR`` or ``~/.cache/latentbo``."""
    return Path(os.environ.get(CACHE_ENV_VAR) or Path.home() / ".cache" / "latentbo")


def cache_key(codec: Codec, strings: list[str]) -> str:
    h = hashlib.sha256(json.dumps(codec.spec(), sort_keys=True).encode())
    for s in strings:
        h.update(s.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:24]


def encode_dataset(
    codec: Codec, strings: list[str], use_cache: bool = True, progress: bool = False, workers: int | None = None
) -> tuple[EncodedBatch, bool]:
    """Encode ``strings`` with ``codec``, reusing a cached result when one exists.

    Returns:
        ``(batch, from_cache)``.
    """
    path = cache_dir() / f"encoded-{cache_key(codec, strings)}.npz"
    if use_cache and path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                failures = [Failure(**f) for f in json.loads(str(z["failures"]))]
                return EncodedBatch(z["indices"], z["kept"], failures, int(z["n_input"])), True
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # corrupt cache entry: rebuild it
    batch = codec.encode_many(strings, workers=workers, progress=progress)
    if use_cache:
        import io

        buf = io.BytesIO()
        np.savez(
            buf,
            indices=batch.indices,
            kept=batch.kept,
            n_input=np.int64(batch.n_input),
            failures=np.str_(json.dumps([f.__dict__ for f in batch.failures])),
        )
        atomic_write_bytes(path, buf.getvalue())
    return batch, False
