"""Sampling words one character at a time: the lecture's loop for tables, and all words at once for networks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def keep_top_k(probs: Tensor, top_k: int | None) -> Tensor:
    """``probs`` with all but each row's ``top_k`` largest entries set to 0 (all kept when ``top_k`` is None)."""
    if top_k is None or top_k >= probs.shape[-1]:
        return probs
    kth = probs.topk(top_k, dim=-1).values[..., -1:]
    return probs.masked_fill(probs < kth, 0.0)


def sample_words(
    probs: Tensor,
    itos: list[str],
    context: int,
    num: int,
    generator: torch.Generator,
    max_length: int,
    top_k: int | None = None,
    prefix: list[int] | None = None,
) -> list[str]:
    """Draw ``num`` words from ``probs``, the next-character distribution of every context.

    ``probs`` has one row per context (``len(itos) ** context`` rows, in the order of
    ``NGramModel.rows``). Each word starts with ``prefix`` (token ids) after the boundary and
    draws with ``torch.multinomial`` from the row of its last ``context`` characters until it
    draws the boundary, or reaches ``max_length`` characters, so a degenerate model cannot
    loop forever. Without top-k and prefix, the draws follow the lecture's loop exactly, so its
    seed gives its names.
    """
    vocab_size, prefix = len(itos), list(prefix or [])
    probs = keep_top_k(probs, top_k)
    start = 0  # row 0 is the all-boundary context
    for ix in prefix:
        start = (start * vocab_size) % (vocab_size**context) + ix
    words = []
    for _ in range(num):
        row, chars = start, [itos[i] for i in prefix]
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


def sample_batched(
    next_logits: Callable[[Tensor], Tensor],
    num: int,
    prefix: list[int],
    max_length: int,
    generator: torch.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    device: torch.device | None = None,
) -> list[list[int]]:
    """Draw ``num`` words together, one character of all of them per step, from a network.

    ``next_logits(tokens)`` gives the next-character logits ``(num, vocab)`` after ``tokens``
    ``(num, t)`` on ``device``: the boundary, the prefix, and what was drawn so far. The
    draws are made on the generator's device: with a CPU generator, a seed gives the same
    words whichever device runs the network, at the cost of one small copy per character.
    Each word is its characters' ids (``prefix`` first), cut at its first boundary or at
    ``max_length`` characters.
    """
    tokens = torch.tensor([[0, *prefix]], device=device).repeat(num, 1)
    alive = torch.ones(num, dtype=torch.bool, device=generator.device)
    for _ in range(max_length - len(prefix)):
        probs = torch.softmax(next_logits(tokens).float() / temperature, dim=-1).to(generator.device)
        ix = torch.multinomial(keep_top_k(probs, top_k), num_samples=1, generator=generator)[:, 0]
        ix = ix.masked_fill(~alive, 0)  # a finished word draws nothing more
        tokens = torch.cat([tokens, ix[:, None].to(tokens.device)], dim=1)
        alive &= ix != 0
        if not alive.any():
            break
    # After its boundary a word only draws boundaries: its characters are its nonzero ids.
    return [[i for i in row if i] for row in tokens[:, 1:].tolist()]
