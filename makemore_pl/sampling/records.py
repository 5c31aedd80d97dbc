"""What sampling gives back: each word (``Sampled``), a request's words (``SampleResult``), a predict batch's."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sampled:
    """One word of a request: its label (None when unlabelled), its log-probability and the draws it took.

    ``log_prob`` is log p(word) under the distribution sampled from (tempered and top-k'd, the
    prefix given), plus log p(label) when the label was drawn from the prior. ``draws`` counts the
    proposals since the word before it (of its label); for a beam, the prefixes expanded.
    """

    word: str
    label: str | None
    log_prob: float
    draws: int


@dataclass
class SampleResult:
    """A request's words, and when the budget ran out, how many are missing and which option to relax."""

    words: list[Sampled]
    missing: int
    advice: str | None


@dataclass
class Prediction:
    """What ``predict_step`` returns for ``SampleWriter``: a batch's words, each with its place among all words.

    ``order`` holds one ``(part, index)`` per word: its label's part of the request, then its
    index in the request, so that the words of every process sort into the order asked for.
    """

    words: list[Sampled] = field(default_factory=list)
    order: list[tuple[int, int]] = field(default_factory=list)
    missing: int = 0
    advice: str | None = None
    beam: bool = False
