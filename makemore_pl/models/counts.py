"""The lecture's counting model: the n-gram table of counts N, smoothed, normalised by rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from makemore_pl.data.batches import Batch
from makemore_pl.errors import UsageError
from makemore_pl.models.ngram import NGramModel


class CountNGram(NGramModel):
    def __init__(self, vocab: list[str], context: int = 1, smoothing: float = 1.0, **kwargs: Any) -> None:
        """The lecture's counting model: ``P = (N + smoothing) / (N + smoothing).sum(1)``, fitted by counting.

        "Training" adds up the (context, next) pairs of the training batches into the count
        buffer N, which the checkpoint keeps. There is no optimizer and nothing to learn
        twice: each epoch counts afresh, so one epoch is enough and more change nothing. It runs
        on one process: DDP synchronises parameters, and counting has none.

        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            context: How many previous characters pick a row of N; linked from the data.
            smoothing: The count added to every cell of N (the lecture's ``N + 1`` is 1; 0 is none).
            **kwargs: Sampling options: see ``LanguageModel``.
        """
        super().__init__(vocab, context, **kwargs)
        if smoothing < 0:
            raise UsageError(f"--model.smoothing must be >= 0, got {smoothing}")
        self.smoothing = smoothing
        self.automatic_optimization = False  # counting needs no optimizer
        # float64: the NLL is then exact to the printed digits (the notebook summed in float32).
        # The table stays on the CPU (see ``_apply``): only the rows a batch picks travel.
        self.register_buffer("counts", torch.zeros(self.num_rows, self.vocab_size, dtype=torch.float64))

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> CountNGram:
        # ``.to(device)``, ``.half()`` and the like all go through here. Apple's MPS has no
        # float64, and the lecture's figures need it: whatever the model is moved or cast to,
        # the count table stays a float64 table on the CPU, where counting it takes milliseconds.
        counts = self._buffers.pop("counts")
        try:
            return super()._apply(fn, recurse)
        finally:
            self._buffers["counts"] = counts

    def logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        # The rows are picked on the CPU, where the table is, and travel as float32: the NLL is
        # taken in float32 anyway (``LanguageModel.nll``), on any device.
        return self.logits_table()[self.rows(x).cpu()].to(x.device, torch.float32)

    def logits_table(self) -> Tensor:
        smoothed = self.counts + self.smoothing
        totals = smoothed.sum(1, keepdim=True)
        # A context never seen (possible only without smoothing) predicts uniformly.
        probs = torch.where(totals > 0, smoothed / totals.clamp_min(1e-300), 1.0 / self.vocab_size)
        return probs.log()

    def count(self, batch: Batch) -> None:
        """Add the batch's (context, next) examples to the table."""
        x, y, count, _ = batch
        self.counts.index_put_((self.rows(x).cpu(), y.cpu()), count.cpu().double(), accumulate=True)

    def table_nll(self) -> Tensor:
        """The NLL of the counted examples themselves: -sum(N * log P) / sum(N), exact in float64."""
        log_probs = self.logits_table().masked_fill(self.counts == 0, 0.0)
        return -(self.counts * log_probs).sum() / self.counts.sum()

    def on_train_epoch_start(self) -> None:
        self.counts.zero_()

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        self.count(batch)

    def on_train_epoch_end(self) -> None:
        self.log("train/nll", self.table_nll(), prog_bar=True)
        self.log("train/examples", self.counts.sum())

    def configure_optimizers(self) -> Any:
        return None
