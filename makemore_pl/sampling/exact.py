"""Words on request: sampling under constraints, exactly (and the most likely words, by ``beam``).

Every model samples through ``generate``: a list of requests (``SamplingOptions``: how many words, a seed),
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

import math
from collections import Counter

import torch
from torch import Tensor

from makemore_pl.errors import UsageError
from makemore_pl.sampling.beam import beam_search
from makemore_pl.sampling.constraints import MASKS, Constraints, keep_top_k
from makemore_pl.sampling.options import SamplingOptions, flag
from makemore_pl.sampling.probabilities import label_prior, label_weights
from makemore_pl.sampling.protocol import Samplable
from makemore_pl.sampling.records import Sampled, SampleResult

# At most this many proposals of one request in a round after the first (which proposes the words
# asked for): bounds the decoder's memory when few proposals are accepted.
MAX_ROUND = 4096


def generate(
    model: Samplable, requests: list[SamplingOptions], train_words: set[str] | None = None
) -> list[SampleResult]:
    """The words of each request: ``num_samples`` words (of each label) from its ``seed``, or a beam's ``beam``.

    ``train_words`` are the training split's words, which ``only_new`` leaves out. The sampling
    requests advance together; a beam request searches on its own (it draws nothing).
    """
    for options in requests:
        options.check(model)
        if options.only_new and train_words is None:
            raise UsageError(
                f"{flag('only_new')} needs the training words, and the words file is not here (--data.path)"
            )
    with model.evaluating():
        samplers = {
            i: Sampler(model, options, train_words) for i, options in enumerate(requests) if options.beam is None
        }
        while active := [request for request in samplers.values() if request.wants_more()]:
            _draw_round(model, active)
        return [
            samplers[i].result() if i in samplers else beam_search(model, options, train_words)
            for i, options in enumerate(requests)
        ]


def _coin_seed(seed: int) -> int:
    # The acceptance coins and labels come from a generator of their own, so the characters' draws
    # are those of the lecture's loop and of sampling before constraints (a fixed odd multiplier
    # decorrelates the two streams of one seed, and of neighbouring seeds).
    return (seed * 0x9E3779B97F4A7C15 + 1) % 2**63


class Part:
    """The words of one label (or of every label, drawn from the prior) that a request asks for."""

    def __init__(self, label: int | None, num: int, budget: int) -> None:
        self.label, self.num, self.budget = label, num, budget
        self.words: list[Sampled] = []
        self.proposed = self.last = 0

    @property
    def missing(self) -> int:
        return self.num - len(self.words)


class Sampler:
    """One sampling request's state across rounds of proposals: its generators, words found and rejections."""

    def __init__(self, model: Samplable, options: SamplingOptions, train_words: set[str] | None) -> None:
        self.options, self.constraints = options, Constraints(model, options, train_words)
        self.chars = torch.Generator().manual_seed(options.seed)
        self.coins = torch.Generator().manual_seed(_coin_seed(options.seed))
        self.vocabulary, self.labels = model.vocabulary, model.labels
        num = options.num_samples
        budget = num * options.max_draws
        if options.labels is not None:
            self.parts = [Part(int(i), num, budget) for i in model.label_ids(options.labels, flag("label")).tolist()]
        else:
            self.parts = [Part(None, num, budget)]
        # Unlabelled requests of an n-gram draw one word after the other, as the lecture's loop does.
        self.lecture = getattr(model, "lecture_sampling", False) and not options.constrained()
        # A labelled model without --sampling.label: the label is drawn too, from p(label | prefix).
        self.label_weights = self.log_prior = None
        if model.labels is not None and options.labels is None:
            self.label_weights = label_weights(model, self.constraints.prefix, options.temperature, options.prefix)
            self.log_prior = label_prior(model).log()
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

    def step(self, length: int, logits: Tensor, rows: Tensor, state: Round) -> Tensor:
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
            lost[:, 0] = probs[:, 0] * (length < constraints.shortest)
            lost[:, 1] = probs[:, ~constraints.drawable].sum(-1)
        given = total
        if length == 0 and self.label_weights is None:
            # The boundary's mass at a word's start is the same for every row of one label: drawing
            # without it conditions on the word being long enough, exactly, with no coin to lose.
            given = torch.where(total > lost[:, 0], total - lost[:, 0], total)
            lost[:, 0] = 0.0
        state.lost[rows] += (lost / given[:, None]).double()
        if length == constraints.cap:  # only the boundary is left: nothing to draw
            choice, dead = torch.zeros(len(rows), dtype=torch.long), torch.zeros(len(rows), dtype=torch.bool)
        else:
            # torch.multinomial(p, 1) is argmax(p / E), E ~ Exp(1) (ATen's Distributions.cpp): drawing E
            # for every proposal of the round, live or not, keeps the characters' stream that sampling
            # without constraints draws, row by row, with the decoder holding the live rows only.
            noise = torch.empty(state.size, len(allowed)).exponential_(1, generator=self.chars)
            choice, dead = (masked / noise[rows]).argmax(-1), kept == 0  # dead: nothing left to draw
        state.log_prob[rows] += (probs.gather(1, choice[:, None])[:, 0] / total).double().log()
        state.log_accept[rows] += (kept / given).double().log()
        if options.exact:
            dead |= state.log_accept[rows] < state.log_coin[rows]
        return choice.masked_fill(dead, -1)

    def settle(self, sizes: list[int], state: Round) -> None:
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
        advice = f"raise {flag('max_draws')} ({self.options.max_draws} per word asked, {proposed:,} drawn)"
        if self.rejected:
            option, count = self.rejected.most_common(1)[0]
            advice = f"relax {flag(option)} (it rejected {count:,} of {proposed:,} draws), or {advice}"
        return SampleResult(words, missing, advice)


class Round:
    """Every proposal of one round: what each drew, its log-probability, acceptance, coin and lost mass."""

    def __init__(self, size: int, cap: int, labels: Tensor | None, coins: Tensor) -> None:
        self.size, self.labels = size, labels
        self.drawn = torch.zeros(size, max(cap, 1), dtype=torch.long)
        self.log_prob = torch.zeros(size, dtype=torch.float64)
        self.log_accept = torch.zeros(size, dtype=torch.float64)
        self.log_coin = coins.double().log()
        self.lost = torch.zeros(size, len(MASKS), dtype=torch.float64)
        self.dead = torch.zeros(size, dtype=torch.bool)


def _draw_round(model: Samplable, requests: list[Sampler]) -> None:
    """One round: every request's proposals written together, one decoder step for all rows per character."""
    plans = [request.plan() for request in requests]
    rounds = []
    for request, (sizes, labels) in zip(requests, plans):
        coins = torch.rand(sum(sizes), generator=request.coins, dtype=torch.float64)
        rounds.append(Round(sum(sizes), request.constraints.cap, labels, coins))
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
