"""makemore.py's bag of words: each position reads the average of the embeddings up to it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from makemore_pl.errors import UsageError
from makemore_pl.models.embedding import TokenEmbedding
from makemore_pl.models.network import SequenceModel
from makemore_pl.sampling.decoders import Decoder, Stepping, take


class CausalAverage(nn.Module):
    """Position t becomes the mean of positions 0..t: a cumulative sum over a count, no T x T mask."""

    def forward(self, x: Tensor) -> Tensor:
        counts = torch.arange(1, x.shape[1] + 1, device=x.device, dtype=x.dtype)
        return x.cumsum(1) / counts[:, None]


class BoWBlock(nn.Module):
    """Add the causal average, then a tanh MLP, each as a residual."""

    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.average = CausalAverage()
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.Tanh(), nn.Linear(hidden, width), nn.Dropout(dropout))

    def forward(self, x: Tensor) -> Tensor:
        return self.mix(x, self.average(x))

    def mix(self, x: Tensor, average: Tensor) -> Tensor:
        """The block's output from its input ``x`` and the causal ``average`` of it."""
        x = x + average
        return x + self.mlp(x)


class BoWNetwork(nn.Module):
    def __init__(
        self, vocab_size: int, block_size: int, width: int, hidden: int, dropout: float, num_labels: int = 0
    ) -> None:
        super().__init__()
        self.tokens = TokenEmbedding(vocab_size, width, num_labels)
        self.positions = nn.Embedding(block_size, width)
        self.block = BoWBlock(width, hidden, dropout)
        self.head = nn.Linear(width, vocab_size)

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        return self.head(self.block(self.embed(x, label)))

    def embed(self, x: Tensor, label: Tensor | None = None, start: int = 0) -> Tensor:
        """The block's input: token and position embeddings of ``x`` ``(n, t)``, its first position ``start``."""
        positions = torch.arange(start, start + x.shape[1], device=x.device)
        return self.tokens(x, label) + self.positions(positions)


class RunningAverageDecoder(Stepping):
    """Carries the running sum of the block's input: the causal average costs one addition per character."""

    def __init__(self, network: BoWNetwork, n: int, label: Tensor | None = None) -> None:
        self.network = network
        self.total: Tensor | None = None  # the sum of the block's inputs so far, (n, width)
        self.count = 0  # the positions summed, the boundary included
        super().__init__(n, label, network.head.weight.device)

    def step(self, x: Tensor) -> Tensor:
        h = self.network.embed(x, self.label, start=self.count)[:, -1]  # (n, width)
        self.total = h if self.total is None else self.total + h
        self.count += 1
        # Divided by the count as CausalAverage divides its cumulative sum: the same numbers.
        return self.network.block.mix(h, self.total / self.count)

    def read(self, output: Tensor) -> Tensor:
        return self.network.head(output)

    def keep_state(self, rows: Tensor) -> None:
        self.total = take(self.total, rows)


class BoW(SequenceModel):
    def __init__(
        self,
        vocab: list[str],
        block_size: int = 16,
        width: int = 64,
        hidden: int = 64,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Token and position embeddings, one block that adds the average of the positions so far, logits.

        Args:
            vocab: The tokens, boundary first; linked from the data.
            block_size: Positions of the longest word, linked from the data.
            width: Size of the embeddings and of the block (makemore.py's ``n_embd``).
            hidden: Units of the block's tanh MLP (makemore.py's ``n_embd2``).
            dropout: Dropout on the block's MLP output, while training.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, block_size, **kwargs)
        if min(width, hidden) < 1:
            raise UsageError(f"--model.width and --model.hidden must be at least 1, got {width}, {hidden}")
        self.width, self.hidden, self.dropout = width, hidden, dropout
        self.network = self.build_network()

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        return RunningAverageDecoder(self.network, n, label)

    def build_network(self) -> nn.Module:
        return BoWNetwork(self.vocab_size, self.block_size, self.width, self.hidden, self.dropout, self.num_labels)
