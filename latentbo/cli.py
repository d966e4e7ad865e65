"""The ``latentbo`` command line. Thin: it parses arguments, calls library
functions and prints their results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from latentbo.errors import LatentboError

app = typer.Typer(
    help="Latent-space Bayesian optimisation over structured data (molecules, expressions).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
data_app = typer.Typer(help="Datasets: where they are and whether they are available.", no_args_is_help=True)
grammar_app = typer.Typer(help="Grammars: parse and round-trip checks.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(grammar_app, name="grammar")


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
) -> None:
    from latentbo.data import set_data_dir

    if data_dir is not None:
        set_data_dir(data_dir)


@data_app.command("list")
def data_list(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
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


@grammar_app.command("check")
def grammar_check(
    task: Annotated[str, typer.Option(help="Task whose grammar and dataset to check: expressions | zinc.")] = "expressions",
    dataset: Annotated[
        Optional[str], typer.Option(help="Dataset to read instead of the task's (e.g. nci5k, moses).")
    ] = None,
    limit: Annotated[Optional[int], typer.Option(help="Check only the first N lines.", min=1)] = None,
    workers: Annotated[Optional[int], typer.Option(help="Encoding processes (default: all cores for big inputs).")] = None,
    cache: Annotated[bool, typer.Option(help="Reuse/save parsed encodings in the cache.")] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars on stderr.")] = True,
) -> None:
    """Parse a dataset with its grammar, decode the one-hot encodings back and print a
    JSON report: read, parsed, round_trip_exact, round_trip_fraction, failures (by
    reason), examples, per_second (encoding throughput), decode_per_second."""
    from latentbo.codecs import GrammarCodec
    from latentbo.codecs.check import round_trip_report
    from latentbo.data import load_strings
    from latentbo.tasks import get_task

    t = get_task(task)
    strings, source = load_strings(dataset or t.dataset, limit=limit)
    report = round_trip_report(GrammarCodec(t.grammar), strings, use_cache=cache, workers=workers, progress=progress)
    typer.echo(json.dumps({"task": task, "grammar": t.grammar, "source": source, **report}, indent=2))


@app.command()
def demo(
    limit: Annotated[int, typer.Option(help="Strings per dataset.", min=1)] = 20_000,
) -> None:
    """Run the main job on embedded data (no data dir needed): the grammar round trip of generated expressions and of RDKit's bundled NCI molecules."""
    from latentbo.codecs import GrammarCodec
    from latentbo.codecs.check import round_trip_report
    from latentbo.data import load_strings

    for task, grammar, dataset in [("expressions", "expressions", "expressions"), ("zinc", "zinc_smiles", "nci5k")]:
        strings, source = load_strings(dataset, limit=limit)
        r = round_trip_report(GrammarCodec(grammar), strings)
        typer.echo(
            f"{task:<12} {source:<40} read {r['read']:>6}  parsed {r['parsed']:>6}  "
            f"round-trip exact {r['round_trip_fraction']:.4f}  {r['per_second']:,.0f} strings/s  failures {r['failures']}"
        )


def run() -> None:
    """Console-script entry point: project errors become one clear line and exit 2."""
    try:
        app()
    except LatentboError as exc:
        typer.echo(f"latentbo: error: {exc}", err=True)
        sys.exit(2)
