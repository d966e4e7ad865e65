from pathlib import Path

import numpy as np

from latentbo.codecs import GrammarCodec
from latentbo.data import encode_dataset
from latentbo.io import cache_dir


def test_cache_hit_and_corrupt_entry(tmp_path: Path) -> None:
    codec = GrammarCodec("expressions")
    strings = ["x + 1", "x ++", "sin( x )"]
    first, hit1 = encode_dataset(codec, strings)
    second, hit2 = encode_dataset(codec, strings)
    assert (hit1, hit2) == (False, True)
    assert (second.indices == first.indices).all() and [f.index for f in second.failures] == [1]
    # the ids come back as an int16 memory map: a large corpus is paged in, not loaded
    assert isinstance(second.indices, np.memmap) and second.indices.dtype == np.int16
    (entry,) = cache_dir().glob("encoded-*.npz")
    entry.write_bytes(b"not a zip")
    third, hit3 = encode_dataset(codec, strings)
    assert not hit3 and (third.indices == first.indices).all()
    # a different grammar or different content is a different key
    _, hit4 = encode_dataset(codec, strings[:2])
    assert not hit4


def test_poisoned_entries_are_rebuilt_not_trusted() -> None:
    """Ids edited out of range, rows reordered, a skipped position moved: each entry is
    rebuilt from the strings, never used."""
    codec = GrammarCodec("expressions")
    strings = ["x + 1", "sin( x )", "x * 2", "x ++"]
    truth, _ = encode_dataset(codec, strings)
    truth_ids = np.array(truth.indices)

    def poison(edit) -> None:
        (ids_path,) = cache_dir().glob("encoded-*.npy")
        ids = np.load(ids_path)
        np.save(ids_path, edit(ids))

    for edit in (lambda a: np.full_like(a, 30000), lambda a: a[::-1].copy()):
        poison(edit)
        again, hit = encode_dataset(codec, strings)
        assert not hit and (np.array(again.indices) == truth_ids).all()
    (meta,) = cache_dir().glob("encoded-*.npz")
    with np.load(meta) as z:
        fields = dict(z)
    np.savez(meta, **{**fields, "kept": np.array([0, 1, 3])})  # the skipped string's position
    again, hit = encode_dataset(codec, strings)
    assert not hit and [f.index for f in again.failures] == [3]
