"""The lecture's neural n-gram: one weight matrix W, whose rows are the logits of the next character."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from lightning.pytorch.cli import OptimizerCallable
from torch import Tensor

from makemore_pl.data.records import Batch
from makemore_pl.errors import UsageError
from makemore_pl.models.ngram import NGramModel


def adam(params: Iterable) -> torch.optim.Optimizer:
    """Adam with lr 0.5: within 1e-3 nats of the optimum in about 70 full-batch steps."""
    return torch.optim.Adam(params, lr=0.5)


class NeuralNGram(NGramModel):
    def __init__(
        self,
        vocab: list[str],
        context: int = 1,
        l2: float = 0.01,
        init_seed: int = 2147483647,
        optimizer: OptimizerCallable = adam,
        **kwargs: Any,
    ) -> None:
        """The lecture's neural bigram (context 1) or n-gram: ``logits = W[x]``, trained by gradient descent.

        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            context: How many previous characters index a row of W; linked from the data.
            l2: Weight of the regulariser ``mean(W**2)`` added to the NLL (the lecture uses 0.01):
                it pulls W towards uniform rows, like smoothing the counts.
            init_seed: Seed of the ``torch.Generator`` that draws W from ``randn``, as the lecture does.
            optimizer: The optimizer, as ``class_path``/``init_args``.
            **kwargs: The labels: see ``LanguageModel``.
        """
        super().__init__(vocab, context, **kwargs)
        if l2 < 0:
            raise UsageError(f"--model.l2 must be >= 0, got {l2}")
        self.l2, self.optimizer = l2, optimizer
        generator = torch.Generator().manual_seed(init_seed)
        self.W = torch.nn.Parameter(torch.randn(self.num_rows, self.vocab_size, generator=generator))
        if self.labels is not None:
            # Each label's departure from W, from zero: a labelled model starts as the unlabelled one.
            self.D = torch.nn.Parameter(torch.zeros(self.num_labels, self.num_rows, self.vocab_size))

    def logits_table(self) -> Tensor:
        return self.W  # NGramModel.logits indexes its rows: W[x], the lecture's one-hot @ W

    def label_logits(self, label: Tensor, rows: Tensor) -> Tensor:
        return self.W[rows] + self.D[label, rows]

    def objective(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The loss that training minimises, NLL + l2 * mean(W**2) (+ mean(D**2) with labels), and the NLL alone."""
        nll = self.nll(batch)
        loss = nll + self.l2 * (self.W**2).mean()
        if self.labels is not None:
            # The same penalty on D, pulling each label's rows towards W's: a mean over L times more
            # entries, each fed by about 1/L of the data, so it weighs on them as mean(W**2) on W.
            loss = loss + self.l2 * (self.D**2).mean()
        return loss, nll

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer(self.parameters())
