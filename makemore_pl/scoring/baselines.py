"""Classifiers to beat: what a labelled language model's Bayes-rule accuracy is measured against.

Each is trained on the training split's (word, label) pairs and predicts a label for a word:
- ``Majority``: the most frequent label of the training split, whatever the word;
- ``LastLetterBayes``: Naive Bayes on the word's last letter, the feature of the NLTK book's gender
  classifier (chapter 6, "Learning to Classify Text"), with add-one smoothing;
- ``TrigramBayes``: one character trigram count model per label, and Bayes' rule over them,
  argmax over labels of log p(word | label) + log p(label): what a labelled counting trigram does,
  written out in a few plain lines so the package's models have an independent reference.

Plain Python counters: a name set of 20k words trains in about a second, with no tensors to place.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

Pair = tuple[str, str]  # (word, label)

BOUNDARY = "."  # makemore's token 0: a word's start and end
# TrigramBayes.tuned's grid: wide enough that the name sets' best alpha (0.3 by language, 3 by gender) is inside it.
ALPHAS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def label_prior(train: Sequence[Pair]) -> dict[str, float]:
    """log p(label): each label's share of the training split."""
    counts = Counter(label for _, label in train)
    return {label: math.log(n / len(train)) for label, n in counts.items()}


def accuracy(classifier: Classifier, examples: Sequence[Pair]) -> float:
    """The share of the distinct words of ``examples`` whose predicted label is one of their labels.

    As the package's ``test/accuracy`` counts: a word under several labels ("maria" in es and it) is
    one word, and any of its labels is right, since nothing in the word can tell them apart.
    """
    truth: dict[str, set[str]] = defaultdict(set)
    for word, label in examples:
        truth[word].add(label)
    return sum(classifier.predict(word) in labels for word, labels in truth.items()) / len(truth)


class Classifier(ABC):
    """A label for a word, by Bayes' rule: argmax over labels of log p(word | label) + log p(label)."""

    def __init__(self, train: Sequence[Pair]) -> None:
        """Args:
        train: The training split's (word, label) pairs; every label to be predicted must be among them.
        """
        if not train:
            raise ValueError("a classifier needs at least one training pair")
        self.log_prior = label_prior(train)
        self.labels = sorted(self.log_prior)

    @abstractmethod
    def log_likelihood(self, word: str, label: str) -> float:
        """log p(word | label) under the classifier's model of the words (or of the feature it looks at)."""

    def log_joint(self, word: str) -> dict[str, float]:
        """log p(word | label) + log p(label), for every label."""
        return {label: self.log_likelihood(word, label) + self.log_prior[label] for label in self.labels}

    def predict(self, word: str) -> str:
        joint = self.log_joint(word)
        return max(self.labels, key=joint.__getitem__)  # ties go to the first label in sorted order


class Majority(Classifier):
    """The training split's most frequent label, for every word: the accuracy of knowing only the prior."""

    def log_likelihood(self, word: str, label: str) -> float:
        return 0.0


class LastLetterBayes(Classifier):
    """p(label) * p(last letter | label), add-one smoothed over the last letters seen in training, plus one unknown."""

    def __init__(self, train: Sequence[Pair]) -> None:
        """Args:
        train: The training split's (word, label) pairs.
        """
        super().__init__(train)
        self.counts: dict[str, Counter[str]] = defaultdict(Counter)
        for word, label in train:
            self.counts[label][word[-1]] += 1
        # The letters seen last in any training word, and one slot for any other: a proper distribution.
        self.letters = len({word[-1] for word, _ in train}) + 1

    def log_likelihood(self, word: str, label: str) -> float:
        counts = self.counts[label]
        return math.log((counts[word[-1]] + 1) / (counts.total() + self.letters))


class TrigramBayes(Classifier):
    """Per label, p(c | two previous characters) = (N + alpha) / (row sum + alpha * V), boundary-padded."""

    def __init__(self, train: Sequence[Pair], alpha: float = 1.0) -> None:
        """Args:
        train: The training split's (word, label) pairs.
        alpha: Add-alpha smoothing of every label's counts (choose it on val: ``TrigramBayes.tuned``).
        """
        super().__init__(train)
        if alpha <= 0:
            raise ValueError(f"alpha must be positive, got {alpha}")
        self.alpha = alpha
        self.counts: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)  # (context, next) per label
        self.rows: dict[str, Counter[str]] = defaultdict(Counter)  # context per label
        for word, label in train:
            for context, char in trigrams(word):
                self.counts[label][context, char] += 1
                self.rows[label][context] += 1
        # What may follow a context: every character of training, the boundary, and one unknown.
        self.outcomes = len({c for word, _ in train for c in word}) + 2

    def log_prob(self, label: str, context: tuple[str, str], char: str) -> float:
        """log p(char | context, label); any character unseen in training is the one unknown outcome."""
        count, row = self.counts[label][context, char], self.rows[label][context]
        return math.log((count + self.alpha) / (row + self.alpha * self.outcomes))

    def log_likelihood(self, word: str, label: str) -> float:
        return sum(self.log_prob(label, context, char) for context, char in trigrams(word))

    def nll(self, examples: Sequence[Pair]) -> float:
        """Mean -log p(character | context, label) per predicted character (each word's end included)."""
        total = sum(self.log_likelihood(word, label) for word, label in examples)
        return -total / sum(len(word) + 1 for word, _ in examples)

    @classmethod
    def tuned(cls, train: Sequence[Pair], val: Sequence[Pair], alphas: Iterable[float] = ALPHAS) -> TrigramBayes:
        """The classifier at the alpha with the best val accuracy (ties: the lower val NLL), as a tuned baseline."""
        candidates = [cls(train, alpha) for alpha in alphas]
        return max(candidates, key=lambda c: (accuracy(c, val), -c.nll(val)))


def trigrams(word: str) -> list[tuple[tuple[str, str], str]]:
    """(two previous characters, next character) for each character and the end, the start padded with boundaries."""
    padded = BOUNDARY * 2 + word + BOUNDARY
    return [((padded[i], padded[i + 1]), padded[i + 2]) for i in range(len(word) + 1)]
