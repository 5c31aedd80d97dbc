"""Batches sliced from in-memory tensors: no per-item ``__getitem__``, no collate.

Every batch is ``(x, y, count, total)``, and every model's loss is ``sum(count * nll) / total``
over its predictions:

- windows: ``x`` the contexts ``(n, k)``, ``y`` the next characters ``(n,)``;
- words: ``x`` the boundary then the word ``(n, T)``, ``y`` the word then the boundary, padded
  with ``PAD``, which the loss ignores;
- ``count`` how many times each example occurs (``None``: once each);
- ``total`` the number of predictions the mean is taken over.

A labelled batch carries a fifth element, ``Labels``: each row's label id, and for evaluation
each label's number of predictions in the whole split (for ``nll/<label>``) and the whole words
that ``test/accuracy`` classifies. An unlabelled batch is the four tensors alone, as before.

Each loader also shards its rows over the processes of a distributed run itself, since
Lightning only injects a ``DistributedSampler`` into ``DataLoader`` objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from makemore_pl.data.vocab import PAD


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


# (x, y, count, total), and a fifth element, Labels, for labelled data.
Batch = tuple[Tensor, Tensor, Tensor | None, Tensor] | tuple[Tensor, Tensor, Tensor | None, Tensor, Labels]

# What a model asks the data for (its ``layout``): counted n-gram windows, plain windows
# (counting would change what BatchNorm sees), or whole padded words.
COUNTED, WINDOWS, WORDS = "counted", "windows", "words"


def example_keys(x: Tensor, y: Tensor, label: Tensor | None = None) -> tuple[Tensor, int]:
    """One integer per example, its (context..., next) digits in base ``radix``: a flat key to count by.

    A label is one more digit, above all the others, of base the number of labels: the keys of
    (label, context, next) stay within int64 however many labels there are.
    """
    radix = max(int(x.max()), int(y.max())) + 1 if len(y) else 1
    keys = y.clone()
    for j in range(x.shape[1]):  # built in place: no (n, k + 1) copy of a large split
        keys += x[:, j] * radix ** (x.shape[1] - j)
    if label is not None:
        keys += label * radix ** (x.shape[1] + 1)
    return keys, radix


def count_keys(
    keys: Tensor, radix: int, context: int, labelled: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The distinct examples among ``keys`` as ``(x, y)``, how often each occurs, and their labels if ``labelled``."""
    unique, counts = torch.unique(keys, return_counts=True)  # far faster than unique(dim=0) on rows
    label = None
    if labelled:
        label, unique = unique // radix ** (context + 1), unique % radix ** (context + 1)
    powers = radix ** torch.arange(context, -1, -1, device=keys.device)
    digits = unique[:, None] // powers % radix
    return digits[:, :-1].contiguous(), digits[:, -1].contiguous(), counts, label


def count_examples(x: Tensor, y: Tensor, label: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The distinct (label, context, next) examples of ``(x, y)`` and how often each occurs.

    The loss depends on the examples only through these counts, so a full batch of 182,449
    bigrams becomes 618 weighted rows, with exactly the same loss and gradient.
    """
    keys, radix = example_keys(x, y, label)
    return count_keys(keys, radix, x.shape[1], labelled=label is not None)


def label_totals(y: Tensor, label: Tensor, num_labels: int) -> Tensor:
    """How many predictions of ``y`` each label has."""
    per_row = (y != PAD).sum(1) if y.ndim > 1 else torch.ones_like(label)
    return torch.zeros(num_labels, dtype=torch.float64).index_add_(0, label, per_row.double()).float()


def to_device(batch: tuple, device: torch.device | None) -> tuple:
    """``batch`` with every tensor in it (also those of its ``Labels``) on ``device``."""
    moved = (to_device(t, device) if isinstance(t, tuple) else None if t is None else t.to(device) for t in batch)
    return type(batch)(*moved) if hasattr(batch, "_fields") else tuple(moved)


def labelled(batch: tuple, label: Tensor | None, **extra) -> Batch:
    """``batch`` (x, y, count, total), with its ``Labels`` when there is a ``label``."""
    return batch if label is None else (*batch, Labels(label, **extra))


def predictions(y: Tensor) -> int:
    """How many predictions ``y`` asks for: every entry but the padding."""
    return int((y != PAD).sum()) if y.ndim > 1 else len(y)


def shuffled_share(size: int, seed: int, epoch: int, rank: int, world_size: int) -> Tensor:
    """This process's rows of a split, in an order drawn from ``seed + epoch``.

    The order is the same on every process and after a resume; each process then takes every
    ``world_size``-th row of it, in equal shares: DDP hangs if one process has a batch more.
    """
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed + epoch))
    share = size // world_size
    return order[rank : share * world_size : world_size]


class FullBatch:
    """One batch per epoch holding the whole split, deduplicated into counted examples unless ``counted`` is off.

    Each process holds a share of the rows, and its ``total`` is the size of the whole split
    over the number of processes: DDP averages the processes' gradients and the logged losses,
    so the average is exactly the mean NLL over the whole split.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | None = None,
        counted: bool = True,
        label: Tensor | None = None,
    ):
        total = torch.tensor(predictions(y) / world_size)
        count = None
        if counted:
            x, y, count, label = count_examples(x, y, label)
            count = count.float()
        share = slice(rank, None, world_size)
        batch = (x[share], y[share], None if count is None else count[share], total)
        self.batch: Batch = to_device(labelled(batch, None if label is None else label[share]), device)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Batch]:
        yield self.batch


def batch_starts(size: int, batch_size: int) -> list[int]:
    """Where each batch of a share of ``size`` rows starts, and where the last one ends.

    A last batch of a single row joins the one before it: BatchNorm, in training, cannot
    normalise one window.
    """
    starts = list(range(0, size, batch_size))
    if len(starts) > 1 and size - starts[-1] == 1:
        starts.pop()
    return [*starts, size]


class MiniBatches:
    """Shuffled mini-batches of ``batch_size`` windows, a new order each epoch (see ``shuffled_share``).

    On the CPU each batch is counted, like the full batch: fewer rows of W to gather and to
    scatter gradients into. Elsewhere it is not (``count`` is None): on an accelerator
    the plain batch is cheap, and ``torch.unique`` would make the device wait every step.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        seed: int,
        epoch: Callable[[], int],
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | None = None,
        count: bool | None = None,
        label: Tensor | None = None,
    ):
        self.x, self.y = x.to(device), y.to(device)
        self.label = None if label is None else label.to(device)
        self.count = self.y.device.type == "cpu" if count is None else count
        if self.count:
            self.keys, self.radix = example_keys(self.x, self.y, self.label)
        self.context, self.size = x.shape[1], len(y)
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return len(batch_starts(self.size // self.world_size, self.batch_size)) - 1

    def __iter__(self) -> Iterator[Batch]:
        mine = shuffled_share(self.size, self.seed, self.epoch(), self.rank, self.world_size).to(self.y.device)
        bounds = batch_starts(len(mine), self.batch_size)
        for start, end in zip(bounds, bounds[1:]):
            index = mine[start:end]
            total = torch.tensor(float(len(index)), device=self.y.device)
            if self.count:
                x, y, count, label = count_keys(self.keys[index], self.radix, self.context, self.label is not None)
                yield labelled((x, y, count.float(), total), label)
            else:
                label = None if self.label is None else self.label[index]
                yield labelled((self.x[index], self.y[index], None, total), label)


class WordBatches:
    """Shuffled mini-batches of ``batch_size`` whole words, a new order each epoch (see ``shuffled_share``).

    Each batch is cut to its own longest word, so no step computes the padding of a longer
    word elsewhere in the split; its loss is the mean over the batch's predicted characters.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        seed: int,
        epoch: Callable[[], int],
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | None = None,
        label: Tensor | None = None,
    ):
        self.x, self.y = x.to(device), y.to(device)
        self.label = None if label is None else label.to(device)
        self.lengths = (y != PAD).sum(1)  # on the CPU: a batch's width is known without asking the device
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return -(-(len(self.y) // self.world_size) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        mine = shuffled_share(len(self.y), self.seed, self.epoch(), self.rank, self.world_size)
        for start in range(0, len(mine), self.batch_size):
            index = mine[start : start + self.batch_size]
            lengths = self.lengths[index]
            width, total = int(lengths.max()), float(lengths.sum())
            index = index.to(self.y.device)
            batch = (self.x[index, :width], self.y[index, :width], None, torch.tensor(total, device=self.y.device))
            yield labelled(batch, None if self.label is None else self.label[index])


class EvalBatches:
    """A whole split for evaluation: each process's share of its rows, in order, in chunks of at most ``chunk_size``.

    Every chunk's ``total`` is the number of predictions in the whole split, so the sum of
    ``sum(count * nll) / total`` over all chunks and all processes is exactly the split's mean
    NLL, however it is chunked: models log it with ``reduce_fx="sum"``. Every process gets the
    same number of chunks. Labelled rows' chunks carry each label's total the same way, and the
    words to ``classify`` are shared out over the same chunks, each with the whole split's count.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        chunk_size: int,
        rank: int = 0,
        world_size: int = 1,
        device: torch.device | None = None,
        counted: bool = False,
        label: Tensor | None = None,
        num_labels: int = 0,
        classify: Classify | None = None,
    ):
        total = torch.tensor(float(predictions(y)))
        totals = None if label is None else label_totals(y, label, num_labels)
        count = None
        if counted:
            x, y, count, label = count_examples(x, y, label)
            count = count.float()
        if y.ndim > 1:  # words, longest first: each chunk holds words of about one length, little padding
            order = (y != PAD).sum(1).argsort(descending=True, stable=True)
            x, y = x[order], y[order]
            label = None if label is None else label[order]
        # The same number of chunks on every process, from the largest share: a process that
        # logged nothing would leave the others waiting for it at the end of the epoch.
        chunks = max(1, math.ceil(math.ceil(len(y) / world_size) / chunk_size))
        if classify is not None:  # each word to classify is read once per label: as many rows
            chunks = max(chunks, math.ceil(math.ceil(len(classify.y) / world_size) * num_labels / chunk_size))
        mine = torch.arange(rank, len(y), world_size)
        words = None if classify is None else torch.arange(rank, len(classify.y), world_size).tensor_split(chunks)
        self.batches: list[Batch] = []
        for i, index in enumerate(mine.tensor_split(chunks)):  # a share smaller than ``chunks`` leaves empty chunks
            part = (x[index], y[index], None if count is None else count[index], total)
            if y.ndim > 1 and len(index):  # words: cut the chunk to its longest word
                width = int((part[1] != PAD).sum(1).max())
                part = (part[0][:, :width], part[1][:, :width], part[2], total)
            extra = {} if label is None else {"totals": totals}
            if words is not None:
                extra["classify"] = self._words(classify, words[i])
            self.batches.append(to_device(labelled(part, None if label is None else label[index], **extra), device))

    @staticmethod
    def _words(classify: Classify, index: Tensor) -> Classify:
        """The words ``index`` of ``classify``, cut to their longest, with the whole split's count."""
        width = int((classify.y[index] != PAD).sum(1).max()) if len(index) else 1
        total = torch.tensor(float(len(classify.y)))
        return Classify(classify.x[index, :width], classify.y[index, :width], classify.labels[index], total)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Batch]:
        yield from self.batches
