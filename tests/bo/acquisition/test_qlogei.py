import pytest
import torch

from latentbo.bo import CampaignConfig
from latentbo.bo.acquisition import make_proposer
from latentbo.bo.acquisition import qlogei
from latentbo.bo.acquisition.qlogei import best_posterior_mean, propose_qlogei
from latentbo.errors import ConfigError
from latentbo.testing import ProposerContract

D = ProposerContract.dim


def test_the_batch_goes_where_the_gp_expects_improvement() -> None:
    """On a GP fitted to ``-(x + 0.5)^2``, qLogEI's batch lies nearer the optimum (-0.5
    in every dimension) than the data's best point, and sequential greedy gives q
    distinct points; the same seed gives the same batch."""
    gp, x, y, bounds = ProposerContract.problem()
    cand = propose_qlogei(gp, float(y.max()), bounds, 4, num_restarts=2, raw_samples=64, seed=3)
    assert cand.shape == (4, D) and len({tuple(c.tolist()) for c in cand}) == 4
    dist = (cand + 0.5).norm(dim=1)
    assert float(dist.min()) < float((x[y.argmax()] + 0.5).norm())
    torch.testing.assert_close(propose_qlogei(gp, float(y.max()), bounds, 4, 2, 64, seed=3), cand)


@pytest.mark.parametrize("incumbent", ["observed", "mean"])
def test_incumbent_is_the_best_score_or_the_gps_best_mean(incumbent: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """qLogEI's ``best_f``: the best told score, or the best posterior mean at the GP's
    codes (computed in chunks, as for a sparse GP's 100,000), which a lucky score far
    above anything the GP believes does not move."""
    gp, x, y, bounds = ProposerContract.problem()
    with torch.no_grad():
        best_mean = float(gp.posterior(x).mean.max())
    assert best_posterior_mean(gp, x, chunk=7) == pytest.approx(best_mean)
    lucky = y.clone()
    lucky[0] = 10.0
    seen = []
    monkeypatch.setattr(qlogei, "propose_qlogei", lambda model, best_f, *args, **kw: seen.append(best_f))
    make_proposer("qlogei", D, CampaignConfig(incumbent=incumbent)).propose(gp, x, lucky, bounds, 4, seed=3)
    assert seen == [pytest.approx(10.0 if incumbent == "observed" else best_mean)]
    with pytest.raises(ConfigError, match="incumbent must be 'observed' or 'mean', got 'best'"):
        CampaignConfig(incumbent="best").validate()
