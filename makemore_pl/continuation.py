"""Continuing a prompt: a model of running text writes on from it, one character at a time.

The characters stream out as they are drawn. Each is drawn on the CPU, from float32 probabilities,
with a CPU ``torch.Generator``: the same seed gives the same text on any device (up to the last
bits of the network's arithmetic, which can tip a draw near a boundary between two characters).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.text_decoding import Slide, TextDecoder, text_decoder

# The lecture's seed, as the word sampler's default.
DEFAULT_SEED = 2147483647

# The options that only mean something for words, and their values that leave them off. A text
# model given any other value gets one line about each.
WORD_OPTIONS: dict[str, Any] = {
    "prefix": "",
    "suffix": "",
    "contains": "",
    "exclude": "",
    "min_length": 0,
    "only_new": False,
    "unique": False,
    "beam": None,
    "label": None,
}


def word_option_errors(options: Mapping[str, Any], group: str = "--sampling") -> list[str]:
    """One line for each word option in ``options`` set away from its default: text models have no words."""
    return [
        f"{group}.{name} {value!r}: a model of running text writes no words; this option is for word models only"
        for name, value in options.items()
        if name in WORD_OPTIONS and value != WORD_OPTIONS[name]
    ]


def check_text_options(options: Mapping[str, Any], group: str = "--sampling") -> None:
    """Raise a UsageError of one line per word option set on a text model (``word_option_errors``)."""
    errors = word_option_errors(options, group)
    if errors:
        raise UsageError("\n".join(errors))


def encode_text(itos: Sequence[str], text: str, source: str, by_line: bool = False) -> np.ndarray:
    """The token ids of ``text`` (int32); a character outside the vocabulary is a UsageError naming it and where.

    ``source`` names the text in the message (an option, a file). ``by_line`` places a character
    by line and column (a file); otherwise by its position in ``text``, counted from 1 (a prompt).
    Vectorised: a text of 100 MB is a few seconds and four bytes a character.
    """
    codepoints = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    known = np.array([ord(c) if len(c) == 1 else 0x110000 for c in itos], dtype=np.uint32)
    order = np.argsort(known, kind="stable")
    at = np.searchsorted(known[order], codepoints).clip(max=len(itos) - 1)
    found = known[order][at] == codepoints
    if found.all():
        return order[at].astype(np.int32)
    first = int(np.argmin(found))
    char = text[first]
    if by_line:
        line = text.count("\n", 0, first) + 1
        where = f"line {line}, column {first - (text.rfind(chr(10), 0, first) + 1) + 1}"
    else:
        where = f"position {first + 1}"
    shown = "".join(itos)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    raise UsageError(f"{source}: character {char!r} at {where} is not in the model's vocabulary {shown!r}")


def read_prompt(prompt: str = "", prompt_file: str | Path | None = None, encoding: str = "utf-8") -> tuple[str, str]:
    """The prompt (given, or the text of ``prompt_file``), and how to name it in a one-line error."""
    if prompt_file is None:
        return prompt, "--sampling.prompt"
    if prompt:
        raise UsageError("--sampling.prompt and --sampling.prompt_file: give one of them, not both")
    try:
        return Path(prompt_file).read_text(encoding=encoding), str(prompt_file)
    except (OSError, UnicodeDecodeError, LookupError) as error:
        raise UsageError(f"--sampling.prompt_file {prompt_file}: cannot read it as {encoding} text ({error})") from None


def write_continuation(model: LanguageModel, prompt: str, length: int, out: TextIO, **options: Any) -> str:
    """Write the prompt, then its continuation to ``out`` character by character as drawn; the whole text.

    ``options`` are ``continue_text``'s. The prompt is checked before anything is written.
    """
    characters = continue_text(model, prompt, length, **options)
    first = next(characters, "")  # a bad prompt fails here, before the prompt is echoed
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
