"""Molecule validity with and without the semantic masks, and what they cost.

    python benchmarks/molecule_validity.py --data-dir ../shared/data --pretrained ../shared/pretrained \
        [--models zinc-gvae-fast,...] [--extra runs/zinc-svae-fast] [--samples 1000] [--iterations 5 --batch 50]

Rows, each with masks off (the Grammar VAE's decoder) and on:
* random logits (no model): RDKit validity of N argmax decodes;
* each checkpoint: RDKit validity / uniqueness of N prior samples, and of the
  proposals of one TuRBO campaign (iterations x batch, penalized logP, ZINC initial
  data, the campaign's 10 stochastic decodes per candidate);
* decode throughput at batch 512 (one thread): the per-sample loop, the batched
  decoder, the batched decoder with masks, on random logits and on one-hots of
  real molecules.
Writes benchmarks/results/molecule_validity.{csv,md} and molecule_validity_speed.{csv,md}.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from _common import run, write_table
from latentbo.bo import Campaign, CampaignConfig
from latentbo.codecs import GrammarCodec
from latentbo.data import load_strings, set_data_dir
from latentbo.chem import molecule_invalidity
from latentbo.models import load_model


def validity(strings: list[str | None]) -> tuple[float, float, str]:
    reasons = [molecule_invalidity(s) for s in strings]
    valid = [s for s, r in zip(strings, reasons) if r is None]
    top = Counter(r for r in reasons if r is not None).most_common(3)
    return len(valid) / len(strings), len(set(valid)) / max(1, len(valid)), ", ".join(f"{k} {v}" for k, v in top)


def row(source: str, what: str, semantic: bool | None, strings: list[str | None], status: list[str] | None) -> dict:
    valid, unique, reasons = validity(strings)
    fallback = sum(s == "fallback" for s in status) / len(status) if status else 0.0
    return {"source": source, "decodes": what, "masks": {True: "on", False: "off", None: "-"}[semantic], "n": len(strings),
            "rdkit_valid": valid, "unique": unique, "fallback": fallback, "main_invalid_reasons": reasons or "-"}


def campaign_row(name: str, model_dir: Path, work: Path, semantic: bool | None, args) -> dict:
    cfg = CampaignConfig(objective="plogp", acquisition="turbo", iterations=args.iterations, batch=args.batch,
                         trials=1, semantic=semantic)
    out = work / f"bo-{name}-{'on' if semantic else 'off'}"
    summary = Campaign.from_dir(model_dir, cfg, out).run(resume=(out / "campaign.json").exists(), progress=False)
    recs = [json.loads(line) for line in (out / "trial_0" / "evaluations.jsonl").read_text().splitlines()]
    valid = [r["string"] for r in recs if r["valid"]]
    d = summary["decoding"]
    reasons = ", ".join(f"{k} {v}" for k, v in Counter(d["invalid_reasons"]).most_common(3))
    best = summary["top3"]["top1"]["mean"]
    return {"source": name, "decodes": f"TuRBO {args.iterations}x{args.batch} proposals",
            "masks": {True: "on", False: "off", None: "-"}[semantic], "n": len(recs), "rdkit_valid": len(valid) / len(recs),
            "unique": len(set(valid)) / max(1, len(valid)), "fallback": d["semantic_fallback"] / max(1, len(recs)),
            "main_invalid_reasons": f"{reasons or '-'}; best plogp {'-' if best is None else f'{best:.2f}'} "
                                    f"(initial {summary['initial_best']:.2f})"}


def speed_rows(molecules: list[str], repeats: int) -> list[dict]:
    torch.set_num_threads(1)
    codec = GrammarCodec("zinc_smiles")
    idx = torch.from_numpy(codec.encode_many(molecules[:512], workers=1).indices.astype(np.int64))
    inputs = {"one-hot of real molecules": codec.one_hot(idx),
              "random logits": torch.randn(512, codec.max_length, codec.vocab_size, generator=torch.Generator().manual_seed(0))}
    codec.decode(inputs["random logits"][:2])  # compile the semantic kernel outside the timing
    out = []
    for kind, logits in inputs.items():
        fns = {"per-sample loop": lambda: codec.decode_per_sample(logits),
               "batched": lambda: codec.decode(logits, semantic=False),
               "batched + semantic masks": lambda: codec.decode(logits, semantic=True)}
        best = dict.fromkeys(fns, np.inf)
        for _ in range(repeats):  # interleaved: a burst of load hits every method alike
            for name, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                best[name] = min(best[name], time.perf_counter() - t0)
        for name, t in best.items():
            out.append({"logits": kind, "decoder": name, "per_second": len(logits) / t,
                        "vs_per_sample_loop": best["per-sample loop"] / t})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--pretrained", default="../shared/pretrained", help="folder of fp16 checkpoints with restore.py")
    ap.add_argument("--models", default="zinc-gvae-fast,zinc-gmm_dae-fast,zinc-gvae-gru,zinc-gmm_dae-gru")
    ap.add_argument("--extra", default="", help="comma-separated model folders of our own (e.g. a SELFIES model)")
    ap.add_argument("--work", default="runs/molecule_validity")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--iterations", type=int, default=5)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-campaigns", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the throughput table")
    args = ap.parse_args()
    set_data_dir(args.data_dir)
    molecules, _ = load_strings("zinc250k") if args.data_dir else load_strings("nci5k")
    speed_note = ("Decodes per second at batch 512, torch and numba on one thread, best of the interleaved repeats. "
                  "The masked decoder runs a second pass on the rows that fail the kekulisation check "
                  "(most random-logit rows).")
    if args.speed_only:
        write_table("molecule_validity_speed", speed_rows(molecules, args.repeats), speed_note)
        return
    work = Path(args.work)
    names = [m for m in args.models.split(",") if m]
    if names:
        subprocess.run([sys.executable, str(Path(args.pretrained) / "restore.py"), str(work / "pretrained"), *names],
                       check=True, stdout=subprocess.DEVNULL)
    models = {n: work / "pretrained" / n for n in names} | {Path(p).name: Path(p) for p in args.extra.split(",") if p}
    rows = []
    codec = GrammarCodec("zinc_smiles")
    logits = torch.randn(args.samples, codec.max_length, codec.vocab_size, generator=torch.Generator().manual_seed(0))
    for semantic in (False, True):
        strings, status = codec.decode_with_status(logits, semantic=semantic)
        rows.append(row("random logits", f"{args.samples} argmax", semantic, strings, status))
    for name, folder in models.items():
        model = load_model(folder)
        # Codecs without masks (SELFIES) get one row each, masks "-".
        for semantic in (False, True) if model.codec.kind == "grammar" else (None,):
            model.codec.set_semantic(semantic)
            z = model.sample_latents(args.samples, torch.Generator().manual_seed(0))
            strings, status = model.decode_latents_with_status(z)
            rows.append(row(name, f"{args.samples} prior samples", semantic, strings, status))
            if not args.skip_campaigns:
                rows.append(campaign_row(name, folder, work, semantic, args))
            print(rows[-1], flush=True)
    write_table("molecule_validity", rows,
                "rdkit_valid: fraction of decodes RDKit accepts (campaign rows: fraction of evaluated proposals "
                "with a valid molecule, the campaign keeping the commonest valid one of 10 stochastic decodes). "
                "unique: distinct valid / valid. fallback: share "
                "made by the masks' second pass (no aromatic or bracket atoms). Masks off = the Grammar VAE's "
                "decoder. Campaign rows add the trial's best penalized logP and the initial data's best.")
    write_table("molecule_validity_speed", speed_rows(molecules, args.repeats), speed_note)


if __name__ == "__main__":
    run(main)
