"""Recipes: the few compositions of data, models, training and campaigns that the
CLI, the study runner and the benchmark scripts share, written once here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentbo.bo import Campaign, CampaignConfig
from latentbo.data import load_strings
from latentbo.errors import ConfigError
from latentbo.models import ModelConfig, load_model
from latentbo.models.zoo import default_model, resolve_model
from latentbo.tasks import get_task
from latentbo.training import TrainResult, train



def train_model(task: str | None, arch: str | None, out: str | Path, overrides: dict[str, Any] | None = None,
                dataset: str | None = None, limit: int | None = None, column: str | None = None,
                resume: bool = False, init_from: str | Path | None = None,
                **train_options: Any) -> tuple[TrainResult, str]:
    """``latentbo train``: the named model's config for ``task`` (task preset, model
    preset, then ``overrides``), trained on ``dataset`` (default: the task's); or, with
    ``init_from``, that trained model fine-tuned on ``dataset``.

    Args:
        task: e.g. ``"zinc"`` (default ``expressions``; with ``init_from``: the model's,
            and refused if it differs from it).
        arch: e.g. ``"gmm_dae"`` (default ``gvae``; with ``init_from`` as ``task``).
        out: the run folder.
        overrides: ``ModelConfig`` fields (with ``init_from``: training fields only, over
            :data:`~latentbo.models.config.FINETUNE_DEFAULTS`).
        dataset: what :func:`~latentbo.data.load_strings` reads (with ``limit`` and
            ``column``).
        limit: read the first ``limit`` strings only.
        column: the CSV column of the strings.
        resume: continue the run in ``out`` (refused on other data).
        init_from: a model folder or a pretrained model's name to fine-tune.
        train_options: :func:`~latentbo.training.train`'s ``progress``, ``device``,
            ``max_minutes``, ``overwrite``.

    Returns:
        The training result and where the strings came from.

    Raises:
        ConfigError: ``task`` or ``arch`` differ from ``init_from``'s, or an override
            would change its architecture.
    """
    base = None
    if init_from is not None:
        base = load_model(resolve_model(init_from), kind="sequence")
        for what, asked, has in (("task", task, base.config.task), ("arch", arch, base.config.model)):
            if asked is not None and asked != has:
                raise ConfigError(f"--init-from {init_from} is a {what} {has!r} model; --{what} {asked} differs "
                                  f"(leave --{what} out to fine-tune it)")
        cfg = base.config.finetuned(overrides or {})
    else:
        cfg = ModelConfig.for_model(task or "expressions", arch or "gvae", **(overrides or {}))
    strings, source = load_strings(dataset or get_task(cfg.task).dataset, limit=limit, column=column)
    return train(cfg, strings, out, resume=resume, source=source, init_from=base, **train_options), source


def run_campaign(model: str | Path, config: CampaignConfig, out: str | Path, resume: bool | None = None,
                 device: str | None = None, progress: bool = True) -> dict[str, Any]:
    """``latentbo bo``: a campaign with a trained (or pretrained) model. ``resume=None``
    goes on with a campaign already in ``out`` and starts one otherwise."""
    if resume is None:
        resume = (Path(out) / "campaign.json").exists()
    return Campaign.from_dir(model, config, out, device=device).run(resume=resume, progress=progress)


def demo(out: str | Path, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """``latentbo demo``: 2 trials x 4 iterations x 10 points on the default expression model,
    fitting ``1 / 3 + x + sin( x * x )`` from 1,000 starting expressions with ``bo``'s
    expression defaults (grammar-ga, the GP capped at 500 points); resumed if ``out``
    holds it already."""
    cfg = CampaignConfig(objective="expr", iterations=4, batch=10, trials=2, seed=seed, init_size=1000,
                         gp_points=500, acquisition="grammar-ga", gp_max=500)
    return run_campaign(default_model("expressions"), cfg, out, progress=progress)
