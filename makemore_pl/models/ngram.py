"""The lecture's n-gram models: a table with one row of logits per context of ``context`` characters."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

from makemore_pl.data.records import COUNTED
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.sampling.decoders import Decoder, Windowed, last_window

# Rows of a table with more entries than this would not fit in memory: refuse them up front.
MAX_TABLE_ENTRIES = 200_000_000


class NGramModel(LanguageModel):
    """A model of the next character given the previous ``context`` characters, as a table.

    A subclass gives ``logits_table()``: one row of logits per context, ``vocab_size ** context``
    rows of ``vocab_size``. It reads counted windows, and samples exactly as the lecture does.
    """

    layout = COUNTED
    # Without constraints, words are drawn one after the other, one character at a time, as the
    # lecture's loop draws them: its seed gives its names (``generate``).
    lecture_sampling: ClassVar[bool] = True

    def __init__(self, vocab: list[str], context: int = 1, **kwargs: Any) -> None:
        """
        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            context: How many previous characters pick a row of the table; linked from the data.
            **kwargs: The labels: see ``LanguageModel``.
        """
        super().__init__(vocab, **kwargs)
        if context < 1:
            raise UsageError(f"--data.context must be at least 1, got {context}")
        self.context = context
        self.num_rows = self.vocab_size**context
        # A labelled model keeps a table per label beside the pooled one.
        entries = (1 + self.num_labels) * self.num_rows * self.vocab_size
        if entries > MAX_TABLE_ENTRIES:
            labelled = f" and {self.num_labels} labels" if self.labels is not None else ""
            raise UsageError(
                f"--data.context {context} with {self.vocab_size} tokens{labelled} needs tables of "
                f"{entries:,} entries; use a smaller context"
            )
        # Positional weights that turn a context (oldest character first) into its row number.
        powers = self.vocab_size ** torch.arange(context - 1, -1, -1)
        self.register_buffer("powers", powers, persistent=False)

    def rows(self, x: Tensor) -> Tensor:
        """The row of the table for each context in ``x`` of shape ``(n, context)``."""
        # A sum of products, not x @ powers: CUDA has no integer matrix multiply.
        return (x * self.powers).sum(1) if self.context > 1 else x[:, 0]

    def logits_table(self) -> Tensor:
        """The pooled table: every label's words together (the only one of an unlabelled model)."""
        raise NotImplementedError

    def label_logits(self, label: Tensor, rows: Tensor) -> Tensor:
        """The logits of rows ``rows`` of the tables of labels ``label`` (broadcast together), for a labelled model."""
        raise NotImplementedError

    def logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        # Row indexing: the lecture's one_hot(x) @ W, without building the one-hot. Without a
        # label, a labelled model answers from its pooled table: unconditioned.
        if label is None:
            return self.logits_table()[self.rows(x)]
        return self.label_logits(label, self.rows(x))

    def next_logits(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        return self.logits(last_window(tokens, self.context), label)

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        return Windowed(self.logits, n, self.context, label, self.device)

    @torch.no_grad()
    def probs_table(self, temperature: float = 1.0) -> Tensor:
        """Next-character probabilities for every context, at ``temperature``."""
        return torch.softmax(self.logits_table().float() / temperature, dim=1)

    def start_probabilities(self, temperature: float = 1.0) -> tuple[Tensor, list[str]]:
        # Rows 0..V-1 are the contexts of all boundaries but the last character: a bigram's whole
        # table, and the rows right after a word's start beyond.
        prefix = self.itos[0] * (self.context - 1)
        return self.probs_table(temperature)[: self.vocab_size], [prefix + c for c in self.itos]
