"""Autoencoder = encoder + decoder + regulariser: what every model shares
(:class:`LatentModel`) and the sequence autoencoder over a codec. Saving and loading:
:mod:`latentbo.models.checkpoint`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentbo.codecs import Codec
from latentbo.errors import CheckpointError, ConfigError
from latentbo.models.config import ModelConfig
from latentbo.models.regularizers import make_regularizer
from latentbo.models.sequence import DECODERS, ConvEncoder


# EM on every code of a large training set (1.4M MOSES molecules x 56) takes many
# minutes; 10 full 56 x 56 covariances need far fewer codes (10,000 per component).
GMM_MAX_CODES = 100_000


def fit_gmm(codes: Tensor, components: int = 10, seed: int = 0, max_codes: int = GMM_MAX_CODES) -> dict[str, Any]:
    """Full-covariance GMM fitted on ``N x d`` codes (sklearn), as plain lists so it
    can be stored in JSON; on ``max_codes`` of them drawn with ``seed`` when ``N`` is
    larger."""
    from sklearn.mixture import GaussianMixture

    if len(codes) > max_codes:
        codes = codes[torch.randperm(len(codes), generator=torch.Generator().manual_seed(seed))[:max_codes]]
    gmm = GaussianMixture(components, covariance_type="full", random_state=seed, reg_covar=1e-4)
    gmm.fit(codes.double().numpy())
    return {"weights": gmm.weights_.tolist(), "means": gmm.means_.tolist(), "covariances": gmm.covariances_.tolist()}


def checked_gmm(gmm: Any, dim: int, source: Path) -> dict[str, Any] | None:
    """A stored GMM (or ``None``) after checking it is one :func:`sample_gmm` can use:
    K weights summing to 1, ``K x d`` means, ``K x d x d`` positive-definite covariances.

    Raises:
        CheckpointError: naming ``source`` and what is wrong.
    """
    if gmm is None:
        return None
    try:
        w, mu, cov = (np.asarray(gmm[k], dtype=float) for k in ("weights", "means", "covariances"))
        k = len(w)
        ok = (w.shape == (k,) and k > 0 and mu.shape == (k, dim) and cov.shape == (k, dim, dim)
              and np.isfinite(w).all() and (w >= 0).all() and abs(w.sum() - 1) < 1e-6
              and np.isfinite(mu).all() and np.isfinite(cov).all())
        if ok:
            np.linalg.cholesky(cov)
    except (KeyError, TypeError, ValueError, np.linalg.LinAlgError) as exc:
        raise CheckpointError(f"{source}: malformed expost_gmm ({type(exc).__name__}: {exc})") from None
    if not ok:
        raise CheckpointError(f"{source}: malformed expost_gmm: expected K weights summing to 1, K x {dim} means and "
                              f"K x {dim} x {dim} covariances, all finite")
    return gmm


def sample_gmm(gmm: dict[str, Any], n: int, generator: torch.Generator | None = None) -> Tensor:
    """``n x d`` draws from a GMM made by :func:`fit_gmm`."""
    comp = torch.multinomial(torch.tensor(gmm["weights"]), n, replacement=True, generator=generator)
    chol = torch.linalg.cholesky(torch.tensor(gmm["covariances"]))
    means = torch.tensor(gmm["means"])
    eps = torch.randn(n, means.shape[1], generator=generator, dtype=means.dtype)
    return means[comp] + (chol[comp] @ eps.unsqueeze(-1)).squeeze(-1)


class LatentModel(nn.Module):
    """What every autoencoder shares, whatever its data: the latent heads on the
    encoder's features, a regulariser (with its prior), the regularised loss, the
    optimiser step, and sampling from the prior or an ex-post GMM.

    Subclasses set ``self.config`` (with ``latent_dim``, ``regularizer``,
    ``reg_params``), ``self.encoder`` and ``self.decoder``, and call
    :meth:`init_latent` once the encoder's feature width is known.
    """

    config: Any
    encoder: nn.Module
    decoder: nn.Module

    def init_latent(self, features: int) -> None:
        """Build the regulariser and the mean (and, if stochastic, variance) heads."""
        d = self.config.latent_dim
        self.regularizer = make_regularizer(self.config.regularizer, d, self.config.reg_params)
        self.mu_head = nn.Linear(features, d)
        self.var_head = nn.Linear(features, d) if self.regularizer.stochastic else None
        self.expost_gmm: dict[str, Any] | None = None

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode_stats(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Encoder input -> (``N x d`` means, ``N x d`` raw variance head or None)."""
        h = self.encoder(x)
        return self.mu_head(h), (self.var_head(h) if self.var_head is not None else None)

    def train_step(self, batch: Tensor, opt: torch.optim.Optimizer, autocast: torch.dtype | None = None,
                   grad_clip: float = 0.0) -> dict[str, float]:
        """One optimiser step on ``batch`` (the forward pass under autocast to that
        dtype, if given; the gradient's norm clipped to ``grad_clip`` when it is > 0);
        returns every loss term as a float, and ``grad_norm`` (before clipping) when clipped."""
        with torch.autocast(batch.device.type, dtype=autocast, enabled=autocast is not None):
            terms = self.loss(batch)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if grad_clip > 0:
            terms["grad_norm"] = torch.nn.utils.clip_grad_norm_(self.parameters(), grad_clip)
        opt.step()
        return {k: float(v.detach()) for k, v in terms.items()}

    def regularised(self, recon: Tensor, recon_weight: float, z: Tensor, stats: dict[str, Tensor],
                    decode: Any) -> dict[str, Tensor]:
        """``loss = recon_weight * recon + reg (+ decoder penalty)`` with every term by name."""
        terms = self.regularizer.loss(z, stats)
        total = recon_weight * recon + terms["reg"]
        penalty = self.regularizer.decoder_penalty(decode, z, self.decoder)
        if penalty is not None:
            terms["decoder_penalty"] = penalty
            total = total + penalty
        return {"loss": total, "recon": recon, **terms}

    @torch.no_grad()
    def sample_latents(self, n: int, generator: torch.Generator | None = None, expost: bool = False) -> Tensor:
        """``n x d`` draws from the prior, or from the ex-post GMM when asked (and fitted)."""
        if expost:
            if self.expost_gmm is None:
                raise ConfigError("this model has no ex-post GMM; fit one with fit_expost_gmm()")
            return sample_gmm(self.expost_gmm, n, generator)
        return self.regularizer.prior.sample(n, generator)

    def fit_expost_gmm(self, codes: Tensor, components: int = 10, seed: int = 0) -> None:
        """Fit a full-covariance GMM on training codes (RAE's ex-post density; at most
        :data:`GMM_MAX_CODES` of them, drawn with ``seed``)."""
        self.expost_gmm = fit_gmm(codes, components, seed)


class SequenceAutoencoder(LatentModel):
    """A grammar/character sequence autoencoder.

    Args:
        config: sizes, regulariser and its parameters.
        codec: the codec whose ids the model reads and writes (fixes L and V).
    """

    def __init__(self, config: ModelConfig, codec: Codec) -> None:
        super().__init__()
        self.config = config
        self.codec = codec
        length, vocab, d = codec.max_length, codec.vocab_size, config.latent_dim
        self.encoder = ConvEncoder(length, vocab, config.conv_channels, config.conv_kernels, config.hidden,
                                   config.batch_norm)
        self.init_latent(config.hidden)
        self.decoder = DECODERS[config.decoder](d, length, vocab, config.decoder_hidden, config.decoder_layers)

    def decode_logits(self, z: Tensor) -> Tensor:
        """``N x d`` codes -> ``N x L x V`` logits (decoders that are not autoregressive;
        an ``ar`` decoder's logits depend on the ids chosen: see :meth:`decode_latents`)."""
        if self.decoder.autoregressive:
            raise ConfigError("an autoregressive decoder has no logits without ids: decode with decode_latents()")
        return self.decoder(z)

    def loss(self, indices: Tensor) -> dict[str, Tensor]:
        """Training loss on a batch of ``N x L`` ids.

        With a causal decoder and a codec whose padding is forced (grammar), the batch
        is cut to its longest sequence: the positions after it are padding that the
        mask forces (zero loss, always right), so the loss and accuracies are those of
        the full ``L`` while the decoder runs only the steps that matter.

        Returns:
            ``loss`` (total), ``recon`` (masked cross-entropy summed over positions,
            mean over the batch), the regulariser's terms, and the accuracies
            ``token_acc`` (non-padding positions) and ``seq_acc`` (every position
            right, which for the grammar codec equals exact greedy reconstruction;
            teacher-forced for an ``ar`` decoder).
        """
        x = self.codec.one_hot(indices)
        mu, raw = self.encode_stats(x)
        z, stats = self.regularizer.posterior(mu, raw)
        real = indices != self.codec.pad_index
        if self.decoder.causal and self.codec.forced_padding:
            used = real.any(0).nonzero()
            indices = indices[:, : int(used.max()) + 1 if len(used) else 1]
            real = real[:, : indices.shape[1]]

        def decode(codes: Tensor) -> Tensor:
            return self.decoder(codes, indices)

        masked, ce = self._masked_nll(z, indices)
        recon = ce.sum(1).mean()
        terms = self.regularised(recon, self.config.recon_weight, z, stats, decode)
        with torch.no_grad():
            right = masked.argmax(-1) == indices
            token_acc = (right & real).sum() / real.sum().clamp_min(1)
            seq_acc = right.all(1).float().mean()
        return {**terms, "token_acc": token_acc, "seq_acc": seq_acc}

    def _masked_nll(self, z: Tensor, indices: Tensor) -> tuple[Tensor, Tensor]:
        """The decoder's logits for ``N x T`` ids at ``N x d`` codes, with what the codec's
        masks forbid set to -1e9, and each position's cross-entropy (``N x T``)."""
        logits = self.decoder(z, indices)
        masked = logits.masked_fill(~self.codec.target_mask(indices), -1e9)
        ce = F.cross_entropy(masked.reshape(-1, masked.shape[-1]).float(), indices.reshape(-1).long(), reduction="none")
        return masked, ce.view(indices.shape)

    def invert(self, strings: list[str], z: Tensor, steps: int = 30, lr: float = 0.1,
               batch_size: int = 256) -> Tensor:
        """Codes whose decodes carry ``strings``: from ``N x d`` codes ``z`` (their
        encodings), ``steps`` of Adam on the decoder's negative log-likelihood of each
        string, the weights fixed. Returns ``N x d`` codes.

        Raises:
            InvalidInputError: a string the codec cannot encode.
        """
        if len(strings) != len(z):
            raise ConfigError(f"{len(strings)} strings for {len(z)} codes")
        self.eval()
        device = next(self.parameters()).device
        ids = self.codec.encode(strings)
        out = []
        frozen = [p for p in self.parameters() if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            with torch.enable_grad():
                for i in range(0, len(z), batch_size):
                    code = z[i : i + batch_size].detach().float().to(device).requires_grad_(True)
                    target = ids[i : i + batch_size].to(device)
                    opt = torch.optim.Adam([code], lr=lr)
                    for _ in range(steps):
                        opt.zero_grad()
                        self._masked_nll(code, target)[1].sum().backward()
                        opt.step()
                    out.append(code.detach().cpu())
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return torch.cat(out) if out else torch.empty(0, self.latent_dim)

    # -- user-facing operations (eval mode, no grad) ------------------------------
    @torch.no_grad()
    def encode_strings(self, strings: list[str], batch_size: int = 512) -> tuple[Tensor, Any]:
        """Encode strings to latent means, skipping unparsable ones.

        Returns:
            ``(Z, batch)``: ``M x d`` codes of the kept strings and the
            :class:`~latentbo.codecs.EncodedBatch` that says which were skipped.
        """
        self.eval()
        batch = self.codec.encode_many(strings, workers=1)
        idx = torch.from_numpy(batch.indices.astype(np.int64))
        device = next(self.parameters()).device
        out = [self.encode_stats(self.codec.one_hot(idx[i : i + batch_size]).to(device))[0].cpu()
               for i in range(0, len(idx), batch_size)]
        return (torch.cat(out) if out else torch.empty(0, self.latent_dim)), batch

    @torch.no_grad()
    def decode_latents(self, z: Tensor, stochastic: bool = False, generator: torch.Generator | None = None,
                       batch_size: int = 512) -> list[str | None]:
        """``N x d`` codes -> N strings (``None`` = invalid decode)."""
        return self.decode_latents_with_status(z, stochastic, generator, batch_size)[0]

    @torch.no_grad()
    def decode_latents_with_status(self, z: Tensor, stochastic: bool = False,
                                   generator: torch.Generator | None = None,
                                   batch_size: int = 512) -> tuple[list[str | None], list[str]]:
        """:meth:`decode_latents` plus the codec's status of each decode (``ok``,
        ``unfinished``; ``fallback`` / ``dead_end`` with semantic masks)."""
        self.eval()
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ConfigError(f"latent codes must be N x {self.latent_dim}, got {tuple(z.shape)}")
        strings: list[str | None] = []
        status: list[str] = []
        device = next(self.parameters()).device  # logits come back to the CPU, where the codec decodes
        for i in range(0, len(z), batch_size):
            zb = z[i : i + batch_size].float().to(device)
            if self.decoder.autoregressive:
                s, st = self._decode_steps(zb, stochastic, generator)
            else:
                s, st = self.codec.decode_with_status(self.decode_logits(zb).cpu(), stochastic, generator)
            strings += s
            status += st
        return strings, status

    def _decode_steps(self, z: Tensor, stochastic: bool,
                      generator: torch.Generator | None) -> tuple[list[str | None], list[str]]:
        """Step-by-step decode of an ``ar`` decoder under the codec's masks (the codec
        chooses each id; the cache keeps only the rows still decoding)."""
        def start(rows: np.ndarray):
            cache = self.decoder.start(z[torch.from_numpy(rows).to(z.device)])

            def step(keep: np.ndarray | None, prev: Tensor | None) -> Tensor:
                if keep is not None:
                    cache.keep(torch.from_numpy(keep).to(z.device))
                return self.decoder.step(cache, None if prev is None else prev.to(z.device)).float()

            return step

        return self.codec.decode_steps(start, len(z), stochastic, generator)
