import math

import pytest

from latentbo.bo.acquisition import TrustRegion
from latentbo.bo.acquisition.turbo import propose_turbo
from latentbo.testing import ProposerContract

D = ProposerContract.dim


def test_failure_tolerance_counts_batches_as_turbo_does() -> None:
    """ceil(max(4, d) / q) (Eriksson et al. 2019): about d failed evaluations shrink
    the region, however they are batched."""
    assert TrustRegion(25, batch=50).failure_tolerance == 1
    assert TrustRegion(25, batch=10).failure_tolerance == 3
    assert TrustRegion(25, batch=1).failure_tolerance == 25
    assert TrustRegion(2, batch=1).failure_tolerance == 4


def test_a_trial_saved_with_its_own_tolerance_keeps_it() -> None:
    """States saved before the region knew its batch hold their failure_tolerance;
    a resumed trial goes on with it (same run, same rule)."""
    from latentbo.bo.acquisition.turbo import Turbo
    from latentbo.bo.campaign import CampaignConfig

    turbo = Turbo(25, CampaignConfig(batch=50))
    old = {k: v for k, v in turbo.state_dict().items() if k != "batch"} | {"failure_tolerance": 4}
    turbo.load_state_dict(old)
    assert (turbo.region.failure_tolerance, turbo.region.batch) == (4, 50)


def test_trust_region_grows_shrinks_and_restarts() -> None:
    tr = TrustRegion(D, batch=1, best=0.0)
    assert tr.failure_tolerance == 4  # ceil(max(4, d) / q) with d < 4
    for _ in range(3):
        tr.update(tr.best + 1.0)
    assert tr.length == 1.6 and tr.best == 3.0
    lengths = []
    for _ in range(4 * 8):
        tr.update(-math.inf)
        lengths.append(tr.length)
    # halved after every 4 failures; below length_min (0.5 ** 7) the region restarts at 0.8
    assert lengths[3::4] == [0.8, 0.4, 0.2, 0.1, 0.05, 0.025, 0.0125, 0.8]


@pytest.mark.parametrize("name", ["turbo", "turbo-m"])
def test_tr_length_sets_the_first_side_and_the_side_a_region_restarts_at(name: str) -> None:
    from latentbo.bo.acquisition import make_proposer
    from latentbo.bo.campaign import CampaignConfig

    proposer = make_proposer(name, D, CampaignConfig(batch=5, acquisition=name, tr_length=0.2))
    regions = getattr(proposer, "regions", None) or [proposer.region]
    assert [r.length for r in regions] == [0.2] * len(regions)
    region = regions[0]
    region.best, region.length, region.failures = 0.0, region.length_min * 1.5, region.failure_tolerance - 1
    region.update(-math.inf)  # halved below length_min: restarts
    assert region.length == 0.2


def test_tr_length_is_refused_outside_a_trust_region_and_outside_its_range() -> None:
    from latentbo.bo.campaign import CampaignConfig
    from latentbo.errors import ConfigError

    with pytest.raises(ConfigError, match="acquisition 'qlogei' has none"):
        CampaignConfig(acquisition="qlogei", tr_length=0.2).validate()
    for bad in (0.0, 2.0):
        with pytest.raises(ConfigError, match="tr_length must be in"):
            CampaignConfig(acquisition="turbo", tr_length=bad).validate()


def test_a_crowded_region_grows_instead_of_shrinking() -> None:
    """A batch that decoded mostly to molecules seen before failed for want of
    resolution, not of scores: the region doubles (up to its maximum) and forgets
    its failures."""
    from latentbo.bo.acquisition.turbo import Turbo
    from latentbo.bo.campaign import CampaignConfig

    turbo = Turbo(D, CampaignConfig(batch=1))
    turbo.region.length, turbo.region.failures, turbo.region.best = 0.1, 3, 1.0
    turbo.crowded(-math.inf)
    assert (turbo.region.length, turbo.region.failures, turbo.region.best) == (0.2, 0, 1.0)
    turbo.region.length = 1.2
    turbo.crowded(2.0)
    assert (turbo.region.length, turbo.region.best) == (turbo.region.length_max, 2.0)


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
        cand = propose_turbo(gp, x, y, bounds, TrustRegion(D, batch=16, length=length), 16, seed=0)
        offset = ((cand - lo) / (hi - lo) - center).abs()
        assert bool((offset <= weights * length / 2 + 1e-9).all()), length
        spread[length] = float(offset.max())
    assert 0 < spread[0.1] < spread[0.8]



@pytest.mark.parametrize("surrogate", ["exact", "sparse"])
def test_thompson_picks_are_distinct_and_follow_a_sharp_posterior(surrogate: str) -> None:
    """Where the GP knows the function well (30 points of a smooth quadratic), each
    posterior sample's best candidate is among those of highest mean, no index twice,
    even when q is all the candidates; the sparse surrogate (SVGP) is sampled alike."""
    import torch

    from latentbo.bo.acquisition.turbo import thompson_select
    from latentbo.bo.surrogate import fit_sparse_gp

    gp, x, y, bounds = ProposerContract.problem()
    if surrogate == "sparse":
        gp = fit_sparse_gp(x, y.unsqueeze(-1), bounds, inducing=20, seed=0, epochs=200)
    lo, hi = bounds
    cand = lo + (hi - lo) * torch.rand(400, D, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.manual_seed(0)
    picks = thompson_select(gp, cand, 8)
    with torch.no_grad():
        mean = gp.posterior(cand).mean.squeeze(-1)
    assert len(set(picks.tolist())) == 8
    assert set(picks.tolist()) <= set(mean.argsort(descending=True)[:40].tolist())  # top 10% by mean
    everything = thompson_select(gp, cand[:20], 20)
    assert sorted(everything.tolist()) == list(range(20))
