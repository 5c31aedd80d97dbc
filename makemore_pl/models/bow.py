"""makemore.py's bag of words: each position reads the average of the embeddings up to it."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from makemore_pl.errors import UsageError
from makemore_pl.models.embedding import TokenEmbedding
from makemore_pl.models.network import SequenceModel


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
        x = x + self.average(x)
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
        positions = torch.arange(x.shape[1], device=x.device)
        return self.head(self.block(self.tokens(x, label) + self.positions(positions)))


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
            **kwargs: Training and sampling options: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, block_size, **kwargs)
        if min(width, hidden) < 1:
            raise UsageError(f"--model.width and --model.hidden must be at least 1, got {width}, {hidden}")
        self.width, self.hidden, self.dropout = width, hidden, dropout
        self.network = self.build_network()

    def build_network(self) -> nn.Module:
        return BoWNetwork(self.vocab_size, self.block_size, self.width, self.hidden, self.dropout, self.num_labels)
