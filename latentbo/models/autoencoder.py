"""Autoencoder = encoder + decoder + regulariser, over a codec; save and load.

A saved model is a folder: ``config.toml`` (resolved config), ``meta.json`` (codec
spec with the grammar fingerprint, seed, versions, optional ex-post GMM) and
``model.safetensors`` (weights). Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save
from torch import Tensor, nn

import latentbo
from latentbo.codecs import Codec, codec_from_spec
from latentbo.errors import CheckpointError, ConfigError, LatentboError
from latentbo.io import atomic_write_bytes, atomic_write_text
from latentbo.models.config import ModelConfig
from latentbo.models.regularizers import make_regularizer
from latentbo.models.sequence import DECODERS, ConvEncoder


def fit_gmm(codes: Tensor, components: int = 10, seed: int = 0) -> dict[str, Any]:
    """Full-covariance GMM fitted on ``N x d`` codes (sklearn), as plain lists so it
    can be stored in JSON."""
    from sklearn.mixture import GaussianMixture

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

    def train_step(self, batch: Tensor, opt: torch.optim.Optimizer,
                   autocast: torch.dtype | None = None) -> dict[str, float]:
        """One optimiser step on ``batch`` (the forward pass under autocast to that
        dtype, if given); returns every loss term as a float."""
        with torch.autocast(batch.device.type, dtype=autocast, enabled=autocast is not None):
            terms = self.loss(batch)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
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
        """Fit a full-covariance GMM on training codes (RAE's ex-post density)."""
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

        logits = decode(z)
        mask = self.codec.target_mask(indices)
        masked = logits.masked_fill(~mask, -1e9)
        ce = F.cross_entropy(masked.reshape(-1, masked.shape[-1]).float(), indices.reshape(-1).long(), reduction="none")
        recon = ce.view(indices.shape).sum(1).mean()
        terms = self.regularised(recon, self.config.recon_weight, z, stats, decode)
        with torch.no_grad():
            right = masked.argmax(-1) == indices
            token_acc = (right & real).sum() / real.sum().clamp_min(1)
            seq_acc = right.all(1).float().mean()
        return {**terms, "token_acc": token_acc, "seq_acc": seq_acc}

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

        def teacher(rows: np.ndarray, ids: Tensor) -> Tensor:
            # Only up to the first padding step after the longest derivation: a fixed
            # point never reads the (zero) scores after it, or its ids would go on there.
            used = (ids != self.codec.pad_index).any(0).nonzero()
            t = min(ids.shape[1], int(used.max()) + 2 if len(used) else 1)
            logits = self.decoder(z[torch.from_numpy(rows).to(z.device)], ids[:, :t].to(z.device)).float()
            return F.pad(logits, (0, 0, 0, ids.shape[1] - t))

        return self.codec.decode_steps(start, len(z), stochastic, generator, teacher)

# -- persistence ------------------------------------------------------------------
def save_model(model: SequenceAutoencoder, directory: str | Path, name: str = "model") -> None:
    """Write ``config.toml``, ``meta.json`` and ``<name>.safetensors`` atomically."""
    directory = Path(directory)
    atomic_write_text(directory / "config.toml", model.config.to_toml())
    meta = {
        "latentbo_version": latentbo.__version__,
        "codec": model.codec.spec(),
        "seed": model.config.seed,
        "expost_gmm": model.expost_gmm,
    }
    atomic_write_text(directory / "meta.json", json.dumps(meta, indent=2))
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write_bytes(directory / f"{name}.safetensors", st_save(state))


def load_model(directory: str | Path, name: str = "model") -> SequenceAutoencoder:
    """Rebuild a saved model.

    Args:
        directory: the model folder, or the name of a pretrained model
            (:mod:`latentbo.models.zoo`; its fp16 weights load as fp32).
        name: which weights: ``model`` (best) or ``last``.

    Raises:
        CheckpointError: missing or corrupt files, a grammar changed since training,
            or weights that do not fit the config.
    """
    from latentbo.models.zoo import resolve_model

    directory = resolve_model(directory)
    for fname in ("config.toml", "meta.json", f"{name}.safetensors"):
        if not (directory / fname).is_file():
            raise CheckpointError(f"{directory} is not a saved latentbo model: {fname} is missing")
    try:
        config = ModelConfig.from_dict(ModelConfig.from_toml(directory / "config.toml"))
        meta = json.loads((directory / "meta.json").read_text())
        codec = codec_from_spec(meta["codec"])
    except CheckpointError:
        raise
    except (LatentboError, ValueError, KeyError, TypeError) as exc:  # ValueError: bad JSON or not UTF-8
        raise CheckpointError(f"{directory}: unreadable config/meta: {exc}") from exc
    model = SequenceAutoencoder(config, codec)
    try:
        state = st_load((directory / f"{name}.safetensors").read_bytes())
        model.load_state_dict(state)
    except (SafetensorError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{directory / (name + '.safetensors')} is corrupt or does not match config.toml: {exc}") from exc
    model.expost_gmm = checked_gmm(meta.get("expost_gmm"), config.latent_dim, directory / "meta.json")
    model.eval()
    return model
