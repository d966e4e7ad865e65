"""Tasks: a grammar paired with the dataset it is trained and optimised on, the
objective of its papers and what makes a decode valid. Campaigns, metrics,
reports, studies and benchmarks ask the task; adding a task (or a grammar) touches
this dict and a grammar file, nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field

from latentbo.errors import ConfigError


@dataclass(frozen=True)
class Task:
    """A task and its model defaults (the Grammar VAE's sizes, so results compare
    with the paper); any field of :class:`latentbo.models.config.ModelConfig` may be
    preset in ``model_defaults``.

    Attributes:
        kind: ``expressions`` or ``molecules`` (RDKit checks, molecule exports).
        objective: the objective of the papers' tables, the default of studies and
            benchmarks.
    """

    name: str
    grammar: str
    dataset: str
    kind: str
    objective: str
    model_defaults: dict = field(default_factory=dict)

    @property
    def molecules(self) -> bool:
        return self.kind == "molecules"

    def invalidity(self, text: str | None) -> str | None:
        """Why a decode is not a valid object of this task (``None``: valid): no string
        is ``unfinished``; a molecule must pass RDKit (:func:`latentbo.chem.molecule_invalidity`);
        every finished expression derivation is valid."""
        if text is None:
            return "unfinished"
        if self.molecules:
            from latentbo.chem import molecule_invalidity

            return molecule_invalidity(text)
        return None


TASKS: dict[str, Task] = {
    "expressions": Task(
        "expressions", "expressions", "expressions", "expressions", "expr",
        {"latent_dim": 25, "conv_channels": [2, 3, 4], "conv_kernels": [2, 3, 4], "batch_norm": True,
         "hidden": 100, "decoder_hidden": 100, "decoder_layers": 3},
    ),
    "zinc": Task(
        "zinc", "zinc_smiles", "zinc250k", "molecules", "plogp",
        {"latent_dim": 56, "conv_channels": [9, 9, 10], "conv_kernels": [9, 9, 11], "batch_norm": False,
         "hidden": 435, "decoder_hidden": 501, "decoder_layers": 3},
    ),
}


def get_task(name: str) -> Task:
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; known: {sorted(TASKS)}")
    return TASKS[name]
