"""The Dashboard's quick sampler for an n-gram table: the next character of all words at once.

Every other sampling goes through ``makemore_pl.sampling.exact.generate``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def sample_words_parallel(
    probs: Tensor, itos: list[str], context: int, num: int, generator: torch.Generator, max_length: int
) -> list[str]:
    """Draw ``num`` words from ``probs``, the next-character distribution of every context, all at once.

    ``probs`` has one row per context (``len(itos) ** context`` rows, in the order of
    ``NGramModel.rows``). One ``torch.multinomial`` call per position instead of one per
    character: what the dashboard uses at every validation epoch. The draws differ from the
    lecture's sequential loop for the same seed, so ``predict`` keeps that (``exact.generate``).
    """
    vocab_size = len(itos)
    rows = torch.zeros(num, dtype=torch.long)
    drawn = torch.zeros(num, max_length, dtype=torch.long)
    alive = torch.ones(num, dtype=torch.bool)
    # A word has at least one character: the first draws from the table without the boundary, which
    # is p(first character | the word is not empty).
    first = probs.clone()
    first[:, 0] = 0.0
    for position in range(max_length):
        table = first if position == 0 else probs
        ix = torch.multinomial(table[rows], num_samples=1, replacement=True, generator=generator)[:, 0]
        ix = ix.masked_fill(~alive, 0)  # a finished word draws nothing more
        drawn[:, position] = ix
        alive &= ix != 0
        if not alive.any():
            break
        rows = (rows * vocab_size) % (vocab_size**context) + ix
    return ["".join(itos[i] for i in row if i) for row in drawn.tolist()]
