"""The math of every regulariser, checked against references or known minima."""

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from latentbo.errors import ConfigError
from latentbo.models.priors import GaussianPrior, GMMPrior
from latentbo.models.regularizers import (
    REGULARIZERS,
    WELBO,
    cv_loss,
    imq_mmd,
    ks_loss,
    make_regularizer,
    mode_mean_loss,
)
from latentbo.testing import RegularizerContract

gen = torch.Generator().manual_seed(0)


class TestEveryRegularizer(RegularizerContract):
    """Every registered regulariser keeps the shipped contract."""

    @pytest.fixture(autouse=True, params=sorted(REGULARIZERS))
    def _each(self, request: pytest.FixtureRequest) -> None:
        self.name = request.param


def test_registry_has_all() -> None:
    assert set(REGULARIZERS) >= {"vae", "cvvae", "rae", "wae_mmd", "gmm_dae", "welbo", "edvae", "gmvae", "two_stage"}
    with pytest.raises(ConfigError, match="unknown regulariser"):
        make_regularizer("nope", 4)
    with pytest.raises(ConfigError, match="no parameter"):
        make_regularizer("vae", 4, {"betta": 1})


def test_vae_kl_matches_torch_distributions() -> None:
    mu, raw = torch.randn(32, 5, generator=gen), torch.randn(32, 5, generator=gen)
    for reduction in ("mean", "sum"):
        reg = make_regularizer("vae", 5, {"kl_reduction": reduction, "beta": 2.0})
        _, stats = reg.posterior(mu, raw)
        ref = kl_divergence(Normal(mu, torch.exp(0.5 * raw)), Normal(0.0, 1.0))
        ref = ref.mean(1) if reduction == "mean" else ref.sum(1)
        terms = reg.loss(mu, stats)
        torch.testing.assert_close(terms["kl"], ref.mean())
        torch.testing.assert_close(terms["reg"], 2.0 * ref.mean())


def test_posterior_noise_only_in_training() -> None:
    reg = make_regularizer("vae", 3, {"noise_std": 1.0})
    mu, raw = torch.zeros(1000, 3), torch.zeros(1000, 3)
    z, _ = reg.posterior(mu, raw)
    assert 0.9 < float(z.std()) < 1.1
    reg.eval()
    assert torch.equal(reg.posterior(mu, raw)[0], mu)


def test_cvvae_fixed_sigma_and_embedding() -> None:
    reg = make_regularizer("cvvae", 2, {"sigma": 0.7})
    mu = torch.zeros(20_000, 2)
    z, stats = reg.posterior(mu, None)
    assert abs(float(z.std()) - 0.7) < 0.02
    assert float(reg.loss(z, {"mu": torch.ones(4, 2)})["embedding"]) == pytest.approx(1.0)


def test_ks_zero_at_exact_quantiles_and_grows_with_shift() -> None:
    n = 200
    q = torch.special.ndtri(torch.arange(1, n + 1) / (n + 1)).unsqueeze(1).repeat(1, 3)
    prior = GaussianPrior(3)
    # at the quantiles the gap is only the i/N vs i/(N+1) offset
    assert float(ks_loss(q, prior.cdf)) < 1e-4
    assert float(ks_loss(q + 1.0, prior.cdf)) > 50 * float(ks_loss(q, prior.cdf))


def test_gmm_dae_losses_minimal_on_prior_samples() -> None:
    reg = make_regularizer("gmm_dae", 10, {"modes": 10, "sigma": 0.5, "batch_size": 200})
    prior = reg.prior
    on_prior = [reg.loss(prior.sample(200, gen), {}) for _ in range(20)]
    # the calibration makes lambda * mean loss on prior batches = 1 for each term
    ks = torch.stack([t["ks"] for t in on_prior]).mean() * reg.lambda_ks
    cv = torch.stack([t["cv"] for t in on_prior]).mean() * reg.lambda_cv
    assert 0.7 < float(ks) < 1.4 and 0.7 < float(cv) < 1.4
    z = prior.sample(200, gen)
    shifted = reg.loss(z + 1.0, {})
    mixed = torch.randn(10, 10, generator=gen)
    correlated = reg.loss(z @ mixed, {})
    assert float(shifted["ks"] * reg.lambda_ks) > 10
    assert float(correlated["cv"] * reg.lambda_cv) > 10


def test_cv_loss_formula() -> None:
    z = torch.tensor([[1.0, 0.0], [-1.0, 0.0], [0.0, 2.0], [0.0, -2.0]])
    # biased covariance = diag(0.5, 2)
    assert float(cv_loss(z, torch.zeros(2, 2))) == pytest.approx((0.25 + 4) / 4)
    assert float(cv_loss(z, torch.diag(torch.tensor([0.5, 2.0])))) == pytest.approx(0.0)


def test_gmm_prior_covariance_formula() -> None:
    prior = GMMPrior(torch.tensor([[1.0, 0.0], [-1.0, 0.0]]), sigma=0.5)
    torch.testing.assert_close(prior.covariance(), torch.tensor([[1.25, 0.0], [0.0, 0.25]]))


def test_welbo_w2_matches_numeric_estimate() -> None:
    reg = make_regularizer("welbo", 4)
    mu = torch.tensor([[0.5, -1.0, 0.0, 2.0]])
    raw = torch.tensor([[0.0, 1.0, -1.0, 2.0]])
    _, stats = reg.posterior(mu, raw)
    sigma = stats["sigma"][0]
    assert (sigma <= 1).all()
    closed = float(reg.loss(mu, stats)["w2"])
    # W2 between 1-D distributions = L2 distance of quantile functions (sorted samples)
    n = 400_000
    eps = torch.randn(n, 4, generator=gen)
    a, _ = torch.sort(mu[0] + sigma * eps, dim=0)
    b, _ = torch.sort(torch.randn(n, 4, generator=gen), dim=0)
    numeric = float(((a - b) ** 2).mean(0).sum())
    assert closed == pytest.approx(numeric, rel=0.02)


def test_welbo_schedule() -> None:
    assert WELBO.schedule_beta(0.0, 1.0) == pytest.approx(1 / (1 + math.e) - 1)
    assert WELBO.schedule_beta(0.0, -1.0) == pytest.approx(1 / (1 + math.exp(-1)))
    reg = make_regularizer("welbo", 2)
    for _ in range(5):  # W2 persistently above KL -> lambda decreases
        reg.after_epoch({"w2": 5.0, "kl": 1.0})
    assert 0.75 < float(reg.lam) < 1.0
    state = reg.log_state()
    assert state["T"] == pytest.approx(4.0) and state["lambda"] == float(reg.lam)
    reg2 = make_regularizer("welbo", 2)
    for _ in range(5):  # W2 below KL -> lambda increases
        reg2.after_epoch({"w2": 1.0, "kl": 3.0})
    assert 1.0 < float(reg2.lam) < 1.25


@pytest.mark.parametrize(("w2", "kl", "bound"), [(5.0, 1.0, 0.1), (1.0, 3.0, 10.0)])
def test_welbo_lambda_stays_within_bounds(w2: float, kl: float, bound: float) -> None:
    """The unbounded schedule drove lambda to 0 and then up without limit (the
    diverged H100 run); the clip holds it at lambda_min / lambda_max."""
    reg = make_regularizer("welbo", 2)
    for _ in range(1000):
        reg.after_epoch({"w2": w2, "kl": kl})
    assert float(reg.lam) == pytest.approx(bound)


def test_welbo_rejects_inconsistent_bounds() -> None:
    with pytest.raises(ConfigError, match="lambda_min <= lambda0"):
        make_regularizer("welbo", 2, {"lambda0": 20.0})


def test_imq_mmd_small_for_same_distribution() -> None:
    x, y = torch.randn(300, 4, generator=gen), torch.randn(300, 4, generator=gen)
    same = float(imq_mmd(x, y, 1.0))
    shifted = float(imq_mmd(x + 1.5, y, 1.0))
    assert abs(same) < 0.01 and shifted > 10 * max(abs(same), 1e-3)
    reg = make_regularizer("wae_mmd", 4, {"lam": 3.0})
    terms = reg.loss(x + 1.5, {})
    assert float(terms["reg"]) == pytest.approx(3.0 * float(terms["mmd"]))


def test_edvae_estimators() -> None:
    reg = make_regularizer("edvae", 2)
    n = 64
    # far-apart tight posteriors: InfoNCE reaches its log N ceiling
    mu = 100 * torch.randn(n, 2, generator=gen)
    raw = torch.full((n, 2), -10.0)
    z, stats = reg.posterior(mu, raw)
    terms = reg.loss(z, stats)
    assert float(terms["infonce"]) == pytest.approx(math.log(n), abs=1e-3)
    # identical posteriors: no information
    mu0 = torch.zeros(n, 2)
    z0, stats0 = reg.posterior(mu0, torch.zeros(n, 2))
    assert abs(float(reg.loss(z0, stats0)["infonce"])) < 1e-5
    # cross-entropy against N(0, I) is the Monte-Carlo -E log p(z)
    ce = float(reg.loss(z0, stats0)["cross_entropy"])
    assert ce == pytest.approx(float(-GaussianPrior(2).log_prob(z0).mean()))
    gmm = make_regularizer("edvae", 2, {"prior": "gmm", "modes": 2})
    assert isinstance(gmm.prior, GMMPrior)


def test_rae_decoder_penalties() -> None:
    dec = torch.nn.Linear(3, 5)
    l2 = make_regularizer("rae", 3, {"decoder_reg": "l2", "decoder_weight": 0.5})
    expected = 0.5 * sum(float((p.detach() ** 2).sum()) for p in dec.parameters())
    assert float(l2.decoder_penalty(dec, torch.zeros(2, 3), dec)) == pytest.approx(expected, rel=1e-5)
    gp = make_regularizer("rae", 3, {"decoder_reg": "gp", "decoder_weight": 1.0})
    # linear decoder: ||J||_F^2 = ||W||_F^2, the probe estimate is unbiased
    est = torch.stack([gp.decoder_penalty(dec, torch.zeros(1, 3), dec) for _ in range(3000)]).mean()
    assert float(est) == pytest.approx(float((dec.weight**2).sum()), rel=0.1)
    with pytest.raises(ConfigError):
        make_regularizer("rae", 3, {"decoder_reg": "l1"})


def test_gmvae_monte_carlo_kl_matches_closed_form_for_one_mode() -> None:
    # One mode at e_1 with sigma 1: the mixture prior is N(e_1, I), whose KL has a closed form.
    reg = make_regularizer("gmvae", 3, {"modes": 1, "sigma": 1.0})
    reg.train()
    mu = torch.tensor([[0.3, -0.2, 0.5]]).repeat(20_000, 1)
    raw = torch.log(torch.tensor([[0.4, 0.9, 1.5]]) ** 2).repeat(20_000, 1)
    z, stats = reg.posterior(mu, raw)
    mc = float(reg.loss(z, stats)["kl"])
    exact = float(kl_divergence(Normal(mu[0], stats["sigma"][0]), Normal(torch.tensor([1.0, 0, 0]), 1.0)).sum())
    assert mc == pytest.approx(exact, abs=0.03)


def test_two_stage_sampler_learns_the_code_distribution() -> None:
    reg = make_regularizer("two_stage", 2, {"stage2_epochs": 60, "hidden": 32})
    with pytest.raises(ConfigError, match="not fitted"):
        reg.prior.sample(4)
    g = torch.Generator().manual_seed(1)
    codes = torch.tensor([2.0, -1.0]) + torch.randn(2000, 2, generator=g) * torch.tensor([0.5, 1.5])
    reg.fit_sampler(codes, seed=0)
    s = reg.prior.sample(4000, torch.Generator().manual_seed(2))
    assert torch.allclose(s.mean(0), torch.tensor([2.0, -1.0]), atol=0.25)
    # One isotropic decoder scale gamma: the low-variance direction is over-spread, within 30%.
    assert torch.allclose(s.std(0), torch.tensor([0.5, 1.5]), rtol=0.3)
    # The sampler depends on (codes, seed) only, and leaves the global RNG alone.
    torch.manual_seed(123)
    again = make_regularizer("two_stage", 2, {"stage2_epochs": 60, "hidden": 32})
    state = torch.get_rng_state()
    again.fit_sampler(codes, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(again.prior.sample(4000, torch.Generator().manual_seed(2)), s)


def test_gmm_dae_weights_eq10_or_fixed() -> None:
    eq10 = make_regularizer("gmm_dae", 4)
    # eq. 10: each weight is 1 / the term's mean on samples of the prior itself
    assert float(eq10.lambda_ks) > 10 and float(eq10.lambda_cv) > 10
    fixed = make_regularizer("gmm_dae", 4, {"weights": "fixed", "lambda_ks": 2.0, "lambda_cv": 0.5})
    z = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    terms = fixed.loss(z, {})
    torch.testing.assert_close(terms["reg"], 2.0 * terms["ks"] + 0.5 * terms["cv"])
    with pytest.raises(ConfigError, match="'eq10' or 'fixed'"):
        make_regularizer("gmm_dae", 4, {"weights": "adaptive"})


def test_mode_mean_loss_known_answers() -> None:
    means = 3.0 * torch.eye(3)
    # two codes at each of modes 0 and 2, their centres off by (0.2, -0.1, 0) and (0, 0, 0.4); mode 1 absent
    z = torch.stack([means[0] + torch.tensor([0.1, -0.1, 0.0]), means[0] + torch.tensor([0.3, -0.1, 0.0]),
                     means[2] + torch.tensor([0.0, 0.0, 0.3]), means[2] + torch.tensor([0.0, 0.0, 0.5])])
    z.requires_grad_(True)
    loss = mode_mean_loss(z, means)
    torch.testing.assert_close(loss, torch.tensor((0.2**2 + 0.1**2 + 0.4**2) / 2))
    loss.backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0
    assert float(mode_mean_loss(means.clone(), means)) == 0.0


def test_gmm_dae_mode_means_term() -> None:
    plain = make_regularizer("gmm_dae", 4, {"modes": 4, "scale": 3.0})
    assert "lambda_mm" not in plain.state_dict() and "mm" not in plain.loss(torch.randn(8, 4), {})
    reg = make_regularizer("gmm_dae", 4, {"modes": 4, "scale": 3.0, "mode_means": True})
    g = torch.Generator().manual_seed(0)
    on_prior = torch.stack([reg.loss(reg.prior.sample(100, g), {})["mm"] for _ in range(20)]).mean()
    # eq. 10 makes the term 1 on average over batches (of 100) of the prior's own samples
    assert 0.8 < float(reg.lambda_mm * on_prior) < 1.25
    # moving every mode's cloud off its centre by 0.8 costs 0.64 more than the prior's own noise
    off = reg.loss(reg.prior.sample(100, g) + torch.tensor([0.0, 0.0, 0.0, 0.8]), {})
    assert float(off["mm"]) > float(on_prior) + 0.4
    torch.testing.assert_close(off["reg"], reg.lambda_ks * off["ks"] + reg.lambda_cv * off["cv"] +
                               reg.lambda_mm * off["mm"])
    fixed = make_regularizer("gmm_dae", 4, {"mode_means": True, "weights": "fixed", "lambda_mm": 2.5})
    assert float(fixed.lambda_mm) == 2.5
