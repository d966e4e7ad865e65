import torch

from latentbo.bo.acquisition.qlogei import propose_qlogei
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
