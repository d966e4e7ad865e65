from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from latentbo.data.datasets import generate_expressions
from latentbo.errors import CheckpointError, ConfigError
from latentbo.metrics import sample_quality
from latentbo.models import MODELS, ModelConfig, SequenceAutoencoder, load_model
from latentbo.training import train

TINY = {"hidden": 32, "decoder_hidden": 48, "decoder_layers": 1, "latent_dim": 4, "batch_size": 64,
        "lr": 3e-3, "patience": 10}
DATA = generate_expressions(400, seed=3)


@pytest.mark.parametrize("model", sorted(m for m, (codec, _) in MODELS.items() if codec != "selfies"))  # svae: molecules
def test_short_training_lowers_loss(model: str, tmp_path: Path) -> None:
    cfg = ModelConfig.for_model("expressions", model, epochs=4, **TINY)
    result = train(cfg, DATA, tmp_path, progress=False)
    m = result.metrics
    assert list(m["epoch"]) == [1, 2, 3, 4]
    assert m["train_recon"].iloc[-1] < m["train_recon"].iloc[0]
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    for col in ("train_loss", "val_loss", "val_token_acc", "val_seq_acc", "samples_per_s"):
        assert col in metrics
    assert {"config.toml", "meta.json", "model.safetensors", "last.safetensors", "data_report.json"} <= {
        p.name for p in tmp_path.iterdir()
    }
    summary, _ = sample_quality(load_model(tmp_path), 20, reference=DATA)
    assert {"n", "valid_fraction", "unique_fraction", "novel_fraction"} <= set(summary)


def marginal_token_accuracy(codec, strings: list[str]) -> float:
    """Token accuracy of the best decoder that ignores z: at each position, the most
    frequent production of each left-hand side (the masked loss makes exactly this
    reachable with one fixed logit vector per position)."""
    ids = codec.encode(strings).numpy()
    lhs = codec.grammar.rule_lhs[ids]
    real = ids != codec.pad_index
    right = 0
    for pos in range(ids.shape[1]):
        for nt in np.unique(lhs[real[:, pos], pos]):
            rows = real[:, pos] & (lhs[:, pos] == nt)
            right += np.bincount(ids[rows, pos]).max()
    return right / real.sum()


def test_gcvvae_decoder_uses_z(tmp_path: Path) -> None:
    """With the RAE paper's embedding loss unweighted the decoder ignored z (H100:
    token accuracy 0.548, the marginal, from the first epoch to the last). With the
    preset's weight the codes carry the input: decoding each string's own code beats
    decoding another string's by nats, and token accuracy beats the marginal."""
    data = generate_expressions(1000, seed=3)
    cfg = ModelConfig.for_model("expressions", "gcvvae", epochs=10, **{**TINY, "latent_dim": 8, "lr": 3e-3})
    m = train(cfg, data, tmp_path, progress=False).metrics
    model = load_model(tmp_path)
    idx = model.codec.encode(data)
    with torch.no_grad():
        mu, _ = model.encode_stats(model.codec.one_hot(idx))
        shuffled = mu[torch.randperm(len(mu), generator=torch.Generator().manual_seed(0))]
        mask = model.codec.target_mask(idx)

        def recon(z: torch.Tensor) -> float:
            logits = model.decode_logits(z).masked_fill(~mask, -1e9)
            return float(torch.nn.functional.cross_entropy(logits.transpose(1, 2), idx, reduction="sum")) / len(idx)

        assert recon(shuffled) - recon(mu) > 1.0
    assert m["val_token_acc"].iloc[-1] > marginal_token_accuracy(model.codec, data) + 0.01


def test_welbo_long_run_converges_with_bounded_lambda(tmp_path: Path) -> None:
    """The per-step schedule diverged on the H100 (lambda 0 -> climbing, loss up);
    per epoch and clipped, lambda stays in bounds and the loss keeps falling."""
    reg = {"lambda0": 1.0, "lambda_min": 0.1, "lambda_max": 10.0}  # the paper's start, the regulariser's bounds
    cfg = ModelConfig.for_model("expressions", "welbo", epochs=40, reg_params=reg, **TINY)
    m = train(cfg, DATA[:200], tmp_path, progress=False).metrics
    assert len(m) == 40 and m["lambda"].between(0.1, 10.0).all()
    assert m["lambda"].nunique() > 1  # the schedule runs
    assert m["train_loss"].iloc[-5:].max() < m["train_loss"].iloc[:10].min()


def test_resume_reproduces_uninterrupted(tmp_path: Path) -> None:
    """A run of 2 epochs resumed to 4 (train longer: the one setting a resume may change)
    is the uninterrupted run of 4; any other setting is refused, naming it."""
    cfg = ModelConfig.for_model("expressions", "gvae", epochs=4, **TINY)
    full = train(cfg, DATA, tmp_path / "full", progress=False)
    train(ModelConfig.for_model("expressions", "gvae", epochs=2, **TINY), DATA, tmp_path / "part", progress=False)
    other = ModelConfig.for_model("expressions", "gvae", epochs=4, **{**TINY, "lr": 0.5})
    with pytest.raises(CheckpointError, match=r"other settings \(lr 0.003 -> 0.5\)"):
        train(other, DATA, tmp_path / "part", resume=True, progress=False)
    resumed = train(cfg, DATA, tmp_path / "part", resume=True, progress=False)
    assert load_model(tmp_path / "part").config.epochs == 4
    pd.testing.assert_frame_equal(
        full.metrics.drop(columns=["samples_per_s", "epoch_s"]), resumed.metrics.drop(columns=["samples_per_s", "epoch_s"]), rtol=1e-5
    )
    a, b = load_file(tmp_path / "full" / "last.safetensors"), load_file(tmp_path / "part" / "last.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-5, atol=1e-6)


def test_existing_run_needs_resume(tmp_path: Path) -> None:
    cfg = ModelConfig.for_model("expressions", "gvae", epochs=1, **TINY)
    train(cfg, DATA, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="--resume"):
        train(cfg, DATA, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(cfg, DATA, tmp_path / "empty", resume=True, progress=False)
    (tmp_path / "training_state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        train(cfg, DATA, tmp_path, resume=True, progress=False)


def test_resume_on_other_data_is_refused(tmp_path: Path) -> None:
    import json

    cfg = ModelConfig.for_model("expressions", "gvae", epochs=1, **TINY)
    train(cfg, DATA, tmp_path, progress=False, source="mine.txt (sha256 0123)")
    with pytest.raises(CheckpointError, match=r"other data \(\d+ strings from mine.txt \(sha256 0123\)"):
        train(cfg, DATA[:-1] + ["x + 1"], tmp_path, resume=True, progress=False)  # same count, other strings
    # a run from before the fingerprint: the line count still has to match
    report = json.loads((tmp_path / "data_report.json").read_text())
    del report["fingerprint"]
    (tmp_path / "data_report.json").write_text(json.dumps(report))
    with pytest.raises(CheckpointError, match="other data"):
        train(cfg, DATA[:100], tmp_path, resume=True, progress=False)


def test_max_minutes_stops_with_a_loadable_model(tmp_path: Path) -> None:
    cfg = ModelConfig.for_model("expressions", "gvae", epochs=5, **TINY)
    result = train(cfg, DATA, tmp_path, progress=False, max_minutes=1e-9)  # spent after the first batch
    assert result.out_of_time and len(result.metrics) == 1  # but the first epoch always finishes
    model = load_model(tmp_path)
    assert model.expost_gmm is not None
    resumed = train(cfg, DATA, tmp_path, resume=True, progress=False)
    assert not resumed.out_of_time and list(resumed.metrics["epoch"]) == [1, 2, 3, 4, 5]
    with pytest.raises(ConfigError, match="max_minutes"):
        train(cfg, DATA, tmp_path / "x", max_minutes=0)


@pytest.mark.parametrize("model", ["gvae", "gmm_dae", "welbo"])
def test_a_budget_spent_mid_epoch_resumes_to_the_uninterrupted_model(model: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A clock that moves 7 s per training step with a 1-minute budget stops the run
    before its 10th batch: 360 training strings in batches of 64 make 6 an epoch, so
    inside epoch 2. Resumed, it ends with the weights and metrics of a run never stopped."""
    from latentbo import training

    cfg = ModelConfig.for_model("expressions", model, epochs=3, **TINY)
    full = train(cfg, DATA, tmp_path / "full", progress=False)
    clock = [0.0]
    monkeypatch.setattr(training.time, "monotonic", lambda: clock[0])
    step = SequenceAutoencoder.train_step

    def slow_step(self, *args, **kwargs):
        clock[0] += 7.0
        return step(self, *args, **kwargs)

    monkeypatch.setattr(SequenceAutoencoder, "train_step", slow_step)
    stopped = train(cfg, DATA, tmp_path / "cut", progress=False, max_minutes=1)
    assert stopped.out_of_time and list(stopped.metrics["epoch"]) == [1] and clock[0] == 63.0
    state = torch.load(tmp_path / "cut" / "training_state.pt", weights_only=True)
    assert state["epoch"] == 1 and state["partial"]["batches"] == 3 and state["partial"]["seen"] == 192
    resumed = train(cfg, DATA, tmp_path / "cut", resume=True, progress=False)
    assert clock[0] == 7.0 * 18  # 3 epochs of 6 batches in all: none repeated, none skipped
    timing = ["epoch_s", "samples_per_s"]
    pd.testing.assert_frame_equal(resumed.metrics.drop(columns=timing), full.metrics.drop(columns=timing))
    for name in ("model", "last"):
        a, b = (load_file(tmp_path / run / f"{name}.safetensors") for run in ("full", "cut"))
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_bf16_autocast_and_scaled_lr(tmp_path: Path) -> None:
    """``precision = "bf16"`` runs the forward pass in bf16 (on the CPU too, where
    ``auto`` means fp32); the optimiser starts at the batch-scaled learning rate."""
    from latentbo.training import autocast_dtype

    assert autocast_dtype("auto", torch.device("cpu")) is None
    assert autocast_dtype("auto", torch.device("cuda")) is autocast_dtype("bf16", torch.device("cpu")) is torch.bfloat16
    cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=3, decoder="ar", precision="bf16", lr_scaling="sqrt",
                                **{**TINY, "decoder_hidden": 32, "lr_reference_batch": 256})
    result = train(cfg, DATA, tmp_path, progress=False)
    assert result.metrics["lr"].iloc[0] == pytest.approx(3e-3 * 0.5)
    loss = result.metrics["val_loss"]
    assert np.isfinite(loss).all() and loss.iloc[-1] < loss.iloc[0]
    model = result.model.train()
    dtypes = []
    model.decoder.register_forward_hook(lambda mod, args, out: dtypes.append(out.dtype))
    model.train_step(model.codec.encode(DATA[:8]), torch.optim.SGD(model.parameters(), lr=0.0), torch.bfloat16)
    model.train_step(model.codec.encode(DATA[:8]), torch.optim.SGD(model.parameters(), lr=0.0))
    assert dtypes == [torch.bfloat16, torch.float32]


def test_a_cosine_schedule_with_clipped_gradients_ends_at_min_lr_and_resumes_exactly(tmp_path: Path) -> None:
    """``schedule = "cosine"`` sets epoch e's rate to min_lr + (lr - min_lr)(1 + cos(pi e / E)) / 2
    whatever the validation loss does; ``grad_clip`` logs the gradient's norm before
    clipping and bounds the step; a run cut by its time budget resumes to the run never
    cut, and a resume may not change its epochs (the curve they fix)."""
    import math

    tiny = {**TINY, "lr": 1e-2, "min_lr": 1e-4, "schedule": "cosine", "grad_clip": 0.5}
    cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=4, **tiny)
    full = train(cfg, DATA, tmp_path / "full", progress=False)
    expected = [1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(1, 5)]
    np.testing.assert_allclose(full.metrics["lr"], expected, rtol=1e-9)  # the rate after each epoch
    assert full.metrics["lr"].iloc[-1] == pytest.approx(1e-4)
    assert (full.metrics["train_grad_norm"] > 0.5).all()  # this lr's gradients are larger than the clip
    train(cfg, DATA, tmp_path / "part", progress=False, max_minutes=1e-9)  # stopped after its first epoch
    with pytest.raises(CheckpointError, match="cosine schedule over its 4 epochs; resume it with --epochs 4"):
        train(ModelConfig.for_model("expressions", "gmm_dae", epochs=6, **tiny), DATA, tmp_path / "part", resume=True,
              progress=False)
    resumed = train(cfg, DATA, tmp_path / "part", resume=True, progress=False)
    timing = ["epoch_s", "samples_per_s"]
    pd.testing.assert_frame_equal(full.metrics.drop(columns=timing), resumed.metrics.drop(columns=timing), rtol=1e-5)

    model = SequenceAutoencoder(ModelConfig.for_model("expressions", "gmm_dae", **TINY), full.model.codec).train()
    batch = model.codec.encode(DATA[:32])
    before = [p.detach().clone() for p in model.parameters()]
    terms = model.train_step(batch, torch.optim.SGD(model.parameters(), lr=1.0), grad_clip=1e-3)
    with torch.no_grad():
        moved = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.parameters(), before)))
    assert terms["grad_norm"] > 1e-3 and float(moved) == pytest.approx(1e-3, rel=1e-3)  # SGD at lr 1: the clipped norm
    assert "grad_norm" not in model.train_step(batch, torch.optim.SGD(model.parameters(), lr=0.0))
    for bad, match in [({"schedule": "linear"}, "schedule must be one of"), ({"grad_clip": -1.0}, "grad_clip must be"),
                       ({"schedule": "cosine", "min_lr": 1.0}, "above the learning rate")]:
        with pytest.raises(ConfigError, match=match):
            ModelConfig.for_model("expressions", "gmm_dae", **{**TINY, **bad})


def test_bad_lines_are_reported(tmp_path: Path) -> None:
    import json

    cfg = ModelConfig.for_model("expressions", "gvae", epochs=1, **TINY)
    result = train(cfg, [*DATA[:50], "x ++ 1", "cos( x )"], tmp_path, progress=False)
    report = json.loads((tmp_path / "data_report.json").read_text())
    assert result.skipped == 2 and report["skipped"] == 2
    assert report["skipped_by_reason"] == {"syntax": 1, "unknown_token": 1}


def test_unavailable_device_is_a_clear_error(tmp_path) -> None:
    from latentbo.devices import resolve_device
    from latentbo.errors import ConfigError

    assert resolve_device(None).type == "cpu"
    with pytest.raises(ConfigError, match="invalid device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="not available"):
            resolve_device("cuda")


def test_the_shared_loop_checks_its_arguments_and_stops_on_a_non_finite_metric(tmp_path: Path) -> None:
    from latentbo.errors import DatasetError
    from latentbo.testing import stub_model
    from latentbo.training import fit

    model = stub_model()
    opt = torch.optim.Adam(model.parameters())
    idx = torch.as_tensor(model.codec.encode(["x + 1", "sin( x )"])).long()
    common = {"epochs": 2, "seed": 0, "batches": lambda gen: [idx], "n_train": 2, "progress": False}
    with pytest.raises(ConfigError, match="pass monitor"):
        fit(model, opt, tmp_path, evaluate=dict,
            scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(opt), **common)
    with pytest.raises(DatasetError, match="val_loss became nan at epoch 1"):
        fit(model, opt, tmp_path, evaluate=lambda: {"val_loss": float("nan")}, monitor="val_loss", **common)
    result = fit(model, opt, tmp_path, evaluate=lambda: {"test_mse": 1.0}, **common)  # no monitor: every epoch saved
    assert [r["epoch"] for r in result.rows] == [1, 2] and not result.out_of_time
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "last.safetensors").exists()


def test_welbo_keeps_the_epoch_with_the_best_reconstruction(tmp_path: Path) -> None:
    """WELBO's penalty weight moves every epoch, so its total losses do not compare:
    the run is kept on val_recon. A run saved when it was kept on val_loss resumes with
    its best epoch re-derived from val_recon."""
    from latentbo.training import saved_epoch

    cfg = ModelConfig.for_model("expressions", "welbo", epochs=3, **TINY)
    m = train(cfg, DATA, tmp_path / "run", progress=False).metrics
    assert m["is_best"].tolist() == (m["val_recon"] == m["val_recon"].cummin()).tolist()
    assert saved_epoch(m)["epoch"] == m.loc[m["val_recon"].idxmin(), "epoch"]

    assert len(train(cfg, DATA, tmp_path / "old", progress=False, max_minutes=1e-9).metrics) == 1
    state_path = tmp_path / "old" / "training_state.pt"
    state = torch.load(state_path, weights_only=True)
    del state["monitor"]
    state["best_val"] = -1.0  # what a val_loss-kept run could hold: no val_recon beats it
    torch.save(state, state_path)
    resumed = train(cfg, DATA, tmp_path / "old", resume=True, progress=False).metrics
    assert resumed["is_best"].tolist() == (resumed["val_recon"] == resumed["val_recon"].cummin()).tolist()
    assert resumed["is_best"].iloc[1:].any()
    assert torch.load(state_path, weights_only=True)["monitor"] == "val_recon"


def test_fine_tuning_starts_from_the_given_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model fit() receives is the base model: the same loss on the same batch; then a
    real fine-tuning run trains, records the base's weights and keeps the codec."""
    import json

    import latentbo.training as training
    from latentbo.models.checkpoint import weights_fingerprint
    from latentbo.pipelines import train_model

    base_cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=2, **TINY)
    base = train(base_cfg, DATA, tmp_path / "base", progress=False).model
    mine = generate_expressions(200, seed=11)
    batch = torch.from_numpy(base.codec.encode_many(mine[:32]).indices.astype(np.int64))
    started = {}

    def capture(model, *args, **kwargs):
        with torch.no_grad():
            started["loss"] = float(model.eval().loss(batch)["loss"])
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "fit", capture)
    with pytest.raises(KeyboardInterrupt):
        train_model(None, None, tmp_path / "captured", dataset=None, init_from=tmp_path / "base", progress=False,
                    overrides={"epochs": 1}, limit=200)
    with torch.no_grad():
        assert started["loss"] == pytest.approx(float(base.eval().loss(batch)["loss"]), rel=1e-6)
    monkeypatch.undo()
    (tmp_path / "mine.txt").write_text("\n".join(mine))
    result, _ = train_model(None, None, tmp_path / "tuned", {"epochs": 2}, dataset=str(tmp_path / "mine.txt"),
                            init_from=tmp_path / "base", progress=False)
    report = json.loads((tmp_path / "tuned" / "data_report.json").read_text())
    assert report["init_from"] == weights_fingerprint(base)
    assert result.model.config.lr == 1e-5 and result.model.config.batch_size == 32  # the fine-tuning defaults
    assert result.model.codec.spec() == base.codec.spec() and len(result.metrics) == 2
    assert weights_fingerprint(result.model) != weights_fingerprint(base)


def test_fine_tuning_refuses_another_codec_task_or_architecture(tmp_path: Path) -> None:
    from latentbo.pipelines import train_model

    base = tmp_path / "base"
    train(ModelConfig.for_model("expressions", "gmm_dae", epochs=1, **TINY), DATA, base, progress=False)
    for task, arch, overrides, message in [
        (None, None, {"codec": "character"}, "codec cannot change"),
        (None, None, {"latent_dim": 8}, "latent_dim cannot change"),
        ("zinc", None, {}, "is a task 'expressions' model; --task zinc differs"),
        (None, "gvae", {}, "is a arch 'gmm_dae' model; --arch gvae differs"),
    ]:
        with pytest.raises(ConfigError, match=message):
            train_model(task, arch, tmp_path / "t", overrides, init_from=base, progress=False, limit=100)


@pytest.mark.parametrize("decoder", ["fast", "ar"])
def test_fine_tuning_a_selfies_model_takes_new_symbols_and_keeps_what_it_knew(tmp_path: Path, decoder: str) -> None:
    import json

    from latentbo.pipelines import train_model
    from latentbo.training import _grown_state

    cfg = ModelConfig.for_model("zinc", "svae", decoder=decoder, epochs=1, latent_dim=4, hidden=16, decoder_hidden=16,
                                decoder_layers=1, batch_size=32, conv_kernels=[2, 2, 2])
    known = ["CCO", "CCN", "c1ccccc1", "CC(=O)O", "CCCC", "OCCO"]
    base = train(cfg, known * 5, tmp_path / "base", progress=False).model
    (tmp_path / "mine.smi").write_text("CCO\nC[C@H](N)O\nCC[NH3+]\n" * 4)
    train_model(None, None, tmp_path / "t", dataset=str(tmp_path / "mine.smi"), init_from=tmp_path / "base",
                progress=False, overrides={"epochs": 1})
    tuned = load_model(tmp_path / "t", kind="sequence")
    report = json.loads((tmp_path / "t" / "data_report.json").read_text())
    added = tuned.codec.alphabet[len(base.codec.alphabet):]
    assert tuned.codec.alphabet[: len(base.codec.alphabet)] == base.codec.alphabet
    assert {"[C@H1]", "[NH3+1]"} <= set(added) and report["alphabet_added"] == added and report["skipped"] == 0

    # Before any step, the grown model reads and scores the old molecules as the old one did.
    grown = SequenceAutoencoder(base.config, tuned.codec).eval()
    grown.load_state_dict(_grown_state(base.state_dict(), grown.state_dict(), base.codec.vocab_size))
    ids = torch.from_numpy(base.codec.encode_many(known, workers=1).indices.astype("int64"))
    with torch.no_grad():
        z_old, z_new = (m.encode_stats(m.codec.one_hot(ids))[0] for m in (base.eval(), grown))
        torch.testing.assert_close(z_new, z_old)
        old, new = (m.decoder(z_old, ids) for m in (base, grown))
    torch.testing.assert_close(new[..., : base.codec.vocab_size], old)
    assert new.shape[-1] == base.codec.vocab_size + len(added)


def test_randomized_smiles_augment_the_training_split_only(tmp_path: Path) -> None:
    import json

    from latentbo.data.datasets import _nci_5k

    molecules = [m for m in _nci_5k() if "." not in m and len(m) < 40][:120]
    cfg = ModelConfig.for_model("zinc", "gmm_dae", epochs=1, augment=2, decoder="fast", **TINY)
    result = train(cfg, molecules, tmp_path / "aug", progress=False)
    report = json.loads((tmp_path / "aug" / "data_report.json").read_text())
    assert 100 < report["augmented"] <= 2 * 108  # at most two new spellings of each of the 108 training molecules
    assert report["held_out"]["n"] == 12 and result.model.config.augment == 2
    with pytest.raises(ConfigError, match="augment adds randomized SMILES"):
        ModelConfig.for_model("expressions", "gmm_dae", augment=1)
