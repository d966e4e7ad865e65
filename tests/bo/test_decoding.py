"""The search box and the vote among a candidate's decodes."""

import torch

from latentbo.bo.decoding import decode_candidates, search_box
from latentbo.tasks import get_task
from latentbo.testing import stub_model


def test_search_box() -> None:
    codes = torch.tensor([[0.0, 1.0, 2.0], [1.0, 1.0, -2.0]] * 2 + [[0.5, 1.0, 0.0]])
    model = stub_model(arch="vae")
    box = search_box(model, torch.cat([codes, torch.zeros(5, 1)], 1), "data")
    torch.testing.assert_close(box[:, :3], torch.tensor([[0.0, 1.0, -2.0], [1.0, 1.0 + 1e-6, 2.0]], dtype=torch.float64))
    assert box[1, 3] > box[0, 3]  # a constant dimension still spans a box
    torch.testing.assert_close(search_box(model, codes, "prior"), torch.tensor([[-3.0] * 4, [3.0] * 4], dtype=torch.float64))
    gmm = stub_model(arch="gmm_dae")
    prior = gmm.regularizer.prior
    box = search_box(gmm, codes, "prior")
    torch.testing.assert_close(box[0], (prior.means.min(0).values - 3 * prior.sigma).double())
    torch.testing.assert_close(box[1], (prior.means.max(0).values + 3 * prior.sigma).double())


def test_vote_among_decodes() -> None:
    model = stub_model(arch="gmm_dae")
    z = 2 * torch.randn(12, 4, generator=torch.Generator().manual_seed(0))
    strings, info = decode_candidates(model, get_task("expressions"), z, 5, seed=3)
    assert (strings, info) == decode_candidates(model, get_task("expressions"), z, 5, seed=3)  # seeded
    assert len(strings) == len(info) == 12
    for s, i in zip(strings, info):
        assert (s is None) == (i["valid_decodes"] == 0)
        assert i.get("reason") == (None if s else "unfinished")  # an expression is invalid only unfinished
    assert any(s is None for s in strings) and any(s is not None for s in strings)
    # the kept string is the most frequent valid decode of its 5
    rep = z.repeat_interleave(5, 0)
    decoded = model.decode_latents(rep, stochastic=True, generator=torch.Generator().manual_seed(3))
    for k, s in enumerate(strings):
        block = [d for d in decoded[5 * k : 5 * k + 5] if d is not None]
        if s is not None:
            assert block.count(s) == max(block.count(b) for b in block) and info[k]["valid_decodes"] == len(block)


def test_the_vote_keeps_a_decode_that_needed_no_repair() -> None:
    """A string decoded as it came (``ok``) beats a commoner one a repair made (the
    semantic fallback pass, radicals made hydrogens); with only repairs, the commonest."""
    model = stub_model(task="zinc")
    rows = [("CCC", "saturated"), ("CCC", "saturated"), ("CCO", "ok"),
            ("CCN", "fallback"), ("CCN", "fallback"), ("CCS", "saturated")]
    model.decode_latents_with_status = lambda z, stochastic, generator: ([s for s, _ in rows], [t for _, t in rows])
    strings, info = decode_candidates(model, get_task("zinc"), torch.zeros(2, model.latent_dim), 3, seed=0)
    assert strings == ["CCO", "CCN"]
    assert [i["status"] for i in info] == ["ok", "fallback"] and [i["valid_decodes"] for i in info] == [3, 3]
