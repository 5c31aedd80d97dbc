"""INTERIM: what the server needs from generate.py (CONTRACT.md 4).

Until those land, sampling goes through today's ``model.sample`` (temperature, top-k, a prefix,
a length cap). This module goes when it lands.
"""

from __future__ import annotations

from dataclasses import dataclass

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.scoring import score_words


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
