"""Batches of running text, cut from a memmapped token file: random windows to train, every character once to evaluate.

A batch is the same ``(x, y, count, total)`` the words give (``makemore_pl.data.batches``), in the
attached model's layout:

- ``WORDS`` (sequence models): windows of ``block_size + 1`` characters, ``x`` the first
  ``block_size`` and ``y`` the last ``block_size``, shape ``(n, block_size)``;
- ``WINDOWS`` and ``COUNTED`` (window networks and n-grams): each predicted character ``y`` ``(n,)``
  with its ``context`` previous characters ``x`` ``(n, context)``.

Nothing is held in memory but the batch being built: each one reads the token file anew.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from makemore_pl.data.counting import count_examples
from makemore_pl.data.records import COUNTED, ONE_PROCESS, WORDS, Batch, Shard, batches_read, to_device
from makemore_pl.data.vocab import PAD

Tokens = Callable[[], np.ndarray]  # opens the token file (a fresh memmap) for one batch


@dataclass(frozen=True)
class Span:
    """The characters ``start..end-1`` of a token file, cut for the attached model's ``layout``.

    ``block_size`` is a sequence model's window; ``context`` the characters a window model or an
    n-gram reads before each target.
    """

    tokens: Tokens
    start: int
    end: int
    block_size: int
    layout: str = WORDS
    context: int = 1

    @property
    def length(self) -> int:
        return self.end - self.start


def _batch(x: np.ndarray, y: np.ndarray, total: float, count: Tensor | None = None) -> Batch:
    return Batch(torch.from_numpy(x.astype(np.int64)), torch.from_numpy(y.astype(np.int64)), count, torch.tensor(total))


def contexts(tokens: np.ndarray, start: int, end: int, context: int) -> tuple[np.ndarray, np.ndarray]:
    """The characters ``start..end-1`` as ``y``, each after its ``context`` previous ones ``x`` ``(n, context)``.

    Positions before the text's start are token 0, as a word's start is padded with the boundary.
    """
    before = max(start - context, 0)
    stream = np.asarray(tokens[before:end], dtype=np.int64)
    stream = np.concatenate([np.zeros(context - (start - before), dtype=np.int64), stream])
    x = np.lib.stride_tricks.sliding_window_view(stream[:-1], context)
    return x, stream[context:]


class TrainWindows:
    """Random windows of the training text, ``batch_size`` per batch, seeded by (seed, process, batch number).

    The batch number counts from the start of the run (``step()`` when an epoch starts: the batches
    already trained on), so a resumed run draws the windows the uninterrupted one would have, and
    each DDP process draws its own. An epoch is as many batches as cover the training text once:
    ``ceil(characters / (block_size * batch_size * processes))``.
    """

    def __init__(self, span: Span, batch_size: int, seed: int, step: Callable[[], int], shard: Shard = ONE_PROCESS):
        self.span, self.shard = span, shard
        self.batch_size, self.seed, self.step = batch_size, seed, step
        self.width = span.block_size + 1

    def __len__(self) -> int:
        return max(1, math.ceil(self.span.length / (self.span.block_size * self.batch_size * self.shard.world_size)))

    def starts(self, number: int) -> np.ndarray:
        """Where the windows of batch ``number`` of this process start."""
        generator = np.random.default_rng([self.seed, self.shard.rank, number])
        return self.span.start + generator.integers(0, self.span.length - self.width + 1, size=self.batch_size)

    def batch(self, number: int) -> Batch:
        tokens, starts = self.span.tokens(), self.starts(number)
        if self.span.layout == WORDS:
            windows = tokens[starts[:, None] + np.arange(self.width)]
            return _batch(windows[:, :-1], windows[:, 1:], float(windows[:, 1:].size))
        # The window's last block_size characters, each after its context (token 0 before the text's start).
        targets = (starts[:, None] + np.arange(1, self.width)).reshape(-1)
        positions = targets[:, None] + np.arange(-self.span.context, 0)
        x = np.where(positions >= 0, tokens[positions.clip(min=0)], 0)
        return _batch(x, tokens[targets], float(len(targets)))

    def __iter__(self) -> Iterator[Batch]:
        first = self.step()
        for number in range(first, first + len(self)):
            yield to_device(self.batch(number), self.shard.device)


class CountedText:
    """The whole training text as one batch of its distinct (context, next) pairs and their counts.

    The n-grams' full batch: the loss depends on the text only through these counts. Counted chunk
    by chunk, so memory grows with the distinct pairs, not with the text.
    """

    def __init__(self, span: Span, shard: Shard = ONE_PROCESS):
        chunk = 1 << 20
        xs, ys, counts = [], [], []
        for at in range(span.start, span.end, chunk):
            x, y = contexts(span.tokens(), at, min(at + chunk, span.end), span.context)
            x, y, count, _ = count_examples(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
            xs.append(x), ys.append(y), counts.append(count)
        # Each distinct pair's count is the sum of its chunks' counts.
        x, y, count = _merge(torch.cat(xs), torch.cat(ys), torch.cat(counts))
        share = slice(shard.rank, None, shard.world_size)
        total = torch.tensor(span.length / shard.world_size)
        self.batch: Batch = to_device(Batch(x[share], y[share], count[share].float(), total), shard.device)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[Batch]:
        yield self.batch


def _merge(x: Tensor, y: Tensor, weights: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The distinct rows of ``(x, y)``, each with the sum of its ``weights``."""
    rows = torch.cat([x, y[:, None]], dim=1)
    unique, inverse = torch.unique(rows, dim=0, return_inverse=True)
    summed = torch.zeros(len(unique), dtype=weights.dtype).index_add_(0, inverse, weights)
    return unique[:, :-1].contiguous(), unique[:, -1].contiguous(), summed


class EvalText:
    """Every character of ``start..end-1`` predicted once, in order: an exact, deterministic mean NLL.

    Sequence models read non-overlapping windows of ``block_size`` targets, each after the
    character before it (the first held-out character is predicted from the last one before it),
    the last window padded with ``PAD``. Window models read each target's ``context`` previous
    characters. Chunks of ``chunk_size`` windows (or examples) go round the processes; every process
    gets the same number of chunks, and each chunk's ``total`` is the count of characters the trainer
    reads (the whole split, unless ``limit`` cuts it), so the sum of the chunks' ``sum(nll) / total``
    over all processes is the mean over them.
    """

    def __init__(self, span: Span, chunk_size: int, shard: Shard = ONE_PROCESS, limit: int | float = 1.0):
        assert span.start >= 1, "the first held-out character is predicted from the one before it"
        self.span, self.shard = span, shard
        # The characters each chunk predicts: chunk_size windows of block_size, or chunk_size examples.
        self.chunk_span = chunk_size * (span.block_size if span.layout == WORDS else 1)
        chunks = math.ceil(span.length / self.chunk_span)
        self.mine = list(range(shard.rank, chunks, shard.world_size))
        self.length = max(1, math.ceil(chunks / shard.world_size))
        # What the mean divides by: the characters of the chunks the trainer reads. Lightning's
        # limit_val_batches / limit_test_batches (``limit``) cut each process's share to its first ones.
        self.total = float(min(span.length, batches_read(self.length, limit) * shard.world_size * self.chunk_span))

    def __len__(self) -> int:
        return self.length

    def chunk(self, number: int) -> Batch:
        span, block_size = self.span, self.span.block_size
        at = span.start + number * self.chunk_span
        end = min(at + self.chunk_span, span.end)
        total = self.total
        if span.layout != WORDS:
            x, y = contexts(span.tokens(), at, end, span.context)
            return _batch(np.ascontiguousarray(x), y, total, None)
        rows = math.ceil((end - at) / block_size)
        stream = np.full(rows * block_size + 1, PAD, dtype=np.int64)
        stream[: end - at + 1] = span.tokens()[at - 1 : end]
        x = stream[:-1].reshape(rows, block_size).clip(min=0)  # padded inputs read token 0; their y is PAD
        return _batch(x, stream[1:].reshape(rows, block_size), total)

    def __iter__(self) -> Iterator[Batch]:
        for number in self.mine:
            yield to_device(self.chunk(number), self.shard.device)
        words = self.span.layout == WORDS
        empty = np.zeros((0, self.span.block_size if words else self.span.context), dtype=np.int64)
        for _ in range(self.length - len(self.mine)):  # a share short of chunks logs nothing, but takes part
            yield to_device(_batch(empty, empty if words else empty[:, 0], self.total), self.shard.device)


__all__ = ["COUNTED", "CountedText", "EvalText", "Span", "TrainWindows", "contexts"]
