"""Codec speed: encoding (ours vs nltk's ChartParser, same run) and decoding (the
batched decoder vs a per-sample stack loop on the same logits).

    python benchmarks/codec_speed.py [--data-dir ../shared/data] [--nltk 300] [--repeats 3]

Molecules: ZINC subset from the data dir (else RDKit's NCI 5k). Writes
benchmarks/results/codec_speed.{csv,md}.
"""

from __future__ import annotations

import argparse
import time

import nltk
import numpy as np
import torch

from _common import run, write_table
from latentbo.codecs import GrammarCodec
from latentbo.data import load_strings, set_data_dir


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--nltk", type=int, default=300, help="molecules parsed by nltk (it is slow)")
    ap.add_argument("--repeats", type=int, default=5, help="timings are the best of this many runs")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    torch.set_num_threads(1)
    try:
        mols, source = load_strings("zinc250k")
    except Exception:
        mols, source = load_strings("nci5k")
    codec = GrammarCodec("zinc_smiles")
    batch = codec.encode_many(mols, workers=1)
    mols = [mols[i] for i in batch.kept]
    rows = []

    tokens = [codec.tokenize(m) for m in mols[: args.nltk]]
    chart = nltk.ChartParser(nltk.CFG.fromstring(codec.grammar.text))
    t_nltk = best_time(lambda: [next(chart.parse(t)) for t in tokens], 1)
    nltk_rate = len(tokens) / t_nltk
    rows.append({"task": "encode", "method": "nltk ChartParser (reference)", "batch": 1, "n": len(tokens),
                 "per_second": nltk_rate, "speedup": 1.0})
    t_ours = best_time(lambda: codec.encode_many(mols, workers=1), args.repeats)
    rows.append({"task": "encode", "method": "latentbo LR parser, 1 process", "batch": 1, "n": len(mols),
                 "per_second": len(mols) / t_ours, "speedup": len(mols) / t_ours / nltk_rate})
    t_par = best_time(lambda: codec.encode_many(mols, workers=2), args.repeats)
    rows.append({"task": "encode", "method": "latentbo LR parser, 2 processes", "batch": 1, "n": len(mols),
                 "per_second": len(mols) / t_par, "speedup": len(mols) / t_par / nltk_rate})

    gen = torch.Generator().manual_seed(0)
    for batch_size in (512, 2048):
        idx = torch.from_numpy(batch.indices[:batch_size].astype(np.int64))
        for kind, logits in [
            ("one-hot of real molecules", codec.one_hot(idx)),
            ("random logits", torch.randn(batch_size, codec.max_length, codec.vocab_size, generator=gen)),
        ]:
            # The grammar-only decoder (semantic masks: benchmarks/molecule_validity.py).
            assert codec.decode(logits, semantic=False) == codec.decode_per_sample(logits)
            # Interleaved, so a burst of load on this shared machine hits both alike.
            t_loop, t_vec = np.inf, np.inf
            for _ in range(args.repeats):
                t_loop = min(t_loop, best_time(lambda: codec.decode_per_sample(logits), 1))
                t_vec = min(t_vec, best_time(lambda: codec.decode(logits, semantic=False), 3))
            rows.append({"task": f"decode ({kind})", "method": "per-sample stack loop", "batch": batch_size,
                         "n": batch_size, "per_second": batch_size / t_loop, "speedup": 1.0})
            rows.append({"task": f"decode ({kind})", "method": "latentbo batched decoder", "batch": batch_size,
                         "n": batch_size, "per_second": batch_size / t_vec, "speedup": t_loop / t_vec})
    write_table(
        "codec_speed",
        rows,
        f"Molecules: {source}. Encoding speed-ups are against nltk's ChartParser on the first {len(tokens)} "
        "molecules; decoding speed-ups against the per-sample loop on the same logits (outputs asserted equal; "
        f"best of {args.repeats} interleaved rounds; the batched decoder drops rows that can no longer finish). "
        "torch/numpy limited to one thread.",
    )


if __name__ == "__main__":
    run(main)
