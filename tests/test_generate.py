"""Sampling under control and the most likely words, against enumeration of every word of tiny models."""

import itertools
import math
import re
from collections import Counter
from dataclasses import replace

import pytest
import torch
from conftest import tiny_args
from helpers import PAIRS, error_of, every_family, randomised

from makemore_pl.cli import cli_main
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.errors import UsageError
from makemore_pl.models import GRU, NeuralNGram
from makemore_pl.sampling.constraints import SHORTEST_WORD, keep_top_k
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions

TINY = [".", "a", "b", "c"]


def request(num, options, seed):
    """``options`` asking for ``num`` words from ``seed``."""
    return replace(options, num_samples=num, seed=seed)


def bigram():
    """A bigram over 'abc' whose table makes masking matter: after 'a' the word usually ends."""
    model = NeuralNGram(TINY)
    with torch.no_grad():
        model.W.copy_(
            torch.tensor(
                [
                    [-9.0, 1.0, 0.5, 0.0],  # after the boundary: mostly 'a'
                    [2.0, 0.0, 0.5, 0.5],  # after 'a': mostly the end
                    [0.0, 1.0, 0.0, 1.0],
                    [0.5, 0.5, 1.0, 0.0],
                ]
            )
        )
    return model.eval()


def labelled_gru():
    model = randomised(GRU(TINY, labels=["x", "y"], block_size=5, embedding=4, hidden=8))
    model.label_prior = torch.tensor([0.7, 0.3])
    return model


def step_probs(model, options, tokens, label):
    """The sampling distribution after ``tokens`` (the boundary first): tempered; top-k'd past the prefix."""
    with torch.no_grad():
        logits = model.next_logits(torch.tensor([tokens]), None if label is None else torch.tensor([label]))[0]
    probs = torch.softmax(logits.float() / options.temperature, -1)
    if len(tokens) - 1 >= len(options.prefix):
        probs = keep_top_k(probs, options.top_k)
    return (probs / probs.sum()).double()


def enumerate_words(model, options, masked=False):
    """Every (word, label) the options allow, with its probability under the model restricted to them.

    ``masked`` gives instead what masking the logits and renormalising at each step samples.
    """
    vocab, cap = model.vocabulary, model.longest_sample(options.max_length)
    labels = [None] if model.labels is None else list(range(model.num_labels))
    if options.labels is not None:
        labels = model.label_ids(options.labels).tolist()
    prior = getattr(model, "label_prior", None)
    weights = {}
    for label, length in itertools.product(labels, range(cap + 1)):
        for chars in itertools.product(model.itos[1:], repeat=length):
            word = "".join(chars)
            if not (
                word.startswith(options.prefix)
                and word.endswith(options.suffix)
                and options.contains in word
                and len(word) >= max(options.min_length, SHORTEST_WORD)
                and not set(word) & set(options.exclude)
            ):
                continue
            tokens, p = [0], 1.0 if label is None or options.labels else float(prior[label])
            for ix in [*vocab.encode(word), 0]:
                probs = step_probs(model, options, tokens, label)
                if masked and len(tokens) - 1 >= len(options.prefix):
                    allowed = torch.tensor([c not in options.exclude for c in model.itos])
                    allowed[0] = len(tokens) - 1 >= max(options.min_length, SHORTEST_WORD)
                    if len(tokens) - 1 == cap:
                        allowed[1:] = False
                    probs = probs * allowed / (probs * allowed).sum()
                p *= float(probs[ix])
                tokens.append(ix)
            weights[(word, None if label is None else model.labels[label])] = p
    total = sum(weights.values())
    return {key: value / total for key, value in weights.items() if value > 0}


def frequencies(result):
    counts = Counter((s.word, s.label) for s in result.words)
    return {key: count / len(result.words) for key, count in counts.items()}


def total_variation(p, q):
    return sum(abs(p.get(k, 0) - q.get(k, 0)) for k in set(p) | set(q)) / 2


CONSTRAINED = SamplingOptions(min_length=2, max_length=4, exclude="c", temperature=0.8)


def test_exact_sampling_draws_the_restricted_distribution_and_masking_alone_does_not():
    model = bigram()
    target, masked = enumerate_words(model, CONSTRAINED), enumerate_words(model, CONSTRAINED, masked=True)
    # The test can tell them apart: masking alone favours the words the masks cut short.
    assert total_variation(target, masked) > 0.15
    exact, biased = generate(
        model,
        [request(20000, CONSTRAINED, 0), request(20000, SamplingOptions(**{**vars(CONSTRAINED), "exact": False}), 1)],
    )
    assert exact.missing == 0 and len(exact.words) == 20000
    # With 20,000 draws over about 15 words, the empirical distribution is within ~0.01 of the truth.
    assert total_variation(frequencies(exact), target) < 0.03
    assert total_variation(frequencies(biased), masked) < 0.03
    assert sum(s.draws for s in exact.words) > sum(s.draws for s in biased.words)  # exactness costs draws


def test_the_rejected_options_and_the_labels_drawn_from_the_prior_given_a_prefix_are_exact():
    model = labelled_gru()
    options = SamplingOptions(prefix="a", suffix="b", min_length=2, max_length=4, top_k=3, temperature=2.0)
    target = enumerate_words(model, options)
    (result,) = generate(model, [request(20000, options, 3)])
    assert {s.label for s in result.words} == {"x", "y"}
    assert total_variation(frequencies(result), target) < 0.03
    # Each word's log-probability is its label's prior times the word's probability under that label.
    for sampled in result.words[:20]:
        label = model.labels.index(sampled.label)
        tokens, log_p = [0], math.log(0.7 if label == 0 else 0.3)
        for ix in [*model.vocabulary.encode(sampled.word), 0]:
            log_p += math.log(float(step_probs(model, options, tokens, label)[ix]))
            tokens.append(ix)
        assert sampled.log_prob == pytest.approx(log_p, abs=1e-4)


@pytest.mark.parametrize("model", every_family(labels=["x", "y"]), ids=lambda m: type(m).__name__)
def test_no_constraint_is_ever_violated_by_any_family(model):
    model = randomised(model)
    train = {"abca", "dca"}
    options = SamplingOptions(
        label=("y",), prefix="a", min_length=3, max_length=5, exclude="b", contains="c", suffix="a",
        only_new=True, unique=True, temperature=3.0,
    )  # fmt: skip
    (result,) = generate(model, [request(15, options, 0)], train)
    words = [s.word for s in result.words]
    assert len(words) + result.missing == 15 and len(words) >= 3
    assert len(set(words)) == len(words) and not set(words) & train
    for word in words:
        assert word.startswith("a") and word.endswith("a") and "c" in word and "b" not in word
        assert 3 <= len(word) <= 5
    assert {s.label for s in result.words} == {"y"}


def test_several_labels_give_num_words_of_each():
    model = labelled_gru()
    (result,) = generate(model, [request(7, SamplingOptions(label=("y", "x")), 0)])
    assert [s.label for s in result.words] == ["y"] * 7 + ["x"] * 7


def test_requests_together_get_the_words_each_gets_alone():
    models = [labelled_gru(), bigram()]
    for model in models:
        labels = ("x",) if model.labels else None
        requests = [
            request(12, SamplingOptions(label=labels, min_length=2), 5),
            request(9, SamplingOptions(label=labels, suffix="a", temperature=0.7), 6),
            request(6, SamplingOptions(label=labels, top_k=2, max_length=3, unique=True), 7),
            request(3, SamplingOptions(label=labels, beam=3), 8),
        ]
        together = generate(model, requests)
        alone = [generate(model, [request])[0] for request in requests]
        assert [outcomes(result) for result in together] == [outcomes(result) for result in alone]
        for mixed, single in zip(together, alone):  # one network step for several rows: the same to rounding
            assert [s.log_prob for s in mixed.words] == pytest.approx([s.log_prob for s in single.words], abs=1e-5)
        assert outcomes(alone[0]) != outcomes(generate(model, [replace(requests[0], seed=9)])[0])


def outcomes(result):
    return [(s.word, s.label, s.draws) for s in result.words], result.missing, result.advice


def plain_sampling(model, options):
    """Sampling without constraints: all rows drawn at every step until all ended, cut at the cap."""
    num, prefix = options.num_samples, options.prefix
    generator = torch.Generator().manual_seed(options.seed)
    tokens = torch.tensor([[0, *model.vocabulary.encode(prefix)]]).repeat(num, 1)
    alive = torch.ones(num, dtype=torch.bool)
    with torch.no_grad():
        for _ in range(model.longest_sample(options.max_length) - len(prefix)):
            logits = model.next_logits(tokens).float()
            probs = keep_top_k(torch.softmax(logits / options.temperature, -1), options.top_k)
            ix = torch.multinomial(probs, 1, generator=generator)[:, 0].masked_fill(~alive, 0)
            tokens, alive = torch.cat([tokens, ix[:, None]], 1), alive & (ix != 0)
            if not alive.any():
                break
    return [(model.vocabulary.decode([i for i in row if i]), bool(row[-1] == 0)) for row in tokens[:, 1:].tolist()]


@pytest.mark.parametrize("model", every_family()[2:], ids=lambda m: type(m).__name__)
def test_sampling_without_constraints_keeps_the_words_of_before(model):
    # As initialised: near-uniform logits, words of a few characters, some of them cut at the cap.
    torch.manual_seed(0)
    model = type(model)(**model.hparams).eval()
    options = SamplingOptions(prefix="b", top_k=4, num_samples=40, seed=11)
    before = plain_sampling(model, options)
    ended = [word for word, finished in before if finished]
    assert len(ended) >= 5
    # The first round is the words of before, in order, less some of those cut at the cap: such a word is
    # now accepted only with the boundary's probability there (exact max_length).
    after, matched = model.sample(options), 0
    for word, finished in before:
        if matched < len(after) and after[matched] == word:
            matched += 1
        else:
            assert not finished, (word, after[matched:])
    assert matched >= len(ended)


def test_the_budget_runs_out_with_the_words_found_and_the_option_to_relax():
    model = bigram()
    (result,) = generate(model, [request(5, SamplingOptions(suffix="cc", max_draws=2), 0)])
    assert result.missing == 5 - len(result.words) > 0
    assert result.advice.startswith("relax --sampling.suffix (it rejected") and "--sampling.max_draws" in result.advice
    never_ending = NeuralNGram([".", "a"])
    with torch.no_grad():
        never_ending.W.copy_(torch.tensor([[-1e4, 1e4], [-1e4, 1e4]]))
    (exact,) = generate(never_ending, [request(3, SamplingOptions(max_length=7, max_draws=2), 0)])
    assert exact.words == [] and exact.advice.startswith("relax --sampling.max_length")
    (cut,) = generate(never_ending, [request(3, SamplingOptions(max_length=7, exact=False), 0)])
    assert [s.word for s in cut.words] == ["aaaaaaa"] * 3


@pytest.mark.parametrize(
    "model, options",
    [
        (bigram(), SamplingOptions(max_length=4, min_length=1, exclude="b", suffix="a")),
        (bigram(), SamplingOptions(max_length=5, temperature=2.0, top_k=2, prefix="b")),
        (labelled_gru(), SamplingOptions(max_length=4, contains="b")),
        (labelled_gru(), SamplingOptions(max_length=4, label=("y", "x"), only_new=True)),
    ],
    ids=["bigram-masks", "bigram-prefix-top_k", "gru-prior", "gru-labels-new"],
)
def test_the_beam_gives_the_most_probable_words_as_enumeration_does(model, options):
    train = {"a", "ab"}
    target = enumerate_words(model, options)
    (result,) = generate(model, [request(1, SamplingOptions(**{**vars(options), "beam": 6}), 0)], train)
    parts = [None] if options.label is None else list(options.label)
    for part in parts:
        found = [s for s in result.words if part is None or s.label == part]
        new = [key for key in target if not options.only_new or key[0] not in train]
        words = {key: target[key] for key in new if part is None or key[1] == part}
        best = sorted(words.items(), key=lambda item: -item[1])[:6]
        assert [(s.word, s.label) for s in found] == [key for key, _ in best]
        # Log-probabilities are the words' own (not renormalised), in order: compare their differences.
        gaps = [found[0].log_prob - s.log_prob for s in found]
        assert gaps == pytest.approx([math.log(best[0][1] / p) for _, p in best], abs=1e-4)
        assert all(a.log_prob >= b.log_prob for a, b in zip(found, found[1:]))


def test_a_beam_with_fewer_words_than_asked_says_so():
    (result,) = generate(bigram(), [request(1, SamplingOptions(beam=50, max_length=2, exclude="bc"), 0)])
    assert [s.word for s in result.words] == ["a", "aa"]  # never the empty word: no training word is empty
    assert result.missing == 48 and "no more words" in result.advice


def test_the_empty_word_is_never_sampled_nor_beamed_even_where_the_model_likes_it_best():
    model = bigram()
    with torch.no_grad():
        model.W[0] = torch.tensor([9.0, 0.0, 0.0, 0.0])  # after the boundary: almost surely the end
    (sampled,) = generate(model, [request(50, SamplingOptions(max_length=3), 0)])
    assert len(sampled.words) == 50 and all(s.word for s in sampled.words)
    assert max(s.draws for s in sampled.words) < 20  # the start's boundary is no coin to lose: few draws
    (beamed,) = generate(model, [request(1, SamplingOptions(beam=5), 0)])
    assert len(beamed.words) == 5 and all(s.word for s in beamed.words)
    assert all(s.word for s in generate(model, [request(50, SamplingOptions(exact=False), 1)])[0].words)


def test_an_exclude_that_leaves_nothing_to_draw_is_one_line():
    with pytest.raises(UsageError, match=r"^--sampling\.exclude 'abc' leaves no character to draw$"):
        generate(bigram(), [request(3, SamplingOptions(exclude="abc"), 0)])


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(label=("z",)), r"--sampling\.label: unknown label 'z'; the model knows x, y"),
        (dict(min_length=5, max_length=3), r"--sampling\.min_length 5 is above --sampling\.max_length 3"),
        (dict(suffix="ab", exclude="b"), r"--sampling\.suffix 'ab': 'b' is excluded by --sampling\.exclude"),
        (dict(contains="c", exclude="c"), r"--sampling\.contains 'c': 'c' is excluded"),
        (dict(prefix="ca", exclude="ac"), r"--sampling\.prefix 'ca': 'ac' is excluded"),
        (dict(beam=0), r"--sampling\.beam must be at least 1"),
        (dict(prefix="abc", max_length=3), r"--sampling\.prefix 'abc' leaves no room under --sampling\.max_length 3"),
        (dict(suffix="aq"), r"--sampling\.suffix 'aq': 'q' not in the vocabulary"),
        (dict(contains="é"), r"--sampling\.contains 'é': 'é' not in the vocabulary"),
        (dict(suffix="abcab", max_length=4), r"--sampling\.suffix 'abcab' leaves no room"),
        (dict(min_length=1, exclude="abc"), r"--sampling\.exclude 'abc' leaves no character"),
        (dict(exclude="abc"), r"--sampling\.exclude 'abc' leaves no character"),
        (dict(max_draws=0), r"--sampling\.max_draws must be at least 1"),
        (dict(min_length=5), r"--sampling\.min_length 5 is above the longest word this model samples: 4"),
    ],
)
def test_bad_options_are_refused_in_one_line_naming_the_option(options, message):
    model = labelled_gru()
    with pytest.raises(UsageError, match=message):
        generate(model, [request(1, SamplingOptions(**options), 0)])


def test_only_new_needs_the_training_words_and_an_unlabelled_model_no_label():
    with pytest.raises(UsageError, match=r"--sampling\.only_new needs the training words"):
        generate(bigram(), [request(1, SamplingOptions(only_new=True), 0)])
    with pytest.raises(UsageError, match="trained without labels"):
        generate(bigram(), [request(1, SamplingOptions(label=("x",)), 0)])
    with pytest.raises(UsageError, match=r"--sampling\.min_length 9 is above --sampling\.max_length 3"):
        SamplingOptions(min_length=9, max_length=3).check(bigram())


def test_predict_prints_the_constrained_words_the_draws_and_what_to_relax(tmp_path, tiny_file, capsys):
    cli_main(["fit", *tiny_args(tmp_path, tiny_file, "gru", "--trainer.max_epochs", "1")])
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    args = ["predict", *tiny_args(tmp_path, tiny_file, "gru"), "--ckpt_path", str(ckpt), "--sampling.num_samples", "4"]
    capsys.readouterr()
    cli_main(
        [
            *args,
            "--sampling.suffix",
            "a",
            "--sampling.min_length",
            "3",
            "--sampling.exclude",
            "e",
            "--sampling.only_new",
            "true",
        ]
    )
    out, err = capsys.readouterr()
    words, train = out.splitlines(), set(WordsDataModule(path=str(tiny_file)).split_words()["train"])
    assert len(words) == 4 and all(w.endswith("a") and len(w) >= 3 and "e" not in w and w not in train for w in words)
    assert re.search(r"draws per word: \d+ \d+ \d+ \d+\n", err)
    cli_main([*args, "--sampling.contains", "zz", "--sampling.max_draws", "2"])
    out, err = capsys.readouterr()
    assert out == "" and re.search(r"makemore-pl: 4 of 4 words missing: relax --sampling\.\w+ \(it rejected", err)
    cli_main([*args, "--sampling.beam", "3", "--sampling.min_length", "2"])
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == 3 and "log-probabilities, best first" in err
    message = error_of(capsys, [*args, "--sampling.beam", "0"])
    assert message == "makemore-pl: error: --sampling.beam must be at least 1 (or null to sample), got 0"


@pytest.mark.parametrize("name", ["counts", "gru"])
def test_predict_samples_each_label_asked_for_or_from_the_prior_through_the_cli(tmp_path, name, capsys):
    path = tmp_path / "labelled.tsv"
    path.write_text("".join(f"{word}\t{label}\n" for word, label in PAIRS))
    args = tiny_args(tmp_path, path, name, "--data.labelled", "true")
    cli_main(["fit", *args, "--trainer.max_epochs", "1"])
    ckpt = next((tmp_path / "logs").rglob("last.ckpt"))
    predict = ["predict", *args, "--ckpt_path", str(ckpt), "--sampling.num_samples", "3"]
    capsys.readouterr()
    cli_main([*predict, "--sampling.label", "[b,a]", "--sampling.min_length", "2"])
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert [label for _, label in lines] == ["b"] * 3 + ["a"] * 3 and all(len(word) >= 2 for word, _ in lines)
    cli_main(predict)  # each word's label drawn from the training split's prior
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and all(label in ("a", "b") for _, label in lines)
    cli_main([*predict, "--sampling.beam", "2", "--sampling.label", "a", "--sampling.suffix", "a"])
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and all(word.endswith("a") and label == "a" for word, label in lines)
    assert "--sampling.label: unknown label 'c'; the model knows a, b" in error_of(
        capsys, [*predict, "--sampling.label", "c"]
    )
