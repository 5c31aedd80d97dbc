"""Counting examples: the distinct (label, context, next) examples of a split, and how often each occurs.

The loss depends on the examples only through these counts, so a full batch of 182,449 bigrams
becomes 618 weighted rows, with exactly the same loss and gradient.
"""

from __future__ import annotations

import torch
from torch import Tensor

from makemore_pl.data.vocab import PAD


def example_keys(x: Tensor, y: Tensor, label: Tensor | None = None) -> tuple[Tensor, int]:
    """One integer per example, its (context..., next) digits in base ``radix``: a flat key to count by.

    A label is one more digit, above all the others, of base the number of labels: the keys of
    (label, context, next) stay within int64 however many labels there are.
    """
    radix = max(int(x.max()), int(y.max())) + 1 if len(y) else 1
    keys = y.clone()
    for j in range(x.shape[1]):  # built in place: no (n, k + 1) copy of a large split
        keys += x[:, j] * radix ** (x.shape[1] - j)
    if label is not None:
        keys += label * radix ** (x.shape[1] + 1)
    return keys, radix


def count_keys(
    keys: Tensor, radix: int, context: int, labelled: bool = False
) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The distinct examples among ``keys`` as ``(x, y)``, how often each occurs, and their labels if ``labelled``."""
    unique, counts = torch.unique(keys, return_counts=True)  # far faster than unique(dim=0) on rows
    label = None
    if labelled:
        label, unique = unique // radix ** (context + 1), unique % radix ** (context + 1)
    powers = radix ** torch.arange(context, -1, -1, device=keys.device)
    digits = unique[:, None] // powers % radix
    return digits[:, :-1].contiguous(), digits[:, -1].contiguous(), counts, label


def count_examples(x: Tensor, y: Tensor, label: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
    """The distinct (label, context, next) examples of ``(x, y)`` and how often each occurs.

    The loss depends on the examples only through these counts, so a full batch of 182,449
    bigrams becomes 618 weighted rows, with exactly the same loss and gradient.
    """
    keys, radix = example_keys(x, y, label)
    return count_keys(keys, radix, x.shape[1], labelled=label is not None)


def row_predictions(y: Tensor) -> Tensor:
    """How many predictions each row of ``y`` asks for: a word's characters and its end, or a window's one target."""
    return (y != PAD).sum(1).float() if y.ndim > 1 else torch.ones(len(y))
