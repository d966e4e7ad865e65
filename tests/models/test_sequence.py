"""Decoders: cutting batches to their longest sequence, and the autoregressive
decoder's teacher forcing and step-by-step decoding under the codec's masks."""

import pytest
import torch

from latentbo.codecs import CharacterCodec, GrammarCodec
from latentbo.data.datasets import generate_expressions
from latentbo.errors import ConfigError
from latentbo.models import ModelConfig, SequenceAutoencoder

TINY = {"hidden": 32, "decoder_hidden": 32, "decoder_layers": 2, "latent_dim": 4}
EXPRESSIONS = ["x + 1", "sin( x ) * 2", "exp( x ) / 3 + x", "x"]


def _model(decoder: str, task: str = "expressions", model: str = "gmm_dae", codec=None, **sizes) -> SequenceAutoencoder:
    torch.manual_seed(0)
    cfg = ModelConfig.for_model(task, model, decoder=decoder, **{**TINY, **sizes})
    return SequenceAutoencoder(cfg, codec or GrammarCodec(cfg.task if task == "expressions" else "zinc_smiles")).eval()


@pytest.mark.parametrize("decoder", ["gru", "ar"])
def test_dynamic_padding_gives_the_full_padding_loss(decoder: str) -> None:
    model = _model(decoder)
    idx = model.codec.encode(EXPRESSIONS)
    longest = int((idx != model.codec.pad_index).sum(1).max())
    seen = []
    model.decoder.register_forward_hook(lambda mod, args, out: seen.append(out.shape[1]))
    with torch.no_grad():
        cut = model.loss(idx)
        model.codec.forced_padding = False  # this instance only: decode all L positions
        full = model.loss(idx)
    assert seen == [longest, model.codec.max_length] and longest < model.codec.max_length
    for k in full:
        torch.testing.assert_close(cut[k], full[k], msg=k)
    assert float(full["token_acc"]) > 0  # compared on something the model gets partly right


def test_fast_decoder_is_never_cut() -> None:
    """Its positions attend to one another: the first T of L logits are not those of T."""
    model = _model("fast")
    seen = []
    model.decoder.register_forward_hook(lambda mod, args, out: seen.append(out.shape[1]))
    with torch.no_grad():
        model.loss(model.codec.encode(EXPRESSIONS))
    assert seen == [model.codec.max_length]
    with pytest.raises(ConfigError, match="all L positions"):
        model.decoder(torch.zeros(1, 4), torch.zeros(1, 3, dtype=torch.long))


def test_ar_teacher_forcing_is_causal() -> None:
    """Changing the id at step t changes no logit before t + 1."""
    model = _model("ar")
    idx = model.codec.encode(EXPRESSIONS[:2])
    z = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    other = idx.clone()
    other[:, 3] = (other[:, 3] + 1) % model.codec.vocab_size
    with torch.no_grad():
        a, b = model.decoder(z, idx), model.decoder(z, other)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert (a[:, 4:] - b[:, 4:]).abs().max() > 1e-3


def _trained_ar(codec=None, model: str = "gmm_dae") -> SequenceAutoencoder:
    """A tiny ar model after 150 steps on expressions: it finishes its strings."""
    ae = _model("ar", codec=codec, model=model).train()
    idx = ae.codec.encode(generate_expressions(512, seed=1))
    opt = torch.optim.Adam(ae.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(150):
        ae.train_step(idx[torch.randint(len(idx), (64,), generator=gen)], opt)
    return ae.eval()


@pytest.fixture(scope="module")
def trained_ar() -> SequenceAutoencoder:
    return _trained_ar()


def _decode_all_then_each(model: SequenceAutoencoder, z: torch.Tensor) -> tuple[list, list]:
    batched = model.decode_latents_with_status(z)
    each = [model.decode_latents_with_status(z[i : i + 1]) for i in range(len(z))]
    return batched, ([s for e in each for s in e[0]], [s for e in each for s in e[1]])


def test_ar_batched_decode_equals_per_sample_decode_and_its_own_teacher_forcing(trained_ar) -> None:
    """Rows finish at different steps (the key/value cache drops them as they do);
    each row decodes as it would alone, and the ids it chose are the masked argmax of
    the teacher-forced logits of those same ids."""
    model = trained_ar
    z = 2 * torch.randn(40, 4, generator=torch.Generator().manual_seed(0))
    (strings, status), each = _decode_all_then_each(model, z)
    assert (strings, status) == each
    done = [i for i, s in enumerate(strings) if s is not None]
    assert len(done) > 30
    steps = {len(model.codec.encode_one(strings[i])) for i in done}
    assert len(steps) > 3  # derivations of several lengths: rows leave the batch at different steps
    ids = model.codec.encode([strings[i] for i in done])
    with torch.no_grad():
        again = model.codec.decode(model.decoder(z[done], ids))
    assert again == [strings[i] for i in done]


def test_ar_decode_needs_no_logits_and_samples_reproducibly() -> None:
    model = _model("ar")
    z = torch.randn(6, 4, generator=torch.Generator().manual_seed(2))
    with pytest.raises(ConfigError, match="decode_latents"):
        model.decode_logits(z)
    runs = [model.decode_latents(z, stochastic=True, generator=torch.Generator().manual_seed(s)) for s in (5, 5, 6)]
    assert runs[0] == runs[1] and runs[0] != runs[2]


def test_ar_decode_with_a_token_codec() -> None:
    model = _trained_ar(CharacterCodec.fit(generate_expressions(512, seed=1)), "gvae")
    z = 2 * torch.randn(12, 4, generator=torch.Generator().manual_seed(3))
    (strings, status), each = _decode_all_then_each(model, z)
    assert (strings, status) == each and any(strings)
    lengths = {len(s) for s in strings if s}
    assert len(lengths) > 1  # rows stopped at different steps


def test_ar_semantic_decode_is_its_own_fixed_point() -> None:
    """With SMILES semantic masks: batched equals per sample, and each row's
    productions are what its pass (the first, or the fallback) chooses from the
    teacher-forced logits of those same productions."""
    model = _model("ar", task="zinc", model="gvae", decoder_hidden=16, decoder_layers=1)
    codec = model.codec
    z = torch.randn(4, 4, generator=torch.Generator().manual_seed(6))
    (strings, status), each = _decode_all_then_each(model, z)
    assert (strings, status) == each
    assert {"ok", "fallback"} <= set(status)  # both passes took part
    for i, s in enumerate(strings):
        with torch.no_grad():
            logits = model.decoder(z[i : i + 1], codec.encode([s])).numpy()
        again = codec._semantic_strings(*codec._decode_semantic(logits, 0 if status[i] == "ok" else 1)[:3])
        assert again == ([s], [status[i]]), i
