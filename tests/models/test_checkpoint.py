import json
import shutil
from pathlib import Path

import pytest
import torch

from latentbo.errors import CheckpointError
from latentbo.models import ImageAutoencoder, ImageConfig, load_model, save_model
from latentbo.models.checkpoint import kind_of
from latentbo.testing import stub_model


def _model(reg: str = "vae"):
    return stub_model(arch=reg).eval()


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = _model("gmm_dae")
    model.eval()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    strings = ["x + 1", "sin( x ) * 2"]
    z1, _ = model.encode_strings(strings)
    z2, _ = loaded.encode_strings(strings)
    torch.testing.assert_close(z1, z2)
    assert loaded.decode_latents(z1) == model.decode_latents(z1)
    torch.testing.assert_close(loaded.regularizer.lambda_ks, model.regularizer.lambda_ks)


def test_corrupt_and_foreign_checkpoints(tmp_path: Path) -> None:
    model = _model()
    save_model(model, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00" * 50)
    with pytest.raises(CheckpointError, match="corrupt"):
        load_model(tmp_path)
    save_model(model, tmp_path)
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["codec"]["fingerprint"] = "0" * 16  # made with another version of the grammar
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="grammar file changed"):
        load_model(tmp_path)
    with pytest.raises(CheckpointError, match="no model folder .*nowhere"):
        load_model(tmp_path / "nowhere")


def test_one_format_for_both_kinds(tmp_path: Path) -> None:
    """An image model goes through the same save/load; a caller asking for one kind
    gets a clear error for the other."""
    torch.manual_seed(0)
    image = ImageAutoencoder(ImageConfig.for_model("mnist", "gmm_dae", width=4)).eval()
    save_model(image, tmp_path / "img")
    save_model(_model(), tmp_path / "seq")
    x = torch.rand(3, 1, 32, 32)
    loaded = load_model(tmp_path / "img")
    assert isinstance(loaded, ImageAutoencoder) and loaded.config == image.config
    torch.testing.assert_close(loaded.encode(x), image.encode(x))
    meta = json.loads((tmp_path / "img" / "meta.json").read_text())
    assert "codec" not in meta and meta["seed"] == 0
    with pytest.raises(CheckpointError, match="holds a model of kind 'image'; this needs one of kind 'sequence'"):
        load_model(tmp_path / "img", kind="sequence")
    with pytest.raises(CheckpointError, match="kind 'sequence'; this needs one of kind 'image'"):
        load_model(tmp_path / "seq", kind="image")
    toml = (tmp_path / "seq" / "config.toml").read_text()
    (tmp_path / "seq" / "config.toml").write_text(toml.replace('kind = "sequence"', 'kind = "graph"'))
    with pytest.raises(CheckpointError, match="unknown kind 'graph'"):
        load_model(tmp_path / "seq")


def test_folders_without_a_kind_are_told_apart_by_their_fields() -> None:
    assert kind_of({"task": "zinc"}) == "sequence"
    assert kind_of({"dataset": "mnist"}) == "image"
    assert kind_of({"kind": "image", "task": "zinc"}) == "image"


def test_checkpoints_of_commit_ae0476a_still_load(tmp_path: Path) -> None:
    """Checkpoints of an earlier version (the H100 runs of ../shared/pretrained) have no
    ``kind`` in their config; they load as the sequence models they are."""
    from latentbo.models.zoo import ZOO

    shutil.copytree(Path(str(ZOO)) / "zinc-gvae", tmp_path / "old")
    config = tmp_path / "old" / "config.toml"
    config.write_text("".join(line for line in config.read_text().splitlines(keepends=True)
                              if not line.startswith("kind =")))
    assert "kind" not in config.read_text()
    assert load_model(tmp_path / "old", kind="sequence").config.task == "zinc"
