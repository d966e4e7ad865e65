"""Latent regularisers, chosen by name from :data:`REGULARIZERS`.

A regulariser sees only latent codes and encoder statistics (never the data
type), so one registry serves the grammar and the image models. It decides

* whether the encoder predicts a variance (``stochastic``) and how a code is drawn
  from the encoder's statistics (:meth:`Regularizer.posterior`),
* the prior (``self.prior``: ``sample`` / ``log_prob``), used for sampling,
* the latent loss terms (:meth:`Regularizer.loss`), returned by name with the
  weighted total under ``"reg"``,
* optional extra terms on the decoder (:meth:`Regularizer.decoder_penalty`, RAE),
* weight schedules, updated once per epoch from the epoch's mean loss terms
  (:meth:`Regularizer.after_epoch`, WELBO).

Adding a regulariser = one class here and one registry line.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import Tensor

from latentbo.errors import ConfigError
from latentbo.models.priors import GaussianPrior, GMMPrior

Stats = dict[str, Tensor]


def _same_kind(value: Any, default: Any) -> bool:
    """Whether a user value fits a parameter with this default (a ``None`` default
    stands for an optional count, e.g. the number of modes)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if default is None:
        return value is None or (isinstance(value, int) and value >= 1)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, type(default))


class Regularizer(torch.nn.Module):
    """Base class. Subclasses set ``name``, ``stochastic``, ``defaults`` and ``loss``.

    Args:
        latent_dim: d.
        **params: overrides of ``defaults``; unknown names raise :class:`ConfigError`.
    """

    name: ClassVar[str]
    stochastic: ClassVar[bool] = False
    defaults: ClassVar[dict[str, Any]] = {}
    #: the validation term that picks the best epoch, steps the LR schedule and stops
    #: early: the total loss, unless a schedule moves the regulariser's weight
    monitor: ClassVar[str] = "loss"

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__()
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise ConfigError(f"regulariser {self.name!r} has no parameter(s) {sorted(unknown)}; known: {self.defaults}")
        for key, value in params.items():
            if not _same_kind(value, self.defaults[key]):
                raise ConfigError(f"{self.name} parameter {key} = {value!r} must be like its default "
                                  f"{self.defaults[key]!r} (a finite number, a whole number, text or true/false)")
        self.latent_dim = latent_dim
        self.params = {**self.defaults, **params}
        self.prior: torch.nn.Module = GaussianPrior(latent_dim)

    def posterior(self, mu: Tensor, raw: Tensor | None) -> tuple[Tensor, Stats]:
        """Draw codes from encoder outputs.

        Args:
            mu: ``N x d`` means.
            raw: ``N x d`` unconstrained variance head (stochastic regularisers only).

        Returns:
            ``(z, stats)``: ``N x d`` codes (the mean in eval mode) and the statistics
            the loss needs (``mu``, and ``sigma`` for stochastic ones).
        """
        return mu, {"mu": mu}

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        raise NotImplementedError

    def decoder_penalty(self, decode: Any, z: Tensor, decoder: torch.nn.Module) -> Tensor | None:
        """Extra loss on the decoder (RAE); ``None`` when the regulariser has none."""
        return None

    def after_epoch(self, means: dict[str, float]) -> None:
        """Hook after each training epoch with the epoch's mean loss terms by name
        (weight schedules; their state lives in buffers, so it is checkpointed)."""

    def fit_sampler(self, codes: Tensor, seed: int = 0) -> None:
        """Hook after training: fit a post-hoc sampler on the ``N x d`` training codes
        (the 2-stage VAE's second stage). Most regularisers have none."""

    def log_state(self) -> dict[str, float]:
        """Scalars worth logging per epoch (schedules, calibrated weights)."""
        return {}


class _Gaussian(Regularizer):
    """Shared reparameterisation: ``z = mu + noise_std * sigma * eps`` in training."""

    stochastic = True

    def sigma(self, raw: Tensor) -> Tensor:
        return torch.exp(0.5 * raw.clamp(-20, 10))

    def posterior(self, mu: Tensor, raw: Tensor | None) -> tuple[Tensor, Stats]:
        sigma = self.sigma(raw)
        z = mu + self.params.get("noise_std", 1.0) * sigma * torch.randn_like(mu) if self.training else mu
        return z, {"mu": mu, "sigma": sigma}


def gaussian_kl(mu: Tensor, sigma: Tensor) -> Tensor:
    """``KL(N(mu, diag sigma^2) || N(0, I))`` per sample and dimension, ``N x d``."""
    return 0.5 * (mu.pow(2) + sigma.pow(2) - 1 - 2 * torch.log(sigma))


class VAE(_Gaussian):
    """Gaussian VAE (GVAE with the grammar codec, CVAE with the character codec).

    ``loss = beta * KL(q(z|x) || N(0, I))`` with
    ``KL = 0.5 * sum_i (mu_i^2 + sigma_i^2 - 1 - log sigma_i^2)``, averaged over
    dimensions (``kl_reduction="mean"``, the Grammar-VAE reference) or summed.
    Defaults follow the Grammar-VAE code: mean over dimensions, posterior noise
    scaled by ``noise_std=0.01``.
    """

    name = "vae"
    defaults = {"beta": 1.0, "kl_reduction": "mean", "noise_std": 0.01}

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        kl = gaussian_kl(stats["mu"], stats["sigma"])
        kl = kl.mean(1) if self.params["kl_reduction"] == "mean" else kl.sum(1)
        kl = kl.mean()
        return {"kl": kl, "reg": self.params["beta"] * kl}


class CVVAE(Regularizer):
    """Constant-variance VAE (GCVVAE): fixed posterior ``sigma`` (0.7 as in the RAE
    paper); the KL reduces to ``0.5 * ||mu||^2`` + const, so
    ``loss = beta * 0.5 * mean_n ||mu_n||^2``."""

    name = "cvvae"
    defaults = {"beta": 1.0, "sigma": 0.7}

    def posterior(self, mu: Tensor, raw: Tensor | None) -> tuple[Tensor, Stats]:
        z = mu + self.params["sigma"] * torch.randn_like(mu) if self.training else mu
        return z, {"mu": mu}

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        emb = 0.5 * stats["mu"].pow(2).sum(1).mean()
        return {"embedding": emb, "reg": self.params["beta"] * emb}


class RAE(Regularizer):
    """Regularised autoencoder (GRAE), deterministic.

    ``loss = beta * 0.5 * mean_n ||z_n||^2`` plus a decoder term: ``"l2"`` adds
    ``decoder_weight * sum ||theta_dec||^2`` (RAE-L2); ``"gp"`` adds
    ``decoder_weight * ||dD(z)/dz||_F^2``, estimated with one Gaussian probe
    ``v``: ``E_v ||J^T v||^2 = ||J||_F^2`` (RAE-GP). Sampling uses an ex-post
    GMM fitted on training codes (see :func:`latentbo.models.autoencoder.fit_expost_gmm`).
    """

    name = "rae"
    defaults = {"beta": 1.0, "decoder_reg": "l2", "decoder_weight": 1e-6}

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__(latent_dim, **params)
        if self.params["decoder_reg"] not in ("l2", "gp"):
            raise ConfigError("rae decoder_reg must be 'l2' or 'gp'")

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        emb = 0.5 * z.pow(2).sum(1).mean()
        return {"embedding": emb, "reg": self.params["beta"] * emb}

    def decoder_penalty(self, decode: Any, z: Tensor, decoder: torch.nn.Module) -> Tensor | None:
        w = self.params["decoder_weight"]
        if self.params["decoder_reg"] == "l2":
            return w * sum(p.pow(2).sum() for p in decoder.parameters())
        z = z.detach().requires_grad_(True)
        out = decode(z)
        (grad,) = torch.autograd.grad((out * torch.randn_like(out)).sum(), z, create_graph=True)
        return w * grad.pow(2).sum(1).mean()


def imq_mmd(x: Tensor, y: Tensor, scale: float) -> Tensor:
    """Unbiased MMD^2 with the inverse multiquadric kernel ``k(a,b) = C / (C + ||a-b||^2)``,
    ``C = 2 d scale^2`` (Tolstikhin et al.)."""
    n, d = x.shape
    c = 2 * d * scale**2
    kxx = c / (c + torch.cdist(x, x).pow(2))
    kyy = c / (c + torch.cdist(y, y).pow(2))
    kxy = c / (c + torch.cdist(x, y).pow(2))
    off = 1 - torch.eye(n, device=x.device)
    return ((kxx * off).sum() + (kyy * off).sum()) / (n * (n - 1)) - 2 * kxy.mean()


class WAEMMD(Regularizer):
    """Wasserstein autoencoder with MMD: ``loss = lam * MMD^2_IMQ(codes, prior samples)``."""

    name = "wae_mmd"
    defaults = {"lam": 10.0, "scale": 1.0}

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        mmd = imq_mmd(z, self.prior.sample(z.shape[0]).to(z), self.params["scale"])
        return {"mmd": mmd, "reg": self.params["lam"] * mmd}


def ks_loss(z: Tensor, cdf: Any) -> Tensor:
    """GMM-DAE KS term: per dimension sort the codes, compare the empirical CDF
    ``i/N`` (i = 1..N) with the model CDF at the sorted points; mean over N x d of
    the squared gap."""
    n = z.shape[0]
    zs, _ = torch.sort(z, dim=0)
    emp = torch.arange(1, n + 1, device=z.device, dtype=z.dtype).unsqueeze(1) / n
    return (cdf(zs) - emp).pow(2).mean()


def cv_loss(z: Tensor, target_cov: Tensor) -> Tensor:
    """GMM-DAE CV term: mean over d x d of (biased empirical covariance - target)^2."""
    centred = z - z.mean(0)
    cov = centred.T @ centred / z.shape[0]
    return (cov - target_cov).pow(2).mean()


def mode_mean_loss(z: Tensor, means: Tensor) -> Tensor:
    """Mode-mean term: each code joins its nearest mode (``means``: ``K x d``); mean over
    the modes present in the batch of ``||mean of its codes - its centre||^2``. KS and CV
    see only the marginals and the covariance, which codes can match with every mode's
    cloud off its centre; this term sees the centres."""
    onehot = torch.nn.functional.one_hot(torch.cdist(z.detach(), means).argmin(1), means.shape[0]).to(z)
    counts = onehot.sum(0)
    present = counts > 0
    centres = onehot.T[present] @ z / counts[present].unsqueeze(1)
    return (centres - means[present]).pow(2).sum(1).mean()


class GMMDAE(Regularizer):
    """GMM-DAE (deterministic), prior ``(1/K) sum_k N(mu_k, sigma^2 I)``.

    ``loss = lambda_KS * KS(z) + lambda_CV * CV(z)`` with :func:`ks_loss` and
    :func:`cv_loss`. The weights follow the paper's eq. 10: before training,
    ``calibration_batches`` batches of ``batch_size`` prior samples are scored and
    ``lambda_KS = 1 / mean KS``, ``lambda_CV = 1 / mean CV``; ``weights = "fixed"``
    uses ``lambda_ks`` and ``lambda_cv`` as given instead (the ablation). ``mode_means``
    adds ``lambda_mm * MM(z)`` (:func:`mode_mean_loss`; not in the paper), weighted by eq. 10
    too, or by ``lambda_mm`` when fixed. ``placement`` puts the
    modes at ``scale * e_k`` (``"onehot"``, the reference) or spreads them
    ``min_distance`` apart (``"spread"``). ``modes`` defaults to ``min(10, d)``.
    """

    name = "gmm_dae"
    defaults = {
        "modes": None, "sigma": 0.5, "placement": "onehot", "scale": 1.0, "min_distance": 2.0, "seed": 0,
        "batch_size": 100, "calibration_batches": 50, "weights": "eq10", "lambda_ks": 1.0, "lambda_cv": 1.0,
        "mode_means": False, "lambda_mm": 1.0,
    }

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__(latent_dim, **params)
        p = self.params
        self.prior = GMMPrior.placed(
            p["modes"] or min(10, latent_dim), latent_dim, p["sigma"], p["placement"], p["scale"], p["min_distance"], p["seed"]
        )
        gen = torch.Generator().manual_seed(p["seed"])
        target = self.prior.covariance()
        samples = [self.prior.sample(p["batch_size"], gen) for _ in range(p["calibration_batches"])]
        ks = torch.stack([ks_loss(s, self.prior.cdf) for s in samples]).mean()
        cv = torch.stack([cv_loss(s, target) for s in samples]).mean()
        if p["weights"] not in ("eq10", "fixed"):
            raise ConfigError(f"gmm_dae weights must be 'eq10' or 'fixed', got {p['weights']!r}")
        fixed = p["weights"] == "fixed"
        self.register_buffer("lambda_ks", torch.tensor(float(p["lambda_ks"])) if fixed else 1.0 / ks)
        self.register_buffer("lambda_cv", torch.tensor(float(p["lambda_cv"])) if fixed else 1.0 / cv)
        if p["mode_means"]:  # a buffer only then: checkpoints without the term load as before
            mm = torch.stack([mode_mean_loss(s, self.prior.means) for s in samples]).mean()
            self.register_buffer("lambda_mm", torch.tensor(float(p["lambda_mm"])) if fixed else 1.0 / mm)

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        ks = ks_loss(z, self.prior.cdf)
        cv = cv_loss(z, self.prior.covariance().to(z))
        terms = {"ks": ks, "cv": cv, "reg": self.lambda_ks * ks + self.lambda_cv * cv}
        if self.params["mode_means"]:
            terms["mm"] = mode_mean_loss(z, self.prior.means.to(z))
            terms["reg"] = terms["reg"] + self.lambda_mm * terms["mm"]
        return terms

    def log_state(self) -> dict[str, float]:
        state = {"lambda_ks": float(self.lambda_ks), "lambda_cv": float(self.lambda_cv)}
        return state | ({"lambda_mm": float(self.lambda_mm)} if self.params["mode_means"] else {})


class WELBO(_Gaussian):
    """Wasserstein-ELBO VAE: posterior std ``sigma = sigmoid(raw)`` (variances <= 1),
    KL replaced by the closed-form 2-Wasserstein distance to ``N(0, I)``:
    ``W2^2 = ||mu||^2 + sum_i (sigma_i - 1)^2``; ``loss = lambda * mean_n W2^2``.

    Schedule, once per epoch t: ``T_t = W2 - KL`` (the epoch's training means). The
    one-step forecast ``T_{t+1}`` comes from Holt's linear exponential smoothing
    (level ``alpha=0.3``, trend ``beta_trend=0.1``). Then
    ``beta = 1/(1 + exp(T_{t+1} - T_t)) - (1 + sign(T_{t+1}))/2`` and
    ``lambda_{t+1} = clip(lambda_t + c * beta, lambda_min, lambda_max)`` (c = 0.05,
    lambda_0 = 1).

    Sources: W2, the Holt forecast and the beta rule from the WELBO paper. Two
    choices are ours, made because the per-step version diverged (H100, 100k
    expressions: lambda hit 0 by epoch 1, the unregularised codes grew to
    ``W2 ~ 400``, then T turned negative, lambda climbed by up to 0.05 a step and
    the codes collapsed at epoch 22, token accuracy 0.78 -> 0.58): the update runs
    per epoch, not per optimiser step (350x fewer moves of at most c each), and
    lambda stays within ``[lambda_min, lambda_max] = [0.1, 10]`` so the penalty
    never vanishes nor dominates.

    Training monitors the reconstruction: the total loss of two epochs weighs the
    penalty by different lambdas, and on the 100k expressions its growth (lambda 0.04
    -> 0.33) stopped the run at epoch 14 while reconstruction still improved.
    """

    name = "welbo"
    monitor = "recon"
    defaults = {"lambda0": 1.0, "c": 0.05, "alpha": 0.3, "beta_trend": 0.1, "noise_std": 1.0,
                "lambda_min": 0.1, "lambda_max": 10.0}

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__(latent_dim, **params)
        p = self.params
        if not 0 <= p["lambda_min"] <= p["lambda0"] <= p["lambda_max"]:
            raise ConfigError(f"welbo needs 0 <= lambda_min <= lambda0 <= lambda_max, got {p['lambda_min']}, "
                              f"{p['lambda0']}, {p['lambda_max']}")
        self.register_buffer("lam", torch.tensor(float(self.params["lambda0"])))
        self.register_buffer("level", torch.tensor(float("nan")))
        self.register_buffer("trend", torch.tensor(0.0))
        self.register_buffer("last_t", torch.tensor(float("nan")))

    def sigma(self, raw: Tensor) -> Tensor:
        return torch.sigmoid(raw).clamp_min(1e-6)

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        mu, sigma = stats["mu"], stats["sigma"]
        w2 = (mu.pow(2).sum(1) + (sigma - 1).pow(2).sum(1)).mean()
        kl = gaussian_kl(mu, sigma).sum(1).mean()
        return {"w2": w2, "kl": kl, "reg": self.lam * w2}

    @torch.no_grad()
    def after_epoch(self, means: dict[str, float]) -> None:
        t = means["w2"] - means["kl"]
        a, b = self.params["alpha"], self.params["beta_trend"]
        if math.isnan(float(self.level)):
            self.level.fill_(t)
        else:
            prev = float(self.level)
            self.level.fill_(a * t + (1 - a) * (prev + float(self.trend)))
            self.trend.fill_(b * (float(self.level) - prev) + (1 - b) * float(self.trend))
        forecast = float(self.level + self.trend)
        beta = self.schedule_beta(t, forecast)
        p = self.params
        self.lam.fill_(min(max(float(self.lam) + p["c"] * beta, p["lambda_min"]), p["lambda_max"]))
        self.last_t.fill_(t)

    @staticmethod
    def schedule_beta(t_now: float, t_next: float) -> float:
        """``1/(1 + exp(T_{t+1} - T_t)) - (1 + sign(T_{t+1}))/2``."""
        gap = max(min(t_next - t_now, 50.0), -50.0)
        sign = (t_next > 0) - (t_next < 0)
        return 1.0 / (1.0 + math.exp(gap)) - (1 + sign) / 2

    def log_state(self) -> dict[str, float]:
        return {"lambda": float(self.lam), "T": float(self.last_t)}


def _diag_gaussian_log_prob_matrix(z: Tensor, mu: Tensor, sigma: Tensor) -> Tensor:
    """``log q(z_i | x_j)`` for all pairs, ``N x N``."""
    u = (z.unsqueeze(1) - mu.unsqueeze(0)) / sigma.unsqueeze(0)
    return (-0.5 * u.pow(2) - torch.log(sigma.unsqueeze(0)) - 0.5 * math.log(2 * math.pi)).sum(-1)


class EDVAE(_Gaussian):
    """ED-VAE (entropy decomposition of the ELBO).

    ``loss = -mi_weight * I_NCE + weight * (H[q(z), p(z)] - H[q(z)])`` (the
    reconstruction term is added by the model). Estimators on a minibatch of N
    codes ``z_i ~ q(z|x_i)``, with the aggregate posterior approximated by the
    minibatch mixture ``q(z) ~ (1/N) sum_j q(z|x_j)``:

    * ``I_NCE = mean_i [log q(z_i|x_i) - log (1/N) sum_j q(z_i|x_j)]`` — InfoNCE
      with critic ``log q(z|x)``, a lower bound on ``I(x; z)`` (at most ``log N``);
    * ``H[q, p] = -mean_i log p(z_i)`` (Monte Carlo cross-entropy);
    * ``H[q] = -mean_i log (1/N) sum_j q(z_i|x_j)`` (minibatch-weighted entropy).

    ``prior="normal"`` or ``"gmm"`` (modes placed as in :class:`GMMDAE`).
    """

    name = "edvae"
    defaults = {"weight": 1.0, "mi_weight": 1.0, "prior": "normal", "modes": None, "sigma": 0.5, "noise_std": 1.0}

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__(latent_dim, **params)
        if self.params["prior"] == "gmm":
            self.prior = GMMPrior.placed(self.params["modes"] or min(10, latent_dim), latent_dim, self.params["sigma"])
        elif self.params["prior"] != "normal":
            raise ConfigError("edvae prior must be 'normal' or 'gmm'")

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        n = z.shape[0]
        logq = _diag_gaussian_log_prob_matrix(z, stats["mu"], stats["sigma"])
        log_agg = torch.logsumexp(logq, dim=1) - math.log(n)
        mi = (logq.diagonal() - log_agg).mean()
        cross_entropy = -self.prior.log_prob(z).mean()
        entropy = -log_agg.mean()
        reg = self.params["weight"] * (cross_entropy - entropy) - self.params["mi_weight"] * mi
        return {"infonce": mi, "cross_entropy": cross_entropy, "entropy": entropy, "reg": reg}


class GMVAE(_Gaussian):
    """Gaussian-mixture-prior VAE: Gaussian posterior, prior the equal-weight GMM of
    :class:`GMMDAE` (same mode placement), ``loss = beta * mean_n [log q(z_n|x_n) -
    log p(z_n)]`` at the reparameterised code: the single-sample Monte-Carlo KL, as
    the mixture KL has no closed form.
    """

    name = "gmvae"
    defaults = {"beta": 1.0, "modes": None, "sigma": 0.5, "placement": "onehot", "scale": 1.0, "min_distance": 2.0,
                "seed": 0, "noise_std": 1.0}

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__(latent_dim, **params)
        p = self.params
        self.prior = GMMPrior.placed(p["modes"] or min(10, latent_dim), latent_dim, p["sigma"], p["placement"],
                                     p["scale"], p["min_distance"], p["seed"])

    def loss(self, z: Tensor, stats: Stats) -> dict[str, Tensor]:
        mu, sigma = stats["mu"], stats["sigma"]
        log_q = (-0.5 * ((z - mu) / sigma).pow(2) - torch.log(sigma) - 0.5 * math.log(2 * math.pi)).sum(1)
        kl = (log_q - self.prior.log_prob(z)).mean()
        return {"kl": kl, "reg": self.params["beta"] * kl}


class SecondStage(torch.nn.Module):
    """The 2-stage VAE's second stage: a small MLP VAE on first-stage codes with a
    learned decoder scale ``gamma`` (Dai & Wipf 2019). Sampling draws
    ``dec(u) + gamma * eps`` with ``u, eps ~ N(0, I)``."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.dim = dim
        self.enc = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.ReLU(), torch.nn.Linear(hidden, 2 * dim))
        self.dec = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, hidden),
                                       torch.nn.ReLU(), torch.nn.Linear(hidden, dim))
        self.log_gamma = torch.nn.Parameter(torch.zeros(()))
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    def loss(self, u: Tensor) -> Tensor:
        mu, raw = self.enc(u).chunk(2, dim=1)
        sigma = torch.exp(0.5 * raw.clamp(-20, 10))
        e = mu + sigma * torch.randn_like(mu)
        gamma = self.log_gamma.exp()
        recon = ((u - self.dec(e)).pow(2).sum(1) / (2 * gamma**2) + self.dim * self.log_gamma).mean()
        return recon + gaussian_kl(mu, sigma).sum(1).mean()

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        if not bool(self.fitted):
            raise ConfigError("the 2-stage VAE's second stage is not fitted yet (it is fitted after training)")
        with torch.no_grad():
            u = torch.randn(n, self.dim, generator=generator).to(self.log_gamma)
            # Draws from the model's density, decoder noise included: where the second
            # stage explains a direction as noise (it does for Gaussian-like codes),
            # the decoder mean alone would collapse it.
            return self.dec(u) + self.log_gamma.exp() * torch.randn(n, self.dim, generator=generator)


class TwoStageVAE(VAE):
    """2-stage VAE: the first stage is :class:`VAE` (KL summed, unit posterior
    noise); after training, :meth:`fit_sampler` trains :class:`SecondStage` on the
    codes, and sampling goes ``N(0, I) -> second-stage decoder -> image decoder``.
    """

    name = "two_stage"
    defaults = {"beta": 1.0, "kl_reduction": "sum", "noise_std": 1.0, "hidden": 256, "stage2_epochs": 50,
                "stage2_lr": 1e-3}

    def __init__(self, latent_dim: int, **params: Any) -> None:
        super().__init__(latent_dim, **params)
        self.prior = SecondStage(latent_dim, self.params["hidden"])

    def fit_sampler(self, codes: Tensor, seed: int = 0) -> None:
        # A fresh second stage from ``seed`` alone: the same codes and seed give the
        # same sampler whatever ran before, and the caller's RNG state is left as it was.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            stage2 = SecondStage(self.latent_dim, self.params["hidden"]).to(codes.device)
            opt = torch.optim.Adam(stage2.parameters(), lr=self.params["stage2_lr"])
            gen = torch.Generator().manual_seed(seed)
            codes = codes.detach()
            with torch.enable_grad():
                for _ in range(self.params["stage2_epochs"]):
                    for idx in torch.randperm(len(codes), generator=gen).split(100):
                        loss = stage2.loss(codes[idx])
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
        stage2.fitted.fill_(True)
        self.prior = stage2


REGULARIZERS: dict[str, type[Regularizer]] = {
    cls.name: cls for cls in (VAE, CVVAE, RAE, WAEMMD, GMMDAE, WELBO, EDVAE, GMVAE, TwoStageVAE)
}


def make_regularizer(name: str, latent_dim: int, params: dict[str, Any] | None = None) -> Regularizer:
    """Instantiate a registered regulariser.

    Raises:
        ConfigError: unknown name or parameter.
    """
    if name not in REGULARIZERS:
        raise ConfigError(f"unknown regulariser {name!r}; known: {sorted(REGULARIZERS)}")
    return REGULARIZERS[name](latent_dim, **(params or {}))
