"""Writing words one character at a time: the next character's logits for a batch of words being written.

A ``Decoder`` is what sampling and beam search drive. It starts after the boundary alone, gives the
logits of every row's next character, takes one character per row, and can keep, reorder or repeat
rows (a finished word leaves, a beam forks). Every model has one; the default here re-runs the
model on each whole prefix, and a family that can carry its state from one character to the next
(a recurrent hidden state, a Transformer's keys and values) gives a faster one with the same logits.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor


def last_window(tokens: Tensor, context: int) -> Tensor:
    """The last ``context`` tokens of each row of ``tokens`` ``(n, t)``, padded at the start with the boundary."""
    return F.pad(tokens, (max(0, context - tokens.shape[1]), 0), value=0)[:, -context:]


class Decoder:
    """The next-character logits of ``n`` words written together, one character of each per ``feed``."""

    length: int  # characters fed so far (the boundary that starts every word not counted)

    def logits(self) -> Tensor:
        """The logits ``(n, V)`` of each row's next character, after the boundary and what was fed."""
        raise NotImplementedError

    def feed(self, ix: Tensor) -> None:
        """Append the character ids ``ix`` ``(n,)``, one per row."""
        raise NotImplementedError

    def keep(self, rows: Tensor) -> None:
        """Keep only ``rows`` ``(k,)``, in that order; a row named twice is repeated."""
        raise NotImplementedError


class Rerunning(Decoder):
    """Runs ``next_logits(tokens, label)`` on each whole prefix again: about T²/2 positions for a word of T."""

    def __init__(
        self,
        next_logits: Callable[[Tensor, Tensor | None], Tensor],
        n: int,
        label: Tensor | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.next_logits, self.label = next_logits, label
        self.tokens = torch.zeros(n, 1, dtype=torch.long, device=device)
        self.length = 0

    def logits(self) -> Tensor:
        return self.next_logits(self.tokens, self.label)

    def feed(self, ix: Tensor) -> None:
        self.tokens = torch.cat([self.tokens, ix[:, None].to(self.tokens.device)], dim=1)
        self.length += 1

    def keep(self, rows: Tensor) -> None:
        rows = rows.to(self.tokens.device)
        self.tokens = self.tokens[rows]
        if self.label is not None:
            self.label = self.label[rows]
