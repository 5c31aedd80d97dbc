"""The character embedding every network starts with, and the label that conditions it.

A labelled model adds a learned vector per label to every character's embedding, at every
position: each prediction sees the label, in every family, with one small table. The table starts
at zero, so a labelled network starts as the unlabelled one and learns how each label departs from it.
"""

from __future__ import annotations

from torch import Tensor, nn


class TokenEmbedding(nn.Embedding):
    """``nn.Embedding`` of the characters, plus a label embedding (``labels``) when there are labels."""

    def __init__(self, vocab_size: int, width: int, num_labels: int = 0) -> None:
        super().__init__(vocab_size, width)
        self.labels = nn.Embedding(num_labels, width) if num_labels else None
        if self.labels is not None:
            nn.init.zeros_(self.labels.weight)

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        h = super().forward(x)  # (n, positions, width)
        if label is not None and self.labels is not None:
            h = h + self.labels(label)[:, None]
        return h


class CharacterNetwork(nn.Sequential):
    """``nn.Sequential`` starting with a ``TokenEmbedding``, which alone of its layers reads the label."""

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        layers = iter(self)
        h = next(layers)(x, label)
        for layer in layers:
            h = layer(h)
        return h
