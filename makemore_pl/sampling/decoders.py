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


def take(state: Tensor | None, rows: Tensor, dim: int = 0) -> Tensor | None:
    """The ``rows`` of a decoder's ``state`` along ``dim`` (each word's row); None stays None (no label)."""
    return None if state is None else state.index_select(dim, rows.to(state.device))


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
        self.tokens, self.label = take(self.tokens, rows), take(self.label, rows)


class Windowed(Decoder):
    """Carries each row's last ``context`` characters: a window model or n-gram reads nothing older.

    ``window_logits(window, label)`` gives the logits after each window ``(n, context)``, as the
    model reads it in training; a word's start is padded with the boundary, as ``last_window`` pads it.
    """

    def __init__(
        self,
        window_logits: Callable[[Tensor, Tensor | None], Tensor],
        n: int,
        context: int,
        label: Tensor | None = None,
        device: torch.device | None = None,
    ) -> None:
        self.window_logits, self.label = window_logits, label
        self.window = torch.zeros(n, context, dtype=torch.long, device=device)
        self.length = 0

    def logits(self) -> Tensor:
        return self.window_logits(self.window, self.label)

    def feed(self, ix: Tensor) -> None:
        # The oldest character slides out: the window's size, and each step's cost, stay the same.
        self.window = torch.cat([self.window[:, 1:], ix[:, None].to(self.window.device)], dim=1)
        self.length += 1

    def keep(self, rows: Tensor) -> None:
        self.window, self.label = take(self.window, rows), take(self.label, rows)


class Stepping(Decoder):
    """Steps a network one position per character, carrying its state, and reads the logits off its last output.

    A family says how one position advances its state (``step``), how its output becomes logits
    (``read``), and how its state keeps rows (``keep_state``); the rest is the same for all.
    """

    def __init__(self, n: int, label: Tensor | None, device: torch.device) -> None:
        self.label, self.length = label, 0
        with torch.no_grad():  # the boundary that starts every word, not counted in ``length``
            self.output = self.step(torch.zeros(n, 1, dtype=torch.long, device=device))

    def step(self, x: Tensor) -> Tensor:
        """Advance the state by one character per row, ``x`` ``(n, 1)``; the network's output there ``(n, width)``."""
        raise NotImplementedError

    def read(self, output: Tensor) -> Tensor:
        """The logits ``(n, V)`` from the network's output ``(n, width)``."""
        raise NotImplementedError

    def keep_state(self, rows: Tensor) -> None:
        """Keep the state's ``rows`` (see ``keep``)."""
        raise NotImplementedError

    @torch.no_grad()
    def logits(self) -> Tensor:
        return self.read(self.output)

    @torch.no_grad()
    def feed(self, ix: Tensor) -> None:
        self.output = self.step(ix[:, None].to(self.output.device))
        self.length += 1

    def keep(self, rows: Tensor) -> None:
        self.keep_state(rows)
        self.output, self.label = take(self.output, rows), take(self.label, rows)
