"""The recipes the CLI, studies and benchmarks share."""

import json
from pathlib import Path

import pytest

from latentbo.bo import CampaignConfig
from latentbo.data.datasets import set_data_dir
from latentbo.pipelines import run_campaign, train_model

TINY = {"hidden": 32, "decoder_hidden": 32, "decoder_layers": 1, "latent_dim": 4, "batch_size": 64, "epochs": 2}


def test_train_then_campaign_resumes_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATENTBO_DATA_DIR", raising=False)
    set_data_dir(tmp_path / "empty")  # the embedded expressions
    result, source = train_model("expressions", "gmm_dae", tmp_path / "m", TINY, limit=300, progress=False)
    assert source == "embedded:expressions" and len(result.metrics) == 2
    assert json.loads((tmp_path / "m" / "data_report.json").read_text())["source"] == source
    cfg = CampaignConfig(iterations=1, batch=3, trials=1, init_size=100, gp_points=40, n_decode=2)
    first = run_campaign(tmp_path / "m", cfg, tmp_path / "bo", progress=False)
    again = run_campaign(tmp_path / "m", cfg, tmp_path / "bo", progress=False)  # finds it done: resumes, adds nothing
    assert first["evaluations"] == again["evaluations"] == 3
    assert first["top3"] == again["top3"]
