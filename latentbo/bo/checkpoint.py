"""A trial's checkpoint, written atomically after every iteration:

    trial_<t>/evaluations.jsonl  every evaluation (latent, string, score, how it was decoded)
    trial_<t>/state.pt           iteration, evaluation count, GP hyperparameters, elapsed
                                 time (and its split into phases), the proposer's state
    trial_0/pending.pt           ask/tell: the batch asked and not yet told

Only tensors, numbers and dicts are stored, and loaded with ``weights_only``: a
crafted file cannot run code.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from latentbo.bo.acquisition import Proposer
from latentbo.errors import CheckpointError, first_line
from latentbo.io import atomic_write_bytes, atomic_write_text

#: The batch an ask/tell loop asked and has not told yet.
PENDING = "pending.pt"
#: Where a trial's time goes (:attr:`Trial.phases`).
PHASES = ("fit", "acquisition", "decoding", "inversion", "retraining", "objective")


@dataclass
class Trial:
    """One trial's progress, as saved after every iteration."""

    dir: Path
    proposer: Proposer
    records: list[dict] = field(default_factory=list)
    iteration: int = 0
    gp_state: dict | None = None
    elapsed: float = 0.0
    #: Seconds spent so far in each phase: ``fit`` (GP), ``acquisition``, ``decoding``,
    #: ``inversion`` (codes of the evaluated strings), ``retraining``, ``objective``.
    phases: dict[str, float] = field(default_factory=lambda: dict.fromkeys(PHASES, 0.0))


@dataclass
class Batch:
    """Candidates proposed in one iteration, decoded, waiting for their scores."""

    latents: Tensor
    strings: list[str | None]
    decode_info: list[dict[str, Any]]
    seed: int


def load_trial(folder: Path, proposer: Proposer, acquisition: str, batch: int) -> Trial:
    """The trial saved in ``folder`` (a fresh one if none is), its proposer restored.

    Args:
        folder: ``trial_<t>``.
        proposer: a new proposer of the campaign's acquisition, to restore.
        acquisition: its name (states from before the registry saved TuRBO's region
            whatever the acquisition).
        batch: the campaign's batch size (states from before ask/tell hold no count of
            evaluations: every iteration was one batch).

    Raises:
        CheckpointError: the files are unreadable, unsafe, or disagree.
    """
    trial = Trial(folder, proposer)
    state_path, rec_path = folder / "state.pt", folder / "evaluations.jsonl"
    if not state_path.exists():
        return trial
    try:
        state = torch.load(state_path, weights_only=True)
        trial.records = [json.loads(line) for line in rec_path.read_text().splitlines() if line.strip()]
        trial.iteration, trial.elapsed = int(state["iteration"]), float(state["elapsed"])
        trial.gp_state = state["gp_state"]  # None: no GP yet, or a proposer that uses none
        trial.phases.update({k: float(v) for k, v in state.get("phases", {}).items() if k in PHASES})
        proposer.load_state_dict(state["proposer"] if "proposer" in state else
                                 state["trust_region"] if acquisition == "turbo" else {})
        expected = int(state.get("evaluations", trial.iteration * batch))
    except Exception as exc:  # unreadable or unsafe checkpoint: say so rather than guess
        raise CheckpointError(f"{folder} holds a corrupt or unsafe checkpoint ({type(exc).__name__}: "
                              f"{first_line(exc)}); latentbo loads tensors and numbers only") from exc
    if len(trial.records) != expected:
        raise CheckpointError(f"{folder}: {len(trial.records)} evaluations on disk, expected {expected}")
    return trial


def save_trial(trial: Trial) -> None:
    """Write the evaluations, then the state that counts them."""
    trial.dir.mkdir(exist_ok=True)
    atomic_write_text(trial.dir / "evaluations.jsonl", "".join(json.dumps(r) + "\n" for r in trial.records))
    _save(trial.dir / "state.pt", {"iteration": trial.iteration, "evaluations": len(trial.records),
                                   "gp_state": trial.gp_state, "elapsed": trial.elapsed, "phases": trial.phases,
                                   "proposer": trial.proposer.state_dict()})


def save_pending(trial: Trial, batch: Batch) -> None:
    """Keep an asked batch (with the GP state, the proposer's state and the time after
    its proposal: proposing may change the proposer, e.g. TuRBO's first region) until
    it is told."""
    trial.dir.mkdir(exist_ok=True)
    _save(trial.dir / PENDING, {"latents": batch.latents, "strings": batch.strings, "decode": batch.decode_info,
                                "seed": batch.seed, "iteration": trial.iteration, "gp_state": trial.gp_state,
                                "elapsed": trial.elapsed, "phases": trial.phases,
                                "proposer": trial.proposer.state_dict()})


def load_pending(trial: Trial) -> tuple[Batch, dict | None, float, dict | None] | None:
    """The batch asked and not told, with the GP state, the time and the proposer's
    state (``None`` in files from before it was kept) after its proposal (the phase
    times of ``trial`` are restored to theirs); ``None`` if
    there is none, or it was told and recorded but the process stopped before removing
    it (then it is removed now).

    Raises:
        CheckpointError: the file is unreadable or belongs to another iteration.
    """
    path = trial.dir / PENDING
    if not path.exists():
        return None
    try:
        saved = torch.load(path, weights_only=True)
        batch = Batch(saved["latents"], list(saved["strings"]), list(saved["decode"]), int(saved["seed"]))
        ok = saved["iteration"] == trial.iteration and len(batch.strings) == len(batch.latents)
        extra = saved["gp_state"], float(saved["elapsed"]), saved.get("proposer")
        phases = {k: float(v) for k, v in saved.get("phases", {}).items() if k in PHASES}
    except Exception as exc:  # unreadable or unsafe: say so rather than guess
        raise CheckpointError(f"{path} is unreadable or unsafe ({type(exc).__name__}: {first_line(exc)})") from None
    if int(saved["iteration"]) < trial.iteration:
        path.unlink()
        return None
    if not ok:
        raise CheckpointError(f"{path} does not belong to iteration {trial.iteration} of {trial.dir}")
    trial.phases.update(phases)
    return (batch, *extra)


def _save(path: Path, payload: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())

