"""Scoring a text file under a model of running text: total NLL, bits per character, and each character's surprisal.

Every character after the first is predicted exactly once, from what came before it in the text
(never from the text's end wrapped round). Two readings of "before it":

- ``windows`` (the default): as validation reads a held-out text. A sequence model reads
  non-overlapping windows of ``block_size + 1`` characters, each predicting its last
  ``block_size`` from its own start: batched, and the same NLL as an exact validation pass.
  A window model or n-gram reads the last ``context`` characters of each, padded with token 0 at
  the text's start.
- ``sliding``: each character from the longest context the model reads (``text_decoding``):
  a recurrence's state carried through the whole text, a Transformer's last ``block_size``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.network import SequenceModel
from makemore_pl.models.text_decoding import text_decoder
from makemore_pl.sampling.text_options import encode_text

Reading = Literal["windows", "sliding"]


@dataclass(frozen=True)
class TextScore:
    """The score of a text: ``characters`` predicted (all but the first), their total NLL in nats."""

    characters: int
    total_nll: float
    surprisals: list[float] | None = None  # bits of each predicted character, in order, when asked for

    @property
    def nll_per_character(self) -> float:
        return self.total_nll / self.characters

    @property
    def bits_per_character(self) -> float:
        return self.nll_per_character / math.log(2)

    def summary(self, source: str) -> str:
        """One line: the characters predicted, the total NLL, and the mean in nats and in bits."""
        return (
            f"{source}: {self.characters:,} characters predicted, total NLL {self.total_nll:.4f} nats, "
            f"{self.nll_per_character:.4f} nats/char, {self.bits_per_character:.4f} bits/char"
        )

    def surprisal_table(self, text: str) -> str:
        """Tab-separated lines of the surprisals of ``text``'s score: position, character (escaped), bits."""
        if self.surprisals is None:
            raise ValueError("this score was computed without surprisals")
        rows = ["position\tcharacter\tbits"]
        for position, (char, bits) in enumerate(zip(text[1:], self.surprisals), start=1):
            rows.append(f"{position}\t{json.dumps(char, ensure_ascii=False)[1:-1]}\t{bits:.4f}")
        return "\n".join(rows) + "\n"


def character_nlls(
    model: LanguageModel, ids: Sequence[int] | np.ndarray, reading: Reading = "windows", batch: int = 64
) -> Tensor:
    """The NLL in nats (float64, on the CPU) of each of ``ids[1:]`` given the text before it, under ``reading``."""
    if reading == "sliding":
        return _sliding(model, ids)
    if reading != "windows":
        raise UsageError(f"--reading must be windows or sliding, got {reading!r}")
    # int32 on the device, a batch at a time made long for the embedding: 4 bytes a character, not 8.
    tokens = torch.as_tensor(np.asarray(ids, dtype=np.int32), device=model.device)
    parts = []
    with model.evaluating():
        if isinstance(model, SequenceModel):
            size = model.block_size
            # Windows of size + 1 that share one character with the next: none is predicted twice.
            windows = tokens.unfold(0, size + 1, size) if len(ids) > size else tokens.new_zeros(0, size + 1)
            for first in range(0, len(windows), batch):
                parts.append(_window_nlls(model, windows[first : first + batch]))
            end = len(windows) * size  # where the full windows stop: a shorter last one reads the rest
            if end < len(ids) - 1:
                parts.append(_window_nlls(model, tokens[end:][None]))
        else:
            context = model.context
            padded = F.pad(tokens, (context, 0))  # token 0 before the text, as a short prompt is padded
            windows = padded.unfold(0, context, 1)[1 : len(ids)]  # the context before each of ids[1:]
            for first in range(0, len(windows), batch * context):
                x = windows[first : first + batch * context].long()
                logits = _full_precision(model.logits(x))
                targets = tokens[1 + first : 1 + first + len(x)].long()
                parts.append(F.cross_entropy(logits, targets, reduction="none"))
    return torch.cat(parts).double().cpu() if parts else torch.zeros(0, dtype=torch.float64)


def _full_precision(logits: Tensor) -> Tensor:
    """The logits in float64: a total over millions of characters, and surprisals, exact to the last digit shown."""
    return logits.double()


def _window_nlls(model: SequenceModel, rows: Tensor) -> Tensor:
    """Each row's characters after its first, predicted from the row's start, flat in order."""
    rows = rows.long()
    logits = _full_precision(model.logits(rows[:, :-1]))
    return F.cross_entropy(logits.flatten(0, 1), rows[:, 1:].flatten(), reduction="none")


def _sliding(model: LanguageModel, ids: Sequence[int] | np.ndarray) -> Tensor:
    nlls = torch.zeros(max(len(ids) - 1, 0), dtype=torch.float64)
    if len(ids) < 2:
        return nlls
    with model.evaluating():
        decoder = text_decoder(model, [int(ids[0])])
        for i, token in enumerate(np.asarray(ids[1:]).tolist()):
            nlls[i] = -torch.log_softmax(decoder.logits().double(), 0)[token].item()
            decoder.feed(token)
    return nlls


def score_text(
    model: LanguageModel,
    text: str,
    reading: Reading = "windows",
    surprisals: bool = False,
    source: str = "the text",
    by_line: bool = True,
) -> TextScore:
    """Score ``text`` under ``model``; ``surprisals`` adds each predicted character's surprisal in bits.

    A character outside the vocabulary is a UsageError naming ``source`` and where the character is:
    its line and column (``by_line``, a file), or its position counted from 1 (a request's text).
    """
    ids = encode_text(model.itos, text, source, by_line=by_line)
    if len(ids) < 2:
        raise UsageError(f"{source}: {len(ids)} characters; scoring needs at least 2 (the first is never predicted)")
    nlls = character_nlls(model, ids, reading)
    bits = (nlls / math.log(2)).tolist() if surprisals else None
    return TextScore(characters=len(nlls), total_nll=float(nlls.sum()), surprisals=bits)


def score_text_file(
    model: LanguageModel, path: Path, encoding: str = "utf-8", reading: Reading = "windows", surprisals: bool = False
) -> TextScore:
    """Score the text file at ``path`` (see ``score_text``); an unreadable file is one line naming it."""
    try:
        text = Path(path).read_text(encoding=encoding)
    except (OSError, UnicodeDecodeError, LookupError) as error:
        raise UsageError(f"{path}: cannot read it as {encoding} text ({error})") from None
    return score_text(model, text, reading, surprisals, source=str(path))
