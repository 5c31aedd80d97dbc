"""Batches sliced from in-memory tensors: no per-item ``__getitem__``, no collate.

Every batch is ``(x, y, count, total)``: ``x`` the contexts ``(n, k)``, ``y`` the next
characters ``(n,)``, ``count`` how many times each example occurs, and ``total`` the number of
examples the mean is taken over: the loss is ``sum(count * nll) / total``.

Each loader also shards its examples over the processes of a distributed run itself,
since Lightning only injects a ``DistributedSampler`` into ``DataLoader`` objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

Batch = tuple[Tensor, Tensor, Tensor, Tensor]


def example_keys(x: Tensor, y: Tensor) -> tuple[Tensor, int]:
    """One integer per example, its (context..., next) digits in base ``radix``: a flat key to count by."""
    radix = max(int(x.max()), int(y.max())) + 1 if len(y) else 1
    keys = y.clone()
    for j in range(x.shape[1]):  # built in place: no (n, k + 1) copy of a large split
        keys += x[:, j] * radix ** (x.shape[1] - j)
    return keys, radix


def count_keys(keys: Tensor, radix: int, context: int) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct examples among ``keys`` as ``(x, y)``, and how often each occurs."""
    unique, counts = torch.unique(keys, return_counts=True)  # far faster than unique(dim=0) on rows
    powers = radix ** torch.arange(context, -1, -1, device=keys.device)
    digits = unique[:, None] // powers % radix
    return digits[:, :-1].contiguous(), digits[:, -1].contiguous(), counts


def count_examples(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct (context, next) examples of ``(x, y)`` and how often each occurs.

    The loss depends on the examples only through these counts, so a full batch of 182,449
    bigrams becomes 618 weighted rows, with exactly the same loss and gradient.
    """
    keys, radix = example_keys(x, y)
    return count_keys(keys, radix, x.shape[1])


class FullBatch:
    """One batch per epoch holding the whole split, deduplicated into counted examples.

    Each process holds a share of the distinct examples, and its ``total`` is the size of the
    whole split over the number of processes: DDP averages the processes' gradients and the
    logged losses, so the average is exactly the mean NLL over the whole split.
    """

    def __init__(self, x: Tensor, y: Tensor, rank: int = 0, world_size: int = 1, device: torch.device | None = None):
        cx, cy, counts = count_examples(x, y)
        share = slice(rank, None, world_size)
        total = torch.tensor(len(y) / world_size)
        self.batch: Batch = tuple(t.to(device) for t in (cx[share], cy[share], counts[share].float(), total))

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Batch]:
        yield self.batch


class MiniBatches:
    """Shuffled mini-batches of ``batch_size`` examples, a new order each epoch.

    The order comes from ``seed + epoch``, so it is the same on every process and after a
    resume; each process then takes every ``world_size``-th example of it.

    On the CPU each batch is counted, like the full batch: fewer rows of W to gather and to
    scatter gradients into. Elsewhere it is not (``count`` is all ones): on an accelerator
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
    ):
        self.x, self.y = x.to(device), y.to(device)
        self.count = self.y.device.type == "cpu" if count is None else count
        if self.count:
            self.keys, self.radix = example_keys(self.x, self.y)
        self.context, self.size = x.shape[1], len(y)
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.rank, self.world_size = rank, world_size
        # Equal shares keep the processes in step: DDP hangs if one has a batch more.
        self.share = self.size // world_size

    def __len__(self) -> int:
        return -(-self.share // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch())
        order = torch.randperm(self.size, generator=generator).to(self.y.device)
        mine = order[self.rank : self.share * self.world_size : self.world_size]
        for start in range(0, self.share, self.batch_size):
            index = mine[start : start + self.batch_size]
            total = torch.tensor(float(len(index)), device=self.y.device)
            if self.count:
                x, y, count = count_keys(self.keys[index], self.radix, self.context)
                yield x, y, count.float(), total
            else:
                yield self.x[index], self.y[index], torch.ones(len(index), device=self.y.device), total


class SampleRequests:
    """The predict "data": the indices of the words to sample, this process's share of them."""

    def __init__(self, num_samples: int, rank: int = 0, world_size: int = 1):
        self.indices = torch.arange(rank, num_samples, world_size)

    def __len__(self) -> int:
        return 1 if len(self.indices) else 0

    def __iter__(self) -> Iterator[Tensor]:
        if len(self.indices):
            yield self.indices
