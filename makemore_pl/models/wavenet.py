"""Lecture 5: a WaveNet-like hierarchy that fuses consecutive pairs of characters, level by level."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from makemore_pl.errors import UsageError
from makemore_pl.models.embedding import CharacterNetwork, TokenEmbedding
from makemore_pl.models.network import WindowModel


class FusePairs(nn.Module):
    """One level of the tree: join consecutive pairs, then linear, BatchNorm, tanh: ``(n, t, c) -> (n, t/2, h)``."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.linear = nn.Linear(2 * channels, hidden, bias=False)  # BatchNorm's shift makes a bias redundant
        self.norm = nn.BatchNorm1d(hidden)
        self.tanh = nn.Tanh()  # a module, not torch.tanh: hooks (the diagnostics) can see its output

    def forward(self, x: Tensor) -> Tensor:
        n, t, c = x.shape
        x = self.linear(x.reshape(n, t // 2, 2 * c))  # the lecture's FlattenConsecutive(2), as a view
        # BatchNorm1d normalises dimension 1: put the channels there, so the statistics are
        # taken over the batch and the positions together (the lecture's fix in section 5).
        x = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return self.tanh(x)


class WaveNet(WindowModel):
    def __init__(
        self,
        vocab: list[str],
        context: int = 8,
        embedding: int = 24,
        hidden: int = 128,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Embed the last ``context`` characters, then fuse consecutive pairs until one vector is left, then logits.

        ``context`` 8 gives the lecture's three levels: 8 -> 4 -> 2 -> 1 positions.

        Args:
            vocab: The tokens, boundary first; linked from the data.
            context: How many previous characters the network reads: a power of 2; linked from
                ``--data.context``.
            embedding: Size of each character's embedding (the lecture's 24).
            hidden: Units of every level (the lecture's 128).
            dropout: Dropout before the output layer, while training.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, context, **kwargs)
        if context < 2 or context & (context - 1):
            raise UsageError(f"--data.context must be a power of 2 (2, 4, 8, 16, ...) for WaveNet, got {context}")
        if min(embedding, hidden) < 1:
            raise UsageError(f"--model.embedding and --model.hidden must be at least 1, got {embedding}, {hidden}")
        self.embedding, self.hidden, self.dropout = embedding, hidden, dropout
        self.network = self.build_network()

    def build_network(self) -> nn.Module:
        levels = self.context.bit_length() - 1
        fuse = [FusePairs(self.embedding if level == 0 else self.hidden, self.hidden) for level in range(levels)]
        output = nn.Linear(self.hidden, self.vocab_size)
        with torch.no_grad():
            output.weight.mul_(0.1)  # the lecture's: a less confident first guess
        return CharacterNetwork(
            TokenEmbedding(self.vocab_size, self.embedding, self.num_labels),
            *fuse,
            nn.Flatten(),
            nn.Dropout(self.dropout),
            output,
        )
