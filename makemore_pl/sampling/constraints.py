"""What a request's options allow: the characters each step may draw, and the whole words refused.

The constraints that are a mask on the next character (``exclude``, ``min_length``,
``max_length``) shape each step's proposal; those no mask expresses (``suffix``, ``contains``,
``only_new``, ``unique``) refuse whole words. A word has at least one character: the words
files hold no empty word (blank lines are dropped), so no model is trained to write one.
"""

from __future__ import annotations

import torch
from torch import Tensor

from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.sampling.protocol import Samplable

# Why a row died while it was drawn, in the order of ``Round.lost``'s columns.
MASKS = ("min_length", "exclude", "max_length")
# The shortest word sampled or searched: the training words are never empty.
SHORTEST_WORD = 1


def keep_top_k(probs: Tensor, top_k: int | None) -> Tensor:
    """``probs`` with all but each row's ``top_k`` largest entries set to 0 (all kept when ``top_k`` is None)."""
    if top_k is None or top_k >= probs.shape[-1]:
        return probs
    kth = probs.topk(top_k, dim=-1).values[..., -1:]
    return probs.masked_fill(probs < kth, 0.0)


class Constraints:
    """What a request's options allow: the character masks at each length, and the words refused whole."""

    def __init__(self, model: Samplable, options: SamplingOptions, train_words: set[str] | None) -> None:
        self.options, self.train_words = options, train_words
        self.prefix = model.vocabulary.encode(options.prefix)
        self.cap = model.longest_sample(options.max_length)
        self.shortest = max(options.min_length, SHORTEST_WORD)
        # The characters a free step may draw (the boundary, from the shortest length on).
        self.drawable = torch.tensor([c not in options.exclude for c in model.itos])
        self.drawable[0] = True

    def allowed(self, length: int) -> Tensor:
        """The characters that may follow ``length`` characters, past the prefix (0: the word ends there)."""
        if length == self.cap:
            return torch.arange(len(self.drawable)) == 0
        allowed = self.drawable.clone()
        allowed[0] = length >= self.shortest
        return allowed

    def refusal(self, word: str, seen: set[str]) -> str | None:
        """The option that refuses a whole ``word``, or None when it is accepted."""
        options = self.options
        if not word.endswith(options.suffix):
            return "suffix"
        if options.contains not in word:
            return "contains"
        if options.only_new and self.train_words is not None and word in self.train_words:
            return "only_new"
        if options.unique and word in seen:
            return "unique"
        return None
