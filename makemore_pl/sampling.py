"""Sampling words one character at a time, as in the lecture."""

from __future__ import annotations

import torch
from torch import Tensor


def sample_words(
    probs: Tensor, itos: list[str], context: int, num: int, generator: torch.Generator, max_length: int
) -> list[str]:
    """Draw ``num`` words from ``probs``, the next-character distribution of every context.

    ``probs`` has one row per context (``len(itos) ** context`` rows, in the order of
    ``NGramModel.rows``). Each word starts from an all-boundary context and draws with
    ``torch.multinomial`` from the row of its last ``context`` characters until it draws the
    boundary, or reaches ``max_length`` characters, so a degenerate model cannot loop forever.
    The draws follow the lecture's loop exactly, so its seed gives its names.
    """
    vocab_size = len(itos)
    words = []
    for _ in range(num):
        row, chars = 0, []  # row 0 is the all-boundary context
        while len(chars) < max_length:
            ix = int(torch.multinomial(probs[row], num_samples=1, replacement=True, generator=generator))
            if ix == 0:
                break
            chars.append(itos[ix])
            # Slide the window: drop the oldest character, append the new one.
            row = (row * vocab_size) % (vocab_size**context) + ix
        words.append("".join(chars))
    return words


def sample_words_parallel(
    probs: Tensor, itos: list[str], context: int, num: int, generator: torch.Generator, max_length: int
) -> list[str]:
    """Like ``sample_words``, but drawing the next character of all ``num`` words at once.

    One ``torch.multinomial`` call per position instead of one per character: what the
    dashboard uses at every validation epoch. The draws differ from the lecture's sequential
    loop for the same seed, so ``predict`` keeps ``sample_words``.
    """
    vocab_size = len(itos)
    rows = torch.zeros(num, dtype=torch.long)
    drawn = torch.zeros(num, max_length, dtype=torch.long)
    alive = torch.ones(num, dtype=torch.bool)
    for position in range(max_length):
        ix = torch.multinomial(probs[rows], num_samples=1, replacement=True, generator=generator)[:, 0]
        ix = ix.masked_fill(~alive, 0)  # a finished word draws nothing more
        drawn[:, position] = ix
        alive &= ix != 0
        if not alive.any():
            break
        rows = (rows * vocab_size) % (vocab_size**context) + ix
    return ["".join(itos[i] for i in row if i) for row in drawn.tolist()]
