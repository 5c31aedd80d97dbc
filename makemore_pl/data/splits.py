"""The split of a words file into train, val and test: by word, seeded, so that a word's split never changes.

Labelled words are split by word too, stratified by label (``split_pairs``); ``classify_words``
gives a labelled split's distinct words with their labels, what ``test/accuracy`` classifies.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import torch

from makemore_pl.data.files import Pair
from makemore_pl.data.records import Classify
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError

SPLITS = ("val", "test", "train")


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """One line for fractions that leave no split or no words to train on."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise UsageError(f"--data.{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1:
        raise UsageError(
            f"--data.val_fraction + --data.test_fraction must leave words to train on, got "
            f"{val_fraction} + {test_fraction}"
        )


def split_sizes(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    """How many of ``n`` words go to val and to test: a requested split gets at least one word."""
    n_val, n_test = int(n * val_fraction), int(n * test_fraction)
    return max(n_val, val_fraction > 0), max(n_test, test_fraction > 0)


def cut(n: int, generator: torch.Generator, val_fraction: float, test_fraction: float) -> dict[str, list[int]]:
    """The split's cut of ``n`` items: shuffled by ``generator``, val first, test next, and train the rest."""
    n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    order = torch.randperm(n, generator=generator).tolist()
    return {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": order[n_val + n_test :]}


def split_words(
    words: list[str], seed: int, val_fraction: float, test_fraction: float, path: Path
) -> dict[str, list[str]]:
    """Shuffle the words with the seed and cut them into train/val/test, so a word's split never changes."""
    n = len(words)
    n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    if n - n_val - n_test < 1:
        raise UsageError(
            f"{path} has {n} words: too few for --data.val_fraction {val_fraction} and "
            f"--data.test_fraction {test_fraction}; set them to 0 or add words"
        )
    cuts = cut(n, torch.Generator().manual_seed(seed), val_fraction, test_fraction)
    return {split: [words[i] for i in index] for split, index in cuts.items()}


def split_pairs(
    pairs: list[Pair], seed: int, val_fraction: float, test_fraction: float, path: Path
) -> dict[str, list[Pair]]:
    """The labelled split: by word, stratified by label, every label of the file in every split.

    A word is the unit, as in the unlabelled split: a word under two labels ("maria" in es and
    it) goes to one split with all its labels, so no test word was seen in training under another
    label. The words are shuffled with the seed within each stratum, a word's rarest label (its
    smallest stratum: a small label is not left to chance), and each stratum is cut in the
    split's fractions: every label then gets its share of each split.
    """
    labels_of: dict[str, list[str]] = {}
    for word, label in pairs:
        labels_of.setdefault(word, []).append(label)
    sizes = Counter(label for _, label in pairs)
    strata: dict[str, list[str]] = {label: [] for label in sorted(sizes)}
    for word, labels in labels_of.items():
        strata[min(labels, key=lambda label: (sizes[label], label))].append(word)
    generator = torch.Generator().manual_seed(seed)
    splits: dict[str, list[Pair]] = {split: [] for split in SPLITS}
    for words in strata.values():
        for split, index in cut(len(words), generator, val_fraction, test_fraction).items():
            splits[split] += [(words[i], other) for i in index for other in labels_of[words[i]]]
    # The file's labels (``sizes``), not ``labels``: one that only the checkpoint knows (``known_labels``)
    # has no words to share out, and has none in any split.
    for split, fraction in (("train", 1.0), ("val", val_fraction), ("test", test_fraction)):
        missing = sorted(set(sizes) - {label for _, label in splits[split]}) if fraction > 0 else []
        if missing:
            label = missing[0]
            raise UsageError(
                f"{path}: label {label!r} has {sizes[label]} words, too few to be in the train, val and "
                f"test splits (--data.val_fraction {val_fraction}, --data.test_fraction "
                f"{test_fraction}); add words of it, drop it, or set the fractions to 0"
            )
    return splits


def classify_words(words: list[str], label_ids: torch.Tensor, vocab: list[str], num_labels: int) -> Classify:
    """A labelled split's distinct words, whole, and which labels each one has: what ``test/accuracy`` classifies.

    ``words`` holds a word once per label, ``label_ids`` its label there.
    """
    truth: dict[str, list[int]] = {}
    for word, label in zip(words, label_ids.tolist()):
        truth.setdefault(word, []).append(label)
    words = list(truth)
    x, y = Vocabulary(vocab).encode_padded(words, max(map(len, words)) + 1)
    labels = torch.zeros(len(words), num_labels, dtype=torch.bool)
    for row, ids in enumerate(truth.values()):
        labels[row, ids] = True
    return Classify(x, y, labels)
