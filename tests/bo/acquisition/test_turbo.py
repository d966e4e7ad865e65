import math

from latentbo.bo.acquisition import TrustRegion
from latentbo.bo.acquisition.turbo import propose_turbo
from latentbo.testing import ProposerContract

D = ProposerContract.dim


def test_trust_region_grows_shrinks_and_restarts() -> None:
    tr = TrustRegion(D, best=0.0)
    assert tr.failure_tolerance == 4  # max(4, d // 10)
    for _ in range(3):
        tr.update(tr.best + 1.0)
    assert tr.length == 1.6 and tr.best == 3.0
    lengths = []
    for _ in range(4 * 8):
        tr.update(-math.inf)
        lengths.append(tr.length)
    # halved after every 4 failures; below length_min (0.5 ** 7) the region restarts at 0.8
    assert lengths[3::4] == [0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.8]


def test_candidates_lie_in_the_trust_region_around_the_best_point() -> None:
    """Each candidate is within ``length / 2`` of the best point (in the unit cube, per
    dimension stretched by the GP's lengthscales, as TuRBO does); a smaller region gives
    closer candidates."""
    gp, x, y, bounds = ProposerContract.problem()
    lo, hi = bounds
    center = ((x - lo) / (hi - lo))[y.argmax()]
    ls = gp.covar_module.lengthscale.detach().view(-1).double()
    weights = ls / ls.mean()
    weights = weights / weights.prod().pow(1.0 / D)
    spread = {}
    for length in (0.8, 0.1):
        cand = propose_turbo(gp, x, y, bounds, TrustRegion(D, length=length), 16, seed=0)
        offset = ((cand - lo) / (hi - lo) - center).abs()
        assert bool((offset <= weights * length / 2 + 1e-9).all()), length
        spread[length] = float(offset.max())
    assert 0 < spread[0.1] < spread[0.8]
