"""``predict``'s data: one batch per process, carrying the request (``SampleBatch``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import torch
from torch import Tensor

from makemore_pl.sampling.options import SamplingOptions


class SampleBatch(NamedTuple):
    """One process's share of a ``predict`` request: the indices of its words, and the request's options."""

    indices: Tensor
    options: SamplingOptions


class SampleRequests:
    """The predict "data": one batch, this process's share of the ``options.num_samples`` words asked for."""

    def __init__(self, options: SamplingOptions, rank: int = 0, world_size: int = 1) -> None:
        self.options = options
        self.indices = torch.arange(rank, options.num_samples, world_size)

    def __len__(self) -> int:
        return 1 if len(self.indices) else 0

    def __iter__(self) -> Iterator[SampleBatch]:
        if len(self.indices):
            yield SampleBatch(self.indices, self.options)
