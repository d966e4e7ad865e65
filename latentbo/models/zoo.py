"""Pretrained models shipped inside the package (``latentbo/zoo/<name>/``): a model
folder as ``latentbo train`` writes it, with fp16 weights (loaded as fp32) and a
``card.json`` saying how it was made and how well it does.

Every ``--model`` (and :func:`~latentbo.models.load_model`) takes a folder or a zoo
name; ``latentbo models list`` shows the cards. ``benchmarks/train_zoo.py`` makes them.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

from latentbo.errors import CheckpointError

ZOO = importlib.resources.files("latentbo") / "zoo"
CARD = "card.json"
#: What every card states.
CARD_FIELDS = ("name", "task", "arch", "codec", "decoder", "data", "command", "commit", "device", "wall_minutes",
               "epochs", "samples_per_s", "held_out_exact", "held_out_token_acc", "prior_valid", "prior_unique",
               "provenance", "default")


def zoo_names() -> list[str]:
    """Names of the pretrained models in this installation."""
    if not ZOO.is_dir():
        return []
    return sorted(p.name for p in ZOO.iterdir() if p.is_dir() and (p / CARD).is_file())


def zoo_cards() -> list[dict[str, Any]]:
    """Every pretrained model's card, with ``path`` and ``megabytes`` on disk.

    Raises:
        CheckpointError: a card is unreadable or lacks a field.
    """
    cards = []
    for name in zoo_names():
        folder = Path(str(ZOO / name))
        try:
            card = json.loads((folder / CARD).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"pretrained model {name}: unreadable {CARD}: {exc}") from None
        missing = [f for f in CARD_FIELDS if f not in card]
        if missing:
            raise CheckpointError(f"pretrained model {name}: {CARD} lacks {missing}")
        size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
        cards.append({**card, "path": str(folder), "megabytes": round(size / 1e6, 2)})
    return cards


def default_model(task: str) -> str:
    """The pretrained model a command uses for ``task`` when none is named (the card
    marked ``default``).

    Raises:
        CheckpointError: no pretrained model of that task is marked default.
    """
    names = [c["name"] for c in zoo_cards() if c["task"] == task and c["default"]]
    if len(names) != 1:
        raise CheckpointError(f"no single default pretrained model for task {task!r} ({names}); name one with --model")
    return names[0]


def resolve_model(spec: str | Path) -> Path:
    """The folder of a model. A string that is a pretrained model's name is that model,
    whatever folder of the same name the working directory holds (write ``./name`` for
    the folder); anything else (a :class:`~pathlib.Path`, a string with a ``/``) is a folder.

    Raises:
        CheckpointError: neither a folder nor a zoo name.
    """
    if isinstance(spec, str) and spec in zoo_names():
        return Path(str(ZOO / spec))
    path = Path(spec)
    if path.is_dir():
        return path
    if path.exists():
        raise CheckpointError(f"{path} is a file; a model is a folder (from `latentbo train`) or a pretrained name")
    raise CheckpointError(f"no model folder {path} and no pretrained model of that name; pretrained: {zoo_names()} "
                          "(`latentbo models list`)")
