"""Round-trip check of a codec on a dataset: parse -> one-hot -> decode == canonical input.

It lives with the data (it reads datasets through the parse cache), so codecs import
nothing from the layers above them."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
import torch

from latentbo.codecs.base import Codec
from latentbo.data.cache import encode_dataset

_DECODE_BATCH = 512  # larger batches lose cache locality in the decoder


def round_trip_report(
    codec: Codec, strings: list[str], use_cache: bool = False, workers: int | None = None, progress: bool = False
) -> dict[str, Any]:
    """Encode every string, decode its one-hot greedily and compare with the input.

    Args:
        codec: the codec under test.
        strings: the inputs (e.g. a dataset's lines).
        use_cache: reuse/save the parsed encodings (then ``per_second`` measures the cache).
        workers: encoding processes (default: all cores for large inputs).
        progress: show progress bars.

    Returns:
        A JSON-ready dict: ``read``, ``parsed``, ``round_trip_exact``,
        ``round_trip_fraction`` (of lines read), ``failures`` (count per reason, a
        decoded-but-different string counting as ``round_trip_mismatch``),
        ``examples`` (a few failures with their reason), ``per_second`` (strings
        encoded per second), ``decode_per_second`` and ``from_cache``.
    """
    t0 = time.perf_counter()
    batch, from_cache = encode_dataset(codec, strings, use_cache=use_cache, workers=workers, progress=progress)
    encode_s = time.perf_counter() - t0
    failures = Counter(f.reason for f in batch.failures)
    examples = [{"line": f.index + 1, "reason": f.reason, "detail": f.detail} for f in batch.failures[:5]]
    exact = 0
    t0 = time.perf_counter()
    for start in range(0, len(batch.kept), _DECODE_BATCH):
        idx = torch.from_numpy(batch.indices[start : start + _DECODE_BATCH].astype(np.int64))
        decoded = codec.decode(codec.one_hot(idx))
        for k, got in zip(batch.kept[start : start + _DECODE_BATCH], decoded):
            want = codec.canonical(strings[k])
            if got == want:
                exact += 1
            else:
                failures["round_trip_mismatch"] += 1
                if len(examples) < 10:
                    examples.append({"line": int(k) + 1, "reason": "round_trip_mismatch", "detail": f"{got!r} != {want!r}"})
    decode_s = time.perf_counter() - t0
    n = len(strings)
    return {
        "read": n,
        "parsed": len(batch.kept),
        "round_trip_exact": exact,
        "round_trip_fraction": exact / n if n else 0.0,
        "failures": dict(failures),
        "examples": examples,
        "per_second": n / encode_s if encode_s > 0 else float("inf"),
        "decode_per_second": len(batch.kept) / decode_s if decode_s > 0 else float("inf"),
        "from_cache": from_cache,
    }
