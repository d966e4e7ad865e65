"""What runs on a GPU: training, and a campaign's GP, acquisition and decoding.
Skipped where there is no CUDA device (this project's CI); run it on one with
``python -m pytest tests/test_cuda.py``."""

from pathlib import Path

import pytest
import torch

from latentbo.bo import Campaign, CampaignConfig
from latentbo.data.datasets import generate_expressions
from latentbo.devices import resolve_device
from latentbo.models import ModelConfig, load_model
from latentbo.training import train


def test_auto_device() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
@pytest.mark.parametrize("acquisition", ["qlogei", "turbo"])
def test_train_and_campaign_on_cuda(tmp_path: Path, acquisition: str) -> None:
    cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=2, hidden=32, decoder_hidden=32, decoder_layers=1,
                                latent_dim=4)
    result = train(cfg, generate_expressions(500, seed=1), tmp_path / "m", progress=False, device="cuda")
    assert len(result.metrics) == 2 and next(load_model(tmp_path / "m").parameters()).device.type == "cpu"
    bo = CampaignConfig(objective="expr", iterations=2, batch=4, trials=1, init_size=100, gp_points=50, n_decode=2,
                        acquisition=acquisition)
    summary = Campaign.from_dir(tmp_path / "m", bo, tmp_path / "bo", device="cuda").run(progress=False)
    assert summary["evaluations"] == 8
    state = torch.load(tmp_path / "bo" / "trial_0" / "state.pt", weights_only=True)
    assert all(v.device.type == "cpu" for v in state["gp_state"].values())  # resumable on a CPU machine
    # the same codes decode (argmax) the same on both devices, up to float ties
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    on_cpu, on_gpu = load_model(tmp_path / "m").decode_latents(z), load_model(tmp_path / "m").cuda().decode_latents(z)
    assert sum(a == b for a, b in zip(on_cpu, on_gpu)) >= 45


@cuda
def test_ar_decoder_trains_in_bf16_and_decodes_on_cuda(tmp_path: Path) -> None:
    """``precision = "auto"`` is bf16 autocast on CUDA; the step-by-step decode runs
    there and agrees with the CPU's, up to float ties."""
    cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=3, decoder="ar", hidden=32, decoder_hidden=32,
                                latent_dim=4, batch_size=128, lr_scaling="sqrt")
    result = train(cfg, generate_expressions(2000, seed=1), tmp_path / "m", progress=False, device="cuda")
    loss = result.metrics["val_loss"]
    assert torch.isfinite(torch.tensor(loss.to_numpy())).all() and loss.iloc[-1] < loss.iloc[0]
    z = torch.randn(50, 4, generator=torch.Generator().manual_seed(0))
    on_cpu, on_gpu = load_model(tmp_path / "m").decode_latents(z), load_model(tmp_path / "m").cuda().decode_latents(z)
    assert sum(a == b for a, b in zip(on_cpu, on_gpu)) >= 45
