"""INTERIM: what the server needs from generate.py and scoring.py (CONTRACT.md 4-5).

Until those land, sampling goes through today's ``model.sample`` (temperature, top-k, a prefix,
a length cap) and scoring through a direct NLL. This module goes when they land.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from makemore_pl.data.batches import WORDS
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel


@dataclass(frozen=True)
class SamplingOptions:
    temperature: float = 1.0
    top_k: int | None = None
    prefix: str = ""
    max_length: int = 50
    label: tuple[str, ...] | None = None
    min_length: int = 0
    exclude: str = ""
    suffix: str = ""
    contains: str = ""
    only_new: bool = False
    unique: bool = False
    beam: int | None = None

    @classmethod
    def from_model(cls, model: LanguageModel) -> SamplingOptions:
        return cls(model.temperature, model.top_k, model.prefix, model.max_length)

    def check(self, model: LanguageModel) -> None:
        off = {"label": None, "min_length": 0, "exclude": "", "suffix": "", "contains": "", "only_new": False,
               "unique": False, "beam": None}  # fmt: skip
        later = [name for name, value in off.items() if getattr(self, name) != value]
        if later:
            raise UsageError(f"--model.{later[0]}: not served until makemore_pl.generate lands")
        unknown = sorted(set(self.prefix) - set(model.itos[1:]))
        if unknown:
            raise UsageError(f"--model.prefix {self.prefix!r}: {''.join(unknown)!r} not in the vocabulary")
        if len(self.prefix) >= min(self.max_length, getattr(model, "sample_length", self.max_length)):
            raise UsageError(f"--model.prefix {self.prefix!r} leaves no room under --model.max_length")


@dataclass
class Sampled:
    word: str
    label: str | None
    log_prob: float
    draws: int


@dataclass
class SampleResult:
    words: list[Sampled]
    missing: int
    advice: str | None


def generate(
    model: LanguageModel, requests: list[tuple[int, SamplingOptions, int]], train_words: set[str] | None = None
) -> list[SampleResult]:
    results = []
    for num, options, seed in requests:
        saved = model.temperature, model.top_k, model.prefix, model.max_length
        model.temperature, model.top_k, model.prefix, model.max_length = (
            options.temperature, options.top_k, options.prefix, options.max_length)  # fmt: skip
        try:
            words = model.sample(num, seed)
        finally:
            model.temperature, model.top_k, model.prefix, model.max_length = saved
        scores = score_words(model, words)
        results.append(SampleResult([Sampled(w, None, -s.nll, 1) for w, s in zip(words, scores)], 0, None))
    return results


@dataclass
class WordScore:
    word: str
    nll: float
    nats_per_char: float
    perplexity: float
    in_train: bool | None
    label: str | None
    posterior: dict[str, float] | None
    surprisal: list[float] | None


@torch.no_grad()
def score_words(
    model: LanguageModel, words: list[str], train_words: set[str] | None = None, per_char: bool = False
) -> list[WordScore]:
    for i, word in enumerate(words):
        for j, char in enumerate(word):
            if char not in model.vocabulary.stoi:
                raise UsageError(f"words[{i}] {word!r}: character {char!r} at position {j} is not in the vocabulary")
    length = max(map(len, words)) + 1
    if model.layout == WORDS and length > model.block_size and model.position_table:
        raise UsageError(f"a word of {length - 1} characters: the model reads at most {model.block_size - 1}")
    x, y = model.vocabulary.encode_padded(words, length)
    with model.evaluating():
        logp = F.log_softmax(model.word_logits(x.to(model.device)).float(), -1).cpu()
    picked = logp.gather(-1, y.clamp_min(0)[..., None])[..., 0]
    rows = [picked[i, : len(w) + 1].tolist() for i, w in enumerate(words)]
    scores = []
    for word, row in zip(words, rows):
        nll = -sum(row)
        per = nll / len(row)
        in_train = None if train_words is None else word in train_words
        surprisal = [-v for v in row] if per_char else None
        scores.append(WordScore(word, nll, per, math.exp(per), in_train, None, None, surprisal))
    return scores
