import math

import numpy as np
import torch

from latentbo.bo.acquisition import make_proposer
from latentbo.bo.acquisition.turbo_m import REGIONS
from latentbo.bo.campaign import CampaignConfig
from latentbo.testing import ProposerContract

D = ProposerContract.dim


def _proposer_and_batch(q: int = 10):
    gp, x, y, bounds = ProposerContract.problem()
    proposer = make_proposer("turbo-m", D, CampaignConfig(batch=q))
    return proposer, proposer.propose(gp, x, y, bounds, q, seed=3), x, y


def test_each_region_is_centred_on_one_of_the_best_codes_and_gets_every_kth_proposal() -> None:
    """Proposal j comes from region j mod k, inside the box of side length x TuRBO's
    weights around the region's centre, the (j mod k)-th best training code."""
    from latentbo.bo.acquisition.turbo import box_weights

    proposer, cand, x, y = _proposer_and_batch()
    gp, _, _, bounds = ProposerContract.problem()
    assert proposer.pending["regions"] == [j % REGIONS for j in range(len(cand))]
    lo, hi = bounds
    centres = ((x - lo) / (hi - lo))[y.argsort(descending=True)[:REGIONS]]
    half = box_weights(gp) * proposer.regions[0].length / 2
    for j, c in enumerate(cand):
        assert bool((((c - lo) / (hi - lo) - centres[j % REGIONS]).abs() <= half + 1e-9).all()), j
    assert [r.best for r in proposer.regions] == sorted(y.tolist(), reverse=True)[:REGIONS]


def test_each_region_updates_on_its_own_proposals() -> None:
    """A region whose proposal beat its centre counts a success; one whose proposals did
    not (or were invalid) counts a failure and halves at its tolerance; a crowded batch
    doubles the regions that had proposals and counts no failure."""
    proposer, cand, _, _ = _proposer_and_batch()
    centre = [r.best for r in proposer.regions]
    scores = np.full(len(cand), np.nan)
    scores[0] = centre[0] + 1.0  # region 0 improves; region 1 gets scores below its centre
    scores[1] = scores[6] = centre[1] - 1.0
    lengths = [r.length for r in proposer.regions]
    proposer.told(cand, scores, crowded=False)
    regions = proposer.regions
    assert (regions[0].successes, regions[0].failures, regions[0].best) == (1, 0, centre[0] + 1.0)
    # a region of 2 proposals a batch tolerates ceil(max(4, d) / 2) = 2 failed batches
    assert (regions[1].successes, regions[1].failures, regions[1].length) == (0, 1, lengths[1])
    assert regions[2].failures == 1 and regions[2].best == centre[2]  # invalid proposals are failures
    proposer.told(cand, scores, crowded=False)  # told twice: the second finds no proposal of its own
    assert (regions[0].successes, regions[1].failures) == (1, 1)
    gp, x, y, bounds = ProposerContract.problem()
    lengths = [r.length for r in regions]
    cand = proposer.propose(gp, x, y, bounds, 10, seed=5)
    proposer.told(cand, np.full(len(cand), np.nan), crowded=True)
    assert [r.length for r in proposer.regions] == [min(2 * v, 1.6) for v in lengths]
    assert all(r.failures == 0 for r in proposer.regions)


def test_regions_and_boxes_survive_the_checkpoint(tmp_path) -> None:
    """The state goes through torch's safe loader (as a trial's checkpoint does) and the
    restored proposer tells and proposes as the original."""
    gp, x, y, bounds = ProposerContract.problem()
    proposer, cand, _, _ = _proposer_and_batch()
    torch.save(proposer.state_dict(), tmp_path / "state.pt")
    restored = make_proposer("turbo-m", D, CampaignConfig(batch=10))
    restored.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    scores = np.linspace(-1.0, 1.0, len(cand))
    for p in (proposer, restored):
        p.told(cand, scores, crowded=False)
    assert restored.state_dict() == proposer.state_dict()
    torch.testing.assert_close(restored.propose(gp, x, y, bounds, 10, seed=4), proposer.propose(gp, x, y, bounds, 10,
                                                                                                 seed=4))
    assert not math.isnan(sum(r.length for r in restored.regions))
