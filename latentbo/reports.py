"""Campaign summaries (JSON, CSV, Markdown) and plots (best-so-far, molecule grid)."""

from __future__ import annotations

import io
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from latentbo.io import atomic_write_bytes, atomic_write_text
from latentbo.objectives import Objective


def _ranked(records: list[dict], maximize: bool) -> list[tuple[float, str]]:
    """Distinct valid strings with their score, best first."""
    best: dict[str, float] = {}
    for r in records:
        if r["valid"]:
            best[r["string"]] = r["score"]
    return sorted(((v, s) for s, v in best.items()), reverse=maximize)


def trial_summary(records: list[dict], maximize: bool) -> dict[str, Any]:
    """Top-3 distinct scores, fraction valid, average valid score and best string of one trial."""
    ranked = _ranked(records, maximize)
    valid = [r["score"] for r in records if r["valid"]]
    top = [v for v, _ in ranked[:3]]
    return {
        "trial": records[0]["trial"] if records else None,
        "evaluations": len(records),
        "top3": top + [None] * (3 - len(top)),
        "top3_strings": [s for _, s in ranked[:3]],
        "fraction_valid": len(valid) / len(records) if records else 0.0,
        "average_score": float(np.mean(valid)) if valid else None,
        "best": {"string": ranked[0][1], "score": ranked[0][0]} if ranked else None,
    }


def decode_summary(records: list[dict], n_decode: int) -> dict[str, Any]:
    """How the evaluated candidates were decoded: those whose kept string needed the
    semantic masks' fallback pass, those whose radicals were saturated (SELFIES), those
    that needed the vote over ``n_decode`` stochastic decodes (some invalid, the
    commonest valid one kept), those with no
    valid decode, and why (the commonest reason among their decodes; ``filtered``: how
    many of those a chemist's filter rejected); ``repeats_replaced``: candidates proposed
    again because their decode was evaluated before, ``repeated``: those left invalid
    (reason ``repeat``) after the last try; ``bred``: strings a breeder proposed (no
    decoding; its empty slots have reason ``no_offspring``)."""
    every = [r["decode"] for r in records if "decode" in r]  # campaigns written before this field lack it
    how = [h for h in every if h["status"] != "bred"]
    return {
        "candidates": len(every),
        "bred": len(every) - len(how),
        "semantic_fallback": sum(h["status"] == "fallback" for h in how),
        "radicals_saturated": sum(h["status"] == "saturated" for h in how),
        "vote_needed": sum(0 < h["valid_decodes"] < n_decode for h in how),
        "no_valid_decode": sum(h["valid_decodes"] == 0 for h in how),
        "invalid_reasons": dict(Counter(h["reason"] for h in every if h.get("reason"))),
        "repeats_replaced": sum(h.get("replaced", 0) for h in every),
        "repeated": sum(h.get("reason") == "repeat" for h in every),
        "filtered": sum(h["valid_decodes"] == 0 and h["reason"].startswith("filtered_") for h in how),
    }


def _mean_std(values: list[float | None]) -> dict[str, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "n": len(vals)}


def write_campaign_reports(out: Path, objective: Objective, trials: list[list[dict]], meta: dict[str, Any],
                           init_scores: np.ndarray | None = None, molecules: bool = False) -> dict[str, Any]:
    """Write summary.json, summary.csv, report.md, best_so_far.png and, when the strings
    are molecules, molecules.csv, molecules.sdf and top_molecules.png. Returns the
    summary dict."""
    maximize = objective.maximize
    per_trial = [trial_summary(r, maximize) for r in trials]
    everything = [rec for r in trials for rec in r]
    ranked = _ranked(everything, maximize)
    init_best = None
    if init_scores is not None and np.isfinite(init_scores).any():
        init_best = float(np.nanmax(init_scores) if maximize else np.nanmin(init_scores))
    summary = {
        "objective": objective.name,
        "maximize": maximize,
        "target": getattr(objective, "target", None),
        "trials": per_trial,
        "evaluations": len(everything),
        "top3": {f"top{i + 1}": _mean_std([t["top3"][i] for t in per_trial]) for i in range(3)},
        "fraction_valid": _mean_std([t["fraction_valid"] for t in per_trial]),
        "average_score": _mean_std([t["average_score"] for t in per_trial]),
        "best": {"string": ranked[0][1], "score": ranked[0][0]} if ranked else None,
        "top3_overall": [{"string": s, "score": v} for v, s in ranked[:3]],
        "initial_best": init_best,
        "decoding": decode_summary(everything, (meta.get("config") or {}).get("n_decode", 1)),
        "seeds": meta.get("trial_seeds"),
        "config": meta.get("config"),
    }
    atomic_write_text(out / "summary.json", json.dumps(summary, indent=2))
    rows = [{"trial": t["trial"], "seed": (meta.get("trial_seeds") or [None] * len(per_trial))[i],
             "top1": t["top3"][0], "top2": t["top3"][1], "top3": t["top3"][2],
             "fraction_valid": t["fraction_valid"], "average_score": t["average_score"],
             "best_string": t["best"]["string"] if t["best"] else None} for i, t in enumerate(per_trial)]
    for stat in ("mean", "std"):
        rows.append({"trial": stat, "seed": None, **{f"top{i + 1}": summary["top3"][f"top{i + 1}"][stat] for i in range(3)},
                     "fraction_valid": summary["fraction_valid"][stat],
                     "average_score": summary["average_score"][stat], "best_string": None})
    atomic_write_text(out / "summary.csv", pd.DataFrame(rows).to_csv(index=False))
    plot_curves(out / "best_so_far.png", {f"trial {recs[0]['trial']}": best_so_far(recs, maximize)
                                          for recs in trials if recs}, f"best {objective.name} so far", init_best)
    has_grid = molecules and bool(ranked)
    if has_grid:
        exported = export_molecules(out, everything, maximize)
        _molecule_grid(out / "top_molecules.png", exported[:12])
    atomic_write_text(out / "report.md", _markdown(summary, rows, has_grid))
    return summary


def _decoding_line(d: dict[str, Any]) -> str:
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(d["invalid_reasons"].items())) or "none"
    if d.get("bred") == d["candidates"]:  # a breeder's campaign decodes nothing: the rest would all be zeros
        return f"Decoding: none; all {d['candidates']} candidates were bred (invalid: {reasons})."
    bred = f"{d['bred']} were bred, not decoded; " if d.get("bred") else ""
    return (f"Decoding: of {d['candidates']} candidates, {bred}{d['no_valid_decode']} had no valid decode "
            f"(reasons: {reasons}; {d['filtered']} of them rejected by the filters); {d['vote_needed']} needed the vote over stochastic decodes; "
            f"{d['semantic_fallback']} were made by the semantic masks' fallback pass, "
            f"{d['radicals_saturated']} had radicals made hydrogens; "
            f"{d.get('repeats_replaced', 0)} repeats of earlier strings were proposed again, "
            f"{d.get('repeated', 0)} left unscored.")


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _markdown(summary: dict, rows: list[dict], has_grid: bool) -> str:
    direction = "higher" if summary["maximize"] else "lower"
    lines = [
        f"# BO campaign: {summary['objective']} ({direction} is better)",
        "",
        f"{len(summary['trials'])} trials, {summary['evaluations']} evaluations in all. "
        f"Best initial-data score: {_fmt(summary['initial_best'])}.",
        "",
        "| trial | seed | top1 | top2 | top3 | fraction valid | average score | best string |",
        "|---|---|---|---|---|---|---|---|",
        *(f"| {r['trial']} | {_fmt(r['seed'])} | {_fmt(r['top1'])} | {_fmt(r['top2'])} | {_fmt(r['top3'])} | "
          f"{_fmt(r['fraction_valid'])} | {_fmt(r['average_score'])} | `{r['best_string'] or '-'}` |" for r in rows),
        "",
        _decoding_line(summary["decoding"]),
        "",
        "Best strings overall:",
        "",
        *(f"1. `{b['string']}`: {b['score']:.4f}" for b in summary["top3_overall"]),
        "",
        "![best so far](best_so_far.png)",
    ]
    if has_grid:
        lines += ["", "All distinct valid molecules, best first, with RDKit properties: molecules.csv, molecules.sdf.",
                  "", "![top molecules](top_molecules.png)"]
    return "\n".join(lines) + "\n"


def best_so_far(records: list[dict], maximize: bool) -> np.ndarray:
    """The best valid score after each evaluation of one trial (NaN until the first
    valid one)."""
    vals = np.array([r["score"] if r["valid"] else np.nan for r in records], dtype=float)
    vals = np.where(np.isnan(vals), -np.inf if maximize else np.inf, vals)
    best = np.maximum.accumulate(vals) if maximize else np.minimum.accumulate(vals)
    return np.where(np.isfinite(best), best, np.nan)


def plot_curves(path: Path, curves: dict[str, np.ndarray], ylabel: str, baseline: float | None = None,
                size: tuple[float, float] = (6, 4)) -> None:
    """Curves over evaluations (one line each, by label) in one PNG, with an optional
    dashed ``best initial`` line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size)
    for label, curve in curves.items():
        ax.plot(np.arange(1, len(curve) + 1), curve, label=label)
    if baseline is not None:
        ax.axhline(baseline, color="grey", linestyle="--", label="best initial")
    ax.set_xlabel("evaluations")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7 if len(curves) < 10 else 6)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def export_molecules(out: Path, records: list[dict], maximize: bool) -> list[dict[str, Any]]:
    """Write ``molecules.csv`` and ``molecules.sdf``: every distinct valid molecule
    (by canonical SMILES), best first, with its best score, where that was found and
    its RDKit properties. Returns the rows."""
    from rdkit import Chem

    from latentbo.objectives.molecules import molecule_properties, to_mol

    mols = {s: to_mol(s) for s in {r["string"] for r in records if r["valid"]}}  # RDKit once per distinct string
    best: dict[str, tuple[dict, Any]] = {}
    for r in records:
        mol = mols[r["string"]] if r["valid"] else None
        if mol is None:
            continue
        key = Chem.MolToSmiles(mol)
        old = best.get(key)
        if old is None or (r["score"] > old[0]["score"] if maximize else r["score"] < old[0]["score"]):
            best[key] = (r, mol)
    ordered = sorted(best.values(), key=lambda rm: rm[0]["score"], reverse=maximize)
    rows = [{"rank": i + 1, "smiles": r["string"], "score": r["score"], **molecule_properties(mol),
             "trial": r["trial"], "iteration": r["iteration"]} for i, (r, mol) in enumerate(ordered)]
    atomic_write_text(out / "molecules.csv", pd.DataFrame(rows, columns=[
        "rank", "smiles", "canonical_smiles", "score", "logp", "qed", "sa", "mw", "trial", "iteration"]).to_csv(index=False))
    sdf = io.StringIO()
    with Chem.SDWriter(sdf) as writer:
        for row, (_, mol) in zip(rows, ordered):
            mol = Chem.Mol(mol)
            mol.SetProp("_Name", f"rank {row['rank']}")
            for key, value in row.items():
                if key != "rank":
                    mol.SetProp(key, str(value))
            writer.write(mol)
    atomic_write_text(out / "molecules.sdf", sdf.getvalue())
    return rows


def _short(smiles: str, width: int = 42) -> str:
    return smiles if len(smiles) <= width else smiles[: width - 3] + "..."


def _molecule_grid(path: Path, rows: list[dict[str, Any]]) -> None:
    """The best molecules, each with its score and SMILES underneath (drawn to PNG bytes:
    ``Draw.MolsToGridImage`` returns an IPython image instead of a PIL one in a notebook)."""
    from rdkit import Chem
    from rdkit.Chem import Draw

    per_row, side = 4, 300
    drawer = Draw.MolDraw2DCairo(per_row * side, -(-len(rows) // per_row) * side, side, side)
    drawer.DrawMolecules([Chem.MolFromSmiles(r["canonical_smiles"]) for r in rows],
                         legends=[f"{r['score']:.2f}  {_short(r['canonical_smiles'])}" for r in rows])
    drawer.FinishDrawing()
    atomic_write_bytes(path, drawer.GetDrawingText())
