"""Words on request: sampling under constraints, exactly, and the most likely words.

Every model samples through ``generate``: a list of requests (how many words, the options, a seed),
whose rows all advance together through one ``model.decoder`` (one network step for every row of
every request), each request drawing from its own CPU generator, so that it gets exactly the words
it would get alone with its seed, on any device.

A request's words come from the model's distribution ``p`` (tempered, top-k'd) restricted to its
constraints, ``p(w | C) ∝ p(w) 1[w ∈ C]``. The constraints that are a mask on the next character
(``exclude``, ``min_length``, ``max_length``) shape the proposal: each step draws from the masked
distribution, and the word is accepted with probability ``∏ Z_t``, the unmasked mass left at its
steps, which makes the accepted words exact (docs/sampling.md proves it). The row is dropped as
soon as its running product falls below its coin, so a rejected word costs no more steps than it
took to be rejected. The constraints no mask expresses (``suffix``, ``contains``, ``only_new``,
``unique``) reject whole words. ``beam`` searches best-first for the most probable words instead.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from makemore_pl.errors import UsageError

if TYPE_CHECKING:
    from makemore_pl.models.base import LanguageModel

# The options a request may set beyond today's temperature, top_k, prefix and max_length: with none of
# them set, an n-gram keeps the lecture's sequential loop (see ``_Request.lecture``).
CONSTRAINTS = ("label", "min_length", "exclude", "suffix", "contains", "only_new", "unique", "beam")
# At most this many proposals of one request in a round after the first (which proposes the words
# asked for): bounds the decoder's memory when few proposals are accepted.
MAX_ROUND = 4096
# Prefixes the beam search expands in one call of the network.
BEAM_BATCH = 64
# Why a row died while it was drawn, in the order of ``_Request.lost``'s columns.
MASKS = ("min_length", "exclude", "max_length")


def keep_top_k(probs: Tensor, top_k: int | None) -> Tensor:
    """``probs`` with all but each row's ``top_k`` largest entries set to 0 (all kept when ``top_k`` is None)."""
    if top_k is None or top_k >= probs.shape[-1]:
        return probs
    kth = probs.topk(top_k, dim=-1).values[..., -1:]
    return probs.masked_fill(probs < kth, 0.0)


def as_labels(label: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``--model.label`` as a tuple of names: one name, or a list of them; None when not given."""
    if label is None:
        return None
    return (label,) if isinstance(label, str) else tuple(label)


@dataclass(frozen=True)
class SamplingOptions:
    """The ``--model.*`` sampling options of one request, without their section (see ``LanguageModel``)."""

    temperature: float = 1.0
    top_k: int | None = None
    prefix: str = ""
    max_length: int = 50
    label: tuple[str, ...] | None = None  # None: an unlabelled model, or each label drawn from the prior
    min_length: int = 0
    exclude: str = ""
    suffix: str = ""
    contains: str = ""
    only_new: bool = False
    unique: bool = False
    beam: int | None = None
    max_draws: int = 1000
    exact: bool = True

    @classmethod
    def from_model(cls, model: LanguageModel) -> SamplingOptions:
        """The model's own options: what ``predict`` samples with."""
        values = {f.name: getattr(model, f.name) for f in fields(cls)}
        return cls(**{**values, "label": as_labels(values["label"])})

    def constrained(self) -> bool:
        """Whether any option beyond temperature, top_k, prefix and max_length is set."""
        return any(getattr(self, name) != getattr(SamplingOptions, name) for name in CONSTRAINTS)

    def check(self, model: LanguageModel, longest: int | None = None) -> None:
        """Refuse options that make no sense for ``model``, in one line naming the option.

        ``longest`` is the longest word the model samples under ``max_length`` (the model knows it
        once it is built; its ``__init__`` passes ``max_length`` before then).
        """
        if self.temperature <= 0:
            raise UsageError(f"--model.temperature must be > 0, got {self.temperature}")
        if self.top_k is not None and self.top_k < 1:
            raise UsageError(f"--model.top_k must be at least 1 (or null for all), got {self.top_k}")
        for option in ("max_length", "max_draws"):
            if getattr(self, option) < 1:
                raise UsageError(f"--model.{option} must be at least 1, got {getattr(self, option)}")
        if self.min_length < 0:
            raise UsageError(f"--model.min_length must be at least 0, got {self.min_length}")
        if self.beam is not None and self.beam < 1:
            raise UsageError(f"--model.beam must be at least 1 (or null to sample), got {self.beam}")
        if self.label is not None:
            if not self.label:
                raise UsageError("--model.label: give at least one label (or null)")
            model.label_ids(self.label)
        longest = model.longest_sample(self.max_length) if longest is None else longest
        under = (
            f"--model.max_length {self.max_length}"
            if longest == self.max_length
            else f"the longest word this model samples: {longest} characters, the longest word of the data"
        )
        if self.min_length > longest:
            raise UsageError(f"--model.min_length {self.min_length} is above {under}")
        for option in ("prefix", "suffix", "contains"):
            self._check_characters(model, option, under, longest)
        if self.min_length > 0 and set(model.itos[1:]) <= set(self.exclude):
            raise UsageError(
                f"--model.exclude {self.exclude!r} leaves no character to draw, and --model.min_length is "
                f"{self.min_length}"
            )

    def _check_characters(self, model: LanguageModel, option: str, under: str, longest: int) -> None:
        text = getattr(self, option)
        unknown = sorted(set(text) - set(model.itos[1:]))
        if unknown:
            raise UsageError(
                f"--model.{option} {text!r}: {''.join(unknown)!r} not in the vocabulary ({model.vocabulary.summary()})"
            )
        excluded = sorted(set(text) & set(self.exclude))
        if excluded:
            raise UsageError(f"--model.{option} {text!r}: {''.join(excluded)!r} is excluded by --model.exclude")
        # A prefix as long as the longest word would leave nothing to sample (as before these options).
        if len(text) > longest or (option == "prefix" and text and len(text) >= longest):
            raise UsageError(f"--model.{option} {text!r} leaves no room under {under}")


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


def generate(
    model: LanguageModel,
    requests: list[tuple[int, SamplingOptions, int]],
    train_words: set[str] | None = None,
) -> list[SampleResult]:
    """The words of each request ``(num, options, seed)``: ``num`` words (of each label), or a beam's ``options.beam``.

    ``train_words`` are the training split's words, which ``only_new`` leaves out. The sampling
    requests advance together; a beam request searches on its own (it draws nothing).
    """
    for _, options, _ in requests:
        options.check(model)
        if options.only_new and train_words is None:
            raise UsageError("--model.only_new needs the training words, and the words file is not here (--data.path)")
    with model.evaluating():
        samplers = {
            i: _Request(model, num, options, seed, train_words)
            for i, (num, options, seed) in enumerate(requests)
            if options.beam is None
        }
        while active := [request for request in samplers.values() if request.wants_more()]:
            _draw_round(model, active)
        return [
            samplers[i].result() if i in samplers else _beam_search(model, options, train_words)
            for i, (_, options, _) in enumerate(requests)
        ]


def _coin_seed(seed: int) -> int:
    # The acceptance coins and labels come from a generator of their own, so the characters' draws
    # are those of the lecture's loop and of sampling before constraints (a fixed odd multiplier
    # decorrelates the two streams of one seed, and of neighbouring seeds).
    return (seed * 0x9E3779B97F4A7C15 + 1) % 2**63


class _Part:
    """The words of one label (or of every label, drawn from the prior) that a request asks for."""

    def __init__(self, label: int | None, num: int, budget: int) -> None:
        self.label, self.num, self.budget = label, num, budget
        self.words: list[Sampled] = []
        self.proposed = self.last = 0

    @property
    def missing(self) -> int:
        return self.num - len(self.words)


class _Constraints:
    """What a request's options allow: the character masks at each length, and the words refused whole."""

    def __init__(self, model: LanguageModel, options: SamplingOptions, train_words: set[str] | None) -> None:
        self.options, self.train_words = options, train_words
        self.prefix = model.vocabulary.encode(options.prefix)
        self.cap = model.longest_sample(options.max_length)
        # The characters a free step may draw (the boundary, from min_length on).
        self.drawable = torch.tensor([c not in options.exclude for c in model.itos])
        self.drawable[0] = True

    def allowed(self, length: int) -> Tensor:
        """The characters that may follow ``length`` characters, past the prefix (0: the word ends there)."""
        if length == self.cap:
            return torch.arange(len(self.drawable)) == 0
        allowed = self.drawable.clone()
        allowed[0] = length >= self.options.min_length
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


class _Request:
    """One sampling request's state across rounds of proposals: its generators, words found and rejections."""

    def __init__(
        self, model: LanguageModel, num: int, options: SamplingOptions, seed: int, train_words: set[str] | None
    ) -> None:
        self.options, self.constraints = options, _Constraints(model, options, train_words)
        self.chars = torch.Generator().manual_seed(seed)
        self.coins = torch.Generator().manual_seed(_coin_seed(seed))
        self.vocabulary, self.labels = model.vocabulary, model.labels
        budget = num * options.max_draws
        if options.label is not None:
            self.parts = [_Part(int(i), num, budget) for i in model.label_ids(options.label).tolist()]
        else:
            self.parts = [_Part(None, num, budget)]
        # Unlabelled requests of an n-gram draw one word after the other, as the lecture's loop does.
        self.lecture = getattr(model, "lecture_sampling", False) and not options.constrained()
        # A labelled model without --model.label: the label is drawn too, from p(label | prefix).
        self.label_weights = self.log_prior = None
        if model.labels is not None and options.label is None:
            self.label_weights = _label_weights(model, self.constraints.prefix, options)
            self.log_prior = _label_prior(model).log()
        self.rejected: Counter[str] = Counter()
        self.seen: set[str] = set()

    def wants_more(self) -> bool:
        return any(part.missing and part.proposed < part.budget for part in self.parts)

    def plan(self) -> tuple[list[int], Tensor | None]:
        """How many proposals each part makes this round, and every proposal's label (None when unlabelled)."""
        found = sum(len(part.words) for part in self.parts)
        proposed = sum(part.proposed for part in self.parts)
        sizes = []
        for part in self.parts:
            if not part.missing:
                size = 0
            elif self.lecture:
                size = 1
            elif proposed == 0:
                size = part.missing  # all at once: without constraints, the words of sampling before them
            elif found == 0:
                size = min(4 * proposed, MAX_ROUND)  # nothing accepted yet: try four times as many
            else:  # as many as the acceptance rate asks
                size = min(math.ceil(1.2 * part.missing * proposed / found), MAX_ROUND)
            sizes.append(max(0, min(size, part.budget - part.proposed)))
        labels = []
        for part, size in zip(self.parts, sizes):
            if part.label is not None:
                labels.append(torch.full((size,), part.label, dtype=torch.long))
            elif self.label_weights is not None:
                labels.append(torch.multinomial(self.label_weights, size, replacement=True, generator=self.coins))
        return sizes, (torch.cat(labels) if labels else None)

    def step(self, length: int, logits: Tensor, rows: Tensor, state: _Round) -> Tensor:
        """The next character of the request's live ``rows`` (indices into this round's proposals) at ``length``.

        Updates each row's log-probability, acceptance and lost mass in ``state``; returns the
        characters, with -1 for a row that died (nothing left to draw, or its coin lost).
        """
        options, constraints = self.options, self.constraints
        probs = torch.softmax(logits.float() / options.temperature, dim=-1).cpu()
        prefix = constraints.prefix
        if length < len(prefix):  # the prefix is given, not drawn: its mass is the same for every row of a label
            state.log_prob[rows] += (probs[:, prefix[length]] / probs.sum(-1)).double().log()
            return torch.full((len(rows),), prefix[length], dtype=torch.long)
        probs = keep_top_k(probs, options.top_k)
        total = probs.sum(-1)
        allowed = constraints.allowed(length)
        masked = probs.masked_fill(~allowed, 0.0)
        kept = masked.sum(-1)
        # The mass each mask takes, by row: the option to relax when the budget runs out.
        lost = probs.new_zeros(len(rows), len(MASKS))
        if length == constraints.cap:
            lost[:, 2] = total - probs[:, 0]
        else:
            lost[:, 0] = probs[:, 0] * (length < options.min_length)
            lost[:, 1] = probs[:, ~constraints.drawable].sum(-1)
        state.lost[rows] += (lost / total[:, None]).double()
        if length == constraints.cap:  # only the boundary is left: nothing to draw
            choice, dead = torch.zeros(len(rows), dtype=torch.long), torch.zeros(len(rows), dtype=torch.bool)
        else:
            # torch.multinomial(p, 1) is argmax(p / E), E ~ Exp(1) (ATen's Distributions.cpp): drawing E
            # for every proposal of the round, live or not, keeps the characters' stream that sampling
            # without constraints draws, row by row, with the decoder holding the live rows only.
            noise = torch.empty(state.size, len(allowed)).exponential_(1, generator=self.chars)
            choice, dead = (masked / noise[rows]).argmax(-1), kept == 0  # dead: nothing left to draw
        state.log_prob[rows] += (probs.gather(1, choice[:, None])[:, 0] / total).double().log()
        state.log_accept[rows] += (kept / total).double().log()
        if options.exact:
            dead |= state.log_accept[rows] < state.log_coin[rows]
        return choice.masked_fill(dead, -1)

    def settle(self, sizes: list[int], state: _Round) -> None:
        """Accept or reject this round's proposals, in order, part by part."""
        start = 0
        for part, size in zip(self.parts, sizes):
            for row in range(start, start + size):
                part.proposed += 1
                if not part.missing:
                    continue  # a proposal beyond the words asked for: drawn, not needed
                if state.dead[row]:
                    self.rejected[MASKS[int(state.lost[row].argmax())]] += 1
                    continue
                word = self.vocabulary.decode([i for i in state.drawn[row].tolist() if i > 0])
                reason = self.constraints.refusal(word, self.seen)
                if reason is not None:
                    self.rejected[reason] += 1
                    continue
                label = None if state.labels is None else int(state.labels[row])
                name = None if label is None else self.labels[label]
                log_prob = float(state.log_prob[row])
                if self.log_prior is not None:
                    log_prob += float(self.log_prior[label])
                part.words.append(Sampled(word, name, log_prob, part.proposed - part.last))
                part.last = part.proposed
                self.seen.add(word)
            start += size

    def result(self) -> SampleResult:
        words = [word for part in self.parts for word in part.words]
        missing = sum(part.missing for part in self.parts)
        if not missing:
            return SampleResult(words, 0, None)
        proposed = sum(part.proposed for part in self.parts)
        advice = f"raise --model.max_draws ({self.options.max_draws} per word asked, {proposed:,} drawn)"
        if self.rejected:
            option, count = self.rejected.most_common(1)[0]
            advice = f"relax --model.{option} (it rejected {count:,} of {proposed:,} draws), or {advice}"
        return SampleResult(words, missing, advice)


class _Round:
    """Every proposal of one round: what each drew, its log-probability, acceptance, coin and lost mass."""

    def __init__(self, size: int, cap: int, labels: Tensor | None, coins: Tensor) -> None:
        self.size, self.labels = size, labels
        self.drawn = torch.zeros(size, max(cap, 1), dtype=torch.long)
        self.log_prob = torch.zeros(size, dtype=torch.float64)
        self.log_accept = torch.zeros(size, dtype=torch.float64)
        self.log_coin = coins.double().log()
        self.lost = torch.zeros(size, len(MASKS), dtype=torch.float64)
        self.dead = torch.zeros(size, dtype=torch.bool)


def _draw_round(model: LanguageModel, requests: list[_Request]) -> None:
    """One round: every request's proposals written together, one decoder step for all rows per character."""
    plans = [request.plan() for request in requests]
    rounds = []
    for request, (sizes, labels) in zip(requests, plans):
        coins = torch.rand(sum(sizes), generator=request.coins, dtype=torch.float64)
        rounds.append(_Round(sum(sizes), request.constraints.cap, labels, coins))
    owner = torch.cat([torch.full((r.size,), i) for i, r in enumerate(rounds)])
    local = torch.cat([torch.arange(r.size) for r in rounds])
    labels = [r.labels for r in rounds]
    label = torch.cat(labels).to(model.device) if model.labels and labels else None
    live = torch.arange(len(owner))  # the proposals the decoder still writes, in its row order
    decoder = model.decoder(len(live), label)
    length = 0
    while len(live):
        logits = decoder.logits()
        choice = torch.empty(len(live), dtype=torch.long)
        for i, (request, state) in enumerate(zip(requests, rounds)):
            rows = (owner[live] == i).nonzero()[:, 0]
            if not len(rows):
                continue
            slots = local[live[rows]]
            drawn = request.step(length, logits[rows.to(logits.device)], slots, state)
            choice[rows] = drawn
            state.dead[slots[drawn < 0]] = True
            if length < state.drawn.shape[1]:
                state.drawn[slots, length] = drawn.clamp_min(0)
        going = choice > 0
        if not going.all():
            decoder.keep(going.nonzero()[:, 0].to(model.device))
        live, length = live[going], length + 1
        if len(live):
            decoder.feed(choice[going].to(model.device))
    for request, (sizes, _), state in zip(requests, plans, rounds):
        request.settle(sizes, state)


def _label_prior(model: LanguageModel) -> Tensor:
    """p(label): the training split's, which the model keeps (``label_prior``), or uniform without it."""
    prior = getattr(model, "label_prior", None)
    if prior is None:
        return torch.full((model.num_labels,), 1.0 / model.num_labels, dtype=torch.float64)
    prior = prior.detach().double().cpu()
    return prior / prior.sum()


def _label_weights(model: LanguageModel, prefix: list[int], options: SamplingOptions) -> Tensor:
    """p(label | prefix) ∝ p(label) p(prefix | label): the label of a word drawn from the prior, given its prefix.

    Drawing the label from it, then the rest of the word given both, draws (label, word) from the
    prior times the model restricted to the prefix; the prefix's own mass then differs by label
    and could not be left out of the acceptance otherwise.
    """
    weights = _label_prior(model)
    if prefix:
        x = torch.tensor([[0, *prefix]] * model.num_labels, device=model.device)
        labels = torch.arange(model.num_labels, device=model.device)
        log_probs = torch.log_softmax(model.word_logits(x, labels).float() / options.temperature, dim=-1).cpu()
        weights *= log_probs[:, :-1].gather(2, x[:, 1:, None].cpu())[..., 0].sum(1).double().exp()
    if not weights.sum() > 0:
        raise UsageError(f"--model.prefix {options.prefix!r}: no label gives it any probability")
    return weights / weights.sum()


def _beam_search(model: LanguageModel, options: SamplingOptions, train_words: set[str] | None) -> SampleResult:
    """The ``options.beam`` most probable words (of each label) under the constraints, best first."""
    if options.label is not None:
        starts = [[(int(i), 0.0)] for i in model.label_ids(options.label).tolist()]
    elif model.labels:
        # Each label, weighted by its prior: the most probable (label, word) pairs.
        starts = [[(i, math.log(p)) for i, p in enumerate(_label_prior(model).tolist()) if p > 0]]
    else:
        starts = [[(None, 0.0)]]
    words, missing, expanded, exhausted = [], 0, 0, False
    for start in starts:
        found, used, empty = _best_first(model, options, train_words, start)
        words += found
        missing += options.beam - len(found)
        expanded += used
        exhausted |= empty
    if not missing:
        return SampleResult(words, 0, None)
    if exhausted:
        advice = "no more words satisfy the constraints: relax them"
    else:
        advice = f"raise --model.max_draws ({options.max_draws} per word asked, {expanded:,} prefixes expanded)"
    return SampleResult(words, missing, advice)


def _best_first(
    model: LanguageModel, options: SamplingOptions, train_words: set[str] | None, starts: list[tuple[int | None, float]]
) -> tuple[list[Sampled], int, bool]:
    """Best-first search over prefixes: a prefix's probability bounds every word that starts with it.

    The frontier is a heap of prefixes and finished words by log-probability; a finished word on
    top is more probable than anything left, so words come out in order, exactly. Returns the
    words, the prefixes expanded and whether the frontier ran out (fewer words exist).
    """
    constraints, seen = _Constraints(model, options, train_words), set()
    budget = options.beam * options.max_draws
    frontier: list[tuple[float, int, tuple[int, ...], int | None, bool]] = []
    tie = 0
    for label, log_prior in starts:
        frontier.append((-log_prior, tie := tie + 1, (), label, False))
    heapq.heapify(frontier)
    words: list[Sampled] = []
    expanded = last = 0
    while frontier and len(words) < options.beam and expanded < budget:
        if frontier[0][4]:
            score, _, tokens, label, _ = heapq.heappop(frontier)
            name = None if label is None else model.labels[label]
            words.append(Sampled(model.vocabulary.decode(tokens), name, -score, expanded - last))
            last = expanded
            continue
        batch = []
        while frontier and not frontier[0][4] and len(batch) < min(BEAM_BATCH, budget - expanded):
            batch.append(heapq.heappop(frontier))
        expanded += len(batch)
        for (score, _, tokens, label, _), log_q in zip(batch, _next_log_probs(model, options, batch)):
            for char in _children(constraints, len(tokens), log_q):
                child = -score + float(log_q[char])
                if char:
                    heapq.heappush(frontier, (-child, tie := tie + 1, (*tokens, char), label, False))
                elif constraints.refusal(model.vocabulary.decode(tokens), seen) is None:
                    heapq.heappush(frontier, (-child, tie := tie + 1, tokens, label, True))
    return words, expanded, not frontier


def _next_log_probs(model: LanguageModel, options: SamplingOptions, batch: list[tuple]) -> Tensor:
    """log p(next character) after each prefix of ``batch``: one ``word_logits`` call for all of them."""
    lengths = torch.tensor([len(item[2]) for item in batch])
    x = torch.zeros(len(batch), int(lengths.max()) + 1, dtype=torch.long)
    for row, item in enumerate(batch):
        x[row, 1 : len(item[2]) + 1] = torch.tensor(item[2], dtype=torch.long)
    label = None if batch[0][3] is None else torch.tensor([item[3] for item in batch], device=model.device)
    logits = model.word_logits(x.to(model.device), label)[torch.arange(len(batch)), lengths.to(model.device)]
    probs = torch.softmax(logits.float() / options.temperature, dim=-1).cpu()
    # The prefix is given: top_k limits the characters drawn after it, as when sampling.
    free = lengths >= len(options.prefix)
    probs[free] = keep_top_k(probs[free], options.top_k)
    return (probs / probs.sum(-1, keepdim=True)).log()


def _children(constraints: _Constraints, length: int, log_q: Tensor) -> list[int]:
    """The characters that may follow a prefix of ``length`` characters (0: the word ends there)."""
    if length < len(constraints.prefix):
        return [constraints.prefix[length]]
    return (constraints.allowed(length) & (log_q > -math.inf)).nonzero()[:, 0].tolist()
