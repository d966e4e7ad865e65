"""Study definitions: a TOML grid of models x tasks x objectives x trials.

A study file looks like::

    [study]
    name = "tiny"
    seed = 0            # every cell's seed derives from this and the cell's coordinates
    profile = "quick"   # default profile: [profiles.<name>] overrides [train] / [bo] (may be absent)
    retries = 2         # a crashing cell is retried this many times
    bo_cells = "trial"  # or "campaign" (below)

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
    [profiles.full.resources]   # profiles may also change [resources] (not the cells' settings)
    gpus = 1

    [use]               # models trained elsewhere: no training cell ("task/model" or "model")
    "zinc/gvae" = "zinc-gvae"           # a pretrained name or a folder (relative to where the study runs)

    [resources]         # per cell: CPU threads and GPUs (Ray schedules on these)
    threads = 1
    gpus = 0

The grid expands into *cells*: one training cell per (task, model) not in ``[use]``
and BO cells per (task, model, objective, acquisition). A cell is the unit that an
executor runs, retries and skips when finished. With ``bo_cells = "trial"`` each
trial is a cell with its own seed (derived from its coordinates: trials spread over
workers); with ``"campaign"`` a group's trials run as one campaign seeded with the
study seed, so every group starts from the same initial strings and trial seeds
(models and acquisitions compared on common random numbers, as the benchmark tables are).

``[[grid]]`` (an array of grid tables) adds groups that differ in more than the
product: each block may set its own ``trials``, a ``bo`` table overriding ``[bo]``
for its groups, and a ``name`` appended to their ids (``expressions-gmm_dae-expr-
qlogei-sequential`` for a block with ``bo = {batch = 1, iterations = 250}``).
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
from latentbo.errors import ConfigError, LatentboError
from latentbo.io import read_toml
from latentbo.models.config import MODELS, ModelConfig
from latentbo.objectives import make_objective
from latentbo.tasks import TASKS

_SECTIONS = {"study", "grid", "train", "bo", "profiles", "use", "resources"}
#: keys of the fixed sections and the TOML types they take
_KEYS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "study": {"name": str, "seed": int, "profile": str, "retries": int, "bo_cells": str},
    "resources": {"threads": int, "gpus": (int, float)},
}
_GRID_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str, "tasks": list, "models": list, "objectives": (dict, list), "acquisitions": list, "trials": int,
    "bo": dict}
BO_CELLS = ("trial", "campaign")
_BO_FIELDS = {f.name for f in dataclasses.fields(CampaignConfig)} - {"objective", "trials", "seed"}
_TRAIN_FIELDS = ({f.name for f in dataclasses.fields(ModelConfig)} - {"task", "model", "seed"}) | {"limit", "dataset"}


def _check_types(table: dict[str, Any], keys: dict[str, type | tuple[type, ...]], source: str, label: str) -> None:
    """Every key of ``table`` (the study file's ``label``, e.g. ``[grid]``) known and of its type."""
    bad = set(table) - set(keys)
    if bad:
        raise ConfigError(f"{source}: unknown {label} keys {sorted(bad)}; known: {sorted(keys)}")
    for key, kinds in keys.items():
        if key in table and (not isinstance(table[key], kinds) or isinstance(table[key], bool)):
            want = " or ".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
            raise ConfigError(f"{source}: {label} {key} must be of type {want}, got {table[key]!r}")


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
class Grid:
    """One block of the study's grid: every task x model x objective x acquisition.

    Attributes:
        name: appended to the ids of its groups (``None``: not).
        objectives: per task.
        trials: trials per group.
        bo: ``[bo]`` (after the profile) with this block's own ``bo`` table on top.
    """

    name: str | None
    tasks: list[str]
    models: list[str]
    objectives: dict[str, list[str]]
    acquisitions: list[str]
    trials: int
    bo: dict[str, Any] = field(default_factory=dict)


@dataclass
class StudySpec:
    """A parsed, validated study definition (see the module docstring).

    Attributes:
        use: models trained elsewhere, ``"task/model"`` or ``"model"`` -> a folder or
            a pretrained name, as written in the study file.
        bo_cells: ``trial`` (one cell per trial) or ``campaign`` (one per group).
    """

    name: str
    seed: int
    profile: str
    retries: int
    grids: list[Grid]
    train: dict[str, Any] = field(default_factory=dict)
    use: dict[str, str] = field(default_factory=dict)
    bo_cells: str = "trial"
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
        if not raw:  # an empty file (a failed copy, a wrong path) must not start the default study
            raise ConfigError(f"{source} is empty: a study names at least its [grid] (tasks, models, acquisitions); "
                              "see examples/tiny_study.toml")
        for section in ("study", "resources", "use"):
            if not isinstance(raw.get(section, {}), dict):
                raise ConfigError(f"{source}: [{section}] must be a table")
        for section, keys in _KEYS.items():
            _check_types(raw.get(section, {}), keys, source, f"[{section}]")
        study, resources = raw.get("study", {}), raw.get("resources", {})
        # The study's own profile may be just the base [train]/[bo]; one asked for
        # explicitly must exist, so a typo never silently runs the base settings.
        default = study.get("profile", "quick")
        profile = profile or default
        train, bo = dict(raw.get("train", {})), dict(raw.get("bo", {}))
        profiles = raw.get("profiles", {})
        for name, table in profiles.items():
            if not isinstance(table, dict) or set(table) - {"train", "bo", "resources"}:
                raise ConfigError(f"{source}: [profiles.{name}] may hold only [profiles.{name}.train], .bo and "
                                  ".resources tables")
            _check_types(table.get("resources", {}), _KEYS["resources"], source, f"[profiles.{name}.resources]")
        if profile in profiles:
            train.update(profiles[profile].get("train", {}))
            bo.update(profiles[profile].get("bo", {}))
            resources = {**resources, **profiles[profile].get("resources", {})}
        elif profile != default:
            raise ConfigError(f"{source}: profile {profile!r} not defined; defined: {sorted(profiles)}")
        blocks = raw.get("grid", {})
        blocks = blocks if isinstance(blocks, list) else [blocks]
        grids = [_grid(block, bo, source, "[grid]" if len(blocks) == 1 else f"[[grid]] {n + 1}")
                 for n, block in enumerate(blocks)]
        use = raw.get("use", {})
        if not all(isinstance(v, str) for v in use.values()):
            raise ConfigError(f"{source}: [use] maps \"task/model\" or \"model\" to a folder or pretrained name (strings)")
        spec = cls(
            name=str(study.get("name", Path(source).stem)), seed=study.get("seed", 0), profile=profile,
            retries=study.get("retries", 2), grids=grids, train=train, use=dict(use),
            bo_cells=study.get("bo_cells", "trial"), threads=resources.get("threads", 1),
            gpus=float(resources.get("gpus", 0)),
        )
        spec.validate(source)
        return spec

    def validate(self, source: str = "study") -> None:
        if self.bo_cells not in BO_CELLS:
            raise ConfigError(f"{source}: [study] bo_cells must be one of {BO_CELLS}, got {self.bo_cells!r}")
        if self.retries < 0 or self.threads < 1 or self.gpus < 0:
            raise ConfigError(f"{source}: threads must be >= 1, retries and gpus >= 0")
        bad = set(self.train) - _TRAIN_FIELDS
        if bad:
            raise ConfigError(f"{source}: unknown [train] keys {sorted(bad)}; task/model come from [grid], seeds are derived")
        for key in self.use:
            if key.rsplit("/", 1)[-1] not in MODELS or ("/" in key and key.split("/", 1)[0] not in TASKS):
                raise ConfigError(f"{source}: [use] key {key!r} must be \"task/model\" or \"model\" with a known "
                                  f"task and model (models: {sorted(MODELS)})")
        train = {k: v for k, v in self.train.items() if k not in ("limit", "dataset")}
        # Everything a cell needs is checked here, before any work starts: a typo in
        # an objective must not surface after hours of training.
        for grid in self.grids:
            for t in grid.tasks:
                if t not in TASKS:
                    raise ConfigError(f"{source}: unknown task {t!r}; known: {sorted(TASKS)}")
                if not grid.objectives[t]:
                    raise ConfigError(f"{source}: no objectives for task {t!r} in [grid] objectives")
            for m in grid.models:
                if m not in MODELS:
                    raise ConfigError(f"{source}: unknown model {m!r}; known: {sorted(MODELS)}")
            bad = set(grid.bo) - _BO_FIELDS
            if bad:
                raise ConfigError(f"{source}: unknown [bo] keys {sorted(bad)}; objective/trials/seed come from [grid]")
            if grid.trials < 1:
                raise ConfigError(f"{source}: trials must be >= 1, got {grid.trials}")
            for a in grid.acquisitions:
                CampaignConfig(acquisition=a, **{k: v for k, v in grid.bo.items() if k != "acquisition"}).validate()
            for t in grid.tasks:
                for m in grid.models:
                    used = self.used(t, m)
                    if used is None:
                        ModelConfig.for_model(t, m, **copy.deepcopy(train))
                    else:
                        _check_used(used, t, m, source)
                for objective in grid.objectives[t]:
                    make_objective(objective, grid.bo.get("target"))
        pairs = {(t, m) for grid in self.grids for t in grid.tasks for m in grid.models}
        idle = [k for k in self.use if not any(k in (m, f"{t}/{m}") for t, m in pairs)]
        if idle:  # a typo there would train the model instead of using it
            raise ConfigError(f"{source}: [use] {idle[0]!r} matches no task/model of the grid")
        ids = [c.id for c in self.cells() if c.kind == "bo"]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ConfigError(f"{source}: grid blocks repeat {twice[0]}; give one of them a name")

    def used(self, task: str, model: str) -> str | None:
        """The folder or pretrained name ``[use]`` gives for (task, model), else ``None``."""
        return self.use.get(f"{task}/{model}", self.use.get(model))

    def cells(self) -> list[Cell]:
        """Expand the grid: training cells first, then the BO cells that depend on them."""
        train_cells: dict[str, Cell] = {}
        bo_cells: list[Cell] = []
        for grid in self.grids:
            for task in grid.tasks:
                for model in grid.models:
                    used = self.used(task, model)
                    train_id = None
                    if used is None:
                        train_id = f"train/{_slug(task)}-{_slug(model)}"
                        train_cells[train_id] = Cell(train_id, "train", derive_seed(self.seed, "train", task, model),
                                                     {"task": task, "model": model, **copy.deepcopy(self.train)})
                    for objective in grid.objectives[task]:
                        for acq in grid.acquisitions:
                            bo_cells += self._bo_cells(grid, task, model, objective, acq, used, train_id)
        return [*train_cells.values(), *bo_cells]

    def _bo_cells(self, grid: Grid, task: str, model: str, objective: str, acq: str, used: str | None,
                  train_id: str | None) -> list[Cell]:
        group = f"bo/{_slug(task)}-{_slug(model)}-{_slug(objective)}-{_slug(acq)}"
        named = (grid.name,) if grid.name else ()  # a coordinate only where given: unnamed ids and seeds stay as they were
        if grid.name:
            group += f"-{_slug(grid.name)}"
        settings = {"task": task, "model": model, "objective": objective, "acquisition": acq,
                    **({"use": used} if used is not None else {}),
                    **{k: v for k, v in grid.bo.items() if k != "acquisition"}}
        if self.bo_cells == "campaign":
            return [Cell(group, "bo", self.seed, {**settings, "trials": grid.trials}, depends_on=train_id)]
        return [Cell(f"{group}/trial_{trial}", "bo", derive_seed(self.seed, "bo", task, model, objective, acq, trial, *named),
                     {**settings, "trial": trial}, depends_on=train_id)
                for trial in range(grid.trials)]


def _grid(block: Any, bo: dict[str, Any], source: str, label: str) -> Grid:
    """One ``[grid]`` table, its ``bo`` table laid over the study's ``[bo]``."""
    if not isinstance(block, dict):
        raise ConfigError(f"{source}: {label} must be a table")
    _check_types(block, _GRID_KEYS, source, label)
    tasks = list(block.get("tasks", ["expressions"]))
    # default: each task's paper objective (an unknown task is reported by validate)
    objectives = block.get("objectives", {t: [TASKS[t].objective] for t in tasks if t in TASKS})
    if isinstance(objectives, list):  # one list for every task
        objectives = {t: objectives for t in tasks}
    return Grid(name=block.get("name"), tasks=tasks, models=list(block.get("models", ["gmm_dae"])),
                objectives={t: list(objectives.get(t, [])) for t in tasks},
                acquisitions=list(block.get("acquisitions", ["qlogei"])), trials=block.get("trials", 5),
                bo={**bo, **block.get("bo", {})})


def _check_used(used: str, task: str, model: str, source: str) -> None:
    """A ``[use]`` model exists and was trained for ``task`` as ``model``."""
    from latentbo.models.checkpoint import kind_of
    from latentbo.models.zoo import resolve_model

    try:
        config = read_toml(resolve_model(used) / "config.toml", "model config")
    except LatentboError as exc:
        raise ConfigError(f"{source}: [use] {task}/{model} = {used!r}: {exc}") from None
    found = (kind_of(config), config.get("task"), config.get("model"))
    if found != ("sequence", task, model):
        raise ConfigError(f"{source}: [use] {task}/{model} = {used!r} is a {found[0]} model of task {found[1]!r}, "
                          f"model {found[2]!r}")
