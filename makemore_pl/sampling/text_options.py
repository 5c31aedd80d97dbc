"""What a request to continue running text may hold: no word options, and a prompt in the model's vocabulary.

Nothing here needs a model, only its vocabulary: ``SamplingOptions.check`` and the continuation
(``makemore_pl.continuation``) both call it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from makemore_pl.errors import UsageError

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


@dataclass
class ContinuationRequest:
    """``predict``'s one batch for a model of running text: what to continue, how far, and how to draw.

    A plain (unfrozen) dataclass of plain values: Lightning moves a batch to the model's device
    field by field. ``callbacks.text_writer.TextWriter`` streams its continuation.
    """

    prompt: str
    source: str  # how a one-line error names the prompt: the option or the file
    length: int
    temperature: float
    top_k: int | None
    seed: int

    @classmethod
    def from_options(cls, options: Any) -> ContinuationRequest:  # a SamplingOptions (options.py imports this module)
        prompt, source = options.read_prompt()
        return cls(prompt, source, options.length, options.temperature, options.top_k, options.seed)


class OneRequest:
    """``predict``'s "data" for a model of running text: one loader of one batch, the request.

    A class, not a list: Lightning reads a list (of lists) as several loaders.
    """

    def __init__(self, request: ContinuationRequest) -> None:
        self.request = request

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[ContinuationRequest]:
        yield self.request
