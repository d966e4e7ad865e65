"""The BO campaign: fit -> propose -> decode -> score -> record, per iteration, per
trial, with atomic checkpoints after every iteration and exact resume. Proposals come
from :mod:`latentbo.bo.acquisition`, decoding from :mod:`latentbo.bo.decoding`. The same
steps run as an ask/tell loop (:meth:`Campaign.ask`, :meth:`Campaign.tell`) when the
scores come from outside.

Layout of ``out_dir``::

    campaign.json              resolved config, model folder, seeds, initial-data source
    init.npz, init_strings.json  initial codes, scores and strings (encoded and scored once)
    trial_<t>/...              each trial's checkpoint (:mod:`latentbo.bo.checkpoint`)
    summary.json, summary.csv, report.md, best_so_far.png
    molecules.csv, molecules.sdf, top_molecules.png   (molecule tasks)
"""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from latentbo.bo.acquisition import ACQUISITIONS, make_proposer
from latentbo.bo.checkpoint import PENDING, PHASES, Batch, Trial, load_pending, load_trial, save_pending, save_trial
from latentbo.bo.decoding import decode_candidates, search_box
from latentbo.bo.inversion import canonical, invert
from latentbo.bo.retraining import load_retrained, retrain, save_retrained
from latentbo.bo.surrogate import SURROGATES, fit_surrogate, select_subset
from latentbo.data import is_dataset_path, load_strings, read_dataset_file
from latentbo.devices import resolve_device
from latentbo.errors import CheckpointError, ConfigError, DatasetError, ObjectiveError, ObjectiveTimeoutError
from latentbo.filters import MoleculeFilter
from latentbo.io import atomic_write_bytes, atomic_write_text, output_lock, run_folder
from latentbo.models import SequenceAutoencoder, load_model
from latentbo.models.checkpoint import weights_fingerprint
from latentbo.models.config import check_field_types
from latentbo.models.zoo import resolve_model
from latentbo.objectives import Objective, callable_name, make_objective
from latentbo.reports import write_campaign_reports
from latentbo.tasks import get_task

log = logging.getLogger("latentbo")

#: A campaign folder's settings, model and initial-data record.
META_FILE = "campaign.json"


#: Campaign seeds are below this, so trial and iteration seeds fit a 64-bit generator.
MAX_SEED = 2**40

#: Times a candidate whose decode was evaluated before is proposed again.
REPEAT_ROUNDS = 3
#: Why a breeder's slot holds no string: it bred too few admissible offspring.
NO_OFFSPRING = "no_offspring"
#: Largest score magnitude accepted from an objective: the GP standardises and
#: squares the scores in float64, where (1e308)^2 overflows.
MAX_SCORE = 1e100


@dataclass
class CampaignConfig:
    """Campaign settings; defaults are the paper's protocol (5 x 50, 5 trials).

    Attributes:
        objective: registry name (``plogp``, ``expr``, ``expr_wr``, ``qed``, ``logp``),
            ``module:function`` or ``file.py:function``; ``None``: scores are told
            from outside (ask/tell). A callable passed to :class:`Campaign` is
            recorded here as ``python:module.name``.
        minimize: ``True`` minimises, ``False`` maximises; ``None``: the objective's
            own direction (user functions and told scores: maximise).
        target: expression string or CSV path for ``expr`` objectives.
        iterations, batch, trials: budget = iterations x batch per trial.
        seed: campaign seed; trial t uses ``seed * 1000 + t``.
        init_size: initial points drawn (seeded) from the dataset, shared by all trials.
        gp_points: ``exact`` surrogate: at most this many initial points enter the GP (best
            half + random half); ``sparse``: its number of inducing points.
        gp_max: ``exact`` surrogate: at most this many points in all, initial and
            evaluated, enter the GP (best half + random half of their union), so that a
            fit costs the same at the thousandth evaluation as at the first; ``None``:
            every evaluation enters.
        inversion: the GP learns each score at a code that decodes to the string
            scored (:mod:`latentbo.bo.inversion`): initial codes and evaluated strings'
            codes are refined by gradient steps where the encoding does not decode
            back; the candidate proposed is kept in ``proposed``.
        retrain_every: weighted retraining (:mod:`latentbo.bo.retraining`): every this
            many iterations of a trial the autoencoder is fine-tuned for
            ``retrain_steps`` steps on the initial and evaluated strings, sampled by
            rank weight, and every code is re-encoded; ``0``: never. Each trial
            retrains its own copy.
        retrain_steps: optimiser steps (batches of 32) per retraining.
        joint: joint updates (LOL-BO): each retraining step also trains the encoder, and
            a GP, so that the GP fits the best strings' scores at their codes
            (:func:`~latentbo.bo.retraining.joint_gp_term`); needs ``retrain_every`` and
            the ``exact`` surrogate.
        surrogate: ``exact`` (BoTorch SingleTaskGP, cubic in the points it holds) or
            ``sparse`` (a variational GP on every initial code: the Grammar VAE protocol,
            whose GP sees the whole dataset); see :data:`~latentbo.bo.surrogate.SURROGATES`.
        acquisition: a name in :data:`~latentbo.bo.acquisition.ACQUISITIONS`: ``qlogei``
            (batch log-EI, sequential greedy), ``turbo`` (trust region + Thompson
            sampling) or ``random`` (Sobol points, no GP).
        tr_length: the first side of a trust region (``turbo``, ``turbo-m``) in the unit
            cube of the search box, and the side it restarts at: TuRBO's 0.8 searches
            most of the box at first, which a long campaign narrows; a short one (5 x 50)
            ends before its regions have shrunk, and a smaller side (0.1) searches near
            the best codes from the first batch.
        incumbent: what qLogEI's improvement is measured from: ``observed`` (the best
            score seen) or ``mean`` (the best GP posterior mean at the GP's codes: the
            plug-in for noisy data; the Grammar VAE code takes the best posterior mean in
            the box). When the data holds the optimum, ``observed`` leaves no improvement
            but where the GP is unsure.
        bounds: ``data`` (box spanned by the initial codes) or ``prior`` (+-3 sd of the prior).
        n_decode: stochastic decodes per candidate; the most frequent valid string wins.
        num_restarts, raw_samples: ``optimize_acqf`` settings. With the 500-point
            subset and warm-started hyperparameters, 2 restarts / 128 raw samples
            match the plain setup's proposal quality at a fraction of its time
            (``benchmarks/bo_speed.py``).
        dataset: dataset name or file (default: the model's task dataset); a file is
            recorded with its content hash.
        column: the CSV column of strings of a dataset file.
        score_column: a CSV column of known scores of the initial strings (no
            re-scoring; needed when scores are told from outside).
        semantic: SMILES semantic masks while decoding (``None``: the codec's default,
            on for molecule grammars; ``False``: the paper-faithful decoder).
        objective_timeout: seconds one batch of strings may take to score (``None``:
            no limit). The objective runs in a daemon thread; one that never returns
            is left behind, not killed.
        on_timeout: ``error`` (stop with ObjectiveTimeoutError; ``--resume`` later) or
            ``invalid`` (the batch counts as invalid, marked ``timeout``, and the
            campaign goes on).
        filters: a chemist's filters for molecule tasks (:class:`~latentbo.filters.MoleculeFilter`
            keys, e.g. ``{"max_sa": 4.5, "alerts": "pains,brenk"}``): a candidate none of
            whose decodes passes counts as invalid, by reason (``filtered_pains``), and
            the GP never sees a score for it.
    """

    objective: str | None = "expr"
    minimize: bool | None = None
    target: str | None = None
    iterations: int = 5
    batch: int = 50
    trials: int = 5
    seed: int = 0
    init_size: int = 2000
    gp_points: int = 500
    gp_max: int | None = None
    inversion: bool = False
    retrain_every: int = 0
    retrain_steps: int = 100
    joint: bool = False
    surrogate: str = "exact"
    acquisition: str = "qlogei"
    tr_length: float = 0.8
    incumbent: str = "observed"
    bounds: str = "data"
    n_decode: int = 10
    num_restarts: int = 2
    raw_samples: int = 128
    dataset: str | None = None
    column: str | None = None
    score_column: str | None = None
    semantic: bool | None = None
    objective_timeout: float | None = None
    on_timeout: str = "error"
    filters: dict | None = None

    def validate(self) -> None:
        check_field_types(self)
        if self.filters is not None:
            MoleculeFilter.from_table(self.filters)
        if self.objective_timeout is not None and not self.objective_timeout > 0:
            raise ConfigError(f"objective_timeout must be positive seconds, got {self.objective_timeout}")
        if self.on_timeout not in ("error", "invalid"):
            raise ConfigError(f"on_timeout must be 'error' or 'invalid', got {self.on_timeout!r}")
        if self.acquisition not in ACQUISITIONS:
            raise ConfigError(f"acquisition must be one of {', '.join(sorted(ACQUISITIONS))}, got {self.acquisition!r}")
        if not 0 < self.tr_length <= 1.6:
            raise ConfigError(f"tr_length must be in (0, 1.6] (the unit cube's side is 1), got {self.tr_length}")
        if self.tr_length != 0.8 and not ACQUISITIONS[self.acquisition].trust_region:
            raise ConfigError(f"tr_length sets a trust region's side; acquisition {self.acquisition!r} has none "
                              f"(use {' or '.join(n for n, p in sorted(ACQUISITIONS.items()) if p.trust_region)})")
        if self.surrogate not in SURROGATES:
            raise ConfigError(f"surrogate must be one of {', '.join(SURROGATES)}, got {self.surrogate!r}")
        if self.incumbent not in ("observed", "mean"):
            raise ConfigError(f"incumbent must be 'observed' or 'mean', got {self.incumbent!r}")
        if self.bounds not in ("data", "prior"):
            raise ConfigError(f"bounds must be 'data' or 'prior', got {self.bounds!r}")
        for name in ("iterations", "batch", "trials", "init_size", "gp_points", "n_decode"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        if self.retrain_every < 0 or self.retrain_steps < 1:
            raise ConfigError(f"retrain_every must be >= 0 and retrain_steps >= 1, got {self.retrain_every}, "
                              f"{self.retrain_steps}")
        if self.joint and not (self.retrain_every and self.surrogate == "exact"):
            raise ConfigError("joint updates train the model during retrainings with an exact GP: set retrain_every "
                              "(e.g. 2) and keep the exact surrogate")
        if self.gp_max is not None and self.gp_max < 2:
            raise ConfigError(f"gp_max must be >= 2 (or unset), got {self.gp_max}")
        if not 0 <= self.seed < MAX_SEED:  # trial and iteration seeds (seed * 1e6 + ...) must fit torch's 64 bits
            raise ConfigError(f"seed must be an integer from 0 to {MAX_SEED - 1}, got {self.seed}")
        if self.init_size < 2:
            raise ConfigError(f"init_size {self.init_size} leaves no search box (the box spans the initial codes); "
                              "use at least 2, and better twice the latent dimensions")
        if (self.column or self.score_column) and not (self.dataset and is_dataset_path(self.dataset)):
            raise ConfigError("column and score_column need a dataset file (a CSV path as dataset)")


class Campaign:
    """A latent-space BO campaign over a loaded model (its task comes with it).

    Args:
        model: a sequence autoencoder (:func:`~latentbo.models.load_model`); the task
            of its config gives the initial data, the validity rule and the default
            objective's domain. :meth:`from_dir` loads one from a folder or zoo name.
        config: the campaign settings.
        out_dir: where every output and checkpoint goes.
        objective: overrides ``config.objective``: a Python callable
            ``f(list[str | None]) -> floats`` (contract:
            :class:`~latentbo.objectives.FunctionObjective`) or an
            :class:`~latentbo.objectives.Objective`; recorded by name.
        device: where the GP, the acquisition and the decoder run (``cpu``, ``cuda``,
            ``auto``); checkpoints stay on the CPU, so a campaign may resume elsewhere
            (not bit-exactly across devices).
        source: where the model came from, recorded in ``campaign.json``.

    A campaign resumes only with the settings and the model (by a fingerprint of its
    weights) it was started with.
    """

    def __init__(self, model: SequenceAutoencoder, config: CampaignConfig, out_dir: str | Path,
                 objective: Callable[..., Any] | Objective | None = None,
                 device: str | torch.device | None = None, source: str | None = None) -> None:
        if not isinstance(model, SequenceAutoencoder):
            raise ConfigError(f"a campaign needs a sequence autoencoder, got {type(model).__name__}; "
                              "load a folder with Campaign.from_dir")
        config.validate()
        if objective is not None:
            name = objective.name if isinstance(objective, Objective) else callable_name(objective)
            config = dataclasses.replace(config, objective=name)
        self.config = config
        self.out = Path(out_dir)
        self.device = resolve_device(device)
        self.model_fingerprint = weights_fingerprint(model)
        self.model_source = source
        if config.retrain_every:  # retraining changes the weights: the caller's model stays as it was
            model = copy.deepcopy(model)
        self.model = model.to(self.device).eval()
        self.model.codec.set_semantic(config.semantic)
        self.task = get_task(self.model.config.task)
        acquisition = ACQUISITIONS[config.acquisition]
        if acquisition.breeds and (why := acquisition.unsupported(self.task, self.model.codec)) is not None:
            raise ConfigError(f"acquisition {config.acquisition!r} {why} (use turbo, turbo-m or qlogei)")
        if config.filters is not None and not self.task.molecules:
            raise ConfigError(f"filters are for molecule tasks; this model's task is {self.task.name!r}")
        self.filters = None if config.filters is None else MoleculeFilter.from_table(config.filters)
        self.initial_skipped: dict[str, int] = {}  # initial strings left out, by reason
        self.initial_inversion: dict[str, int] | None = None  # inversion of the initial codes (counts)
        self._seen_initial: set[str | None] | None = None  # the initial strings, compared canonically
        self._keys: dict[str, str | None] = {}  # string -> canonical form, computed once
        # Weighted retraining: the weights each trial starts from, and whose weights the
        # model holds now (trial, iteration of its last retraining; -1: none).
        self._base_weights = ({k: v.detach().clone() for k, v in self.model.state_dict().items()}
                              if config.retrain_every else None)
        self._weights_of: tuple[int, int] | None = None
        self.objective: Objective = make_objective(objective if objective is not None else config.objective,
                                                   config.target, config.minimize)
        self.sign = 1.0 if self.objective.maximize else -1.0

    @classmethod
    def from_dir(cls, model_dir: str | Path, config: CampaignConfig, out_dir: str | Path,
                 objective: Callable[..., Any] | Objective | None = None,
                 device: str | torch.device | None = None) -> Campaign:
        """A campaign over the model in ``model_dir`` (a folder written by ``latentbo
        train``, or a pretrained model's name: ``latentbo models list``).

        Raises:
            CheckpointError: no such model, or not a sequence model.
        """
        path = resolve_model(model_dir)
        return cls(load_model(path, kind="sequence"), config, out_dir, objective, device, str(path.resolve()))

    def score(self, strings: list[str | None], details: bool = True) -> tuple[np.ndarray | None, list[dict]]:
        """Scores (and details) of a batch, within ``objective_timeout``.

        Returns:
            ``(None, [])`` when the batch timed out and ``on_timeout`` is ``invalid``.

        Raises:
            ObjectiveTimeoutError: it timed out and ``on_timeout`` is ``error``.
        """
        def work() -> tuple[np.ndarray, list[dict]]:
            vals = self.checked_scores(self.objective(strings), strings)
            return vals, (self.objective.details(strings) if details else [])

        limit = self.config.objective_timeout
        if limit is None:
            return work()
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["result"] = work()
            except BaseException as exc:  # re-raised in the campaign's thread
                box["error"] = exc

        thread = threading.Thread(target=run, daemon=True, name="objective")
        thread.start()
        thread.join(limit)
        if thread.is_alive():
            if self.config.on_timeout == "error":
                raise ObjectiveTimeoutError(
                    f"objective {self.objective.name!r} took more than {limit} s on {len(strings)} strings; "
                    "raise --objective-timeout, or pass --on-timeout invalid to count such batches as invalid")
            return None, []
        if "error" in box:
            raise box["error"]
        return box["result"]

    def checked_scores(self, scores: Any, strings: list[str | None]) -> np.ndarray:
        """``scores`` as a float array, one per string, each within +-MAX_SCORE or NaN;
        infinities count as invalid (NaN).

        Raises:
            ObjectiveError: a score is not a number, too large, or the count is wrong.
        """
        try:
            vals = np.array(scores, dtype=float)
        except (TypeError, ValueError) as exc:
            raise ObjectiveError(f"scores must be numbers, one per string (NaN = invalid): {exc}") from None
        if vals.shape != (len(strings),):
            raise ObjectiveError(f"{vals.size} scores for {len(strings)} strings; give one per string (NaN = invalid)")
        vals[np.isinf(vals)] = np.nan
        huge = np.flatnonzero(np.abs(vals) > MAX_SCORE)
        if len(huge):
            i = huge[0]
            raise ObjectiveError(f"objective {self.objective.name!r} returned {vals[i]:g} for {strings[i]!r}; "
                                 f"scores must lie within +-{MAX_SCORE:g} (the GP squares them), NaN = invalid")
        return vals

    # -- initial data -----------------------------------------------------------------
    def initial_data(self) -> tuple[Tensor, np.ndarray, list[str], str | None]:
        """Codes, scores (NaN = invalid), strings and source of the initial set,
        computed once and cached in ``init.npz`` / ``init_strings.json`` (``source`` is
        ``None`` then: campaign.json records it); known scores (``score_column``) are
        used as they are."""
        path = self.out / "init.npz"
        if path.exists():
            return (*self._saved_initial_data(), None)
        cfg = self.config
        known = None
        if cfg.dataset and is_dataset_path(cfg.dataset):
            strings, known, source = read_dataset_file(cfg.dataset, cfg.column, cfg.score_column)
        else:
            strings, source = load_strings(cfg.dataset or self.task.dataset)
        if known is None and self.objective.name == "external":
            raise ConfigError("scores told from outside (no objective) need known initial scores: a CSV dataset "
                              "with a score column (--dataset FILE.csv --score-column NAME)")
        rng = np.random.default_rng(cfg.seed)
        pick = np.sort(rng.choice(len(strings), size=min(cfg.init_size, len(strings)), replace=False))
        skipped: Counter[str] = Counter()
        if self.task.molecules:  # RDKit's verdict: the grammar alone parses an unclosed ring
            why = [self.task.invalidity(strings[i]) for i in pick]
            skipped.update(r for r in why if r is not None)
            pick = pick[[r is None for r in why]]
        chosen = [strings[i] for i in pick]
        codes, batch = self.model.encode_strings(chosen)
        skipped.update(batch.failure_counts())
        self.initial_skipped = dict(skipped)
        if skipped:
            log.warning("initial data: %d of %d strings skipped (%s)", sum(skipped.values()),
                        len(chosen) + sum(skipped.values()) - len(batch.failures),
                        ", ".join(f"{k} {v}" for k, v in sorted(skipped.items())))
        if len(codes) < 2:
            raise DatasetError(f"{len(codes)} of the initial strings could be encoded; the search box needs at "
                               f"least 2 (better {2 * self.model.latent_dim}): {batch.report()}")
        if len(codes) < 2 * self.model.latent_dim:
            log.warning("%d initial codes for %d latent dimensions: the search box spans few directions; use "
                        "--init-size %d or more", len(codes), self.model.latent_dim, 2 * self.model.latent_dim)
        kept = [chosen[i] for i in batch.kept]
        if known is not None:
            scores = self.checked_scores(known[pick][batch.kept], kept)
            self._compare_scales(scores)
        else:
            scores, _ = self.score(kept, details=False)
            if scores is None:
                raise DatasetError(f"scoring the initial strings took more than {cfg.objective_timeout} s")
        if not np.isfinite(scores).any():
            raise DatasetError(f"no initial string from {source} has a finite {self.objective.name} score")
        if cfg.inversion:
            codes, _, self.initial_inversion = invert(self.model, self.task, kept, codes)
            log.info("initial codes: %(decoded_back)d of %(codes)d decoded back; %(decoded_back_after)d after "
                     "refining %(refined)d", self.initial_inversion)
        buf = io.BytesIO()
        np.savez(buf, codes=codes.numpy(), scores=scores)
        atomic_write_bytes(path, buf.getvalue())
        atomic_write_text(self.out / "init_strings.json", json.dumps(kept))
        return codes, scores, kept, source

    def _compare_scales(self, known: np.ndarray) -> None:
        """Say the range of the known initial scores, and warn when the objective that
        scores the proposals cannot give such numbers (pIC50 values told to a 0..1 QED
        campaign would put the GP's two sources on different scales)."""
        finite = known[np.isfinite(known)]
        if not len(finite):
            return
        lo, hi = float(finite.min()), float(finite.max())
        log.info("known initial scores (%s): %.4g .. %.4g", self.config.score_column, lo, hi)
        bounds = self.objective.bounds
        if bounds is not None and (lo < bounds[0] or hi > bounds[1]):
            log.warning("known scores from column %r span %.4g .. %.4g, outside %s's %g .. %g: the proposals will be "
                        "scored by %s on its own scale; use an objective that computes what the column measures",
                        self.config.score_column, lo, hi, self.objective.name, *bounds, self.objective.name)

    def _saved_initial_data(self) -> tuple[Tensor, np.ndarray, list[str]]:
        try:
            with np.load(self.out / "init.npz") as z:
                codes, scores = torch.from_numpy(z["codes"]), z["scores"]
            strings = json.loads((self.out / "init_strings.json").read_text(encoding="utf-8"))
            ok = (codes.ndim == 2 and codes.shape[1] == self.model.latent_dim and scores.shape == (len(codes),)
                  and isinstance(strings, list) and len(strings) == len(codes) and all(isinstance(x, str) for x in strings))
        except (OSError, ValueError, KeyError) as exc:  # JSONDecodeError, UnicodeDecodeError are ValueErrors
            raise CheckpointError(f"{self.out}: the saved initial data (init.npz, init_strings.json) is unreadable: "
                                  f"{exc}") from None
        if not ok:
            raise CheckpointError(f"{self.out}: the saved initial data does not fit this model ({len(codes)} codes, "
                                  f"{len(strings)} strings); start the campaign in a new --out")
        return codes, scores, strings

    # -- running ------------------------------------------------------------------------
    def run(self, resume: bool = False, progress: bool = True, overwrite: bool = False) -> dict[str, Any]:
        """Run (or resume) every trial, then write the summaries and plots.

        Args:
            resume: continue the campaign in ``out_dir`` (same settings).
            progress: show progress bars.
            overwrite: replace a run already in ``out_dir`` (:func:`~latentbo.io.clear_run`).

        Raises:
            CheckpointError: ``out_dir`` holds a campaign and ``resume`` is False, or
                the saved campaign used different settings.
            BusyError: another process is running a campaign into ``out_dir``.
        """
        with run_folder(self.out, resume, overwrite):
            fresh = not (self.out / META_FILE).exists()
            codes, scores, _, meta = self._start(resume)
            try:
                trials = [self.run_trial(t, codes, scores, progress) for t in range(self.config.trials)]
            except BaseException as exc:
                # Nothing evaluated after an error: the corrected command starts afresh. An
                # interruption keeps the scored initial data for --resume.
                if (fresh and not isinstance(exc, KeyboardInterrupt)
                        and not any(self.out.glob("trial_*/evaluations.jsonl"))):
                    self._clear_start()
                raise
            return write_campaign_reports(self.out, self.objective, trials, meta, init_scores=scores,
                                          molecules=self.task.molecules)

    def _start(self, resume: bool) -> tuple[Tensor, np.ndarray, list[str], dict[str, Any]]:
        """Check or create ``campaign.json`` and the initial data. A start that fails
        before its first evaluation leaves nothing behind, so the corrected command
        runs in the same folder."""
        meta_path = self.out / META_FILE
        meta = {"config": dataclasses.asdict(self.config), "model": self.model_source,
                "model_fingerprint": self.model_fingerprint,
                "trial_seeds": [self.trial_seed(t) for t in range(self.config.trials)]}
        if meta_path.exists():
            if not resume:
                raise CheckpointError(f"{self.out} already holds a campaign; pass --resume to continue it, "
                                      "--overwrite to replace it, or choose another --out")
            try:
                saved_meta = json.loads(meta_path.read_text(encoding="utf-8"))
                saved = {**dataclasses.asdict(CampaignConfig()), **saved_meta["config"]}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"{meta_path} is unreadable or lacks its config: {exc}") from None
            # Settings added since a campaign was written take their defaults.
            self._extend(saved_meta, saved, meta)
            if saved_meta.get("model_fingerprint", self.model_fingerprint) != self.model_fingerprint:  # older: none
                raise CheckpointError(f"{self.out} was run with another model ({saved_meta.get('model')}, weights "
                                      f"{saved_meta['model_fingerprint']}; now {self.model_fingerprint})")
            codes, scores, strings, _ = self.initial_data()
            return codes, scores, strings, {**meta, "initial_data": saved_meta.get("initial_data")}
        self._clear_start()
        self.out.mkdir(parents=True, exist_ok=True)
        try:
            codes, scores, strings, source = self.initial_data()
        except BaseException:
            self._clear_start()
            raise
        meta["initial_data"], meta["initial_skipped"] = source, self.initial_skipped
        if self.initial_inversion is not None:
            meta["initial_inversion"] = self.initial_inversion
        atomic_write_text(meta_path, json.dumps(meta, indent=2))
        return codes, scores, strings, meta

    def _extend(self, saved_meta: dict[str, Any], saved: dict[str, Any], meta: dict[str, Any]) -> None:
        """Resume with the saved settings, or with more ``iterations`` or ``trials`` (the
        campaign then goes on as if started with them: each trial's proposals depend on
        its own seed and iteration only); ``campaign.json`` records the extension.

        Raises:
            CheckpointError: any other setting differs (the first one named, old -> new).
        """
        changed = {k: (saved.get(k), v) for k, v in meta["config"].items() if saved.get(k) != v}
        grown = {k for k, (old, new) in changed.items() if k in ("iterations", "trials") and new > old}
        other = sorted((k, c) for k, c in changed.items() if k not in grown)
        if other:
            key, (old, new) = other[0]
            more = f" ({len(other) - 1} more settings differ)" if len(other) > 1 else ""
            raise CheckpointError(f"{self.out} was run with {key} = {old!r}, not {new!r}{more}; a resumed campaign "
                                  "takes more iterations or trials and nothing else (campaign.json holds its settings)")
        if grown:
            saved_meta["config"] = {**saved_meta["config"], **{k: meta["config"][k] for k in grown}}
            saved_meta["trial_seeds"] = meta["trial_seeds"]
            atomic_write_text(self.out / META_FILE, json.dumps(saved_meta, indent=2))
            log.info("%s: extended (%s)", self.out, ", ".join(f"{k} {changed[k][0]} -> {changed[k][1]}"
                                                              for k in sorted(grown)))

    def _clear_start(self) -> None:
        """Remove what a start writes before any evaluation: campaign.json and the initial data."""
        for name in (META_FILE, "init.npz", "init_strings.json"):
            (self.out / name).unlink(missing_ok=True)

    def trial_seed(self, t: int) -> int:
        return self.config.seed * 1000 + t

    def _load_trial(self, t: int) -> Trial:
        proposer = make_proposer(self.config.acquisition, self.model.latent_dim, self.config)
        return load_trial(self.out / f"trial_{t}", proposer, self.config.acquisition, self.config.batch)

    def _propose(self, t: int, trial: Trial, init_codes: Tensor, init_scores: np.ndarray, q: int) -> Batch:
        """Fit the GP on the initial subset and the trial's valid evaluations, propose
        ``q`` candidates and decode them (the GP state is kept in ``trial``). A
        candidate whose decode was evaluated before (or is another's in the batch) is
        proposed again, up to :data:`REPEAT_ROUNDS` times; one still repeated is
        invalid by reason ``repeat``, never scored twice. A breeder's strings are not
        decoded; a slot it could not fill is asked again as a repeat is."""
        cfg = self.config
        seed = self.trial_seed(t)
        it_seed = seed * 1000 + trial.iteration
        init_codes, eval_codes = self._adapted(t, trial, init_codes, init_scores)
        valid_init = np.flatnonzero(np.isfinite(init_scores))
        if cfg.surrogate == "exact":
            subset = valid_init[select_subset(self.sign * init_scores[valid_init], cfg.gp_points,
                                              np.random.default_rng(seed))]
        else:  # the sparse GP holds every valid initial code
            subset = valid_init
        bounds = search_box(self.model, init_codes[valid_init], cfg.bounds)
        done = [r for r in trial.records if r["valid"]]
        latents = torch.tensor([r["latent"] for r in done], dtype=torch.float64).view(-1, init_codes.shape[1])
        if eval_codes is not None:  # codes under the retrained weights
            latents[: len(eval_codes)] = eval_codes.double()
        x = torch.cat([init_codes[subset].double(), latents])
        y = torch.from_numpy(np.concatenate([self.sign * init_scores[subset],
                                             [self.sign * r["score"] for r in done]])).double().unsqueeze(-1)
        if cfg.surrogate == "exact" and cfg.gp_max is not None:
            keep = select_subset(y.squeeze(-1).numpy(), cfg.gp_max, np.random.default_rng(it_seed))
            x, y = x[keep], y[keep]
        if trial.proposer.breeds:  # the box only scales the GP's inputs: it spans the evaluated codes too
            bounds = search_box(self.model, torch.cat([init_codes[valid_init].double(), x]), cfg.bounds)
        x, y, bounds = x.to(self.device), y.to(self.device), bounds.to(self.device)
        gp = None
        t0 = time.perf_counter()
        if trial.proposer.uses_model:
            gp = fit_surrogate(cfg.surrogate, x, y, bounds, cfg.gp_points, it_seed, trial.gp_state)
            trial.gp_state = {k: v.detach().cpu().clone() for k, v in gp.state_dict().items()}
        t1 = time.perf_counter()
        trial.phases["fit"] += t1 - t0
        cand = torch.empty(0, init_codes.shape[1])
        strings: list[str | None] = []
        info: list[dict[str, Any]] = []
        again = list(range(q))
        seen = self._seen(trial)
        for round_ in range(REPEAT_ROUNDS + 1):
            round_seed = it_seed + 7919 * round_
            t1 = time.perf_counter()
            if trial.proposer.breeds:
                taken = seen | {self._key(s) for s in strings if s is not None}
                new, more, new_info = self._bred(trial, gp, init_scores, len(again), round_seed, taken)
                trial.phases["acquisition"] += time.perf_counter() - t1
            else:
                more = trial.proposer.propose(gp, x, y.squeeze(-1), bounds, len(again), round_seed).cpu()
                t2 = time.perf_counter()
                new, new_info = decode_candidates(self.model, self.task, more.float(), cfg.n_decode, round_seed,
                                                  self.filters)
                trial.phases["acquisition"] += t2 - t1
                trial.phases["decoding"] += time.perf_counter() - t2
            if not round_:
                cand, strings, info = more, new, new_info
            else:
                for k, i in enumerate(again):
                    cand[i], strings[i] = more[k], new[k]
                    info[i] = {**new_info[k], "replaced": info[i].get("replaced", 0) + 1}
            empty = [i for i, h in enumerate(info) if h.get("reason") == NO_OFFSPRING]
            again = sorted(self._repeats(strings, seen) + empty)
            if not again:
                break
        for i in again:
            if strings[i] is not None:
                strings[i], info[i] = None, {**info[i], "reason": "repeat"}
        return Batch(cand, strings, info, it_seed)

    def _bred(self, trial: Trial, gp: Any, init_scores: np.ndarray, q: int, seed: int,
              taken: set[str | None]) -> tuple[list[str | None], Tensor, list[dict[str, Any]]]:
        """A :class:`~latentbo.bo.acquisition.Breeder`'s ``q`` strings (``None`` past
        the admissible offspring it found, reason :data:`NO_OFFSPRING`), their codes
        and decode records (status ``bred``: no decoding)."""
        _, _, strings = self._saved_initial_data()
        population = [(self.sign * float(v), s) for s, v in zip(strings, init_scores) if np.isfinite(v)]
        population += [(self.sign * r["score"], r["string"]) for r in trial.records if r["valid"]]

        from latentbo.objectives.molecules import to_mol

        def admissible(s: str) -> bool:
            if self._key(s) in taken or self.task.invalidity(s) is not None:
                return False
            return self.filters is None or self.filters.reason(to_mol(s)) is None

        def encode(batch: list[str]) -> tuple[Tensor, list[int]]:
            codes, report = self.model.encode_strings(batch)
            return codes.double().to(self.device), [int(i) for i in report.kept]

        new, codes = trial.proposer.breed(gp, population, encode, admissible, q, seed, self.model.codec)
        out = torch.zeros(q, self.model.latent_dim, dtype=torch.float64)
        out[: len(new)] = codes.cpu()
        info = [{"status": "bred"} for _ in new] + [{"status": "bred", "reason": NO_OFFSPRING}] * (q - len(new))
        return [*new, *[None] * (q - len(new))], out, info

    def _adapted(self, t: int, trial: Trial, init_codes: Tensor,
                 init_scores: np.ndarray) -> tuple[Tensor, Tensor | None]:
        """With weighted retraining: retrain when one is due (once per due iteration,
        saved before it is used), give the model the trial's weights and return the
        initial codes and the valid evaluations' codes under them (``None``: the
        recorded ones); without: ``init_codes`` as given."""
        cfg = self.config
        if not cfg.retrain_every:
            return init_codes, None
        state = load_retrained(trial.dir)
        due = trial.iteration > 0 and trial.iteration % cfg.retrain_every == 0
        if due and (state is None or int(state["iteration"]) != trial.iteration):
            self._hold_weights(t, state)
            t0 = time.perf_counter()
            _, _, strings = self._saved_initial_data()
            ok = np.isfinite(init_scores)
            done = [r for r in trial.records if r["valid"]]
            box = None
            if cfg.joint:  # the box of the codes the GP was fitted at last
                box = search_box(self.model, (init_codes if state is None else state["init_codes"])[ok], cfg.bounds)
            left_out = retrain(self.model, [s for s, k in zip(strings, ok) if k] + [r["string"] for r in done],
                               np.concatenate([self.sign * init_scores[ok], [self.sign * r["score"] for r in done]]),
                               cfg.retrain_steps, seed=self.trial_seed(t) * 1000 + trial.iteration, joint_bounds=box,
                               gp_state=trial.gp_state)
            if left_out:  # the initial strings all encode: these are evaluated ones
                log.warning("retraining at iteration %d: %d of %d evaluated molecules left out (the codec cannot "
                            "encode them)", trial.iteration + 1, left_out, len(done))
            codes, batch = self.model.encode_strings(strings)
            if len(batch.kept) != len(strings):
                raise CheckpointError(f"{self.out}: the retrained model cannot encode the initial strings it could")
            evaluated = torch.tensor([r["latent"] for r in done]).view(-1, codes.shape[1])
            enc, batch = self.model.encode_strings([r["string"] for r in done])
            evaluated[torch.as_tensor(batch.kept, dtype=torch.long)] = enc  # others keep their recorded codes
            state = {"iteration": trial.iteration, "weights": self.model.state_dict(), "init_codes": codes,
                     "eval_codes": evaluated, "left_out": left_out}
            save_retrained(trial.dir, state)
            trial.phases["retraining"] += time.perf_counter() - t0
            self._weights_of = (t, trial.iteration)
        self._hold_weights(t, state)
        return (init_codes, None) if state is None else (state["init_codes"], state["eval_codes"])

    def _hold_weights(self, t: int, state: dict[str, Any] | None) -> None:
        """Give the model trial ``t``'s weights: those of its last retraining, or the
        weights every trial starts from."""
        tag = (t, -1 if state is None else int(state["iteration"]))
        if self._base_weights is not None and self._weights_of != tag:
            self.model.load_state_dict(self._base_weights if state is None else state["weights"])
            self.model.eval()
            self._weights_of = tag

    def _inverted(self, strings: list[str | None], proposed: Tensor) -> tuple[Tensor, list[bool | None]]:
        """Codes of the decoded strings (encoded, refined where they do not decode
        back); a string the codec cannot encode keeps its candidate's code."""
        codes, back = proposed.clone().float(), [None] * len(strings)
        rows = [i for i, s in enumerate(strings) if s is not None]
        enc, batch = self.model.encode_strings([strings[i] for i in rows])
        rows = [rows[k] for k in batch.kept]
        if rows:
            refined, ok, _ = invert(self.model, self.task, [strings[i] for i in rows], enc)
            codes[rows] = refined
            for i, b in zip(rows, ok):
                back[i] = b
        return codes, back

    def _seen(self, trial: Trial) -> set[str | None]:
        """What was evaluated before, canonically: the initial strings and the trial's."""
        if self._seen_initial is None:
            _, _, strings = self._saved_initial_data()
            self._seen_initial = {self._key(s) for s in strings}
        return self._seen_initial | {self._key(r["string"]) for r in trial.records if r["string"] is not None}

    def _key(self, text: str) -> str | None:
        if text not in self._keys:
            self._keys[text] = canonical(self.task, self.model, text)
        return self._keys[text]

    def _repeats(self, strings: list[str | None], seen: set[str | None]) -> list[int]:
        """Positions of the strings evaluated before or repeating an earlier one in the batch."""
        batch: set[str | None] = set()
        out = []
        for i, s in enumerate(strings):
            if s is None:
                continue
            key = self._key(s)
            if key in seen or key in batch:
                out.append(i)
            batch.add(key)
        return out

    def _record(self, t: int, trial: Trial, batch: Batch, vals: np.ndarray, details: list[dict]) -> None:
        """Append one scored batch to the trial, update the trust region, save. With
        inversion the GP's code of a valid string (``latent``) is one that decodes to
        it where refinement finds one (``decoded_back``); the candidate is ``proposed``."""
        told = np.full(len(batch.strings), np.nan)  # the maximised scores the proposer is told
        codes, back = batch.latents, [None] * len(batch.strings)
        if self.config.inversion:
            t0 = time.perf_counter()
            codes, back = self._inverted(batch.strings, batch.latents)
            trial.phases["inversion"] += time.perf_counter() - t0
        for i, (z, proposed, s, v, d, how, b) in enumerate(zip(codes, batch.latents, batch.strings, vals, details,
                                                               batch.decode_info, back)):
            valid = s is not None and bool(np.isfinite(v))
            record = {"trial": t, "iteration": trial.iteration, "seed": batch.seed,
                      "latent": [float(a) for a in z], "string": s, "valid": valid,
                      "score": float(v) if valid else None, "details": d, "decode": how,
                      "wall_time": trial.elapsed}
            if self.config.inversion:
                record.update(proposed=[float(a) for a in proposed], decoded_back=b)
            trial.records.append(record)
            if valid:
                told[i] = self.sign * float(v)
        crowded = 2 * sum(h.get("reason") == "repeat" for h in batch.decode_info) > len(batch.decode_info)
        trial.proposer.told(batch.latents, told, crowded)
        trial.iteration += 1
        save_trial(trial)

    def run_trial(self, t: int, init_codes: Tensor, init_scores: np.ndarray, progress: bool) -> list[dict]:
        trial = self._load_trial(t)
        if (trial.dir / PENDING).exists():
            raise CheckpointError(f"{trial.dir} holds a batch asked and not told (ask/tell); tell its scores first")
        bar = tqdm(total=self.config.iterations, initial=trial.iteration, disable=not progress, desc=f"trial {t}",
                   unit="it")
        while trial.iteration < self.config.iterations:
            t0 = time.perf_counter()
            batch = self._propose(t, trial, init_codes, init_scores, self.config.batch)
            t1 = time.perf_counter()
            vals, details = self.score(batch.strings)
            trial.phases["objective"] += time.perf_counter() - t1
            if vals is None:  # timed out, counted as invalid
                vals, details = np.full(len(batch.strings), np.nan), [{"timeout": True}] * len(batch.strings)
            trial.elapsed += time.perf_counter() - t0
            self._record(t, trial, batch, vals, details)
            bar.update(1)
        bar.close()
        return trial.records

    # -- ask / tell ----------------------------------------------------------------------
    def ask(self, q: int | None = None) -> tuple[Tensor, list[str | None]]:
        """Propose and decode the next batch (trial 0) for scores measured elsewhere.

        The first call encodes (and, without known scores, scores) the initial data.
        The batch is saved until :meth:`tell`: asking again before telling returns the
        same batch, so a script that stopped in between goes on where it was.

        Args:
            q: batch size (default ``config.batch``).

        Returns:
            ``q x d`` latent codes and their decoded strings (``None``: no valid decode;
            tell NaN for it).

        Raises:
            CheckpointError: a batch of another size is pending, or the folder holds a
                campaign with other settings.
        """
        q = self.config.batch if q is None else q
        if isinstance(q, bool) or not isinstance(q, int) or q < 1:
            raise ConfigError(f"q must be a positive integer, got {q!r}")
        with output_lock(self.out):
            codes, scores, _, _ = self._start(resume=True)
            trial = self._load_trial(0)
            pending = load_pending(trial)
            if pending is not None:
                asked = pending[0]
                if len(asked.strings) != q:
                    raise CheckpointError(f"a batch of {len(asked.strings)} was asked and not told; tell its "
                                          f"scores before asking for {q}")
                return asked.latents.float(), asked.strings
            t0 = time.perf_counter()
            batch = self._propose(0, trial, codes, scores, q)
            trial.elapsed += time.perf_counter() - t0
            save_pending(trial, batch)
            return batch.latents.float(), batch.strings

    def tell(self, strings: list[str | None], scores: Any) -> None:
        """Record the scores of the batch :meth:`ask` returned.

        Args:
            strings: the strings asked, in order (checked against the pending batch).
            scores: one number per string; NaN (or None) for an invalid one.

        Raises:
            CheckpointError: nothing was asked, or ``strings`` is not the batch asked.
            ObjectiveError: a score is not a number, too large, or the count is wrong.
        """
        with output_lock(self.out):
            trial = self._load_trial(0)
            pending = load_pending(trial)
            if pending is None:
                raise CheckpointError(f"{self.out}: nothing was asked; call ask() first")
            batch, trial.gp_state, trial.elapsed, proposer_state = pending
            if proposer_state is not None:
                trial.proposer.load_state_dict(proposer_state)
            if list(strings) != batch.strings:
                raise CheckpointError("tell() got other strings than the batch asked; pass the strings ask() "
                                      "returned, in order")
            vals = self.checked_scores([np.nan if v is None else v for v in scores], batch.strings)
            if self.config.retrain_every:  # a fresh process: the inversion needs the trial's weights
                self._hold_weights(0, load_retrained(trial.dir))
            self._record(0, trial, batch, vals, [{} for _ in vals])
            (trial.dir / PENDING).unlink()

    def phase_seconds(self) -> dict[str, float]:
        """Seconds spent so far in each phase (GP ``fit``, ``acquisition``,
        ``decoding``, ``objective``), summed over the trials."""
        total = dict.fromkeys(PHASES, 0.0)
        for t in range(self.config.trials):
            for phase, seconds in self._load_trial(t).phases.items():
                total[phase] += seconds
        return total

    def report(self) -> dict[str, Any]:
        """Write the summaries, plots and exports of what has been evaluated so far."""
        with output_lock(self.out):
            _, scores, _, meta = self._start(resume=True)
            trials = [self._load_trial(t).records for t in range(self.config.trials)]
            return write_campaign_reports(self.out, self.objective, [r for r in trials if r], meta,
                                          init_scores=scores, molecules=self.task.molecules)

