"""Batches sliced from in-memory tensors: no per-item ``__getitem__``, no collate.

Each loader yields ``Batch`` records (makemore_pl.data.records). Each also shards its rows over
the processes of a distributed run itself, since Lightning only injects a ``DistributedSampler``
into ``DataLoader`` objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

from makemore_pl.data.counting import count_examples, count_keys, example_keys, row_predictions
from makemore_pl.data.records import ONE_PROCESS, Batch, Classify, Shard, batches_read, labelled, to_device
from makemore_pl.data.vocab import PAD


def shuffled_share(size: int, seed: int, epoch: int, shard: Shard) -> Tensor:
    """This process's rows of a split, in an order drawn from ``seed + epoch``.

    The order is the same on every process and after a resume; each process then takes every
    ``world_size``-th row of it, in equal shares: DDP hangs if one process has a batch more.
    """
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed + epoch))
    share = size // shard.world_size
    return order[shard.rank : share * shard.world_size : shard.world_size]


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
        shard: Shard = ONE_PROCESS,
        counted: bool = True,
        label: Tensor | None = None,
    ):
        total = row_predictions(y).sum() / shard.world_size
        count = None
        if counted:
            x, y, count, label = count_examples(x, y, label)
            count = count.float()
        share = slice(shard.rank, None, shard.world_size)
        label = None if label is None else label[share]
        self.batch = to_device(
            labelled(x[share], y[share], None if count is None else count[share], total, label), shard.device
        )

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
        shard: Shard = ONE_PROCESS,
        count: bool | None = None,
        label: Tensor | None = None,
    ):
        self.x, self.y = x.to(shard.device), y.to(shard.device)
        self.label = None if label is None else label.to(shard.device)
        self.count = self.y.device.type == "cpu" if count is None else count
        if self.count:
            self.keys, self.radix = example_keys(self.x, self.y, self.label)
        self.context, self.size = x.shape[1], len(y)
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.shard = shard

    def __len__(self) -> int:
        return len(batch_starts(self.size // self.shard.world_size, self.batch_size)) - 1

    def __iter__(self) -> Iterator[Batch]:
        mine = shuffled_share(self.size, self.seed, self.epoch(), self.shard).to(self.y.device)
        bounds = batch_starts(len(mine), self.batch_size)
        for start, end in zip(bounds, bounds[1:]):
            index = mine[start:end]
            total = torch.tensor(float(len(index)), device=self.y.device)
            if self.count:
                x, y, count, label = count_keys(self.keys[index], self.radix, self.context, self.label is not None)
                yield labelled(x, y, count.float(), total, label)
            else:
                label = None if self.label is None else self.label[index]
                yield labelled(self.x[index], self.y[index], None, total, label)


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
        shard: Shard = ONE_PROCESS,
        label: Tensor | None = None,
    ):
        self.x, self.y = x.to(shard.device), y.to(shard.device)
        self.label = None if label is None else label.to(shard.device)
        self.lengths = (y != PAD).sum(1)  # on the CPU: a batch's width is known without asking the device
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.shard = shard

    def __len__(self) -> int:
        return -(-(len(self.y) // self.shard.world_size) // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        mine = shuffled_share(len(self.y), self.seed, self.epoch(), self.shard)
        for start in range(0, len(mine), self.batch_size):
            index = mine[start : start + self.batch_size]
            lengths = self.lengths[index]
            width, total = int(lengths.max()), float(lengths.sum())
            index = index.to(self.y.device)
            label = None if self.label is None else self.label[index]
            total = torch.tensor(total, device=self.y.device)
            yield labelled(self.x[index, :width], self.y[index, :width], None, total, label)


class EvalBatches:
    """A whole split for evaluation: each process's share of its rows, in order, in chunks of at most ``chunk_size``.

    Every chunk's ``total`` is the number of predictions in the chunks the trainer reads (the whole
    split, unless Lightning's ``limit_val_batches`` or ``limit_test_batches``, ``limit``, cuts each
    process's share to its first chunks), so the sum of ``sum(count * nll) / total`` over the chunks
    read by all processes is exactly their mean NLL, however it is chunked: models log it with
    ``reduce_fx="sum"``. Every process gets the same number of chunks. Labelled rows' chunks carry
    each label's total the same way, and the words to ``classify`` are shared out over the same
    chunks, each with the count of the words read.
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        chunk_size: int,
        shard: Shard = ONE_PROCESS,
        counted: bool = False,
        label: Tensor | None = None,
        num_labels: int = 0,
        classify: Classify | None = None,
        limit: int | float = 1.0,
    ):
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
        chunks = max(1, math.ceil(math.ceil(len(y) / shard.world_size) / chunk_size))
        if classify is not None:  # each word to classify is read once per label: as many rows
            chunks = max(chunks, math.ceil(math.ceil(len(classify.y) / shard.world_size) * num_labels / chunk_size))
        # What the means divide by: the predictions of the rows in the chunks read, by every process.
        read = batches_read(chunks, limit)
        rows = _rows_read(len(y), chunks, read, shard.world_size)
        weight = count if count is not None else row_predictions(y)
        total = weight[rows].sum()
        totals = None if label is None else torch.zeros(num_labels).index_add_(0, label[rows], weight[rows])
        words = words_read = None
        if classify is not None:
            words = shard.rows(len(classify.y)).tensor_split(chunks)
            words_read = torch.tensor(float(len(_rows_read(len(classify.y), chunks, read, shard.world_size))))
        self.batches: list[Batch] = []
        for i, index in enumerate(shard.rows(len(y)).tensor_split(chunks)):  # a small share leaves empty chunks
            part_x, part_y = x[index], y[index]
            if y.ndim > 1 and len(index):  # words: cut the chunk to its longest word
                width = int((part_y != PAD).sum(1).max())
                part_x, part_y = part_x[:, :width], part_y[:, :width]
            extra = {} if label is None else {"totals": totals}
            if words is not None:
                extra["classify"] = self._words(classify, words[i], words_read)
            part_count, part_label = None if count is None else count[index], None if label is None else label[index]
            batch = labelled(part_x, part_y, part_count, total, part_label, **extra)
            self.batches.append(to_device(batch, shard.device))

    @staticmethod
    def _words(classify: Classify, index: Tensor, total: Tensor) -> Classify:
        """The words ``index`` of ``classify``, cut to their longest, with the count of the words read."""
        width = int((classify.y[index] != PAD).sum(1).max()) if len(index) else 1
        return Classify(classify.x[index, :width], classify.y[index, :width], classify.labels[index], total)

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[Batch]:
        yield from self.batches


def _rows_read(size: int, chunks: int, read: int, world_size: int) -> Tensor:
    """The rows of ``size`` in the first ``read`` of each process's ``chunks``, as ``EvalBatches`` shares them out."""
    shares = (Shard(rank, world_size).rows(size).tensor_split(chunks)[:read] for rank in range(world_size))
    return torch.cat([part for share in shares for part in share])
