"""Continuing a prompt: a model of running text writes on from it, one character at a time.

The characters stream out as they are drawn. Each is drawn on the CPU, from float32 probabilities,
with a CPU ``torch.Generator``: the same seed gives the same text on any device (up to the last
bits of the network's arithmetic, which can tip a draw near a boundary between two characters).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TextIO

import torch

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.text_decoding import Slide, TextDecoder, text_decoder
from makemore_pl.sampling.text_options import (
    WORD_OPTIONS,
    check_text_options,
    encode_text,
    read_prompt,
    word_option_errors,
)

__all__ = [
    "WORD_OPTIONS",
    "check_text_options",
    "continue_text",
    "draw",
    "encode_text",
    "read_prompt",
    "word_option_errors",
    "write_continuation",
    "write_stream",
]

# The lecture's seed, as the word sampler's default.
DEFAULT_SEED = 2147483647


def write_continuation(model: LanguageModel, prompt: str, length: int, out: TextIO, **options: Any) -> str:
    """Write the prompt, then its continuation to ``out`` character by character as drawn; the whole text.

    ``options`` are ``continue_text``'s. The prompt is checked before anything is written.
    """
    return write_stream(prompt, continue_text(model, prompt, length, **options), out)


def write_stream(prompt: str, characters: Iterator[str], out: TextIO) -> str:
    """Write ``prompt``, then each of ``characters`` as it comes, flushed; the whole text.

    The first character is drawn before the prompt is echoed: a bad prompt fails with nothing written.
    """
    first = next(characters, "")
    out.write(prompt + first)
    out.flush()
    written = [prompt, first]
    for char in characters:
        out.write(char)
        out.flush()
        written.append(char)
    return "".join(written)


def continue_text(
    model: LanguageModel,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int = DEFAULT_SEED,
    slide: Slide = "exact",
    source: str = "--sampling.prompt",
) -> Iterator[str]:
    """Yield ``length`` characters that continue ``prompt``, each as soon as it is drawn (the prompt not repeated).

    ``temperature`` divides the logits; ``top_k`` keeps the k most likely characters. ``slide`` is
    how a Transformer reads past its context (``text_decoding``). ``source`` names the prompt in
    the one-line error about a character outside the vocabulary.
    """
    if length < 0:
        raise UsageError(f"--sampling.length must be at least 0, got {length}")
    if not temperature > 0:
        raise UsageError(f"--sampling.temperature must be above 0, got {temperature}")
    if top_k is not None and top_k < 1:
        raise UsageError(f"--sampling.top_k must be at least 1, got {top_k}")
    ids = encode_text(model.itos, prompt, source, by_line="\n" in prompt)  # a prompt of lines: line and column
    generator = torch.Generator().manual_seed(seed)
    with model.evaluating():
        for token in draw(text_decoder(model, ids.tolist(), slide), length, generator, temperature, top_k):
            yield model.itos[token]


def draw(
    decoder: TextDecoder, length: int, generator: torch.Generator, temperature: float = 1.0, top_k: int | None = None
) -> Iterator[int]:
    """Yield ``length`` token ids drawn one after the other from ``decoder``, feeding each back to it.

    Drawn on the CPU from float32 probabilities with the CPU ``generator``, whatever the model's device.
    """
    for position in range(length):
        logits = decoder.logits().float().cpu() / temperature
        if top_k is not None and top_k < len(logits):
            cut = torch.topk(logits, top_k).values[-1]
            logits = logits.masked_fill(logits < cut, float("-inf"))
        token = int(torch.multinomial(torch.softmax(logits, 0), 1, generator=generator))
        yield token
        if position + 1 < length:  # the last character is never read back
            decoder.feed(token)
