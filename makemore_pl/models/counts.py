"""The lecture's counting model: the n-gram table of counts N, smoothed, normalised by rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from makemore_pl.data.records import Batch
from makemore_pl.errors import UsageError
from makemore_pl.models.ngram import NGramModel

TABLES = ("counts", "label_counts")  # the count buffers, which stay float64 on the CPU


class CountNGram(NGramModel):
    def __init__(
        self,
        vocab: list[str],
        context: int = 1,
        smoothing: float = 1.0,
        backoff: float | None = None,
        **kwargs: Any,
    ) -> None:
        """The lecture's counting model: ``P = (N + smoothing) / (N + smoothing).sum(1)``, fitted by counting.

        "Training" adds up the (context, next) pairs of the training batches into the count
        buffer N, which the checkpoint keeps. There is no optimizer and nothing to learn
        twice: each epoch counts afresh, so one epoch is enough and more change nothing. It runs
        on one process: DDP synchronises parameters, and counting has none.

        A labelled model also counts each label's pairs, ``N_l``, and backs off to the pooled
        table P above: ``P_l = (N_l + backoff * P) / (N_l.sum(1) + backoff)``. A label's context
        never seen is the pooled row; one seen often is the label's own (see docs/labels.md).

        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            context: How many previous characters pick a row of N; linked from the data.
            smoothing: The count added to every cell of N (the lecture's ``N + 1`` is 1; 0 is none).
            backoff: For labelled words: how many counts the pooled row weighs in a label's row. Null:
                ``smoothing * vocab_size``, the counts that smoothing adds to a row, so a label's row is
                smoothed as the pooled one is, towards the pooled row instead of towards uniform.
            **kwargs: The labels: see ``LanguageModel``.
        """
        super().__init__(vocab, context, **kwargs)
        if smoothing < 0:
            raise UsageError(f"--model.smoothing must be >= 0, got {smoothing}")
        if backoff is not None and backoff < 0:
            raise UsageError(f"--model.backoff must be >= 0 (or null), got {backoff}")
        self.smoothing = smoothing
        self.backoff = smoothing * self.vocab_size if backoff is None else backoff
        self.automatic_optimization = False  # counting needs no optimizer
        # float64: the NLL is then exact to the printed digits (the notebook summed in float32).
        # The table stays on the CPU (see ``_apply``): only the rows a batch picks travel.
        self.register_buffer("counts", torch.zeros(self.num_rows, self.vocab_size, dtype=torch.float64))
        if self.labels is not None:  # N_l, beside the pooled N (their sum), which sampling and the Dashboard read
            shape = (self.num_labels, self.num_rows, self.vocab_size)
            self.register_buffer("label_counts", torch.zeros(shape, dtype=torch.float64))
        # The tables of a fine-tuned checkpoint (--init_from), by name: each epoch adds the new words' to them.
        self.prior_counts: dict[str, Tensor] = {}

    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> CountNGram:
        # ``.to(device)``, ``.half()`` and the like all go through here. Apple's MPS has no
        # float64, and the lecture's figures need it: whatever the model is moved or cast to,
        # the count table stays a float64 table on the CPU, where counting it takes milliseconds.
        tables = {name: self._buffers.pop(name) for name in TABLES if name in self._buffers}
        try:
            return super()._apply(fn, recurse)
        finally:
            self._buffers.update(tables)

    def logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        # The rows are picked on the CPU, where the table is, and travel as float32: the NLL is
        # taken in float32 anyway (``LanguageModel.nll``), on any device.
        rows = self.rows(x).cpu()
        picked = self.logits_table()[rows] if label is None else self.label_logits(label.cpu(), rows)
        return picked.to(x.device, torch.float32)

    def label_logits(self, label: Tensor, rows: Tensor) -> Tensor:
        # Only the rows asked for: a label's table is its counts plus ``backoff`` times the pooled row.
        own, pooled = self.label_counts[label, rows], self.logits_table()[rows].exp()
        totals = own.sum(-1, keepdim=True)
        smoothed = (own + self.backoff * pooled) / (totals + self.backoff).clamp_min(1e-300)
        # A row with no counts and no back-off (backoff 0) is the pooled row too.
        return torch.where(totals + self.backoff > 0, smoothed, pooled).log()

    def logits_table(self) -> Tensor:
        smoothed = self.counts + self.smoothing
        totals = smoothed.sum(1, keepdim=True)
        # A context never seen (possible only without smoothing) predicts uniformly.
        probs = torch.where(totals > 0, smoothed / totals.clamp_min(1e-300), 1.0 / self.vocab_size)
        return probs.log()

    def count(self, batch: Batch) -> None:
        """Add the batch's (context, next) examples to the table, and to their labels' tables."""
        x, y, count = batch.x, batch.y, batch.count
        rows, y, count = self.rows(x).cpu(), y.cpu(), count.cpu().double()
        self.counts.index_put_((rows, y), count, accumulate=True)
        if batch.labels is not None:
            self.label_counts.index_put_((batch.labels.ids.cpu(), rows, y), count, accumulate=True)

    def table_nll(self) -> Tensor:
        """The NLL of the counted examples themselves: -sum(N * log P) / sum(N), exact in float64.

        For a labelled model, each example under its own label's table: -sum(N_l * log P_l) / sum(N).
        """
        if self.labels is None:
            counts, log_probs = self.counts, self.logits_table()
        else:
            labels, rows = torch.arange(self.num_labels)[:, None], torch.arange(self.num_rows)[None, :]
            counts, log_probs = self.label_counts, self.label_logits(labels, rows)
        return -(counts * log_probs.masked_fill(counts == 0, 0.0)).sum() / counts.sum()

    def on_train_epoch_start(self) -> None:
        for name in TABLES:
            if name in self._buffers:
                prior = self.prior_counts.get(name)
                if prior is None:
                    self._buffers[name].zero_()
                else:
                    self._buffers[name].copy_(prior)

    def training_step(self, batch: Batch, batch_idx: int) -> None:
        self.count(batch)

    def on_train_epoch_end(self) -> None:
        self.log("train/nll", self.table_nll(), prog_bar=True)
        self.log("train/examples", self.counts.sum())

    def configure_optimizers(self) -> Any:
        return None
