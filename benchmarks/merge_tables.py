"""One table from several tables of benchmarks/results/ that measure the same thing, e.g. a
study's table and the tables of its cells run on their own or with other models:

    python benchmarks/merge_tables.py bo_table_paper bo_table_paper_zinc_qlogei bo_table_paper_cvae --name bo_table_paper_all

Every row keeps its text as measured and gains a ``source`` column (the table it comes
from; that table's command is in the notes). A group's "not run" row is dropped where
another table measured that group; measured rows of one group from several tables all
stay (they ran other models: compare val_seq_acc). Rows are sorted by task, model, group.
"""

from __future__ import annotations

import argparse
import re

import pandas as pd
from _common import RESULTS, run, write_table

from latentbo.errors import ConfigError

NOT_RUN = "not run"


def read_table(name: str) -> tuple[pd.DataFrame, str]:
    """The rows of ``RESULTS/<name>.csv`` as written (strings) and the command of its Markdown."""
    csv_path, md_path = RESULTS / f"{name}.csv", RESULTS / f"{name}.md"
    missing = [p.name for p in (csv_path, md_path) if not p.exists()]
    if missing:
        raise ConfigError(f"no results table {name!r} in {RESULTS}: {', '.join(missing)} missing")
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    if not {"group", "task", "model", "evaluations"} <= set(table.columns):
        raise ConfigError(f"{csv_path.name} is not a study table (needs group, task, model and evaluations columns)")
    command = re.search(r"^Command: `(.+)`", md_path.read_text(), re.MULTILINE)
    return table, command.group(1) if command else "(no command recorded)"


def merge(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The rows of ``tables`` (name -> table) with a ``source`` column, less the "not run"
    rows of groups measured elsewhere (and repeats of one group's "not run" row)."""
    rows = pd.concat([t.assign(source=name) for name, t in tables.items()], ignore_index=True).fillna("-")
    done = rows["evaluations"] != NOT_RUN
    rows = rows[done | ~(rows["group"].isin(rows.loc[done, "group"]) | rows["group"].duplicated())]
    cols = ["group", "source", *(c for c in rows.columns if c not in ("group", "source"))]
    return rows.sort_values(["task", "model", "group"], kind="stable")[cols]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tables", nargs="+", help="names of tables in benchmarks/results (no extension)")
    ap.add_argument("--name", required=True, help="the merged table's name")
    args = ap.parse_args()
    if args.name in args.tables:
        raise ConfigError(f"--name {args.name!r} is one of the tables merged; give the merged table a new name")
    read = {name: read_table(name) for name in args.tables}
    merged = merge({name: table for name, (table, _) in read.items()})
    sources = "; ".join(f"{name}: `{command}`" for name, (_, command) in read.items())
    write_table(args.name, merged.to_dict("records"),
                f"Merged from benchmarks/results/ (source column), each measured by its own command: {sources}. "
                "The columns are those of the source tables (see their notes).")


if __name__ == "__main__":
    run(main)
