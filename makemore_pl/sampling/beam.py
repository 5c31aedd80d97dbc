"""The most probable words under a request's constraints: best-first search over prefixes, exactly in order.

A prefix's probability bounds that of every word that starts with it, so a finished word on top
of the frontier is more probable than anything left in it: words come out best first, exactly.
"""

from __future__ import annotations

import heapq
import math
from typing import NamedTuple

import torch
from torch import Tensor

from makemore_pl.sampling.constraints import Constraints, keep_top_k
from makemore_pl.sampling.options import SamplingOptions, flag
from makemore_pl.sampling.probabilities import label_prior
from makemore_pl.sampling.protocol import Samplable
from makemore_pl.sampling.records import Sampled, SampleResult

# Prefixes the beam search expands in one call of the network.
BEAM_BATCH = 64


class Node(NamedTuple):
    """One entry of the frontier: a prefix, or a finished word; the heap pops the lowest ``cost`` first."""

    cost: float  # -log p(label, tokens): the prefix's, or the finished word's with its end
    tie: int  # the order pushed, so that equal costs pop first in, first out
    tokens: tuple[int, ...]
    label: int | None
    finished: bool


def beam_search(model: Samplable, options: SamplingOptions, train_words: set[str] | None) -> SampleResult:
    """The ``options.beam`` most probable words (of each label) under the constraints, best first."""
    if options.labels is not None:
        starts = [[(int(i), 0.0)] for i in model.label_ids(options.labels, flag("label")).tolist()]
    elif model.labels:
        # Each label, weighted by its prior: the most probable (label, word) pairs.
        starts = [[(i, math.log(p)) for i, p in enumerate(label_prior(model).tolist()) if p > 0]]
    else:
        starts = [[(None, 0.0)]]
    words, missing, expanded, exhausted = [], 0, 0, False
    for start in starts:
        found, used, empty = best_first(model, options, train_words, start)
        words += found
        missing += options.beam - len(found)
        expanded += used
        exhausted |= empty
    if not missing:
        return SampleResult(words, 0, None)
    if exhausted:
        advice = "no more words satisfy the constraints: relax them"
    else:
        advice = f"raise {flag('max_draws')} ({options.max_draws} per word asked, {expanded:,} prefixes expanded)"
    return SampleResult(words, missing, advice)


def best_first(
    model: Samplable, options: SamplingOptions, train_words: set[str] | None, starts: list[tuple[int | None, float]]
) -> tuple[list[Sampled], int, bool]:
    """Best-first search over prefixes from ``starts`` (each a label and its log prior).

    Returns the words, the prefixes expanded and whether the frontier ran out (fewer words exist).
    """
    constraints, seen = Constraints(model, options, train_words), set()
    budget = options.beam * options.max_draws
    tie = 0
    frontier: list[Node] = []
    for label, log_prior in starts:
        frontier.append(Node(-log_prior, tie := tie + 1, (), label, False))
    heapq.heapify(frontier)
    words: list[Sampled] = []
    expanded = last = 0
    while frontier and len(words) < options.beam and expanded < budget:
        if frontier[0].finished:
            node = heapq.heappop(frontier)
            name = None if node.label is None else model.labels[node.label]
            words.append(Sampled(model.vocabulary.decode(node.tokens), name, -node.cost, expanded - last))
            last = expanded
            continue
        batch: list[Node] = []
        while frontier and not frontier[0].finished and len(batch) < min(BEAM_BATCH, budget - expanded):
            batch.append(heapq.heappop(frontier))
        expanded += len(batch)
        for node, log_q in zip(batch, next_log_probs(model, options, batch)):
            for char in children(constraints, len(node.tokens), log_q):
                cost = node.cost - float(log_q[char])
                if char:
                    heapq.heappush(frontier, Node(cost, tie := tie + 1, (*node.tokens, char), node.label, False))
                elif constraints.refusal(model.vocabulary.decode(node.tokens), seen) is None:
                    heapq.heappush(frontier, Node(cost, tie := tie + 1, node.tokens, node.label, True))
    return words, expanded, not frontier


def next_log_probs(model: Samplable, options: SamplingOptions, batch: list[Node]) -> Tensor:
    """log p(next character) after each prefix of ``batch``: one ``word_logits`` call for all of them."""
    lengths = torch.tensor([len(node.tokens) for node in batch])
    x = torch.zeros(len(batch), int(lengths.max()) + 1, dtype=torch.long)
    for row, node in enumerate(batch):
        x[row, 1 : len(node.tokens) + 1] = torch.tensor(node.tokens, dtype=torch.long)
    label = None if batch[0].label is None else torch.tensor([node.label for node in batch], device=model.device)
    logits = model.word_logits(x.to(model.device), label)[torch.arange(len(batch)), lengths.to(model.device)]
    probs = torch.softmax(logits.float() / options.temperature, dim=-1).cpu()
    # The prefix is given: top_k limits the characters drawn after it, as when sampling.
    free = lengths >= len(options.prefix)
    probs[free] = keep_top_k(probs[free], options.top_k)
    return (probs / probs.sum(-1, keepdim=True)).log()


def children(constraints: Constraints, length: int, log_q: Tensor) -> list[int]:
    """The characters that may follow a prefix of ``length`` characters (0: the word ends there)."""
    if length < len(constraints.prefix):
        return [constraints.prefix[length]]
    return (constraints.allowed(length) & (log_q > -math.inf)).nonzero()[:, 0].tolist()
