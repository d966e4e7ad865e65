"""Tasks: a grammar paired with the dataset it is trained and optimised on.
Adding a task (or a grammar) touches this dict and a grammar file, nothing else."""

from __future__ import annotations

from dataclasses import dataclass

from latentbo.errors import ConfigError


@dataclass(frozen=True)
class Task:
    name: str
    grammar: str
    dataset: str
    kind: str


TASKS: dict[str, Task] = {
    "expressions": Task("expressions", "expressions", "expressions", "expressions"),
    "zinc": Task("zinc", "zinc_smiles", "zinc250k", "molecules"),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]
