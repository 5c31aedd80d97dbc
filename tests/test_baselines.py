"""The baselines of the labelled measurements, on hand-made examples whose answers are worked out here."""

import math

import pytest

from makemore_pl.scoring.baselines import LastLetterBayes, Majority, TrigramBayes, accuracy, trigrams

NAMES = [("anna", "f"), ("maria", "f"), ("emma", "f"), ("john", "m"), ("paul", "m")]


def test_majority_predicts_the_most_frequent_training_label():
    majority = Majority(NAMES)
    assert {majority.predict(w) for w in ["paul", "john", "zzz"]} == {"f"}
    assert accuracy(majority, [("x", "f"), ("y", "m"), ("z", "m"), ("w", "f")]) == 0.5
    # A word under two labels is one word, right if the prediction is either: here 2 right of 3.
    assert accuracy(majority, [("x", "f"), ("x", "m"), ("y", "m"), ("w", "f")]) == pytest.approx(2 / 3)


def test_last_letter_bayes_is_add_one_smoothed_naive_bayes():
    model = LastLetterBayes(NAMES)
    # Last letters seen: a, n, l, and one slot for any other: 4 outcomes. p(f) = 3/5, p(m) = 2/5.
    joint = model.log_joint("sofia")
    assert math.isclose(joint["f"], math.log(3 / 5 * (3 + 1) / (3 + 4)))
    assert math.isclose(joint["m"], math.log(2 / 5 * (0 + 1) / (2 + 4)))
    assert model.predict("karl") == "m"  # 2/5 * 2/6 beats 3/5 * 1/7
    assert model.predict("inez") == "f"  # an unseen last letter: the prior decides, 3/5 * 1/7 > 2/5 * 1/6
    assert accuracy(model, [("karl", "m"), ("sofia", "f"), ("inez", "m")]) == pytest.approx(2 / 3)


def test_trigrams_pad_the_start_and_predict_the_end():
    assert trigrams("ab") == [((".", "."), "a"), ((".", "a"), "b"), (("a", "b"), ".")]


def test_trigram_bayes_is_normalised_add_alpha_counts():
    model = TrigramBayes([("ab", "x")], alpha=1.0)
    # Outcomes: a, b, the boundary and one unknown = 4; each of the three contexts was seen once.
    assert math.isclose(model.log_likelihood("ab", "x"), 3 * math.log((1 + 1) / (1 + 4)))
    # After "..": p(a) + p(b) + p(end) + p(unknown) = 1, so the smoothing leaves a distribution.
    # "a": ".." -> a (2/5), then ".a" -> end, unseen after a context seen once (1/5).
    assert math.exp(model.log_likelihood("a", "x")) == pytest.approx(2 / 5 * 1 / 5)
    # "" ends at once: ".." -> end, unseen after a context seen once (1/5); a context never seen: 1/4.
    assert math.exp(model.log_likelihood("", "x")) == pytest.approx(1 / 5)
    assert math.exp(model.log_likelihood("ba", "x")) == pytest.approx(1 / 5 * 1 / 4 * 1 / 4)
    for context in [(".", "."), ("a", "b"), ("q", "q")]:  # seen, and never seen
        outcomes = ["a", "b", ".", "?"]  # "?" stands for every unseen character
        assert sum(math.exp(model.log_prob("x", context, c)) for c in outcomes) == pytest.approx(1.0)


def test_trigram_bayes_reads_the_start_where_the_last_letter_cannot():
    # Every word ends in "a": the last letter carries nothing, and the prior favours y; the first letter says x.
    train = [("kaa", "x"), ("kia", "x"), ("koa", "x"), ("zaa", "y"), ("zia", "y"), ("zoa", "y"), ("zea", "y")]
    assert LastLetterBayes(train).predict("kea") == "y"
    assert TrigramBayes(train, alpha=0.1).predict("kea") == "x"
    assert TrigramBayes(train, alpha=0.1).predict("zua") == "y"


def test_tuned_keeps_the_alpha_with_the_best_val_accuracy():
    train = [("kaa", "x"), ("kia", "x"), ("zaa", "y"), ("zia", "y"), ("zoa", "y"), ("zea", "y")]
    val = [("kea", "x"), ("kua", "x"), ("zua", "y")]
    alphas = [0.01, 100.0]  # a huge alpha flattens every label's counts: the prior (y) wins everywhere
    assert accuracy(TrigramBayes(train, 100.0), val) == pytest.approx(1 / 3)
    tuned = TrigramBayes.tuned(train, val, alphas)
    assert tuned.alpha == 0.01
    assert accuracy(tuned, val) == 1.0
