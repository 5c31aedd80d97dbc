"""What sampling and scoring need from a model: the ``Samplable`` protocol, so neither imports ``models/``."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

import torch
from torch import Tensor

from makemore_pl.sampling.decoders import Decoder

if TYPE_CHECKING:
    from makemore_pl.data.vocab import Vocabulary


class Samplable(Protocol):
    """A character-level model of words: its vocabulary and labels, its logits, and a decoder to write words.

    ``makemore_pl.models.base.LanguageModel`` is one; see it for what each member means.
    """

    vocabulary: Vocabulary
    itos: list[str]
    labels: list[str] | None
    num_labels: int

    @property
    def device(self) -> torch.device: ...

    def label_ids(self, names: Sequence[str], option: str = "--sampling.label") -> Tensor: ...

    def longest_sample(self, max_length: int) -> int: ...

    @property
    def longest_word(self) -> int | None: ...

    def word_logits(self, x: Tensor, label: Tensor | None = None) -> Tensor: ...

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder: ...

    def evaluating(self) -> AbstractContextManager[None]: ...
