"""Scoring words: every figure against a hand computation, and `makemore-pl score` end to end for every family."""

import io
import math

import pytest
import torch
from conftest import FAMILY_CONFIGS
from helpers import every_family, randomised

from makemore_pl import checkpoints
from makemore_pl.cli import cli_main
from makemore_pl.errors import UsageError
from makemore_pl.scoring.words import score_words

WORDS = ["abba", "c", "", "dadca", "ba"]  # "" is the end alone: one prediction


def by_hand(model, word, label=None):
    """log p(word) as the chain rule says, one ``next_logits`` call per prefix: another path than word_logits."""
    ids = [0, *model.vocabulary.encode(word), 0]
    label = None if label is None else torch.tensor([label])
    surprisals = []
    for t in range(1, len(ids)):
        logits = model.next_logits(torch.tensor([ids[:t]]), label)[0].double()
        surprisals.append(-torch.log_softmax(logits, 0)[ids[t]].item())
    return surprisals


@pytest.mark.parametrize("model", every_family(), ids=lambda m: type(m).__name__)
def test_each_word_scores_the_chain_rule_over_its_characters_and_its_end(model):
    model = randomised(model)
    scores = score_words(model, WORDS, train_words={"c", "ba"}, per_char=True)
    assert [s.word for s in scores] == WORDS
    with torch.no_grad():
        for score in scores:
            expected = by_hand(model, score.word)
            assert score.surprisal == pytest.approx(expected, abs=1e-4)
            assert score.nll == pytest.approx(sum(expected), abs=1e-4)
            assert score.nats_per_char == pytest.approx(sum(expected) / (len(score.word) + 1), abs=1e-4)
            assert score.perplexity == pytest.approx(math.exp(score.nats_per_char), rel=1e-6)
            assert score.in_train == (score.word in {"c", "ba"})
            assert score.label is None and score.posterior is None
    assert model.training is False  # randomised() left it in eval; scoring leaves it as it found it
    assert all(s.surprisal is None and s.in_train is None for s in score_words(model, WORDS))


@pytest.mark.parametrize("model", every_family(labels=["x", "y", "z"]), ids=lambda m: type(m).__name__)
def test_a_labelled_model_gives_bayes_posterior_and_the_mixtures_nll(model):
    model = randomised(model)
    with torch.no_grad():
        given = {word: torch.tensor([-sum(by_hand(model, word, label)) for label in range(3)]) for word in WORDS}
    for prior in (None, [3.0, 1.0, 0.5]):
        # The model's prior buffer, as fit sets it from the training split; None: a checkpoint without one.
        model.label_prior = None if prior is None else torch.tensor(prior) / sum(prior)
        weights = torch.tensor(prior or [1.0, 1.0, 1.0], dtype=torch.float64)
        log_prior = (weights / weights.sum()).log()
        for score in score_words(model, WORDS, per_char=True):
            joint = given[score.word] + log_prior  # log p(word | label) + log p(label)
            posterior = torch.softmax(joint, 0)
            assert list(score.posterior) == ["x", "y", "z"]
            assert sum(score.posterior.values()) == pytest.approx(1.0, abs=1e-6)
            assert list(score.posterior.values()) == pytest.approx(posterior.tolist(), abs=1e-4)
            assert score.label == "xyz"[int(posterior.argmax())]
            assert score.nll == pytest.approx(-torch.logsumexp(joint, 0).item(), abs=1e-4)
            assert sum(score.surprisal) == pytest.approx(score.nll, abs=1e-4)  # the mixture's chain rule


@pytest.mark.parametrize("model", every_family(labels=["x", "y", "z"])[:4], ids=lambda m: type(m).__name__)
def test_a_chosen_label_scores_the_word_given_that_label(model):
    model = randomised(model)
    with torch.no_grad():
        for score in score_words(model, WORDS, per_char=True, label="y"):
            expected = by_hand(model, score.word, 1)
            assert score.surprisal == pytest.approx(expected, abs=1e-4)
            assert score.nll == pytest.approx(sum(expected), abs=1e-4)
            assert sum(score.posterior.values()) == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(UsageError, match=r"^--label: unknown label 'w'; the model knows x, y, z$"):
        score_words(model, WORDS, label="w")


def test_words_the_model_cannot_score_are_refused_naming_word_position_and_character():
    gru, transformer = every_family()[7], every_family()[9]  # block_size 6: words of at most 5 characters
    with pytest.raises(UsageError, match=r"word 2, 'abe': character 'e' at position 3 is not in the vocabulary"):
        score_words(gru, ["ab", "abe"])
    with pytest.raises(UsageError, match=r"word 1, 'abcdab': 6 characters, and Transformer has positions for .* 5"):
        score_words(transformer, ["abcdab"])
    assert len(score_words(gru, ["abcdabcdabcd"])) == 1  # a recurrence reads any length


def score(args, capsys, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    cli_main(["score", *args])
    captured = capsys.readouterr()
    return [line.split("\t") for line in captured.out.splitlines()], captured.err


@pytest.mark.parametrize("name", FAMILY_CONFIGS)
def test_the_command_scores_words_from_a_checkpoint_alone_for_every_family(name, family_checkpoints, capsys):
    ckpt = family_checkpoints[0][name]
    train = checkpoints.training_words(ckpt)
    given = ["emma", "zoe", "ava", "lily"]
    lines, _ = score(["--ckpt_path", str(ckpt), "--words", ",".join(given), "--per_char"], capsys)
    assert lines[0] == ["word", "nll", "nats_per_char", "perplexity", "in_train", "surprisal"]
    expected = score_words(checkpoints.load_model(ckpt), given, train)
    for line, want in zip(lines[1:], expected, strict=True):
        assert line[0] == want.word and float(line[1]) == pytest.approx(want.nll, abs=1e-4)
        assert float(line[2]) == pytest.approx(want.nll / (len(want.word) + 1), abs=1e-4)
        assert float(line[3]) == pytest.approx(want.perplexity, rel=1e-3)
        assert line[4] == str(want.word in train).lower()
        assert len(line[5].split(",")) == len(want.word) + 1
        assert sum(map(float, line[5].split(","))) == pytest.approx(want.nll, abs=0.01)


def test_words_come_from_stdin_or_a_file_and_the_header_can_go(family_checkpoints, capsys, monkeypatch, tmp_path):
    found, words = family_checkpoints
    ckpt = str(found["gru"])
    from_words, _ = score(["--ckpt_path", ckpt, "--words", "emma, ava"], capsys)
    from_stdin, _ = score(["--ckpt_path", ckpt], capsys, stdin="emma\n\n  ava\n", monkeypatch=monkeypatch)
    listed = tmp_path / "given.txt"
    listed.write_text("emma\nava\n")
    from_file, _ = score(["--ckpt_path", ckpt, "--file", str(listed), "--header", "false"], capsys)
    assert [line[0] for line in from_words] == ["word", "emma", "ava"]
    assert from_stdin == from_words and from_file == from_words[1:]
    # The words file gone: the checkpoint's own copy of its training words still marks them.
    words.rename(words.with_suffix(".gone"))
    try:
        lines, _ = score(["--ckpt_path", ckpt, "--words", "emma"], capsys)
    finally:
        words.with_suffix(".gone").rename(words)
    assert lines[0] == from_words[0] and lines[0][-1] == "in_train" and lines[1] == from_words[1]


def test_an_unknown_character_is_one_line_and_exit_2_or_skipped_and_counted(family_checkpoints, capsys, monkeypatch):
    ckpt = str(family_checkpoints[0]["transformer"])
    monkeypatch.setattr("sys.stdin", io.StringIO("emma\n\nzoë\nava\nqux\n"))
    with pytest.raises(SystemExit) as stopped:
        cli_main(["score", "--ckpt_path", ckpt])
    captured = capsys.readouterr()
    assert stopped.value.code == 2 and captured.out == ""
    assert captured.err.count("\n") == 1
    assert captured.err.startswith("makemore-pl score: error: stdin, line 3: cannot score 'zoë': character 'ë' at ")
    lines, err = score(["--ckpt_path", ckpt, "--skip_unknown"], capsys, "emma\n\nzoë\nava\nqux\n", monkeypatch)
    assert [line[0] for line in lines] == ["word", "emma", "ava"]
    assert err.startswith("makemore-pl score: skipped 2 of 4 words that the model cannot score; the first, stdin, ")
    with pytest.raises(SystemExit):
        cli_main(["score", "--ckpt_path", ckpt, "--words", "a", "--file", "x.txt"])
    assert "--words and --file both given" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.parametrize("labels", [None, ["x", "y", "z"]])
def test_words_score_the_same_on_a_gpu_as_on_the_cpu(labels):
    for model in every_family(labels):
        model = randomised(model)
        on_cpu = score_words(model, WORDS, per_char=True)
        on_gpu = score_words(model.to("cuda"), WORDS, per_char=True)
        for cpu, gpu in zip(on_cpu, on_gpu, strict=True):
            assert gpu.nll == pytest.approx(cpu.nll, abs=1e-4)
            assert gpu.surprisal == pytest.approx(cpu.surprisal, abs=1e-4)
            assert gpu.label == cpu.label
