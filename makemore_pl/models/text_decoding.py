"""Continuing running text past a model's context, one character at a time, in time linear in its length.

A ``TextDecoder`` holds one text (a prompt, then what was drawn) and gives the next character's
logits. What each family reads, and so what "the text so far" means to it:

- a recurrence (RNN, GRU, LSTM) reads any length: its state is carried from the first character
  on, as char-rnn samples. One fused step per character.
- a Transformer reads its last ``block_size`` characters (its position table). While the window
  fills, a KV cache makes each character one position through the network. Once the window is full,
  its absolute positions all shift with every character, so a cached key is stale the moment the
  window slides. ``slide="exact"`` then re-runs the cropped window each character (block_size
  positions per character, nanoGPT's ``generate``): the same logits as from scratch.
  ``slide="refill"`` re-runs the last ``block_size // 2`` characters into a fresh cache and lets it
  fill again, which costs about two positions per character, but reads between half a window and a
  whole one (docs/text_generation.md measures both).
- BoW reads its last ``block_size`` characters too, as an average: the window's token embeddings
  are kept, and the position embeddings of a full window are the same at every step.
- a window model (MLP, WaveNet) or an n-gram reads its last ``context`` characters.

``Cropped`` runs the model from scratch on the text it reads at every character: the reference
the tests hold each decoder to, and the naive baseline of ``benchmarks/continuation.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from makemore_pl.models.base import LanguageModel
from makemore_pl.models.bow import BoW
from makemore_pl.models.network import SequenceModel, WindowModel
from makemore_pl.models.ngram import NGramModel
from makemore_pl.models.recurrent import Recurrent, State
from makemore_pl.models.transformer import KeysAndValues, Transformer
from makemore_pl.sampling.decoders import last_window

Slide = Literal["exact", "refill"]


def readable_context(model: LanguageModel) -> int | None:
    """How many of the last characters the model reads: None for a recurrence, which reads them all."""
    if isinstance(model, SequenceModel):
        return model.block_size if model.position_table else None
    return model.context


class TextDecoder:
    """The next character's logits after a text, which grows by one character per ``feed``."""

    def __init__(self, model: LanguageModel, prompt: Sequence[int]) -> None:
        self.model = model
        # A text needs a character to predict from: an empty prompt starts after token 0 (a newline
        # in most texts' sorted vocabularies, where nanoGPT's sample.py starts).
        self.device = model.device
        self.start([int(token) for token in prompt] or [0])

    def start(self, prompt: list[int]) -> None:
        """Read the prompt's token ids."""
        raise NotImplementedError

    def logits(self) -> Tensor:
        """The logits ``(V,)`` of the next character."""
        raise NotImplementedError

    def feed(self, token: int) -> None:
        """Append one character's id."""
        raise NotImplementedError

    def ids(self, tokens: Sequence[int]) -> Tensor:
        """``tokens`` as one row ``(1, t)`` on the model's device."""
        return torch.tensor([list(tokens)], dtype=torch.long, device=self.device)


class Cropped(TextDecoder):
    """Re-runs the model on the text it reads (all of it, or its last characters) for every character."""

    def start(self, prompt: list[int]) -> None:
        self.tokens, self.context = prompt, readable_context(self.model)

    @torch.no_grad()
    def logits(self) -> Tensor:
        read = self.tokens if self.context is None else self.tokens[-self.context :]
        return self.model.next_logits(self.ids(read))[0]

    def feed(self, token: int) -> None:
        self.tokens.append(token)


class LastCharacters(TextDecoder):
    """A window model or n-gram: the last ``context`` characters, padded with token 0 before a short prompt."""

    def start(self, prompt: list[int]) -> None:
        self.window = last_window(self.ids(prompt), self.model.context)
        # The table or network on exactly the window it reads, as in training.
        self.read: Callable[[Tensor], Tensor] = (
            self.model.logits if isinstance(self.model, NGramModel) else self.model.run_network
        )

    @torch.no_grad()
    def logits(self) -> Tensor:
        return self.read(self.window)[0]

    def feed(self, token: int) -> None:
        self.window = torch.cat([self.window[:, 1:], self.ids([token])], dim=1)


class CarriedState(TextDecoder):
    """A recurrence: the prompt in one fused call from the learned start state, then one step per character."""

    @torch.no_grad()
    def start(self, prompt: list[int]) -> None:
        network = self.model.network
        self.state: State = network.start_state(1)
        self.run(prompt)

    def run(self, tokens: Sequence[int]) -> None:
        output, self.state = self.model.network.run(self.ids(tokens), None, self.state)
        self.output = output[:, -1]

    @torch.no_grad()
    def logits(self) -> Tensor:
        return self.model.network.read(self.output)[0]

    @torch.no_grad()
    def feed(self, token: int) -> None:
        self.run([token])


class CachedWindow(TextDecoder):
    """A Transformer: a KV cache while its window fills, then ``slide`` (see the module's docstring)."""

    def __init__(self, model: Transformer, prompt: Sequence[int], slide: Slide = "exact") -> None:
        if slide not in ("exact", "refill"):
            raise ValueError(f"slide must be exact or refill, got {slide!r}")
        self.slide = slide
        super().__init__(model, prompt)

    def start(self, prompt: list[int]) -> None:
        self.tokens, self.block = prompt, self.model.block_size
        self.fill(prompt[-self.block :])

    @torch.no_grad()
    def fill(self, window: list[int]) -> None:
        """A fresh cache holding ``window``, in one causal pass over it."""
        network = self.model.network
        self.caches = [KeysAndValues(self.block) for _ in network.blocks]
        self.output = network.hidden(self.ids(window), None, self.caches)[:, -1]

    @torch.no_grad()
    def logits(self) -> Tensor:
        return self.model.network.read(self.output)[0]

    @torch.no_grad()
    def feed(self, token: int) -> None:
        self.tokens.append(token)
        if self.caches[0].length < self.block:
            self.output = self.model.network.hidden(self.ids([token]), None, self.caches)[:, -1]
        elif self.slide == "exact":
            self.output = self.model.network.hidden(self.ids(self.tokens[-self.block :]))[:, -1]
        else:
            self.fill(self.tokens[-(self.block // 2 or 1) :])
        # Only the window is ever read again: the text before it need not be kept.
        del self.tokens[: -self.block]


class WindowAverage(TextDecoder):
    """BoW: the window's token embeddings kept, so the causal average of the last position costs one sum."""

    @torch.no_grad()
    def start(self, prompt: list[int]) -> None:
        network, self.block = self.model.network, self.model.block_size
        self.embedded = network.tokens(self.ids(prompt[-self.block :]))[0]  # (t, width)
        # Every prefix sum of the position table: a window of t positions adds the first t rows.
        self.position_sums = network.positions.weight.cumsum(0)

    @torch.no_grad()
    def logits(self) -> Tensor:
        network, t = self.model.network, len(self.embedded)
        last = self.embedded[-1] + network.positions.weight[t - 1]
        average = (self.embedded.sum(0) + self.position_sums[t - 1]) / t
        return network.head(network.block.mix(last, average))

    @torch.no_grad()
    def feed(self, token: int) -> None:
        new = self.model.network.tokens(self.ids([token]))[0]
        self.embedded = torch.cat([self.embedded[-(self.block - 1) :] if self.block > 1 else new[:0], new])


def text_decoder(model: LanguageModel, prompt: Sequence[int], slide: Slide = "exact") -> TextDecoder:
    """The fastest decoder of ``model``'s family (``Cropped`` for a family it does not know)."""
    if isinstance(model, Transformer):
        return CachedWindow(model, prompt, slide)
    if isinstance(model, Recurrent):
        return CarriedState(model, prompt)
    if isinstance(model, BoW):
        return WindowAverage(model, prompt)
    if isinstance(model, (WindowModel, NGramModel)):
        return LastCharacters(model, prompt)
    return Cropped(model, prompt)
