"""Ask/tell: optimise with scores measured outside latentbo (a lab, a docking cluster).

The campaign proposes a batch (``ask``), you measure it however you like, and give the
scores back (``tell``). Every step is saved in the output folder: stop the script at any
point and run it again, and it goes on where it was (a batch asked and not told is asked
again, identically).

    python examples/ask_tell.py --out runs/ask_tell [--model MODEL_DIR] [--rounds 3]

Without ``--model`` it first trains a tiny expression model (a few seconds). Here the
"measurement" is the fit of an expression to data, computed in this script; replace
``measure`` with your own process. The initial data is a CSV of strings you have
already measured (``--dataset`` with ``--score-column``), so nothing is re-scored.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from latentbo.bo import Campaign, CampaignConfig
from latentbo.data.datasets import generate_expressions
from latentbo.models import ModelConfig
from latentbo.objectives import ExpressionFit
from latentbo.training import train

TARGET = ExpressionFit("1 / 3 + x + sin( x * x )")


def measure(expressions: list[str | None]) -> list[float]:
    """Your measurement: here log(1 + MSE) to the target data; NaN for a failed decode."""
    return [math.nan if e is None else float(TARGET([e])[0]) for e in expressions]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("runs/ask_tell"))
    parser.add_argument("--model", type=Path, help="a trained expression model (default: train a tiny one)")
    parser.add_argument("--rounds", type=int, default=3, help="ask/tell rounds in all (a rerun goes on to this)")
    parser.add_argument("--batch", type=int, default=5)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    # 1. What you have measured already: a CSV of strings and scores.
    measured = args.out / "measured.csv"
    if not measured.exists():
        strings = generate_expressions(400, seed=1)
        rows = [f'"{s}",{v}' for s, v in zip(strings, measure(strings))]
        measured.write_text("expression,mse\n" + "\n".join(rows) + "\n")

    # 2. A model of the strings (a tiny one here, to keep the example fast).
    model = args.model or args.out / "model"
    if args.model is None and not (model / "model.safetensors").exists():
        cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=2, hidden=32, decoder_hidden=32,
                                    decoder_layers=1, latent_dim=4)
        train(cfg, generate_expressions(400, seed=1), model, progress=False, overwrite=True)

    # 3. The campaign: no objective (scores are told), lower is better, known initial scores.
    config = CampaignConfig(objective=None, minimize=True, dataset=str(measured), score_column="mse", trials=1,
                            batch=args.batch, init_size=400, gp_points=100, n_decode=3)
    campaign = Campaign.from_dir(model, config, args.out / "campaign")
    done = campaign.report()["evaluations"] // args.batch
    for round_ in range(done, args.rounds):
        latents, strings = campaign.ask()                 # q x d codes and their decoded strings
        scores = measure(strings)                         # ... measured elsewhere, as long as it takes
        campaign.tell(strings, scores)
        best = min((v for v in scores if not math.isnan(v)), default=math.nan)
        print(f"round {round_ + 1}: {len(latents)} codes, best of batch {best:.3f}  {strings}")
    summary = campaign.report()                           # summary.json, report.md, best_so_far.png
    print(f"{summary['evaluations']} evaluations; best {summary['best']}; initial best {summary['initial_best']:.3f}")


if __name__ == "__main__":
    main()
