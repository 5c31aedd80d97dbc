"""The records that pass between the data and the models: a batch, its labels, and the words to classify.

Every batch is a ``Batch``, and every model's loss is ``sum(count * nll) / total`` over its predictions:

- windows: ``x`` the contexts ``(n, k)``, ``y`` the next characters ``(n,)``;
- words: ``x`` the boundary then the word ``(n, T)``, ``y`` the word then the boundary, padded
  with ``PAD``, which the loss ignores;
- ``count`` how many times each example occurs (``None``: once each);
- ``total`` the number of predictions the mean is taken over;
- ``labels`` a labelled batch's ``Labels``: each row's label id, and for evaluation each label's
  number of predictions in the whole split (for ``nll/<label>``) and the whole words that
  ``test/accuracy`` classifies. None for unlabelled data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor


class Classify(NamedTuple):
    """Distinct whole words to classify by Bayes' rule, for ``test/accuracy``.

    ``x`` and ``y`` as ``Vocabulary.encode_padded`` gives them, ``labels`` ``(m, L)`` which labels each
    word has (a word may have several), ``total`` the number of words in the whole split.
    """

    x: Tensor
    y: Tensor
    labels: Tensor
    total: Tensor | None = None


class Labels(NamedTuple):
    """The labelled part of a batch: ``ids`` each row's label; for evaluation, ``totals`` each label's
    predictions in the whole split (``nll/<label>`` is exact as ``nll`` is), and the words to ``classify``."""

    ids: Tensor
    totals: Tensor | None = None
    classify: Classify | None = None


class Batch(NamedTuple):
    """One batch of examples (see the module's docstring)."""

    x: Tensor
    y: Tensor
    count: Tensor | None
    total: Tensor
    labels: Labels | None = None

    @property
    def label_ids(self) -> Tensor | None:
        """Each row's label id, or None for unlabelled data."""
        return None if self.labels is None else self.labels.ids


# What a model asks the data for (its ``layout``): counted n-gram windows, plain windows
# (counting would change what BatchNorm sees), or whole padded words.
COUNTED, WINDOWS, WORDS = "counted", "windows", "words"


@dataclass(frozen=True)
class Shard:
    """One process's share of a run's batches: process ``rank`` of ``world_size``, its batches on ``device``.

    Every loader takes one and shards its rows itself: Lightning injects a ``DistributedSampler`` into
    ``DataLoader`` objects only.
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device | None = None

    @classmethod
    def of(cls, trainer: Any) -> Shard:
        """The share of the process that ``trainer`` runs in; one process, on the CPU, without a trainer."""
        if trainer is None:
            return cls()
        return cls(trainer.global_rank, trainer.world_size, trainer.strategy.root_device)

    def rows(self, size: int) -> Tensor:
        """This process's rows of ``size``, in order: every ``world_size``-th from ``rank``."""
        return torch.arange(self.rank, size, self.world_size)


ONE_PROCESS = Shard()


def batches_read(length: int, limit: int | float = 1.0) -> int:
    """How many of a process's ``length`` evaluation batches Lightning reads under ``limit_val_batches`` or
    ``limit_test_batches`` (``limit``): that many when it is an int, that share of them (at least one) when a float."""
    return min(limit, length) if isinstance(limit, int) else max(1, int(length * min(limit, 1.0)))


def evaluation_limit(trainer: Any, split: str) -> int | float:
    """``trainer``'s ``limit_val_batches`` or ``limit_test_batches`` for ``split``; every batch without a trainer."""
    return 1.0 if trainer is None else getattr(trainer, f"limit_{split}_batches")


def to_device(batch: tuple, device: torch.device | None) -> tuple:
    """``batch`` with every tensor in it (also those of its ``Labels``) on ``device``."""
    moved = (to_device(t, device) if isinstance(t, tuple) else None if t is None else t.to(device) for t in batch)
    return type(batch)(*moved) if hasattr(batch, "_fields") else tuple(moved)


def labelled(x: Tensor, y: Tensor, count: Tensor | None, total: Tensor, label: Tensor | None, **extra) -> Batch:
    """The batch ``(x, y, count, total)``, with its ``Labels`` when there is a ``label``."""
    return Batch(x, y, count, total, None if label is None else Labels(label, **extra))
