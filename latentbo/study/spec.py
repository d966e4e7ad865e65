"""Study definitions: a TOML grid of models x tasks x objectives x trials.

A study file looks like::

    [study]
    name = "tiny"
    seed = 0            # every cell's seed derives from this and the cell's coordinates
    profile = "quick"   # default profile: [profiles.<name>] overrides [train] / [bo] (may be absent)
    retries = 2         # a crashing cell is retried this many times

    [grid]
    tasks = ["expressions"]
    models = ["gmm_dae", "gvae"]
    objectives = { expressions = ["expr"], zinc = ["plogp"] }   # default: each task's objective
    acquisitions = ["turbo"]
    trials = 3

    [train]             # any ModelConfig field, plus `limit` and `dataset`
    epochs = 5
    [bo]                # any CampaignConfig field except objective, trials, seed
    iterations = 5
    batch = 50

    [profiles.full.train]
    epochs = 100

    [resources]         # per cell: CPU threads and GPUs (Ray schedules on these)
    threads = 1
    gpus = 0

The grid expands into *cells*: one training cell per (task, model) and one BO
cell per (task, model, objective, acquisition, trial). A cell is the unit that an
executor runs, retries and skips when finished.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentbo.bo.campaign import CampaignConfig
from latentbo.errors import ConfigError
from latentbo.io import read_toml
from latentbo.models.config import MODELS, ModelConfig
from latentbo.objectives import make_objective
from latentbo.tasks import TASKS

_SECTIONS = {"study", "grid", "train", "bo", "profiles", "resources"}
#: keys of the fixed sections and the TOML types they take
_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "study": {"name": str, "seed": int, "profile": str, "retries": int},
    "grid": {"tasks": list, "models": list, "objectives": (dict, list), "acquisitions": list, "trials": int},
    "resources": {"threads": int, "gpus": (int, float)},
}
_BO_FIELDS = {f.name for f in dataclasses.fields(CampaignConfig)} - {"objective", "trials", "seed"}
_TRAIN_FIELDS = ({f.name for f in dataclasses.fields(ModelConfig)} - {"task", "model", "seed"}) | {"limit", "dataset"}


def derive_seed(study_seed: int, *coordinates: Any) -> int:
    """A seed from the study seed and a cell's coordinates (never its list position),
    so adding or removing cells leaves every other cell's seed unchanged.

    Returns:
        An integer in ``[0, 2**31)``.
    """
    key = json.dumps([study_seed, *coordinates], separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") % 2**31


def _slug(name: str) -> str:
    """``name`` as one safe path component: kept when it is plain, otherwise its
    unsafe characters replaced and a hash of it added (``x:y/../z`` can neither
    leave the output folder nor collide with another name)."""
    if re.fullmatch(r"[A-Za-z0-9_.-]+", name) and ".." not in name:
        return name
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name) + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Cell:
    """One unit of work.

    Attributes:
        id: stable name, also the output sub-folder (``train/expressions-gvae``).
        kind: ``train`` or ``bo``.
        seed: derived from the study seed and the coordinates.
        settings: everything the worker needs (resolved train / campaign settings).
        depends_on: id of the training cell a BO cell needs, else ``None``.
    """

    id: str
    kind: str
    seed: int
    settings: dict[str, Any]
    depends_on: str | None = None

    @property
    def fingerprint(self) -> str:
        """Hash of the settings and seed: a finished cell is reused only if it matches."""
        blob = json.dumps({"kind": self.kind, "seed": self.seed, "settings": self.settings}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


@dataclass
class StudySpec:
    """A parsed, validated study definition (see the module docstring)."""

    name: str
    seed: int
    profile: str
    retries: int
    tasks: list[str]
    models: list[str]
    objectives: dict[str, list[str]]
    acquisitions: list[str]
    trials: int
    train: dict[str, Any] = field(default_factory=dict)
    bo: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    gpus: float = 0.0

    @classmethod
    def from_toml(cls, path: str | Path, profile: str | None = None) -> "StudySpec":
        """Read and validate a study file.

        Args:
            path: the TOML file.
            profile: overrides ``[study] profile`` (e.g. ``full`` on a GPU cluster).

        Raises:
            ConfigError: unreadable file, unknown keys, models, tasks or settings.
        """
        return cls.from_dict(read_toml(path, "study file"), profile, source=str(path))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], profile: str | None = None, source: str = "study") -> "StudySpec":
        unknown = set(raw) - _SECTIONS
        if unknown:
            raise ConfigError(f"{source}: unknown sections {sorted(unknown)}; known: {sorted(_SECTIONS)}")
        for section, keys in _KEYS.items():
            table = raw.get(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
            bad = set(table) - set(keys)
            if bad:
                raise ConfigError(f"{source}: unknown [{section}] keys {sorted(bad)}; known: {sorted(keys)}")
            for key, kinds in keys.items():
                if key in table and (not isinstance(table[key], kinds) or isinstance(table[key], bool)):
                    want = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
                    raise ConfigError(f"{source}: [{section}] {key} must be of type {want}, got {table[key]!r}")
        study, grid, resources = raw.get("study", {}), raw.get("grid", {}), raw.get("resources", {})
        # The study's own profile may be just the base [train]/[bo]; one asked for
        # explicitly must exist, so a typo never silently runs the base settings.
        default = study.get("profile", "quick")
        profile = profile or default
        train, bo = dict(raw.get("train", {})), dict(raw.get("bo", {}))
        profiles = raw.get("profiles", {})
        for name, table in profiles.items():
            if not isinstance(table, dict) or set(table) - {"train", "bo"}:
                raise ConfigError(f"{source}: [profiles.{name}] may hold only [profiles.{name}.train] and .bo tables")
        if profile in profiles:
            train.update(profiles[profile].get("train", {}))
            bo.update(profiles[profile].get("bo", {}))
        elif profile != default:
            raise ConfigError(f"{source}: profile {profile!r} not defined; defined: {sorted(profiles)}")
        tasks = list(grid.get("tasks", ["expressions"]))
        # default: each task's paper objective (an unknown task is reported by validate)
        objectives = grid.get("objectives", {t: [TASKS[t].objective] for t in tasks if t in TASKS})
        if isinstance(objectives, list):  # one list for every task
            objectives = {t: objectives for t in tasks}
        spec = cls(
            name=str(study.get("name", Path(source).stem)), seed=study.get("seed", 0), profile=profile,
            retries=study.get("retries", 2), tasks=tasks, models=list(grid.get("models", ["gmm_dae"])),
            objectives={t: list(objectives.get(t, [])) for t in tasks},
            acquisitions=list(grid.get("acquisitions", ["qlogei"])), trials=grid.get("trials", 5),
            train=train, bo=bo, threads=resources.get("threads", 1), gpus=float(resources.get("gpus", 0)),
        )
        spec.validate(source)
        return spec

    def validate(self, source: str = "study") -> None:
        for t in self.tasks:
            if t not in TASKS:
                raise ConfigError(f"{source}: unknown task {t!r}; known: {sorted(TASKS)}")
            if not self.objectives[t]:
                raise ConfigError(f"{source}: no objectives for task {t!r} in [grid] objectives")
        for m in self.models:
            if m not in MODELS:
                raise ConfigError(f"{source}: unknown model {m!r}; known: {sorted(MODELS)}")
        bad = set(self.train) - _TRAIN_FIELDS
        if bad:
            raise ConfigError(f"{source}: unknown [train] keys {sorted(bad)}; task/model come from [grid], seeds are derived")
        bad = set(self.bo) - _BO_FIELDS
        if bad:
            raise ConfigError(f"{source}: unknown [bo] keys {sorted(bad)}; objective/trials/seed come from [grid]")
        if self.trials < 1 or self.retries < 0 or self.threads < 1 or self.gpus < 0:
            raise ConfigError(f"{source}: trials and threads must be >= 1, retries and gpus >= 0")
        # Everything a cell needs is checked here, before any work starts: a typo in
        # an objective must not surface after hours of training.
        for a in self.acquisitions:
            CampaignConfig(acquisition=a, **{k: v for k, v in self.bo.items() if k != "acquisition"}).validate()
        train = {k: v for k, v in self.train.items() if k not in ("limit", "dataset")}
        for t in self.tasks:
            for m in self.models:
                ModelConfig.for_model(t, m, **copy.deepcopy(train))
            for objective in self.objectives[t]:
                make_objective(objective, self.bo.get("target"))

    def cells(self) -> list[Cell]:
        """Expand the grid: training cells first, then the BO cells that depend on them."""
        out: list[Cell] = []
        for task in self.tasks:
            for model in self.models:
                train_id = f"train/{_slug(task)}-{_slug(model)}"
                out.append(Cell(train_id, "train", derive_seed(self.seed, "train", task, model),
                                {"task": task, "model": model, **copy.deepcopy(self.train)}))
                for objective in self.objectives[task]:
                    for acq in self.acquisitions:
                        for trial in range(self.trials):
                            coords = (task, model, objective, acq, trial)
                            out.append(Cell(
                                f"bo/{_slug(task)}-{_slug(model)}-{_slug(objective)}-{_slug(acq)}/trial_{trial}", "bo",
                                derive_seed(self.seed, "bo", *coords),
                                {"task": task, "model": model, "objective": objective, "acquisition": acq,
                                 "trial": trial, **{k: v for k, v in self.bo.items() if k != "acquisition"}},
                                depends_on=train_id,
                            ))
        return out
