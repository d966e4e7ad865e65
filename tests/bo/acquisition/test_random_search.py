import torch

from latentbo.bo import CampaignConfig
from latentbo.bo.acquisition import make_proposer


def test_sobol_points_fill_the_box_without_a_model() -> None:
    """No GP needed; the points cover the box (every octant of a 3-d box gets one of 8
    Sobol points: a stratification random uniform points rarely have), seeded."""
    bounds = torch.tensor([[-2.0, 0.0, 10.0], [2.0, 1.0, 12.0]], dtype=torch.float64)
    proposer = make_proposer("random", 3, CampaignConfig())
    assert not proposer.uses_model
    cand = proposer.propose(None, torch.empty(0, 3), torch.empty(0), bounds, 8, seed=0)
    octants = {tuple((c > bounds.mean(0)).tolist()) for c in cand}
    assert len(octants) == 8
    torch.testing.assert_close(proposer.propose(None, torch.empty(0, 3), torch.empty(0), bounds, 8, seed=0), cand)
    assert not torch.equal(proposer.propose(None, torch.empty(0, 3), torch.empty(0), bounds, 8, seed=1), cand)
