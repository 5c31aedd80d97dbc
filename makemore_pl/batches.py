"""Batches sliced from in-memory tensors: no per-item ``__getitem__``, no collate.

Every batch is ``(x, y, weight)``: ``x`` the contexts ``(n, k)``, ``y`` the next characters
``(n,)``, and ``weight`` what each example counts for in the loss ``sum(weight * nll)``.

Each loader also shards its examples over the processes of a distributed run itself,
since Lightning only injects a ``DistributedSampler`` into ``DataLoader`` objects.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch import Tensor

Batch = tuple[Tensor, Tensor, Tensor]


def count_examples(x: Tensor, y: Tensor) -> Batch:
    """The distinct (context, next) examples of ``(x, y)`` and how often each occurs.

    The full-batch loss depends on the data only through these counts, so a full batch of
    228,146 bigrams becomes a few hundred weighted rows, with exactly the same loss.
    """
    rows, counts = torch.unique(torch.cat([x, y[:, None]], dim=1), dim=0, return_counts=True)
    return rows[:, :-1].contiguous(), rows[:, -1].contiguous(), counts


class FullBatch:
    """One batch per epoch holding the whole split, deduplicated into counted examples.

    The weights are ``count / total`` over the whole split, times the number of processes:
    each process holds a share of the distinct examples, and DDP averages the processes'
    gradients, so the averaged loss is exactly the mean NLL over the whole split.
    """

    def __init__(self, x: Tensor, y: Tensor, rank: int = 0, world_size: int = 1, device: torch.device | None = None):
        cx, cy, counts = count_examples(x, y)
        share = slice(rank, None, world_size)
        weight = counts[share].double() * world_size / len(y)
        self.batch: Batch = (cx[share].to(device), cy[share].to(device), weight.float().to(device))

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Batch]:
        yield self.batch


class MiniBatches:
    """Shuffled mini-batches of ``batch_size`` examples, a new order each epoch.

    The order comes from ``seed + epoch``, so it is the same on every process and after a
    resume; each process then takes every ``world_size``-th example of it.
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
    ):
        self.x, self.y = x.to(device), y.to(device)
        self.batch_size, self.seed, self.epoch = batch_size, seed, epoch
        self.rank, self.world_size = rank, world_size
        # Equal shares keep the processes in step: DDP hangs if one has a batch more.
        self.share = len(y) // world_size

    def __len__(self) -> int:
        return -(-self.share // self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch())
        order = torch.randperm(len(self.y), generator=generator).to(self.y.device)
        mine = order[self.rank : self.share * self.world_size : self.world_size]
        for start in range(0, self.share, self.batch_size):
            index = mine[start : start + self.batch_size]
            weight = torch.full((len(index),), 1.0 / len(index), device=self.y.device)
            yield self.x[index], self.y[index], weight


class SampleRequests:
    """The predict "data": the indices of the words to sample, this process's share of them."""

    def __init__(self, num_samples: int, rank: int = 0, world_size: int = 1):
        self.indices = torch.arange(rank, num_samples, world_size)

    def __len__(self) -> int:
        return 1 if len(self.indices) else 0

    def __iter__(self) -> Iterator[Tensor]:
        if len(self.indices):
            yield self.indices
