"""Lectures 2 and 3: the MLP of Bengio et al. (2003), and the same with Kaiming init and BatchNorm."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from makemore_pl.errors import UsageError
from makemore_pl.models.embedding import CharacterNetwork, TokenEmbedding
from makemore_pl.models.network import WindowModel

TANH_GAIN = 5 / 3  # lecture 3: tanh squashes, so Kaiming's init scales it back up by this


class MLP(WindowModel):
    def __init__(
        self,
        vocab: list[str],
        context: int = 3,
        embedding: int = 10,
        hidden: int = 200,
        batch_norm: bool = False,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Embed each of the last ``context`` characters (table C), concatenate, one tanh hidden layer, logits.

        With ``batch_norm`` it is lecture 3's network: the hidden linear layer has no bias and
        is followed by ``BatchNorm1d``, weights are Kaiming-initialised for tanh (gain 5/3), and
        the output layer starts near zero, so the first loss is about log(vocab_size).

        Args:
            vocab: The tokens, boundary first; linked from the data.
            context: How many previous characters the network reads (the lecture's ``block_size``);
                linked from ``--data.context``.
            embedding: Size of each character's embedding (the lecture's 10; 2 to plot them).
            hidden: Units of the tanh hidden layer.
            batch_norm: Lecture 3: BatchNorm after the hidden linear layer, and its initialisation.
            dropout: Dropout on the hidden layer's output, while training.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, context, **kwargs)
        if min(embedding, hidden) < 1:
            raise UsageError(f"--model.embedding and --model.hidden must be at least 1, got {embedding}, {hidden}")
        self.embedding, self.hidden, self.batch_norm, self.dropout = embedding, hidden, batch_norm, dropout
        self.network = self.build_network()

    def build_network(self) -> nn.Module:
        layers: list[nn.Module] = [
            TokenEmbedding(self.vocab_size, self.embedding, self.num_labels),
            nn.Flatten(),  # (n, context, embedding) -> (n, context * embedding): the concatenation
            nn.Linear(self.context * self.embedding, self.hidden, bias=not self.batch_norm),
        ]
        if self.batch_norm:
            layers.append(nn.BatchNorm1d(self.hidden))
        layers += [nn.Tanh(), nn.Dropout(self.dropout), nn.Linear(self.hidden, self.vocab_size)]
        network = CharacterNetwork(*layers)
        if self.batch_norm:
            lecture_three_init(network)
        return network


@torch.no_grad()
def lecture_three_init(network: CharacterNetwork) -> None:
    """Kaiming init for tanh (gain 5/3 over sqrt(fan_in)) on hidden layers, and a near-zero output layer.

    The embedding stays standard normal, as in the lecture. The output layer is scaled down so
    that every character starts about equally likely: a first loss near log(vocab_size).
    """
    linears = [m for m in network if isinstance(m, nn.Linear)]
    for layer in linears[:-1]:
        nn.init.normal_(layer.weight, std=TANH_GAIN / layer.in_features**0.5)
    output = linears[-1]
    nn.init.normal_(output.weight, std=0.01)
    nn.init.zeros_(output.bias)
