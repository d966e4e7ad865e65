"""The BO campaign: fit -> propose -> decode -> score -> record, per iteration, per
trial, with atomic checkpoints after every iteration and exact resume.

Layout of ``out_dir``::

    campaign.json              resolved config, model folder, seeds
    init.npz, init_strings.json  initial codes, scores and strings (encoded and scored once)
    trial_<t>/evaluations.jsonl  every evaluation of trial t
    trial_<t>/state.pt         iteration reached, GP hyperparameters, trust region
    summary.json, summary.csv, report.md, best_so_far.png, top_molecules.png
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from latentbo.bo.acquisition import TrustRegion, propose_qlogei, propose_turbo
from latentbo.bo.surrogate import fit_gp, select_subset
from latentbo.data import load_strings
from latentbo.errors import CheckpointError, ConfigError, DatasetError, ObjectiveError, ObjectiveTimeoutError
from latentbo.io import atomic_write_bytes, atomic_write_text, output_lock
from latentbo.metrics import molecule_invalidity
from latentbo.models import SequenceAutoencoder, load_model
from latentbo.models.config import check_field_types
from latentbo.models.priors import GMMPrior
from latentbo.objectives import Objective, make_objective
from latentbo.reports import write_campaign_reports
from latentbo.tasks import get_task


#: Largest score magnitude accepted from an objective: the GP standardises and
#: squares the scores in float64, where (1e308)^2 overflows.
MAX_SCORE = 1e100


@dataclass
class CampaignConfig:
    """Campaign settings; defaults are the paper's protocol (5 x 50, 5 trials).

    Attributes:
        objective: registry name (``plogp``, ``expr``, ``expr_wr``, ``qed``, ``logp``) or ``module:function``.
        target: expression string or CSV path for ``expr`` objectives.
        iterations, batch, trials: budget = iterations x batch per trial.
        seed: campaign seed; trial t uses ``seed * 1000 + t``.
        init_size: initial points drawn (seeded) from the dataset, shared by all trials.
        gp_points: at most this many initial points enter the GP (best half + random half).
        acquisition: ``qlogei`` (batch log-EI, sequential greedy) or ``turbo``.
        bounds: ``data`` (box spanned by the initial codes) or ``prior`` (+-3 sd of the prior).
        n_decode: stochastic decodes per candidate; the most frequent valid string wins.
        num_restarts, raw_samples: ``optimize_acqf`` settings. With the 500-point
            subset and warm-started hyperparameters, 2 restarts / 128 raw samples
            match the plain setup's proposal quality at a fraction of its time
            (``benchmarks/bo_speed.py``).
        dataset: dataset name (default: the model's task dataset).
        semantic: SMILES semantic masks while decoding (``None``: the codec's default,
            on for molecule grammars; ``False``: the paper-faithful decoder).
        objective_timeout: seconds one batch of strings may take to score (``None``:
            no limit). The objective runs in a daemon thread; one that never returns
            is left behind, not killed.
        on_timeout: ``error`` (stop with ObjectiveTimeoutError; ``--resume`` later) or
            ``invalid`` (the batch counts as invalid, marked ``timeout``, and the
            campaign goes on).
    """

    objective: str = "expr"
    target: str | None = None
    iterations: int = 5
    batch: int = 50
    trials: int = 5
    seed: int = 0
    init_size: int = 2000
    gp_points: int = 500
    acquisition: str = "qlogei"
    bounds: str = "data"
    n_decode: int = 10
    num_restarts: int = 2
    raw_samples: int = 128
    dataset: str | None = None
    semantic: bool | None = None
    objective_timeout: float | None = None
    on_timeout: str = "error"

    def validate(self) -> None:
        check_field_types(self)
        if self.objective_timeout is not None and not self.objective_timeout > 0:
            raise ConfigError(f"objective_timeout must be positive seconds, got {self.objective_timeout}")
        if self.on_timeout not in ("error", "invalid"):
            raise ConfigError(f"on_timeout must be 'error' or 'invalid', got {self.on_timeout!r}")
        if self.acquisition not in ("qlogei", "turbo"):
            raise ConfigError(f"acquisition must be 'qlogei' or 'turbo', got {self.acquisition!r}")
        if self.bounds not in ("data", "prior"):
            raise ConfigError(f"bounds must be 'data' or 'prior', got {self.bounds!r}")
        for name in ("iterations", "batch", "trials", "init_size", "gp_points", "n_decode"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")


class Campaign:
    """A latent-space BO campaign.

    Args:
        model_dir: a folder written by ``latentbo train``.
        config: the campaign settings.
        out_dir: where every output and checkpoint goes.
    """

    def __init__(self, model_dir: str | Path, config: CampaignConfig, out_dir: str | Path) -> None:
        config.validate()
        self.model_dir = Path(model_dir)
        self.config = config
        self.out = Path(out_dir)
        self.model: SequenceAutoencoder = load_model(self.model_dir)
        self.model.codec.set_semantic(config.semantic)
        self.task = get_task(self.model.config.task)
        self.objective: Objective = make_objective(config.objective, config.target)
        self.sign = 1.0 if self.objective.maximize else -1.0

    # -- validity -----------------------------------------------------------------
    def invalidity(self, s: str | None) -> str | None:
        """Why a decoded string is invalid (``None``: valid); molecules are checked by RDKit."""
        if s is None:
            return "unfinished"
        return molecule_invalidity(s) if self.task.kind == "molecules" else None

    def decode_candidates(self, z: Tensor, seed: int) -> tuple[list[str | None], list[dict[str, Any]]]:
        """Decode each candidate ``n_decode`` times (stochastic); keep the most
        frequent valid string (preferring those the semantic masks' first pass made
        over their fallback's repairs), ``None`` when no decode is valid.

        Returns:
            The strings and, per candidate, how it was decoded: ``valid_decodes`` (of
            ``n_decode``), the decoder ``status`` of the string kept (``fallback``:
            the semantic masks' second pass made it) and, when none was valid, the
            commonest ``reason`` (:func:`~latentbo.metrics.molecule_invalidity`).
        """
        n = self.config.n_decode
        gen = torch.Generator().manual_seed(seed)
        rep = z.float().repeat_interleave(n, dim=0)
        decoded, status = self.model.decode_latents_with_status(rep, stochastic=n > 1, generator=gen)
        reason = {s: self.invalidity(s) for s in set(decoded)}  # RDKit once per distinct string
        valid = {s: r is None for s, r in reason.items()}
        out: list[str | None] = []
        info: list[dict[str, Any]] = []
        for i in range(len(z)):
            block = range(i * n, (i + 1) * n)
            counts = Counter(decoded[j] for j in block if valid[decoded[j]])
            if counts:
                # A string the masks' first pass made beats one their fallback repaired.
                faithful = Counter(decoded[j] for j in block if valid[decoded[j]] and status[j] != "fallback")
                best = (faithful or counts).most_common(1)[0][0]
                out.append(best)
                info.append({"valid_decodes": sum(counts.values()),
                             "status": next(status[j] for j in block if decoded[j] == best)})
            else:
                out.append(None)
                reasons = Counter(reason[decoded[j]] for j in block)
                info.append({"valid_decodes": 0, "status": None, "reason": reasons.most_common(1)[0][0]})
        return out, info

    def score(self, strings: list[str | None], details: bool = True) -> tuple[np.ndarray | None, list[dict]]:
        """Scores (and details) of a batch, within ``objective_timeout``.

        Returns:
            ``(None, [])`` when the batch timed out and ``on_timeout`` is ``invalid``.

        Raises:
            ObjectiveTimeoutError: it timed out and ``on_timeout`` is ``error``.
        """
        def work() -> tuple[np.ndarray, list[dict]]:
            vals = np.asarray(self.objective(strings), dtype=float)
            huge = np.flatnonzero(np.abs(vals) > MAX_SCORE)
            if len(huge):
                i = huge[0]
                raise ObjectiveError(f"objective {self.objective.name!r} returned {vals[i]:g} for {strings[i]!r}; "
                                     f"scores must lie within +-{MAX_SCORE:g} (the GP squares them), NaN = invalid")
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

    # -- initial data -----------------------------------------------------------------
    def initial_data(self, progress: bool) -> tuple[Tensor, np.ndarray, list[str]]:
        """Codes, scores (NaN = invalid) and strings of the initial set, computed once
        and cached in ``init.npz`` / ``init_strings.json``."""
        path = self.out / "init.npz"
        if path.exists():
            return self._saved_initial_data()
        strings, source = load_strings(self.config.dataset or self.task.dataset)
        rng = np.random.default_rng(self.config.seed)
        pick = rng.choice(len(strings), size=min(self.config.init_size, len(strings)), replace=False)
        chosen = [strings[i] for i in np.sort(pick)]
        codes, batch = self.model.encode_strings(chosen)
        kept = [chosen[i] for i in batch.kept]
        scores, _ = self.score(kept, details=False)
        if scores is None:
            raise DatasetError(f"scoring the initial strings took more than {self.config.objective_timeout} s")
        if not np.isfinite(scores).any():
            raise DatasetError(f"no initial string from {source} has a finite {self.objective.name} score")
        buf = io.BytesIO()
        np.savez(buf, codes=codes.numpy(), scores=scores)
        atomic_write_bytes(path, buf.getvalue())
        atomic_write_text(self.out / "init_strings.json", json.dumps(kept))
        if progress and batch.failures:
            tqdm.write(f"initial data: {batch.report()}")
        return codes, scores, kept

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

    def box(self, codes: Tensor) -> Tensor:
        """``2 x d`` search box."""
        if self.config.bounds == "data":
            lo, hi = codes.min(0).values, codes.max(0).values
            return torch.stack([lo, torch.maximum(hi, lo + 1e-6)]).double()
        prior = self.model.regularizer.prior
        if isinstance(prior, GMMPrior):
            lo, hi = prior.means.min(0).values - 3 * prior.sigma, prior.means.max(0).values + 3 * prior.sigma
            return torch.stack([lo, hi]).double()
        return torch.stack([-3 * torch.ones(self.model.latent_dim), 3 * torch.ones(self.model.latent_dim)]).double()

    # -- running ------------------------------------------------------------------------
    def run(self, resume: bool = False, progress: bool = True) -> dict[str, Any]:
        """Run (or resume) every trial, then write the summaries and plots.

        Raises:
            CheckpointError: ``out_dir`` holds a campaign and ``resume`` is False, or
                the saved campaign used different settings.
            BusyError: another process is running a campaign into ``out_dir``.
        """
        with output_lock(self.out):
            return self._run(resume, progress)

    def _run(self, resume: bool, progress: bool) -> dict[str, Any]:
        meta_path = self.out / "campaign.json"
        meta = {"config": dataclasses.asdict(self.config), "model": str(self.model_dir.resolve()),
                "trial_seeds": [self.trial_seed(t) for t in range(self.config.trials)]}
        if meta_path.exists():
            if not resume:
                raise CheckpointError(f"{self.out} already holds a campaign; pass --resume or choose another --out")
            try:
                saved = json.loads(meta_path.read_text(encoding="utf-8"))["config"]
                saved = {**dataclasses.asdict(CampaignConfig()), **saved}
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"{meta_path} is unreadable or lacks its config: {exc}") from None
            # Settings added since a campaign was written take their defaults.
            if saved != meta["config"]:
                raise CheckpointError(f"{self.out} was run with different settings: {saved}")
        else:
            # A start that failed before campaign.json leaves nothing to trust.
            for name in ("init.npz", "init_strings.json"):
                (self.out / name).unlink(missing_ok=True)
        self.out.mkdir(parents=True, exist_ok=True)
        # The campaign exists once its initial data is scored: a start that fails
        # there (no finite score, say) leaves the folder free for the corrected command.
        codes, scores, init_strings = self.initial_data(progress)
        atomic_write_text(meta_path, json.dumps(meta, indent=2))
        all_records = []
        for t in range(self.config.trials):
            all_records.append(self.run_trial(t, codes, scores, progress))
        return write_campaign_reports(self.out, self.objective, all_records, meta, init_scores=scores)

    def trial_seed(self, t: int) -> int:
        return self.config.seed * 1000 + t

    def run_trial(self, t: int, init_codes: Tensor, init_scores: np.ndarray, progress: bool) -> list[dict]:
        cfg = self.config
        tdir = self.out / f"trial_{t}"
        tdir.mkdir(exist_ok=True)
        rec_path, state_path = tdir / "evaluations.jsonl", tdir / "state.pt"
        seed = self.trial_seed(t)
        records: list[dict] = []
        start_it, gp_state, elapsed = 0, None, 0.0
        tr = TrustRegion(self.model.latent_dim)
        if state_path.exists():
            try:
                # Tensors, numbers and dicts only: a crafted pickle cannot run code here.
                state = torch.load(state_path, weights_only=True)
                records = [json.loads(line) for line in rec_path.read_text().splitlines() if line.strip()]
                start_it, gp_state, elapsed = int(state["iteration"]), dict(state["gp_state"]), float(state["elapsed"])
                tr = TrustRegion(**state["trust_region"])
            except Exception as exc:  # unreadable or unsafe checkpoint: say so rather than guess
                raise CheckpointError(f"{tdir} holds a corrupt or unsafe checkpoint: {exc}") from exc
            if len(records) != start_it * cfg.batch:
                raise CheckpointError(f"{tdir}: {len(records)} evaluations on disk, expected {start_it * cfg.batch}")
        valid_init = np.flatnonzero(np.isfinite(init_scores))
        subset = valid_init[select_subset(self.sign * init_scores[valid_init], cfg.gp_points, np.random.default_rng(seed))]
        bounds = self.box(init_codes[valid_init])
        if not np.isfinite(tr.best):
            tr.best = float(np.nanmax(self.sign * init_scores))
        bar = tqdm(total=cfg.iterations, initial=start_it, disable=not progress, desc=f"trial {t}", unit="it")
        for it in range(start_it, cfg.iterations):
            t0 = time.perf_counter()
            it_seed = seed * 1000 + it
            done = [r for r in records if r["valid"]]
            x = torch.cat([init_codes[subset].double(),
                           torch.tensor([r["latent"] for r in done], dtype=torch.float64).view(-1, init_codes.shape[1])])
            y = torch.from_numpy(np.concatenate([self.sign * init_scores[subset],
                                                 [self.sign * r["score"] for r in done]])).double().unsqueeze(-1)
            gp = fit_gp(x, y, bounds, gp_state)
            gp_state = {k: v.detach().clone() for k, v in gp.state_dict().items()}
            if cfg.acquisition == "turbo":
                cand = propose_turbo(gp, x, y.squeeze(-1), bounds, tr, cfg.batch, it_seed)
            else:
                cand = propose_qlogei(gp, float(y.max()), bounds, cfg.batch, cfg.num_restarts, cfg.raw_samples, it_seed)
            strings, decode_info = self.decode_candidates(cand.float(), it_seed)
            vals, details = self.score(strings)
            if vals is None:  # timed out, counted as invalid
                vals, details = np.full(len(strings), np.nan), [{"timeout": True}] * len(strings)
            elapsed += time.perf_counter() - t0
            batch_best = -np.inf
            for z, s, v, d, how in zip(cand, strings, vals, details, decode_info):
                valid = s is not None and bool(np.isfinite(v))
                records.append({"trial": t, "iteration": it, "seed": it_seed, "latent": [float(a) for a in z],
                                "string": s, "valid": valid, "score": float(v) if valid else None,
                                "details": d, "decode": how, "wall_time": elapsed})
                if valid:
                    batch_best = max(batch_best, self.sign * float(v))
            tr.update(batch_best)
            atomic_write_text(rec_path, "".join(json.dumps(r) + "\n" for r in records))
            buf = io.BytesIO()
            torch.save({"iteration": it + 1, "gp_state": gp_state, "elapsed": elapsed,
                        "trust_region": dataclasses.asdict(tr)}, buf)
            atomic_write_bytes(state_path, buf.getvalue())
            bar.update(1)
        bar.close()
        return records

