"""Decoding speed of autoregressive (``ar``) grammar models under the SMILES semantic masks.

    python benchmarks/ar_decode_speed.py [--rows 512] [--sizes 128x2,256x4] [--repeats 3] [--label NAME]

One thread, one batch of ``--rows`` latent codes (N(0, I), seed 0):

* ``masks alone``: the semantic decoder fed one step of scores at a time by a stand-in
  model (fixed random logits, no network): what decoding itself costs;
* ``ar WxK``: an ``ar`` decoder of width W and K blocks with random weights (seed 0), end
  to end through ``decode_latents_with_status`` (model steps + masks).

Rows append to ``benchmarks/results/ar_decode_speed.csv`` under ``--label`` (the code
measured: run it at another commit with another label to compare), and the Markdown
table is rewritten from the CSV.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections import Counter

import numpy as np
import torch

from _common import kept_rows, run, write_table
from latentbo.codecs import GrammarCodec
from latentbo.models import ModelConfig, SequenceAutoencoder


def _timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _stand_in(logits: torch.Tensor):
    def start(rows: np.ndarray):
        state = {"rows": torch.from_numpy(rows), "t": 0}

        def step(keep, prev):
            if keep is not None:
                state["rows"] = state["rows"][torch.from_numpy(keep)]
            state["t"] += 1
            return logits[state["rows"], state["t"] - 1]

        return step

    return start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=512)
    ap.add_argument("--sizes", default="128x2,256x4", help="ar decoder width x blocks, comma-separated")
    ap.add_argument("--repeats", type=int, default=3, help="timings are the median of this many runs")
    ap.add_argument("--label", default=None, help="name of the code measured (default: the commit)")
    ap.add_argument("--skip-masks-alone", action="store_true", help="only the model rows (older code lacks the API)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    label = args.label or subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                         text=True).stdout.strip()
    codec = GrammarCodec("zinc_smiles")
    rows: list[dict] = []

    def row(what: str, seconds: float, out: tuple) -> None:
        strings, status = out
        counts = Counter(status)
        rows.append({"code": label, "decodes": what, "rows": args.rows, "molecules_per_s": round(args.rows / seconds, 1),
                     "ok": counts["ok"], "fallback": counts["fallback"],
                     "mean_length": round(float(np.mean([len(s or "") for s in strings])), 1)})
        print(rows[-1], flush=True)

    if not args.skip_masks_alone:
        logits = torch.randn(args.rows, codec.max_length, codec.vocab_size, generator=torch.Generator().manual_seed(0))
        codec.decode_steps(_stand_in(logits[:2]), 2)  # compile outside the timing
        row("masks alone (stand-in model)", *_timed(lambda: codec.decode_steps(_stand_in(logits), args.rows),
                                                   args.repeats))
    z = torch.randn(args.rows, 56, generator=torch.Generator().manual_seed(0))
    for size in args.sizes.split(","):
        width, blocks = (int(x) for x in size.split("x"))
        torch.manual_seed(0)
        model = SequenceAutoencoder(ModelConfig(task="zinc", model="gmm_dae", codec="grammar", decoder="ar",
                                                decoder_hidden=width, decoder_layers=blocks, latent_dim=56), codec)
        model.decode_latents_with_status(z[:2])
        row(f"ar {size} (random weights)", *_timed(lambda: model.decode_latents_with_status(z), args.repeats))

    write_table("ar_decode_speed", kept_rows("ar_decode_speed", "code", {label}) + rows,
                notes="One thread, one batch. `masks alone`: the semantic decoder stepped by a stand-in model "
                      "(fixed random logits): the cost of decoding itself. `ar WxK`: end to end with an ar decoder "
                      "of width W and K blocks (random weights, seed 0), model steps included. Codes before the "
                      "one-pass decoder reached the semantic decode as a fixed point of teacher-forced passes.")


if __name__ == "__main__":
    run(main)
