"""A GPT-style decoder (Vaswani et al. 2017; Radford et al. 2019): causal self-attention and MLP blocks."""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from makemore_pl.errors import UsageError
from makemore_pl.models.embedding import TokenEmbedding
from makemore_pl.models.network import SequenceModel
from makemore_pl.sampling.decoders import Decoder, Stepping, take


class KeysAndValues:
    """One block's keys and values at every position fed so far: what a new position's query attends to.

    Both are ``(n, heads, positions, head width)``, allocated for ``positions`` (the network's
    block size) at the first step, in the dtype the projection gives (bfloat16 under autocast),
    and written one position per step: no copy of the past per character.
    """

    def __init__(self, positions: int) -> None:
        self.positions, self.length = positions, 0
        self.keys: Tensor | None = None
        self.values: Tensor | None = None

    def extend(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Append the keys and values ``(n, heads, t, head width)`` of new positions; every position's so far."""
        if self.keys is None or self.values is None:
            n, heads, _, size = k.shape
            self.keys, self.values = (k.new_empty(n, heads, self.positions, size) for _ in range(2))
        end = self.length + k.shape[2]
        self.keys[:, :, self.length : end], self.values[:, :, self.length : end] = k, v
        self.length = end
        return self.keys[:, :, :end], self.values[:, :, :end]

    def keep(self, rows: Tensor) -> None:
        self.keys, self.values = take(self.keys, rows), take(self.values, rows)


class CausalSelfAttention(nn.Module):
    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        # A module, though the fused kernel applies it: what changes dropout (LateDropout) finds it.
        self.attention_dropout = nn.Dropout(dropout)
        self.qkv = nn.Linear(width, 3 * width)
        self.projection = nn.Linear(width, width)
        self.residual_dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, cache: KeysAndValues | None = None) -> Tensor:
        """Attention over ``x`` ``(n, t, width)``; with a ``cache``, ``x`` is one new position after the cached ones."""
        n, t, c = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        dropout = self.attention_dropout.p if self.training else 0.0
        if cache is None:
            # The fused kernel (flash attention where there is one) applies the causal mask itself.
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout)
        else:
            # A single new query may see every key so far: nothing to mask. (is_causal would align
            # its mask to the top left, hiding all keys but the first.) Several new positions go
            # only into an empty cache (a prompt): then the mask is the square causal one.
            fresh = cache.length == 0
            k, v = cache.extend(k, v)
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=fresh and t > 1)
        return self.residual_dropout(self.projection(y.transpose(1, 2).reshape(n, t, c)))


class Block(nn.Module):
    """Pre-LayerNorm residual block: ``x + attention(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, width: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln_attention = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads, dropout)
        self.ln_mlp = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Linear(4 * width, width), nn.Dropout(dropout)
        )

    def forward(self, x: Tensor, cache: KeysAndValues | None = None) -> Tensor:
        x = x + self.attention(self.ln_attention(x), cache)
        return x + self.mlp(self.ln_mlp(x))


class TransformerNetwork(nn.Module):
    def __init__(
        self,
        vocab_size: int,
        block_size: int,
        width: int,
        layers: int,
        heads: int,
        dropout: float,
        num_labels: int = 0,
        init: Literal["fan_in", "gpt2"] = "fan_in",
    ) -> None:
        super().__init__()
        self.tokens = TokenEmbedding(vocab_size, width, num_labels)
        self.positions = nn.Embedding(block_size, width)
        self.dropout = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*(Block(width, heads, dropout) for _ in range(layers)))
        self.ln_final = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab_size, bias=False)
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02 if init == "gpt2" else _fan_in_std(module))
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        if self.tokens.labels is not None:
            nn.init.zeros_(self.tokens.labels.weight)  # start as the unlabelled network (see ``embedding``)
        if init == "gpt2":
            for block in self.blocks:
                # GPT-2: each residual branch adds to the stream, so its output starts 1/sqrt(2 * layers) smaller.
                for projection in (block.attention.projection, block.mlp[2]):
                    nn.init.normal_(projection.weight, std=0.02 / math.sqrt(2 * layers))

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        return self.read(self.hidden(x, label))

    def hidden(self, x: Tensor, label: Tensor | None = None, caches: list[KeysAndValues] | None = None) -> Tensor:
        """The residual stream after the last block at every position of ``x`` ``(n, t)``.

        With ``caches`` (one per block), ``x`` is one new position of every word, after those the
        caches hold: its position embedding is the number of positions before it.
        """
        start = 0 if caches is None else caches[0].length
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        h = self.dropout(self.tokens(x, label) + self.positions(positions))
        for block, cache in zip(self.blocks, caches or [None] * len(self.blocks)):
            h = block(h, cache)
        return h

    def read(self, h: Tensor) -> Tensor:
        """The logits from the residual stream."""
        return self.head(self.ln_final(h))


def _fan_in_std(module: nn.Linear | nn.Embedding) -> float:
    """Unit scale: an embedding's rows N(0, 1), a matrix N(0, 1 / fan_in), so each output starts near unit variance."""
    return 1.0 if isinstance(module, nn.Embedding) else module.in_features**-0.5


class CachedDecoder(Stepping):
    """Carries every block's keys and values (a KV cache): a new character is one position through the network."""

    def __init__(self, network: TransformerNetwork, n: int, label: Tensor | None = None) -> None:
        self.network = network
        self.caches = [KeysAndValues(network.positions.num_embeddings) for _ in network.blocks]
        super().__init__(n, label, network.head.weight.device)

    def step(self, x: Tensor) -> Tensor:
        return self.network.hidden(x, self.label, self.caches)[:, -1]

    def read(self, output: Tensor) -> Tensor:
        return self.network.read(output)

    def keep_state(self, rows: Tensor) -> None:
        for cache in self.caches:
            cache.keep(rows)


class Transformer(SequenceModel):
    def __init__(
        self,
        vocab: list[str],
        block_size: int = 16,
        width: int = 64,
        layers: int = 4,
        heads: int = 4,
        dropout: float = 0.0,
        init: Literal["fan_in", "gpt2"] = "fan_in",
        **kwargs: Any,
    ) -> None:
        """Token and position embeddings, ``layers`` blocks of causal self-attention and MLP, LayerNorm, logits.

        makemore.py's default is 4 layers, 4 heads, width 64.

        Args:
            vocab: The tokens, boundary first; linked from the data.
            block_size: Positions of the longest word, linked from the data: the position table's size.
            width: Size of the embeddings and the residual stream (makemore.py's ``n_embd``).
            layers: Blocks stacked.
            heads: Attention heads per block; they split ``width`` between them.
            dropout: Dropout on attention weights, residual branches and embeddings, while training.
            init: The starting weights. ``fan_in``: embeddings N(0, 1) and every matrix N(0, 1/fan_in),
                so each layer starts at unit scale; at width 64 it learns faster per step than ``gpt2``
                (docs/transformer_start.md). ``gpt2``: GPT-2's N(0, 0.02) everywhere, its residual
                projections 1/sqrt(2 * layers) smaller, a scale chosen for width 768.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, block_size, **kwargs)
        if min(width, layers, heads) < 1 or width % heads:
            raise UsageError(
                f"--model.width must be a multiple of --model.heads, and --model.layers at least 1; got width "
                f"{width}, heads {heads}, layers {layers}"
            )
        if init not in ("fan_in", "gpt2"):
            raise UsageError(f"--model.init must be fan_in or gpt2, got {init!r}")
        self.width, self.layers, self.heads, self.dropout, self.init = width, layers, heads, dropout, init
        self.network = self.build_network()

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        return CachedDecoder(self.network, n, label)

    def build_network(self) -> nn.Module:
        return TransformerNetwork(
            self.vocab_size,
            self.block_size,
            self.width,
            self.layers,
            self.heads,
            self.dropout,
            self.num_labels,
            self.init,
        )
