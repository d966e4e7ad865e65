import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from latentbo.bo import Campaign, CampaignConfig
from latentbo.bo.acquisition import ACQUISITIONS
from latentbo.data.datasets import generate_expressions, set_data_dir
from latentbo.errors import CheckpointError, ConfigError
from latentbo.models import ModelConfig
from latentbo.training import train

SMALL = {"hidden": 32, "decoder_hidden": 48, "decoder_layers": 1, "latent_dim": 4, "batch_size": 64, "lr": 3e-3}
CFG = dict(objective="expr", iterations=3, batch=4, trials=2, init_size=150, gp_points=60, n_decode=3,
           num_restarts=2, raw_samples=32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("model")
    cfg = ModelConfig.for_model("expressions", "gmm_dae", epochs=3, **SMALL)
    train(cfg, generate_expressions(600, seed=5), out, progress=False)
    return out


@pytest.fixture(autouse=True)
def _no_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the embedded (generated) expression set keeps these tests independent of ../shared
    monkeypatch.delenv("LATENTBO_DATA_DIR", raising=False)
    set_data_dir(tmp_path / "empty")


# a new acquisition is tested here too (breeders, which need a molecule model, in their own tests)
@pytest.mark.parametrize("acquisition", sorted(n for n, p in ACQUISITIONS.items() if not p.breeds))
def test_end_to_end_outputs(model_dir: Path, tmp_path: Path, acquisition: str) -> None:
    out = tmp_path / "run"
    summary = Campaign.from_dir(model_dir, CampaignConfig(**CFG, acquisition=acquisition), out).run(progress=False)
    for name in ["summary.json", "summary.csv", "report.md", "best_so_far.png", "campaign.json"]:
        assert (out / name).is_file(), name
    for key in ["objective", "trials", "evaluations", "top3", "fraction_valid", "average_score", "best"]:
        assert key in summary
    assert summary["evaluations"] == 2 * 3 * 4
    for t in range(2):
        recs = [json.loads(line) for line in (out / f"trial_{t}" / "evaluations.jsonl").read_text().splitlines()]
        assert len(recs) == 12
        assert {"trial", "iteration", "latent", "string", "valid", "score", "wall_time"} <= set(recs[0])
        assert all(len(r["latent"]) == 4 for r in recs)
        assert all((r["score"] is None) == (not r["valid"]) for r in recs)
        assert [r["iteration"] for r in recs] == [i for i in range(3) for _ in range(4)]
        assert len({r["seed"] for r in recs}) == 3  # one seed per iteration, recorded
        trial = summary["trials"][t]
        valid = [r["score"] for r in recs if r["valid"]]
        assert trial["fraction_valid"] == pytest.approx(len(valid) / 12)
        if valid:
            assert trial["top3"][0] == pytest.approx(min(valid))
    csv = pd.read_csv(out / "summary.csv")
    assert list(csv["trial"].astype(str)) == ["0", "1", "mean", "std"]
    # how each candidate was decoded, summed up in the summary
    recs = [json.loads(line) for t in range(2) for line in (out / f"trial_{t}" / "evaluations.jsonl").read_text().splitlines()]
    assert all(0 <= r["decode"]["valid_decodes"] <= CFG["n_decode"] for r in recs)
    assert all((r["string"] is None) == (r["decode"]["valid_decodes"] == 0 or r["decode"].get("reason") == "repeat")
               for r in recs)
    decoding = summary["decoding"]
    assert decoding["candidates"] == 24
    assert decoding["no_valid_decode"] == sum(r["string"] is None for r in recs)
    assert sum(decoding["invalid_reasons"].values()) == decoding["no_valid_decode"] + decoding["repeated"]
    assert decoding["vote_needed"] == sum(0 < r["decode"]["valid_decodes"] < CFG["n_decode"] for r in recs)
    assert decoding["semantic_fallback"] == 0  # expressions have no semantic masks
    assert "Decoding: of 24 candidates" in (out / "report.md").read_text()
    state = torch.load(out / "trial_0" / "state.pt", weights_only=True)
    assert (state["gp_state"] is None) == (not ACQUISITIONS[acquisition].uses_model)  # no GP fitted for nothing


@pytest.mark.parametrize("acquisition", ["qlogei", "turbo"])
def test_sparse_surrogate_holds_every_initial_code(model_dir: Path, tmp_path: Path, acquisition: str) -> None:
    cfg = CampaignConfig(**{**CFG, "trials": 1}, acquisition=acquisition, surrogate="sparse")
    summary = Campaign.from_dir(model_dir, cfg, tmp_path / "run").run(progress=False)
    assert summary["evaluations"] == 3 * 4
    state = torch.load(tmp_path / "run" / "trial_0" / "state.pt", weights_only=True)
    assert state["gp_state"]["model.variational_strategy.inducing_points"].shape == (CFG["gp_points"], 4)
    with pytest.raises(ConfigError, match="surrogate must be one of exact, sparse, got 'svgp'"):
        CampaignConfig(surrogate="svgp").validate()


class _Killed(Exception):
    pass


@pytest.mark.parametrize("options", [{}, {"inversion": True, "gp_max": 40}, {"acquisition": "turbo-m"}])
def test_resume_reproduces_uninterrupted(model_dir: Path, tmp_path: Path, options: dict) -> None:
    # the trust regions' state must survive the restart too
    cfg = CampaignConfig(**{**CFG, "acquisition": "turbo", **options})
    Campaign.from_dir(model_dir, cfg, tmp_path / "full").run(progress=False)
    interrupted = Campaign.from_dir(model_dir, cfg, tmp_path / "part")
    score, calls = interrupted.objective, []

    def dying(strings):  # killed while scoring trial 1's second iteration
        calls.append(1)
        if len(calls) == 1 + 3 + 2:  # init, trial 0 (3 iterations), trial 1 (2nd iteration)
            raise _Killed
        return score(strings)

    interrupted.objective = type("Dying", (), {"__call__": staticmethod(dying), "maximize": False,
                                               "details": staticmethod(score.details), "name": "expr"})()
    with pytest.raises(_Killed):
        interrupted.run(progress=False)
    assert len((tmp_path / "part" / "trial_1" / "evaluations.jsonl").read_text().splitlines()) == 4
    with pytest.raises(CheckpointError, match="--resume"):
        Campaign.from_dir(model_dir, cfg, tmp_path / "part").run(progress=False)
    # saved as versions before the acquisition registry did: TuRBO's region under "trust_region"
    for state_path in (tmp_path / "part").glob("trial_*/state.pt") if cfg.acquisition == "turbo" else ():
        state = torch.load(state_path, weights_only=True)
        state["trust_region"] = state.pop("proposer")
        torch.save(state, state_path)
    Campaign.from_dir(model_dir, cfg, tmp_path / "part").run(resume=True, progress=False)
    for t in range(2):
        assert _records(tmp_path / "full", t) == _records(tmp_path / "part", t)


def test_changed_settings_refuse_resume(model_dir: Path, tmp_path: Path) -> None:
    Campaign.from_dir(model_dir, CampaignConfig(**{**CFG, "trials": 1, "iterations": 1}), tmp_path).run(progress=False)
    with pytest.raises(CheckpointError, match=r"was run with batch = 4, not 5; a resumed campaign takes more"):
        Campaign.from_dir(model_dir, CampaignConfig(**{**CFG, "trials": 1, "iterations": 1, "batch": 5}), tmp_path).run(
            resume=True, progress=False)
    Campaign.from_dir(model_dir, CampaignConfig(**{**CFG, "trials": 1, "iterations": 2}), tmp_path).run(
        resume=True, progress=False)
    with pytest.raises(CheckpointError, match=r"was run with iterations = 2, not 1"):  # fewer: refused
        Campaign.from_dir(model_dir, CampaignConfig(**{**CFG, "trials": 1, "iterations": 1}), tmp_path).run(
            resume=True, progress=False)


def test_resume_with_more_iterations_and_trials_extends_exactly(model_dir: Path, tmp_path: Path) -> None:
    """A finished 1-trial, 1-iteration campaign resumed with 2 trials of 3 iterations
    records what a campaign started with them records."""
    small = {**CFG, "trials": 1, "iterations": 1}
    Campaign.from_dir(model_dir, CampaignConfig(**small), tmp_path / "grown").run(progress=False)
    grown = Campaign.from_dir(model_dir, CampaignConfig(**CFG), tmp_path / "grown").run(resume=True, progress=False)
    whole = Campaign.from_dir(model_dir, CampaignConfig(**CFG), tmp_path / "whole").run(progress=False)
    for t in range(CFG["trials"]):
        assert _records(tmp_path / "grown", t) == _records(tmp_path / "whole", t)
    assert grown["evaluations"] == whole["evaluations"] == CFG["trials"] * CFG["iterations"] * CFG["batch"]
    saved = json.loads((tmp_path / "grown" / "campaign.json").read_text())
    assert saved["config"]["iterations"] == CFG["iterations"] and len(saved["trial_seeds"]) == CFG["trials"]


def test_a_loaded_model_runs_and_another_model_refuses_resume(model_dir: Path, tmp_path: Path) -> None:
    """``Campaign`` takes a model in memory (the same records as from its folder); a
    resume with other weights is refused, one with the same weights goes on."""
    from latentbo.models import ImageAutoencoder, ImageConfig, load_model

    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 1})
    Campaign.from_dir(model_dir, cfg, tmp_path / "dir").run(progress=False)
    model = load_model(model_dir)
    Campaign(model, cfg, tmp_path / "mem").run(progress=False)
    assert _records(tmp_path / "dir") == _records(tmp_path / "mem")
    meta = json.loads((tmp_path / "mem" / "campaign.json").read_text())
    assert meta["model"] is None and len(meta["model_fingerprint"]) == 16
    with torch.no_grad():
        next(model.parameters()).add_(1e-3)
    with pytest.raises(CheckpointError, match="was run with another model"):
        Campaign(model, cfg, tmp_path / "dir").run(resume=True, progress=False)
    assert Campaign.from_dir(model_dir, cfg, tmp_path / "dir").run(resume=True, progress=False)["evaluations"] == 4
    with pytest.raises(ConfigError, match="needs a sequence autoencoder, got ImageAutoencoder"):
        Campaign(ImageAutoencoder(ImageConfig.for_model("mnist", "vae", width=4)), cfg, tmp_path / "img")


class _Exploit:
    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def test_crafted_checkpoint_runs_no_code(model_dir: Path, tmp_path: Path) -> None:
    import torch

    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 1})
    Campaign.from_dir(model_dir, cfg, tmp_path / "run").run(progress=False)
    marker = tmp_path / "pwned"
    exploit = _Exploit()
    exploit.marker = str(marker)
    torch.save({"iteration": 1, "gp_state": {}, "elapsed": 0.0, "trust_region": exploit},
               tmp_path / "run" / "trial_0" / "state.pt")
    with pytest.raises(CheckpointError, match="unsafe checkpoint"):
        Campaign.from_dir(model_dir, cfg, tmp_path / "run").run(resume=True, progress=False)
    assert not marker.exists()


def test_second_writer_into_the_same_folder_is_refused(model_dir: Path, tmp_path: Path) -> None:
    from latentbo.errors import BusyError
    from latentbo.io import output_lock

    with output_lock(tmp_path / "run"):  # as a campaign started a moment earlier would
        with pytest.raises(BusyError, match="another latentbo run"):
            Campaign.from_dir(model_dir, CampaignConfig(**CFG), tmp_path / "run").run(progress=False)
        with pytest.raises(BusyError):
            train(ModelConfig.for_model("expressions", "gvae", epochs=1, **SMALL), generate_expressions(50),
                  tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "campaign.json").exists()


def test_failed_start_leaves_the_folder_free(model_dir: Path, tmp_path: Path) -> None:
    from latentbo.errors import DatasetError

    out = tmp_path / "run"
    bad = CampaignConfig(**{**CFG, "trials": 1, "iterations": 1, "objective": "tests.objectives.helpers:nothing"})
    with pytest.raises(DatasetError, match="no initial string"):  # every initial score is NaN
        Campaign.from_dir(model_dir, bad, out).run(progress=False)
    assert not (out / "campaign.json").exists() and not (out / "init.npz").exists()
    good = CampaignConfig(**{**CFG, "trials": 1, "iterations": 1})
    assert Campaign.from_dir(model_dir, good, out).run(progress=False)["evaluations"] == 4  # no --resume, no refusal


@pytest.mark.parametrize("on_timeout", ["error", "invalid"])
def test_hanging_objective_times_out(model_dir: Path, tmp_path: Path, on_timeout: str) -> None:
    from latentbo.errors import ObjectiveTimeoutError
    from tests.objectives import helpers

    helpers.calls["n"] = 0
    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 2, "objective": "tests.objectives.helpers:hangs_after_first",
                            "objective_timeout": 0.5, "on_timeout": on_timeout})
    campaign = Campaign.from_dir(model_dir, cfg, tmp_path / "run")
    if on_timeout == "error":
        with pytest.raises(ObjectiveTimeoutError, match="took more than 0.5 s"):
            campaign.run(progress=False)
        return
    summary = campaign.run(progress=False)
    recs = [json.loads(x) for x in (tmp_path / "run" / "trial_0" / "evaluations.jsonl").read_text().splitlines()]
    assert len(recs) == 8 and not any(r["valid"] for r in recs)
    assert all(r["details"] == {"timeout": True} for r in recs)
    assert summary["fraction_valid"]["mean"] == 0.0


def test_selfies_model_trains_samples_and_runs_a_campaign(tmp_path: Path) -> None:
    from latentbo.data.datasets import _nci_5k
    from latentbo.metrics import sample_quality
    from latentbo.models import load_model

    molecules = [m for m in _nci_5k() if "." not in m][:400]
    cfg = ModelConfig.for_model("zinc", "svae", decoder="fast", epochs=1, latent_dim=6, hidden=32, decoder_hidden=32,
                                decoder_layers=1, batch_size=64)
    train(cfg, molecules, tmp_path / "svae", progress=False)
    model = load_model(tmp_path / "svae")
    assert model.codec.kind == "selfies"
    summary, strings = sample_quality(model, 50, seed=0)
    made = [s for s in strings if s is not None]
    assert made and summary["valid_fraction"] == len(made) / 50  # every decode is a molecule
    run = CampaignConfig(objective="qed", iterations=1, batch=4, trials=1, init_size=60, gp_points=40, n_decode=2,
                         num_restarts=1, raw_samples=16, dataset="nci5k")
    result = Campaign.from_dir(tmp_path / "svae", run, tmp_path / "bo").run(progress=False)
    assert result["evaluations"] == 4
    assert result["decoding"]["invalid_reasons"].keys() <= {"unfinished"}


def _records(out: Path, t: int = 0) -> list[dict]:
    lines = (out / f"trial_{t}" / "evaluations.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(x).items() if k not in ("wall_time", "details")} for x in lines]


@pytest.mark.parametrize("acquisition", ["turbo", "turbo-m"])  # the regions' state survives between ask and tell
def test_ask_tell_equals_run_and_resumes(model_dir: Path, tmp_path: Path, acquisition: str) -> None:
    from latentbo.objectives import make_objective

    cfg = CampaignConfig(**{**CFG, "trials": 1}, acquisition=acquisition)
    Campaign.from_dir(model_dir, cfg, tmp_path / "run").run(progress=False)
    lab = make_objective("expr")  # measured "elsewhere"
    out = tmp_path / "asktell"
    for it in range(cfg.iterations):
        z, strings = Campaign.from_dir(model_dir, cfg, out).ask()
        assert z.shape == (cfg.batch, 4) and len(strings) == cfg.batch
        if it == 1:  # the script stops after asking; a new process asks again and gets the same batch
            z2, again = Campaign.from_dir(model_dir, cfg, out).ask()
            assert again == strings and torch.equal(z2, z)
            with pytest.raises(CheckpointError, match="asked and not told"):
                Campaign.from_dir(model_dir, cfg, out).ask(cfg.batch + 1)
        Campaign.from_dir(model_dir, cfg, out).tell(strings, [None if s is None else v for s, v in zip(strings, lab(strings))])
    assert _records(out) == _records(tmp_path / "run")
    with pytest.raises(CheckpointError, match="nothing was asked"):
        Campaign.from_dir(model_dir, cfg, out).tell(strings, [0.0] * len(strings))
    summary = Campaign.from_dir(model_dir, cfg, out).report()
    assert summary["evaluations"] == cfg.iterations * cfg.batch
    # and the CLI's --resume goes on from what ask/tell recorded (nothing left to do here)
    assert Campaign.from_dir(model_dir, cfg, out).run(resume=True, progress=False)["evaluations"] == summary["evaluations"]


def test_tell_checks_strings_and_scores(model_dir: Path, tmp_path: Path) -> None:
    from latentbo.errors import ObjectiveError

    camp = Campaign.from_dir(model_dir, CampaignConfig(**{**CFG, "trials": 1}), tmp_path)
    _, strings = camp.ask(2)
    with pytest.raises(CheckpointError, match="other strings"):
        camp.tell(list(reversed(strings)) if strings[0] != strings[1] else ["zz", "zz"], [1.0, 2.0])
    with pytest.raises(ObjectiveError, match="2 strings"):
        camp.tell(strings, [1.0])
    with pytest.raises(ObjectiveError, match="numbers"):
        camp.tell(strings, ["good", 1.0])
    with pytest.raises(ObjectiveError, match="1e\\+100"):
        camp.tell(strings, [1e200, 1.0])
    pending = (tmp_path / "trial_0" / "pending.pt").read_bytes()
    camp.tell(strings, [np.nan, 1.0])  # NaN: that string was invalid
    recs = _records(tmp_path)
    assert [r["valid"] for r in recs] == [False, strings[1] is not None]
    # stopped after recording, before removing the asked batch: the next ask goes on
    (tmp_path / "trial_0" / "pending.pt").write_bytes(pending)
    assert len(camp.ask(2)[1]) == 2 and not _records(tmp_path)[2:]


def test_told_scores_need_known_initial_scores(model_dir: Path, tmp_path: Path) -> None:
    from latentbo.errors import ConfigError
    from latentbo.objectives import make_objective

    strings = generate_expressions(300, seed=9)
    scores = make_objective("expr")(strings)
    table = tmp_path / "measured.csv"
    pd.DataFrame({"expression": strings, "mse": scores}).to_csv(table, index=False)
    cfg = CampaignConfig(**{**CFG, "trials": 1, "objective": None, "minimize": True})
    with pytest.raises(ConfigError, match="score column"):
        Campaign.from_dir(model_dir, cfg, tmp_path / "a").ask()
    assert not (tmp_path / "a" / "campaign.json").exists()
    cfg = CampaignConfig(**{**CFG, "trials": 1, "objective": None, "minimize": True, "dataset": str(table),
                            "score_column": "mse"})
    camp = Campaign.from_dir(model_dir, cfg, tmp_path / "b")
    with pytest.raises(ConfigError, match="no objective"):
        camp.run(progress=False)
    _, asked = camp.ask()
    init = json.loads((tmp_path / "b" / "init_strings.json").read_text())
    saved = np.load(tmp_path / "b" / "init.npz")["scores"]
    assert saved.tolist() == pytest.approx([scores[strings.index(s)] for s in init])  # used as given, not re-scored
    meta = json.loads((tmp_path / "b" / "campaign.json").read_text())
    assert "measured.csv (sha256 " in meta["initial_data"]
    camp.tell(asked, [1.0] * len(asked))
    assert camp.report()["maximize"] is False


def test_callable_and_minimised_objectives(model_dir: Path, tmp_path: Path) -> None:
    def length(strings):  # a user function: None for a failed decode
        return [np.nan if s is None else float(len(s)) for s in strings]

    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 2})
    top = {}
    for minimize in (False, True):
        out = tmp_path / str(minimize)
        summary = Campaign.from_dir(model_dir, CampaignConfig(**{**cfg.__dict__, "minimize": minimize}), out,
                           objective=length).run(progress=False)
        assert summary["objective"] == f"python:{__name__}.{length.__qualname__}" and summary["maximize"] is not minimize
        scores = [r["score"] for r in _records(out) if r["valid"]]
        top[minimize] = summary["top3"]["top1"]["mean"]
        assert top[minimize] == (min(scores) if minimize else max(scores))
        assert json.loads((out / "campaign.json").read_text())["config"]["objective"] == summary["objective"]
    assert top[True] < top[False]


def test_objective_batch_size_is_honoured(model_dir: Path, tmp_path: Path) -> None:
    sizes = []

    def score(strings):
        sizes.append(len(strings))
        return [float(len(s)) if s else np.nan for s in strings]

    score.batch_size = 3
    Campaign.from_dir(model_dir, CampaignConfig(**{**CFG, "trials": 1, "iterations": 1, "init_size": 10}), tmp_path,
             objective=score).run(progress=False)
    assert sizes == [3, 3, 3, 1, 3, 1]  # 10 initial strings, then a batch of 4


def test_failure_at_the_first_evaluation_leaves_the_folder_free(model_dir: Path, tmp_path: Path) -> None:
    from latentbo.errors import ObjectiveError

    calls = []

    def breaks_on_bo(strings):  # scores the initial data, then fails
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("docking server down")
        return [float(len(s)) for s in strings]

    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 1})
    with pytest.raises(ObjectiveError, match="docking server down"):
        Campaign.from_dir(model_dir, cfg, tmp_path, objective=breaks_on_bo).run(progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".latentbo.lock"]
    assert Campaign.from_dir(model_dir, cfg, tmp_path).run(progress=False)["evaluations"] == 4


def test_own_dataset_file(model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "mine.txt"
    data.write_text("\n".join(generate_expressions(200, seed=3)) + "\n")
    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 1, "dataset": str(data)})
    Campaign.from_dir(model_dir, cfg, tmp_path / "run").run(progress=False)
    assert set(json.loads((tmp_path / "run" / "init_strings.json").read_text())) <= set(data.read_text().split("\n"))
    assert json.loads((tmp_path / "run" / "campaign.json").read_text())["initial_data"].startswith(f"{data} (sha256 ")


def test_initial_molecules_rdkit_rejects_are_counted_and_recorded(tmp_path: Path) -> None:
    """An unclosed ring parses by the grammar but is no molecule: left out of the start,
    counted by reason in campaign.json."""
    from latentbo.testing import stub_model

    data = tmp_path / "mine.smi"
    data.write_text("CCO ethanol\nC1CC broken\nc1ccccc1O phenol\nCC(=O)O\nCCN\nC(C)(C)(C)(C)C\nCCCC\n")
    cfg = CampaignConfig(objective="qed", iterations=1, batch=2, trials=1, init_size=7, gp_points=5, n_decode=1,
                         num_restarts=1, raw_samples=16, dataset=str(data))
    Campaign(stub_model(task="zinc"), cfg, tmp_path / "bo").run(progress=False)
    meta = json.loads((tmp_path / "bo" / "campaign.json").read_text())
    assert meta["initial_skipped"] == {"unclosed_ring": 1, "valence": 1}
    assert "C1CC" not in json.loads((tmp_path / "bo" / "init_strings.json").read_text())


def test_known_scores_outside_the_objectives_scale_are_warned_about(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    from latentbo.testing import stub_model

    data = tmp_path / "assayed.csv"
    data.write_text("smiles,pIC50\nCCO,5.1\nc1ccccc1O,7.9\nCC(=O)O,6.2\nCCN,4.4\nCCCC,8.0\n")
    cfg = CampaignConfig(objective="qed", iterations=1, batch=2, trials=1, init_size=5, gp_points=5, n_decode=1,
                         num_restarts=1, raw_samples=16, dataset=str(data), score_column="pIC50")
    with caplog.at_level("INFO", logger="latentbo"):
        Campaign(stub_model(task="zinc"), cfg, tmp_path / "bo").run(progress=False)
    assert "known initial scores (pIC50): 4.4 .. 8" in caplog.text
    assert "outside qed's 0 .. 1" in caplog.text


def test_no_string_is_evaluated_twice(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.bo.acquisition.turbo import Turbo

    crowded, real = [], Turbo.crowded
    monkeypatch.setattr(Turbo, "crowded", lambda self, best: crowded.append(1) or real(self, best))
    cfg = CampaignConfig(**{**CFG, "trials": 1, "iterations": 4, "batch": 8, "n_decode": 1}, acquisition="turbo")
    out = tmp_path / "run"
    campaign = Campaign.from_dir(model_dir, cfg, out)
    summary = campaign.run(progress=False)
    recs = _records(out)
    key = campaign.model.codec.canonical
    evaluated = [key(r["string"]) for r in recs if r["string"] is not None]
    initial = {key(s) for s in json.loads((out / "init_strings.json").read_text())}
    assert len(set(evaluated)) == len(evaluated) and not set(evaluated) & initial
    decoding = summary["decoding"]
    assert decoding["repeats_replaced"] > 0  # a 4-d latent space repeats itself: proposed again
    assert decoding["repeats_replaced"] == sum(r["decode"].get("replaced", 0) for r in recs)
    assert decoding["repeated"] == sum(r["decode"].get("reason") == "repeat" for r in recs)
    assert "repeats of earlier strings were proposed again" in (out / "report.md").read_text()
    # A batch left mostly unscored widens TuRBO's region instead of shrinking it.
    mostly = [i for i in range(4) if 2 * sum(r["decode"].get("reason") == "repeat" for r in recs
                                             if r["iteration"] == i) > 8]
    assert mostly and len(crowded) == len(mostly)  # a 4-d space decodes to few strings


def test_inversion_gives_the_gp_codes_of_the_strings_scored(model_dir: Path, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.bo import campaign as campaign_module

    fitted: list[torch.Tensor] = []
    real = campaign_module.fit_surrogate
    monkeypatch.setattr(campaign_module, "fit_surrogate",
                        lambda kind, x, *a, **k: fitted.append(x.clone()) or real(kind, x, *a, **k))
    cfg = CampaignConfig(**{**CFG, "trials": 1}, acquisition="turbo", inversion=True)
    out = tmp_path / "run"
    campaign = Campaign.from_dir(model_dir, cfg, out)
    campaign.run(progress=False)
    meta = json.loads((out / "campaign.json").read_text())
    report = meta["initial_inversion"]
    assert report["codes"] == len(json.loads((out / "init_strings.json").read_text()))
    assert report["refined"] == report["codes"] - report["decoded_back"]
    assert report["decoded_back_after"] >= report["decoded_back"]  # refined codes: tests/bo/test_inversion.py
    valid = [r for r in _records(out) if r["valid"]]
    assert valid and any(r["latent"] != r["proposed"] for r in valid)
    key = campaign.model.codec.canonical
    decoded = campaign.model.decode_latents(torch.tensor([r["latent"] for r in valid]))
    assert [key(d) == key(r["string"]) for d, r in zip(decoded, valid)] == [r["decoded_back"] for r in valid]
    # The last fit holds the earlier iterations' inverted codes, not their candidates.
    earlier = torch.tensor([r["latent"] for r in valid if r["iteration"] < cfg.iterations - 1], dtype=torch.float64)
    assert torch.equal(fitted[-1][-len(earlier):].cpu(), earlier)
    assert campaign.phase_seconds()["inversion"] > 0


def test_gp_max_caps_every_fit(model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.bo import campaign as campaign_module

    sizes: list[int] = []
    real = campaign_module.fit_surrogate
    monkeypatch.setattr(campaign_module, "fit_surrogate",
                        lambda kind, x, *a, **k: sizes.append(len(x)) or real(kind, x, *a, **k))
    cfg = CampaignConfig(**{**CFG, "trials": 1, "gp_points": 30}, acquisition="turbo", gp_max=32)
    Campaign.from_dir(model_dir, cfg, tmp_path / "run").run(progress=False)
    assert sizes == [30, 32, 32]  # 30 initial, then 30 + 4 and 30 + 8 capped
    with pytest.raises(ConfigError, match="gp_max"):
        CampaignConfig(gp_max=1).validate()


def test_weighted_retraining_changes_the_weights_and_the_gp_sees_the_new_codes(
        model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from latentbo.bo import campaign as campaign_module
    from latentbo.bo.retraining import load_retrained
    from latentbo.models import load_model

    fitted: list[torch.Tensor] = []
    real = campaign_module.fit_surrogate
    monkeypatch.setattr(campaign_module, "fit_surrogate",
                        lambda kind, x, *a, **k: fitted.append(x.clone()) or real(kind, x, *a, **k))
    model = load_model(model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    cfg = CampaignConfig(**{**CFG, "trials": 2}, acquisition="turbo", retrain_every=2, retrain_steps=20)
    out = tmp_path / "run"
    campaign = Campaign(model, cfg, out)
    campaign.run(progress=False)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # the caller's model is untouched
    for t in range(2):
        state = load_retrained(out / f"trial_{t}")
        assert int(state["iteration"]) == 2  # the third iteration (index 2) retrained first
        assert any(not torch.equal(v, before[k]) for k, v in state["weights"].items())
    # Trial 0's third fit holds the re-encoded codes of the first two iterations' strings.
    state = load_retrained(out / "trial_0")
    valid = [r for r in _records(out) if r["valid"] and r["iteration"] < 2]
    assert valid and len(state["eval_codes"]) == len(valid)
    assert torch.equal(fitted[2][-len(valid):].float(), state["eval_codes"].float())
    assert not torch.equal(state["eval_codes"].float(), torch.tensor([r["latent"] for r in valid]))
    assert campaign.phase_seconds()["retraining"] > 0


def test_retraining_leaves_out_evaluated_strings_the_codec_cannot_encode(
        model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A decode the codec cannot spell back (a SELFIES molecule whose radical the decoder
    made a hydrogen the alphabet lacks) is counted and left out of the retraining, which
    goes on with the rest."""
    from latentbo.bo import campaign as campaign_module
    from latentbo.bo.retraining import load_retrained
    from latentbo.errors import InvalidInputError
    from latentbo.models import load_model

    model = load_model(model_dir)
    banned: set[str] = set()
    real_record, real_one = Campaign._record, type(model.codec).encode_one

    def record(self, t, trial, *args):  # ban the first evaluated string that is not a starting one
        real_record(self, t, trial, *args)
        start = set(self._saved_initial_data()[2])
        banned.update([r["string"] for r in trial.records if r["valid"] and r["string"] not in start][:1 - len(banned)])

    def encode_one(text: str):
        if text in banned:
            raise InvalidInputError(text, "unknown_token", "not in the alphabet")
        return real_one(model.codec, text)

    left_out: list[int] = []
    real_retrain = campaign_module.retrain
    monkeypatch.setattr(campaign_module, "retrain", lambda *a, **k: left_out.append(real_retrain(*a, **k))
                        or left_out[-1])
    monkeypatch.setattr(Campaign, "_record", record)
    monkeypatch.setattr(model.codec, "encode_one", encode_one)
    cfg = CampaignConfig(**{**CFG, "trials": 1}, acquisition="turbo", retrain_every=2, retrain_steps=5)
    with caplog.at_level("WARNING", logger="latentbo"):
        Campaign(model, cfg, tmp_path / "run").run(progress=False)
    assert len(banned) == 1 and left_out and set(left_out) == {1}
    assert load_retrained(tmp_path / "run" / "trial_0")["left_out"] == 1
    assert "1 of" in caplog.text and "left out (the codec cannot encode them)" in caplog.text


@pytest.mark.parametrize("options", [dict(acquisition="turbo"), dict(acquisition="turbo-m", joint=True)],
                         ids=["weighted", "joint-turbo-m"])
def test_a_campaign_killed_while_retraining_resumes_exactly(model_dir: Path, tmp_path: Path, options: dict,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Joint updates with several trust regions: the regions' state and the retrained
    weights come back as they were."""
    from latentbo.bo import campaign as campaign_module

    cfg = CampaignConfig(**CFG, **options, retrain_every=1, retrain_steps=10)
    Campaign.from_dir(model_dir, cfg, tmp_path / "full").run(progress=False)
    real, calls = campaign_module.retrain, []

    def dying(*args, **kwargs):  # killed in trial 0's second retraining, after a step
        calls.append(1)
        real(*args, **kwargs)
        if len(calls) == 2:
            raise _Killed

    monkeypatch.setattr(campaign_module, "retrain", dying)
    with pytest.raises(_Killed):
        Campaign.from_dir(model_dir, cfg, tmp_path / "part").run(progress=False)
    monkeypatch.setattr(campaign_module, "retrain", real)
    Campaign.from_dir(model_dir, cfg, tmp_path / "part").run(resume=True, progress=False)
    for t in range(2):
        assert _records(tmp_path / "full", t) == _records(tmp_path / "part", t)


def test_joint_updates_need_retraining_and_the_exact_gp() -> None:
    CampaignConfig(retrain_every=2, joint=True).validate()
    for bad in (dict(joint=True), dict(retrain_every=2, joint=True, surrogate="sparse")):
        with pytest.raises(ConfigError, match="joint updates"):
            CampaignConfig(**bad).validate()
