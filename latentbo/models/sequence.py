"""Sequence encoder and decoders for one-hot token/production sequences.

Shapes: inputs ``N x L x V`` one-hot, codes ``N x d``, logits ``N x L x V``.

Every decoder is called as ``decoder(z, targets)`` with the ``N x T`` target ids
(``T <= L``) and returns ``N x T x V`` logits; ``targets=None`` means all ``L``
positions. Two class attributes say what a decoder may be given:

* ``causal``: position ``t`` depends on no later position, so a batch can be cut to
  its longest sequence (``T < L``) without changing the first ``T`` logits;
* ``autoregressive``: it reads the targets (teacher forcing) and decodes step by step
  (:meth:`ARDecoder.start` / :meth:`ARDecoder.step`); the others only use ``T``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from latentbo.errors import ConfigError


class ConvEncoder(nn.Module):
    """The Grammar VAE's encoder: Conv1d stack (optional batch norm), ReLU, flatten,
    dense hidden layer. Outputs ``N x hidden`` features; the latent heads live in
    the autoencoder.

    Args:
        length: L.
        vocab: V.
        channels: filters per Conv1d layer.
        kernels: kernel size per layer.
        hidden: width of the dense layer.
        batch_norm: add BatchNorm1d after each convolution.
    """

    def __init__(self, length: int, vocab: int, channels: Sequence[int], kernels: Sequence[int], hidden: int,
                 batch_norm: bool = False) -> None:
        super().__init__()
        if len(channels) != len(kernels):
            raise ConfigError("encoder conv_channels and conv_kernels must have the same length")
        layers: list[nn.Module] = []
        c_in, out_len = vocab, length
        for c, k in zip(channels, kernels):
            layers.append(nn.Conv1d(c_in, c, k))
            if batch_norm:
                layers.append(nn.BatchNorm1d(c))
            layers.append(nn.ReLU())
            c_in, out_len = c, out_len - k + 1
        if out_len < 1:
            raise ConfigError(f"conv kernels {list(kernels)} are too long for sequence length {length}")
        self.convs = nn.Sequential(*layers)
        self.dense = nn.Sequential(nn.Flatten(), nn.Linear(c_in * out_len, hidden), nn.ReLU())
        self.out_features = hidden

    def forward(self, x: Tensor) -> Tensor:
        return self.dense(self.convs(x.transpose(1, 2)))


class GRUDecoder(nn.Module):
    """The Grammar VAE's decoder: dense layer on z, repeated over L steps, a stack
    of GRUs, a dense layer to V logits per step."""

    causal, autoregressive = True, False

    def __init__(self, latent_dim: int, length: int, vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.length = length
        self.inp = nn.Sequential(nn.Linear(latent_dim, latent_dim), nn.ReLU())
        self.gru = nn.GRU(latent_dim, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, vocab)

    def forward(self, z: Tensor, targets: Tensor | None = None) -> Tensor:
        steps = self.length if targets is None else targets.shape[1]
        h = self.inp(z).unsqueeze(1).expand(-1, steps, -1)
        y, _ = self.gru(h.contiguous())
        return self.out(y)


class PositionalDecoder(nn.Module):
    """Fast non-recurrent decoder: every position is a learned query embedding plus
    a projection of z, refined by a few Transformer-encoder layers (self-attention
    lets positions agree on one derivation), then a dense layer to V logits.

    Why this is fast: the Grammar VAE's GRU decoder is not autoregressive either
    (it sees z repeated at every step), so nothing is lost by replacing the
    sequential recurrence with attention that runs all L positions in parallel;
    at L = 277, 3 x GRU(501) costs ~1.2 GFLOP per sample, this ~0.2.
    """

    heads = 4  # attention heads; the width must be a multiple of it
    causal, autoregressive = False, False  # every position attends to all L: never cut

    def __init__(self, latent_dim: int, length: int, vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.pos = nn.Parameter(0.02 * torch.randn(length, hidden))
        self.inp = nn.Sequential(nn.Linear(latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        layer = nn.TransformerEncoderLayer(hidden, self.heads, 2 * hidden, dropout=0.0, batch_first=True, norm_first=True)
        self.body = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, vocab))

    def forward(self, z: Tensor, targets: Tensor | None = None) -> Tensor:
        if targets is not None and targets.shape[1] != self.pos.shape[0]:
            raise ConfigError("the fast decoder's positions attend to each other: it decodes all L positions")
        h = self.pos.unsqueeze(0) + self.inp(z).unsqueeze(1)
        return self.out(self.body(h))


class _KV:
    """One block's keys and values (``rows x heads x T x W/heads``) of the positions
    decoded so far. The time axis grows by doubling and finished rows are dropped only
    once half the rows are done, so a decode of ``L`` steps copies ``O(L)`` entries per
    row instead of the ``O(L^2)`` of concatenating every step."""

    def __init__(self) -> None:
        self.k: Tensor | None = None
        self.v: Tensor | None = None

    def append(self, k: Tensor, v: Tensor, t: int) -> tuple[Tensor, Tensor]:
        """Store position ``t``'s ``rows x heads x 1 x W/heads`` keys/values; returns
        those of positions ``0..t``."""
        if self.k is None or t == self.k.shape[2]:
            grown = [x.new_empty(x.shape[0], x.shape[1], max(16, 2 * t), x.shape[3]) for x in (k, v)]
            if self.k is not None:
                grown[0][:, :, :t], grown[1][:, :, :t] = self.k, self.v
            self.k, self.v = grown
        self.k[:, :, t : t + 1], self.v[:, :, t : t + 1] = k, v
        return self.k[:, :, : t + 1], self.v[:, :, : t + 1]

    def select(self, rows: Tensor, t: int) -> None:
        if self.k is not None:
            self.k, self.v = self.k[rows, :, :t].clone(), self.v[rows, :, :t].clone()


class _CausalBlock(nn.Module):
    """Pre-norm Transformer block with causal self-attention; :meth:`extend` runs one
    new position against a key/value cache."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 2 * width), nn.GELU(), nn.Linear(2 * width, width))

    def _qkv(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        n, t, w = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(n, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
        return q, k, v

    def _rest(self, x: Tensor, y: Tensor) -> Tensor:
        n, t, w = x.shape
        x = x + self.proj(y.transpose(1, 2).reshape(n, t, w))
        return x + self.mlp(self.ln2(x))

    def forward(self, x: Tensor) -> Tensor:
        """``N x T x W`` -> ``N x T x W``, position ``t`` attending to ``0..t``."""
        q, k, v = self._qkv(x)
        return self._rest(x, F.scaled_dot_product_attention(q, k, v, is_causal=x.shape[1] > 1))

    def extend(self, x: Tensor, kv: _KV, t: int) -> Tensor:
        """``N x 1 x W`` (position ``t``) -> ``N x 1 x W``, attending to the cached
        positions and itself."""
        q, k, v = self._qkv(x)
        k, v = kv.append(k, v, t)
        return self._rest(x, F.scaled_dot_product_attention(q, k, v))


class ARCache:
    """What :meth:`ARDecoder.step` carries between steps: the projected codes
    (``B x W``) and each block's keys/values for ``B`` rows, of which ``live`` (the
    rows still decoding, in the caller's order; ``None`` for all) are returned."""

    def __init__(self, cond: Tensor, layers: int) -> None:
        self.cond = cond
        self.kv = [_KV() for _ in range(layers)]
        self.live: Tensor | None = None
        self.t = 0

    def keep(self, rows: Tensor) -> None:
        """Keep only ``rows`` (positions among the live rows) of the decode. Finished
        rows stay in the batch (their steps are wasted) until half the rows are done."""
        live = rows if self.live is None else self.live[rows]
        if 2 * len(live) > len(self.cond):
            self.live = live
            return
        self.cond, self.live = self.cond[live], None
        for kv in self.kv:
            kv.select(live, self.t)


class ARDecoder(nn.Module):
    """Autoregressive decoder: a causal Transformer over the id sequence, each input
    the previous id's embedding plus its position plus a projection of z; trained by
    teacher forcing, decoded one step at a time with cached keys/values (the codec
    chooses each id under its masks and feeds it back: :meth:`start`, :meth:`step`).

    Unlike ``gru`` and ``fast``, each step sees what was already chosen, so a decode
    can stay consistent with its own prefix instead of guessing all L ids at once.
    """

    heads = 4
    causal, autoregressive = True, True

    def __init__(self, latent_dim: int, length: int, vocab: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.tok = nn.Embedding(vocab + 1, hidden)  # id ``vocab`` is the start symbol
        self.pos = nn.Parameter(0.02 * torch.randn(length, hidden))
        self.inp = nn.Sequential(nn.Linear(latent_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.blocks = nn.ModuleList(_CausalBlock(hidden, self.heads) for _ in range(layers))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, vocab))

    def forward(self, z: Tensor, targets: Tensor | None = None) -> Tensor:
        """Teacher-forced ``N x T x V`` logits: position ``t`` sees ``targets[:, :t]``."""
        if targets is None:
            raise ConfigError("the ar decoder reads its targets (teacher forcing); decode with start()/step()")
        n, t = targets.shape
        prev = torch.cat([targets.new_full((n, 1), self.vocab), targets[:, :-1]], 1).long()
        h = self.tok(prev) + self.pos[:t] + self.inp(z).unsqueeze(1)
        for block in self.blocks:
            h = block(h)
        return self.out(h)

    def start(self, z: Tensor) -> ARCache:
        """A cache for decoding ``N x d`` codes from the first position."""
        return ARCache(self.inp(z), len(self.blocks))

    def step(self, cache: ARCache, prev: Tensor | None) -> Tensor:
        """Logits (``N x V``) of the next position for the cache's live rows, given the
        ids they chose at the previous step (``None`` at the first)."""
        ids = torch.full((len(cache.cond),), self.vocab, dtype=torch.long, device=cache.cond.device)
        if prev is not None:
            ids[slice(None) if cache.live is None else cache.live] = prev.long()
        h = (self.tok(ids) + self.pos[cache.t] + cache.cond).unsqueeze(1)
        for block, kv in zip(self.blocks, cache.kv):
            h = block.extend(h, kv, cache.t)
        cache.t += 1
        logits = self.out(h[:, 0])
        return logits if cache.live is None else logits[cache.live]


DECODERS: dict[str, Callable[..., nn.Module]] = {"gru": GRUDecoder, "fast": PositionalDecoder, "ar": ARDecoder}
