"""The model's verdict on given words: each word's NLL, perplexity and, for a labelled model, its label.

A word's probability is the product of the model's probabilities of its characters, then of the
end (the boundary), each given the characters before it: ``len(word) + 1`` predictions, as in
training. Its NLL is the sum of their surprisals ``-log p`` in nats, ``nats_per_char`` that sum
over the ``len(word) + 1`` predictions (so it is comparable to ``val/nll``), and the perplexity
``exp(nats_per_char)``.

A labelled model gives ``p(word | label)`` for every label. Bayes' rule turns them into the
posterior ``p(label | word) ∝ p(word | label) p(label)``, and the word's NLL is that of the
mixture, ``-log sum_label p(label) p(word | label)``: the model's probability of the word when no
label is given. Its per-character surprisals are the mixture's too, so they still add up to the NLL.
The prior ``p(label)`` is the training split's, when the checkpoint keeps it (``label_prior``),
else uniform. Given a label, the word's NLL is ``-log p(word | label)`` instead. The posterior is
calibrated: its log joint is divided by the temperature fitted on the validation split
(``label_temperature``, see ``makemore_pl.calibration``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from makemore_pl.errors import UsageError
from makemore_pl.sampling.probabilities import label_prior, position_log_probs
from makemore_pl.sampling.protocol import Samplable

# Rows (words times labels) per forward pass: large enough that the per-pass overhead vanishes,
# small enough that a Transformer's activations stay a few tens of megabytes.
CHUNK_ROWS = 2048


@dataclass(slots=True)
class WordScore:
    """What the model says of one word; see the module's docstring for each figure."""

    word: str
    nll: float  # nats, over the characters and the end
    nats_per_char: float  # nll / (len(word) + 1)
    perplexity: float  # exp(nats_per_char)
    in_train: bool | None  # None when the training words are not known
    label: str | None  # the most likely label (labelled models)
    posterior: dict[str, float] | None  # p(label | word) for every label (labelled models)
    surprisal: list[float] | None  # -log p of each character, then of the end (per_char=True)


def unscorable(model: Samplable, word: str) -> str | None:
    """Why ``model`` cannot score ``word`` (a character it does not know, too long a word), or None."""
    stoi = model.vocabulary.stoi
    for position, char in enumerate(word, 1):
        if char not in stoi or stoi[char] == 0:  # the boundary is no character of a word
            return f"character {char!r} at position {position} is not in the vocabulary ({model.vocabulary.summary()})"
    longest = model.longest_word
    if longest is not None and len(word) > longest:
        return f"{len(word)} characters, and {type(model).__name__} has positions for words of at most {longest}"
    return None


def log_label_prior(model: Samplable) -> Tensor | None:
    """``log p(label)`` on the model's device (``probabilities.label_prior``); None for an unlabelled model."""
    if not model.num_labels:
        return None
    return label_prior(model).log().float().to(model.device)


def score_words(
    model: Samplable,
    words: list[str],
    train_words: set[str] | None = None,
    per_char: bool = False,
    label: str | None = None,
) -> list[WordScore]:
    """Score ``words`` under ``model``, in their order; a word it cannot score (``unscorable``) is a UsageError.

    ``label`` scores ``p(word | label)`` instead of the mixture over labels (a labelled model's
    label; the posterior over labels stays the word's own).

    Batched: the words are sorted by length and scored in chunks, each padded to its own longest
    word, in one pass per chunk (a labelled model's labels ride along as extra rows), without
    gradients, in eval mode, on the model's device.
    """
    check_scorable(model, words)
    given = None if label is None else int(model.label_ids([label], "--label")[0])
    log_prior = log_label_prior(model)
    labels = max(model.num_labels, 1)
    order = sorted(range(len(words)), key=lambda i: len(words[i]))
    per_chunk = max(1, CHUNK_ROWS // labels)
    scores: list[WordScore | None] = [None] * len(words)
    with model.evaluating():
        for start in range(0, len(order), per_chunk):
            chunk = order[start : start + per_chunk]
            chunk_words = [words[i] for i in chunk]
            surprisals, posteriors = _chunk_surprisals(model, chunk_words, log_prior, given)
            # Whole columns to Python at once: a word's own work here is only building its WordScore.
            nlls = surprisals.double().sum(1).tolist()
            posterior_rows = [None] * len(chunk) if posteriors is None else posteriors.tolist()
            for row, (i, word, nll, posterior) in enumerate(zip(chunk, chunk_words, nlls, posterior_rows)):
                per_label = None if posterior is None else dict(zip(model.labels, posterior))
                scores[i] = WordScore(
                    word=word,
                    nll=nll,
                    nats_per_char=nll / (len(word) + 1),
                    perplexity=math.exp(nll / (len(word) + 1)),
                    in_train=None if train_words is None else word in train_words,
                    label=None if per_label is None else model.labels[posterior.index(max(posterior))],
                    posterior=per_label,
                    surprisal=surprisals[row, : len(word) + 1].tolist() if per_char else None,
                )
    return scores


def check_scorable(model: Samplable, words: list[str]) -> None:
    """Raise a UsageError naming the first word of ``words`` that ``model`` cannot score, its place and why."""
    known = set(model.vocabulary.itos[1:])
    longest = model.longest_word
    if set().union(*words) <= known and (longest is None or max(map(len, words), default=0) <= longest):
        return  # the usual case, checked in bulk
    for i, word in enumerate(words, 1):
        reason = unscorable(model, word)
        if reason is not None:
            raise UsageError(f"word {i}, {word!r}: {reason}")


def _chunk_surprisals(
    model: Samplable, words: list[str], log_prior: Tensor | None, given: int | None = None
) -> tuple[Tensor, Tensor | None]:
    """Each word's surprisals ``(n, T)`` (zero past its end), and the posterior over labels ``(n, L)`` or None.

    The surprisals are the mixture's over labels, or those under the label ``given`` (its id).
    """
    n, length = len(words), max(len(word) for word in words) + 1
    x, y = model.vocabulary.encode_padded(words, length)
    x, y = x.to(model.device), y.to(model.device)
    if log_prior is None:
        return position_log_probs(model, x, y).neg().cpu(), None
    # Every word under every label in one pass: rows label-major, (L * n, T).
    num_labels = len(log_prior)
    label = torch.arange(num_labels, device=model.device).repeat_interleave(n)
    joint = position_log_probs(model, x.repeat(num_labels, 1), y.repeat(num_labels, 1), label).view(
        num_labels, n, length
    )
    # log p(label, first t + 1 predictions), and the mixture's log p of them: its differences are
    # the mixture's surprisal of each prediction, p(c_t | c_<t) = sum_l p(l | c_<t) p(c_t | c_<t, l).
    cumulative = joint.cumsum(2) + log_prior[:, None, None]
    mixture = torch.logsumexp(cumulative, dim=0)  # (n, T)
    surprisal = -torch.diff(mixture, dim=1, prepend=torch.zeros(n, 1, device=mixture.device))
    # Past a word's end nothing is added: its last column. Calibrated: over the fitted label temperature.
    posterior = torch.softmax(cumulative[:, :, -1] / model.label_temperature, dim=0).T
    if given is not None:
        surprisal = -joint[given]
    return surprisal.cpu(), posterior.cpu()
