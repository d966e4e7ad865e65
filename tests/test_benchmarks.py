"""The benchmark scripts: one-line errors, as the CLI gives, and the measures they compute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

STUDY = """
[study]
name = "test_benchmarks_refused"
bo_cells = "campaign"

[[grid]]
tasks = ["expressions"]
models = ["gmm_dae"]
acquisitions = ["turbo"]
trials = 1

[use]
"expressions/gmm_dae" = "expressions-gmm_dae"
"""


def test_bo_table_refuses_a_cell_of_other_settings_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "study.toml").write_text(STUDY)
    cell = tmp_path / "out" / "cells" / "bo" / "expressions-gmm_dae-expr-turbo"
    cell.mkdir(parents=True)
    (cell / "cell.json").write_text('{"fingerprint": "another study", "status": "done"}')
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bo_table.py"), str(tmp_path / "study.toml"), "--out",
         str(tmp_path / "out"), "--aggregate-only"], capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: {cell} was run with other settings (or another study seed); use another --out or delete that folder"]
    assert not (ROOT / "benchmarks" / "results" / "test_benchmarks_refused.md").exists()


def test_code_geometry_bounds_exact_reconstruction_by_shared_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from baselines_expressions import code_geometry

    from latentbo.testing import stub_model

    strings = ["x", "x", "1", "sin( x )", "x * 2", "3 + exp( x )"]
    ae = stub_model()
    distinct = code_geometry(ae, strings, *ae.encode_strings(strings))
    assert (distinct["shared_code"], distinct["exact_bound"], distinct["shared_at_first_relu"]) == (0.0, 1.0, 0.0)
    with torch.no_grad():  # the first ReLU passes nothing: every expression gets one code
        ae.encoder.convs[0].bias.fill_(-100.0)
    dead = code_geometry(ae, strings, *ae.encode_strings(strings))
    # one group of six: only the two copies of "x" can both be right
    assert (dead["shared_code"], dead["exact_bound"], dead["shared_at_first_relu"]) == (1.0, 2 / 6, 1.0)


def test_errors_in_labels_only_and_the_leaf_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from baselines_expressions import leaf_probe, wrong_labels_only

    strings = ["x + 2", "sin( x )", "x", "x * 2", "( 1 )"]
    recon = ["x / 3", "exp( x )", None, "x * 2", "1"]
    # wrong: a label (counts), a function, no decode, a bracket lost; the right one is not counted
    assert wrong_labels_only(recon, strings) == 1 / 4
    # codes that hold the first leaf (one-hot, plus noise) give it away; noise alone does not
    gen = torch.Generator().manual_seed(0)
    leaves = torch.randint(0, 4, (1000,), generator=gen)
    strings = [f"{'123x'[i]} + sin( x )" for i in leaves]
    noise = torch.randn(1000, 8, generator=gen)
    assert leaf_probe(torch.cat([torch.nn.functional.one_hot(leaves, 4).float(), noise], 1), strings)[0] == 1.0
    accuracy, majority = leaf_probe(noise, strings)
    assert accuracy < majority + 0.05 and majority == pytest.approx(0.25, abs=0.05)


def test_merge_tables_fills_not_run_rows_and_marks_each_source(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import _common
    import merge_tables

    from latentbo.errors import ConfigError

    monkeypatch.setattr(_common, "RESULTS", tmp_path)
    monkeypatch.setattr(merge_tables, "RESULTS", tmp_path)
    head = "group,task,model,evaluations,top1\n"
    tables = {"study": head + "zinc-gvae-q,zinc,gvae,not run,-\nexpr-cvae-t,expressions,cvae,1250,2.47 ± 0.98\n"
                              "expr-gvae-s,expressions,gvae,not run,-\n",
              "zinc_alone": head + "zinc-gvae-q,zinc,gvae,1250,11.39 ± 8.28\nexpr-gvae-s,expressions,gvae,not run,-\n",
              "cvae_again": head + "expr-cvae-t,expressions,cvae,1250,0.438 ± 0.066\n"}
    for name, text in tables.items():
        (tmp_path / f"{name}.csv").write_text(text)
        (tmp_path / f"{name}.md").write_text(f"# {name}\n\nCommand: `python benchmarks/bo_table.py {name}.toml`  \n")
    monkeypatch.setattr(sys, "argv", ["merge_tables.py", *tables, "--name", "merged"])
    merge_tables.main()
    merged = (tmp_path / "merged.csv").read_text().splitlines()
    # measured rows keep their text; the not-run row measured elsewhere goes, the one measured nowhere stays once
    assert merged == ["group,source,task,model,evaluations,top1",
                      "expr-cvae-t,study,expressions,cvae,1250,2.47 ± 0.98",
                      "expr-cvae-t,cvae_again,expressions,cvae,1250,0.438 ± 0.066",
                      "expr-gvae-s,study,expressions,gvae,not run,-",
                      "zinc-gvae-q,zinc_alone,zinc,gvae,1250,11.39 ± 8.28"]
    assert "zinc_alone: `python benchmarks/bo_table.py zinc_alone.toml`" in (tmp_path / "merged.md").read_text()
    with pytest.raises(ConfigError, match="no results table 'absent' in .*: absent.csv, absent.md missing"):
        merge_tables.read_table("absent")
    monkeypatch.setattr(sys, "argv", ["merge_tables.py", "study", "--name", "study"])
    with pytest.raises(ConfigError, match="--name 'study' is one of the tables merged"):
        merge_tables.main()


def test_molecule_benchmark_gives_every_method_the_same_start_and_budget(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    """A tiny budget: the GA and a latentbo campaign (an untrained model, Sobol proposals decoded stochastically) start from the
    same molecules and make exactly as many distinct oracle calls; screening makes none."""
    import argparse

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from molecule_optimisation import auc_top_k, main, run_cell

    from latentbo.data.datasets import _nci_5k
    from latentbo.testing import stub_model

    args = argparse.Namespace(out=tmp_path, start=40, budget=30, batch=10, n_decode=3, model="stub")
    zinc = [m for m in _nci_5k() if "." not in m][:300]
    model = stub_model(task="zinc")
    cells = {m: run_cell("median1", m, 0, args, zinc, model) for m in ("screening", "molga", "random")}
    assert cells["screening"]["calls"] == 0 and cells["molga"]["calls"] == cells["random"]["calls"] == 30
    assert len({c["start_top1"] for c in cells.values()}) == 1
    assert cells["screening"]["auc_top10"] == pytest.approx(cells["screening"]["top10"])
    assert run_cell("median1", "molga", 0, args, zinc, None) == cells["molga"]  # a finished cell is read back
    assert (cells["random"]["model"], cells["molga"]["model"]) == ("stub", None)
    monkeypatch.setattr(sys, "argv", ["molecule_optimisation.py", "--no-run", "--tasks", "median1", "--methods",
                                      "screening,molga,random", "--seeds", "1", "--out", str(tmp_path), "--model",
                                      "zinc-gmm_dae"])
    with pytest.raises(SystemExit, match="cells of other models \\(stub\\)"):
        main()  # a table names one model: cells of another are refused
    # PMO's AUC: the top-10 mean logged every 100 calls, trapezoids, the last value carried on
    assert auc_top_k([0.0] * 10, [1.0] * 100, 200) == pytest.approx((100 * 0.5 + 100 * 1.0) / 200)


def test_image_sweep_gives_every_model_the_same_budget_and_keeps_the_lowest_validation_fd(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from image_table import REFINE, SWEEP, aggregate, choose, preset, refined, tag, verdict

    assert {len(grid) for grid in SWEEP.values()} == {6} == {len(changes) for changes in REFINE.values()}
    start = {"lr": 1e-3, "embedding_weight": 1e-4, "reg_params": {"scale": 3.0}}
    assert refined(start, {"embedding_weight": 1e-2}) == {**start, "embedding_weight": 1e-6}  # a factor, rounded
    assert refined(start, {"lr": 2e-3, "reg_params": {"sigma": 0.25}}) == \
        {"lr": 2e-3, "embedding_weight": 1e-4, "reg_params": {"scale": 3.0, "sigma": 0.25}}
    assert start["reg_params"] == {"scale": 3.0}  # the start itself unchanged
    assert tag({"lr": 0.001, "reg_params": {"scale": 2.0}}) == "lr0.001-scale2.0" and tag({}) == "default"
    spread, near = {"lr": 1e-3, "reg_params": {"scale": 2.0}}, {"lr": 2e-4, "reg_params": {"scale": 1.0}}
    rows = [{"dataset": "d", "model": "latentbo gmm_dae", "settings": near, "fd_sampling": 50.0},
            {"dataset": "d", "model": "latentbo gmm_dae", "settings": spread, "fd_sampling": 40.0},
            {"dataset": "d", "model": "pythae RAE_GP", "settings": {"lr": 2e-4}, "fd_sampling": 30.0}]
    assert choose(rows) == {"d": {"latentbo gmm_dae": spread, "pythae RAE_GP": {"lr": 2e-4}}}
    # seeds: the lowest mean wins, not the luckiest seed (near: 35 and 65, mean 50; spread: 40 and 42)
    rows += [{"dataset": "d", "model": "latentbo gmm_dae", "settings": near, "fd_sampling": 35.0},
             {"dataset": "d", "model": "latentbo gmm_dae", "settings": dict(spread), "fd_sampling": 42.0}]
    rows[0]["fd_sampling"] = 65.0
    assert choose(rows)["d"]["latentbo gmm_dae"] == spread
    # a model with a setting short of the seeds is not chosen (RAE-GP has one row of one setting)
    assert choose(rows, seeds=2) == {"d": {"latentbo gmm_dae": spread}}
    seeds = [{"dataset": "d", "model": "m", "settings": "x", "fd_sampling": v, "s_per_epoch": 1.0} for v in (10.0, 20.0)]
    row, = aggregate(seeds, ("dataset", "model", "settings"))
    assert (row["seeds"], row["fd_sampling"], row["s_per_epoch"]) == (2, "15 ± 5", "1 ± 0")
    means = [{"dataset": "d", "model": m, "fd_sampling": v}
             for m, v in (("latentbo gmm_dae", 32.0), ("pythae VAE", 100.0), ("pythae RAE_GP", 30.0))]
    said = verdict(means, "d")
    assert "best of the samplers of a training prior (next: pythae VAE 100)" in said
    assert "1.07 x the best ex-post sampler (pythae RAE_GP 30" in said
    means.append({"dataset": "d", "model": "latentbo gmm_dae_mm", "fd_sampling": 31.0})
    said = verdict(means, "d", "latentbo gmm_dae_mm")
    assert said.startswith("d: gmm_dae_mm sampling FD 31; best") and "(next: latentbo gmm_dae 32)" in said
    assert "not the best of the samplers of a training prior (next: latentbo gmm_dae_mm 31)" in verdict(means, "d")
    # the mode-mean variant is tuned as GMM-DAE is, and runs at its own picks, not GMM-DAE's
    assert SWEEP["latentbo gmm_dae_mm"] == SWEEP["latentbo gmm_dae"]
    picks = {"d": {"latentbo gmm_dae": spread, "latentbo gmm_dae_mm": near}}
    assert preset(picks, "d", "latentbo gmm_dae_mm") == near and preset(picks, "e", "latentbo gmm_dae_mm") == {}


def test_prior_gap_measures_where_the_codes_modes_sit_against_the_prior(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from image_prior_gap import SAMPLERS, mode_stats, offsets, samplers

    from latentbo.errors import DatasetError
    from latentbo.models.autoencoder import sample_gmm
    from latentbo.models.priors import GMMPrior

    prior = GMMPrior.placed(3, 3, sigma=0.5, scale=3.0)
    g = torch.Generator().manual_seed(0)
    codes = prior.sample(30_000, g)
    stats = mode_stats(codes, prior)
    torch.testing.assert_close(stats["share"], torch.full((3,), 1 / 3), atol=0.01, rtol=0)
    torch.testing.assert_close(stats["mean"], prior.means, atol=0.02, rtol=0)
    torch.testing.assert_close(stats["cov"], 0.25 * torch.eye(3).expand(3, 3, 3), atol=0.02, rtol=0)
    # every mode's codes moved off their centre's axis: the whole offset is orthogonal; along it: none
    nearest = prior.assign(codes)
    across = codes + 0.4 * prior.means[(nearest + 1) % 3] / 3.0
    moved = offsets(prior, mode_stats(across, prior))
    assert moved["centre_offset"] == pytest.approx(0.4, abs=0.03) and moved["orthogonal_share"] > 0.98
    along = offsets(prior, mode_stats(codes + 0.4 * prior.means[nearest] / 3.0, prior))
    assert along["centre_offset"] == pytest.approx(0.4, abs=0.03) and along["orthogonal_share"] < 0.02
    made = samplers(prior, mode_stats(across, prior))
    assert list(made) == list(SAMPLERS)
    x = sample_gmm(made["recentred"], 30_000, g)
    torch.testing.assert_close(mode_stats(x, prior)["mean"], mode_stats(across, prior)["mean"],
                               atol=0.03, rtol=0)
    with pytest.raises(DatasetError, match="a prior mode holds 0 of"):
        mode_stats(codes[nearest != 2], prior)


def test_image_sweep_of_another_dataset_keeps_the_profiles_picks_and_tables(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import image_table

    monkeypatch.setattr(image_table, "PRESETS", tmp_path / "configs")
    fashion, mnist = {"pythae VAE": {"lr": 5e-3}}, {"pythae VAE": {"lr": 1e-3}}
    image_table.save_presets("quick", {"fashion-mnist": fashion})
    image_table.save_presets("quick", {"mnist": mnist})
    assert image_table.load_presets("quick") == {"fashion-mnist": fashion, "mnist": mnist}
    image_table.save_presets("quick", {"mnist": fashion})  # a new sweep of a dataset replaces its picks
    assert image_table.load_presets("quick") == {"fashion-mnist": fashion, "mnist": fashion}
    image_table.save_presets("quick", {"mnist": {"pythae RAE_L2": {"lr": 2e-3}}})  # --refine: its models only
    assert image_table.load_presets("quick")["mnist"] == {**fashion, "pythae RAE_L2": {"lr": 2e-3}}
    assert image_table.table_name("quick", ["fashion-mnist"]) == "quick"
    assert image_table.table_name("quick", ["mnist"]) == "quick_mnist"
    assert image_table.table_name("full", ["fashion-mnist", "mnist"]) == "full"
    assert image_table.table_name("full", ["fashion-mnist"]) == "full_fashion-mnist"


def test_image_run_stopped_by_the_budget_is_scored_at_the_epochs_it_reached(
        tmp_path: Path, toy_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--score-stopped: a run the deadline cut after its first epoch is finished there
    (samplers fitted, one metrics row), where without it the run waits for the next call."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import image_table

    from latentbo.data import set_data_dir

    set_data_dir(str(toy_data_dir))
    train, test = image_table.datasets_of("fashion-mnist", sweep=False)
    p = {**image_table.PROFILES["tiny"], "epochs": 3}
    real = image_table.train_image_model

    def cut(*args, max_minutes=None, **kwargs):  # the budget ends as the first epoch does
        return real(*args, max_minutes=None if max_minutes is None else 1e-9, **kwargs)

    monkeypatch.setattr(image_table, "train_image_model", cut)
    later = time.monotonic() + 3600
    with pytest.raises(image_table.OutOfTime):
        image_table.ours(tmp_path / "waits", "fashion-mnist", "rae", p, train, test, 0, "cpu", later)
    assert not (tmp_path / "waits" / "model.safetensors").exists() or \
        json.loads((tmp_path / "waits" / "meta.json").read_text())["expost_gmm"] is None
    model, per_epoch, epochs = image_table.ours(tmp_path / "scored", "fashion-mnist", "rae", p, train, test, 0, "cpu",
                                                later, score_stopped=True)
    assert epochs == 1 and per_epoch > 0 and model.config.epochs == 1
    assert json.loads((tmp_path / "scored" / "meta.json").read_text())["expost_gmm"] is not None


def test_pythae_training_stops_at_the_deadline_and_resumes_exactly(tmp_path: Path, toy_data_dir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("pythae")
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import image_table

    from latentbo.data import set_data_dir
    from latentbo.errors import CheckpointError
    from latentbo.models import ImageConfig

    set_data_dir(str(toy_data_dir))
    train, _ = image_table.datasets_of("fashion-mnist", sweep=False)
    cfg = ImageConfig.for_model("fashion-mnist", "vae", epochs=3, width=2, limit=200, seed=0)
    weight = {"embedding_weight": 1e-2}  # RAE-L2: two optimisers (encoder's, decoder's) to restore
    with pytest.raises(image_table.OutOfTime):  # a call trains one epoch even past the deadline
        image_table.pythae_model("RAE_L2", cfg, train, 0, tmp_path / "split", settings=weight,
                                 deadline=time.monotonic())
    assert torch.load(tmp_path / "split" / "pythae_state.pt", weights_only=True)["epochs"] == 1
    with pytest.raises(CheckpointError, match="holds another training"):
        image_table.pythae_model("RAE_L2", cfg, train, 0, tmp_path / "split", settings={"embedding_weight": 1.0})
    resumed, _, epochs = image_table.pythae_model("RAE_L2", cfg, train, 0, tmp_path / "split", settings=weight)
    straight, _, _ = image_table.pythae_model("RAE_L2", cfg, train, 0, tmp_path / "straight", settings=weight)
    assert epochs == 3
    assert [f.name for f in (tmp_path / "split").iterdir()] == ["pythae_state.pt"]  # no dated folders
    x = train.x[:50]
    assert torch.equal(resumed.encode(x), straight.encode(x))
    assert torch.equal(resumed.decode(straight.encode(x)), straight.decode(straight.encode(x)))
    _, _, epochs = image_table.pythae_model("RAE_GP", cfg, train, 0, tmp_path / "stopped", deadline=time.monotonic(),
                                            score_stopped=True)
    assert epochs == 1


def test_molecule_panel_sums_only_seeds_that_ran_every_task(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from molecule_optimisation import panel_sums

    cell = lambda task, seed, auc: {"task": task, "method": "m", "seed": seed, "auc_top10": auc}  # noqa: E731
    cells = [cell("a", 0, 0.25), cell("b", 0, 0.5), cell("a", 1, 0.5), cell("b", 1, 0.5), cell("a", 2, 9.0)]
    row, = panel_sums(cells, ["a", "b"], ["m", "other"], seeds=3)
    assert (row["seeds"], row["auc_top10"]) == (2, "0.875 ± 0.125")  # seed 2 lacks task b: left out
    assert panel_sums(cells[:1], ["a", "b"], ["m"], seeds=3) == []


def test_every_molecule_architecture_candidate_builds_trains_a_step_and_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The candidates of the equal-compute table are valid models over ZINC-like molecules
    with stereo and charges: one loss step each, and codes decode to molecules or None."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    from molecule_architectures import CANDIDATES

    from latentbo.models import ModelConfig, SequenceAutoencoder
    from latentbo.models.zoo import zoo_names
    from latentbo.training import build_codec

    smiles = ["C[C@@H]1CC(Nc2cncc(-c3nncn3C)c2)C[C@@H](C)C1", "C[NH+]1CCC(NC(=O)c2ccc(Cl)cc2)CC1",
              "O=C([O-])c1ccccc1NC(=O)/C=C/c1ccccc1", "N#Cc1ccc(-c2ccc(O[C@@H](C(=O)N3CCCC3)c3ccccc3)cc2)cc1"]
    for name, (_, fields) in CANDIDATES.items():
        if "init_from" in fields:  # fine-tuning a zoo model: tested with train's fine-tuning
            assert fields["init_from"] in zoo_names() and set(fields) == {"init_from"}, name
            continue
        cfg = ModelConfig.for_model("zinc", "gmm_dae", **fields)
        model = SequenceAutoencoder(cfg, build_codec(cfg, smiles))
        assert (model.codec.kind, cfg.decoder, cfg.latent_dim) == (fields["codec"], fields["decoder"],
                                                                    fields.get("latent_dim", cfg.latent_dim)), name
        batch = model.codec.encode_many(smiles, workers=1)
        assert batch.failures == [], name
        loss = model.loss(torch.from_numpy(batch.indices.astype("int64")))["loss"]
        loss.backward()
        assert torch.isfinite(loss) and model.decoder.out[-1].weight.grad.abs().sum() > 0, name
        decoded = model.decode_latents(torch.zeros(2, cfg.latent_dim))
        assert len(decoded) == 2 and all(d is None or isinstance(d, str) for d in decoded), name


def test_image_gpu_script_trains_scores_and_sends_its_runs_back(tmp_path: Path, toy_data_dir: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    """The GPU script end to end on the CPU at the tiny profile: a worker per model (ours:
    pythae is a benchmark extra), the scores in the tarball, GMM-DAE's weights cut into
    parts and put back together."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import argparse

    import image_gpu
    from image_table import load_presets, tag
    from safetensors.torch import load_file

    from latentbo.models import load_model

    monkeypatch.setattr(image_gpu, "PART", 4000)  # several parts from the tiny model's weights
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out, work = tmp_path / "out", tmp_path / "gpu-work"
    image_gpu.run_gpu(argparse.Namespace(out=out, work=work, data_dir=str(toy_data_dir), profile="tiny",
                                         device="cpu", minutes=2.0, grace=1.0, seed=0, models="gmm_dae,rae",
                                         pythae="", presets="quick", epochs=None, datasets=None))
    tuned = load_presets("quick")["fashion-mnist"]  # the settings of the quick profile's sweep
    gmm_dae = f"latentbo-gmm_dae-{tag(tuned['latentbo gmm_dae'])}"
    rae = f"latentbo-rae-{tag(tuned['latentbo rae'])}"
    parts = sorted(f.name for f in out.glob("*.part*"))
    assert len(parts) > 1 and parts[0] == "fashion-mnist-seed0-gmm_dae.part00"
    assert (out / image_gpu.TARBALL).stat().st_size < 16 * 2**20
    home = tmp_path / "home"
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "cache-here"))
    image_gpu.unpack(argparse.Namespace(files=out, work=home))
    runs = home / "tiny" / "fashion-mnist" / "test" / "seed0"
    assert {p.parent.parent.name for p in runs.glob("*/eval/metrics.json")} == {gmm_dae, rae}
    assert list((tmp_path / "cache-here").glob("lenet-*.safetensors"))  # the LeNet the scores were made with
    trained = load_file(work / "tiny" / "fashion-mnist" / "test" / "seed0" / gmm_dae / "model.safetensors")
    back = load_model(runs / gmm_dae, kind="image").state_dict()
    assert all(torch.equal(back[k], v.half().float()) for k, v in trained.items() if v.is_floating_point())
    # a call that sent back only some parts: the scores unpack, the weights are named and left out
    (partial := tmp_path / "partial").mkdir()
    for f in out.iterdir():
        if f.name != parts[-1]:
            (partial / f.name).write_bytes(f.read_bytes())
    image_gpu.unpack(argparse.Namespace(files=partial, work=tmp_path / "home2"))
    assert "its weights not" in capsys.readouterr().out
    again = tmp_path / "home2" / "tiny" / "fashion-mnist" / "test" / "seed0" / gmm_dae
    assert (again / "eval" / "metrics.json").exists() and not (again / "model.safetensors").exists()
    # the table from what came back, training nothing: the VAE never ran, so it is named and left out
    import _common
    import image_table

    monkeypatch.setattr(_common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(sys, "argv", ["image_table.py", "--profile", "tiny", "--data-dir", str(toy_data_dir), "--work",
                                      str(home), "--models", "gmm_dae,rae,vae", "--pythae", "", "--presets", "quick",
                                      "--no-train"])
    image_table.main()
    table = (tmp_path / "results" / "image_table_tiny.md").read_text()
    assert "| latentbo gmm_dae" in table and "| latentbo rae" in table and "| latentbo vae" not in table
    assert "Left out, not scored (--no-train): 1 run(s), latentbo-vae-default." in table
    assert "the presets of image_presets_quick.json" in table and not (runs / "latentbo-vae-default").exists()


def test_image_seeds_trained_by_separate_calls_are_scored_with_the_same_features(
        tmp_path: Path, toy_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call for seed 1 alone (a GPU call a seed, a CPU job beside another) trains its model
    with seed 1 but scores it with the LeNet that seed 0's call uses, so one table can hold both."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import image_table

    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(sys, "argv", ["image_table.py", "--profile", "tiny", "--data-dir", str(toy_data_dir), "--work",
                                      str(tmp_path / "work"), "--models", "rae", "--pythae", "", "--seed", "1",
                                      "--no-sensitivity", "--no-table"])
    image_table.main()
    assert (tmp_path / "work" / "tiny" / "fashion-mnist" / "test" / "seed1" / "latentbo-rae-default" / "eval"
            / "metrics.json").exists()
    lenets = [f.name for f in (tmp_path / "cache").glob("lenet-*.safetensors")]
    assert len(lenets) == 1 and lenets[0].endswith(f"-s{image_table.METRIC_SEED}.safetensors")


def test_image_refine_tries_changes_to_the_presets_and_keeps_the_best_of_them(
        tmp_path: Path, toy_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--refine at the tiny profile: the preset and its changes trained on the validation
    split, the lowest validation FD written back, the presets of other models kept."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import _common
    import image_table

    monkeypatch.setattr(_common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(image_table, "PRESETS", tmp_path / "configs")
    monkeypatch.setattr(image_table, "REFINE", {"latentbo gmm_dae": [{"reg_params": {"sigma": 0.25}}, {"lr": 2e-3}]})
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    argv = ["image_table.py", "--profile", "tiny", "--data-dir", str(toy_data_dir), "--work", str(tmp_path / "work"),
            "--refine"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as exc:  # nothing to refine before a sweep
        image_table.main()
    assert exc.value.code == 2
    image_table.save_presets("tiny", {"fashion-mnist": {"latentbo gmm_dae": {"lr": 1e-3}, "pythae VAE": {"lr": 5e-3}}})
    image_table.main()
    rows = pd.read_csv(tmp_path / "results" / "image_sweep_tiny_refine.csv")
    assert list(rows["settings"]) == ["lr0.001", "lr0.001-sigma0.25", "lr0.002"]
    best = rows["settings"][rows["fd_sampling"].idxmin()]
    chosen = image_table.load_presets("tiny")["fashion-mnist"]
    assert image_table.tag(chosen["latentbo gmm_dae"]) == best and chosen["pythae VAE"] == {"lr": 5e-3}
    assert (tmp_path / "work" / "tiny" / "fashion-mnist" / "validation" / "seed0" / f"latentbo-gmm_dae-{best}"
            / "eval" / "metrics.json").exists()


def test_image_tuning_of_a_part_of_the_models_names_its_tables_after_them(
        tmp_path: Path, toy_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--refine --models gmm_dae_mm --seeds 2: only that model is tuned, on both seeds and
    chosen by their mean, its table is its own and the other models' presets stay; a
    selection the round does not tune is refused."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import _common
    import image_table

    monkeypatch.setattr(_common, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(image_table, "PRESETS", tmp_path / "configs")
    monkeypatch.setattr(image_table, "REFINE", {"latentbo gmm_dae": [{"lr": 2e-3}],
                                                "latentbo gmm_dae_mm": [{"lr": 2e-3}]})
    monkeypatch.setenv("LATENTBO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    image_table.save_presets("tiny", {"fashion-mnist": {"latentbo gmm_dae": {"lr": 5e-3},
                                                        "latentbo gmm_dae_mm": {"lr": 1e-3}}})
    argv = ["image_table.py", "--profile", "tiny", "--data-dir", str(toy_data_dir), "--work", str(tmp_path / "work"),
            "--refine", "--pythae", "", "--seeds", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--models", "rae"])
    with pytest.raises(SystemExit) as exc:
        image_table.main()
    assert exc.value.code == 2
    monkeypatch.setattr(sys, "argv", [*argv, "--models", "gmm_dae_mm"])
    image_table.main()
    rows = pd.read_csv(tmp_path / "results" / "image_sweep_tiny_gmm_dae_mm_refine.csv")
    assert set(rows["model"]) == {"latentbo gmm_dae_mm"} and list(rows["settings"]) == ["lr0.001", "lr0.002"]
    assert list(rows["seeds"]) == [2, 2]
    assert not (tmp_path / "results" / "image_sweep_tiny_refine.csv").exists()
    chosen = image_table.load_presets("tiny")["fashion-mnist"]
    assert chosen["latentbo gmm_dae"] == {"lr": 5e-3}
    runs = tmp_path / "work" / "tiny" / "fashion-mnist" / "validation"
    mean = {s: np.mean([json.loads((runs / f"seed{k}" / f"latentbo-gmm_dae_mm-{s}" / "eval" / "metrics.json")
                                   .read_text())["fd_sampling"] for k in (0, 1)]) for s in rows["settings"]}
    assert image_table.tag(chosen["latentbo gmm_dae_mm"]) == min(mean, key=mean.get)
    assert rows["fd_sampling"][0].startswith(f"{mean['lr0.001']:.3g} ± ")
