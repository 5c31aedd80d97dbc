"""Every model of the makemore series through the real command: configs, checkpoints, precision, tuning, bad input."""

import math
from pathlib import Path

import pytest
import torch
from conftest import REPO, SERIES, tiny_args
from helpers import error_of, printed_words, run_dir, scalars

import makemore_pl
from makemore_pl.cli import MakemoreCLI, cli_main, run_cli
from makemore_pl.cli.tune import tune_main
from makemore_pl.data.datamodule import WordsDataModule

CONFIGS = sorted(path.stem for path in (REPO / "configs").glob("*.yaml"))
# The configs that read plain words; configs/labelled.yaml reads word<TAB>label lines (test_everyday fits and
# samples it on labelled words, test_classifier fits it with its label term).
UNLABELLED = [name for name in CONFIGS if "labelled: true" not in (REPO / "configs" / f"{name}.yaml").read_text()]
# One config per model: the n-grams' two, and the series'.
MODELS = ["bigram", "counts", *SERIES]


def fit(tmp_path: Path, words: Path, name: str, *extra: str) -> Path:
    """Fit ``configs/<name>.yaml`` for one epoch and return the run's folder."""
    cli_main(["fit", *tiny_args(tmp_path, words, name, "--trainer.max_epochs", "1", *extra)])
    return run_dir(tmp_path, name)


# Words files the bigram accepts (see test_robust.py): each must train every model, or be refused
# in one line. ODD holds CRLF, surrounding and inner spaces, capitals, accents, an emoji, "'", "-",
# a "." (so the boundary becomes a newline), a blank line, a one-character word, no final newline,
# and 10 words: one word in each of the validation and test splits.
ODD = "  Zoë \r\nd'arcy\r\nmary-jane\r\njr.\r\n🙂emoji\r\nÅsa\r\nq\r\n\r\nbo\r\nx y\r\nann"
SINGLES = "a\nb\nc\n"  # one character each: block_size 2, and one word in each split


@pytest.mark.parametrize("name", UNLABELLED)
def test_every_config_fits_on_odd_words_then_tests_and_predicts_from_its_checkpoint(tmp_path, name, capsys):
    path = tmp_path / "odd.txt"
    path.write_bytes(ODD.encode())
    ckpt = fit(tmp_path, path, name) / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=True)  # plain values only, whatever the model
    data = WordsDataModule(path=str(path))
    assert data.vocab[0] == "\n" and set("Zoë'-.🙂Å ") <= set(data.vocab)
    assert saved["vocab"] == saved["hyper_parameters"]["vocab"] == data.vocab
    model_class = getattr(makemore_pl, saved["hyper_parameters"]["_class_path"].rsplit(".", 1)[1])
    if model_class.layout == "words":
        assert saved["hyper_parameters"]["block_size"] == data.block_size == max(map(len, data.words)) + 1
    else:
        assert "block_size" not in saved["hyper_parameters"]

    # lecture.yaml and lecture_counts.yaml hold no words out: give the test command some.
    evaluate = [*tiny_args(tmp_path, path, name), "--ckpt_path", str(ckpt), "--data.test_fraction", "0.1"]
    cli_main(["test", *evaluate])
    (nll,) = scalars(run_dir(tmp_path, name), "test/nll")
    assert 0 < nll < 2 * math.log(len(data.vocab))

    capsys.readouterr()
    cli_main(["predict", *tiny_args(tmp_path, path, name), "--ckpt_path", str(ckpt), "--sampling.num_samples", "6"])
    words = printed_words(capsys)
    assert len(words) == 6 and all(set(w) <= set(data.vocab[1:]) for w in words)
    assert len(set(words)) > 1

    # The checkpoint alone rebuilds the model, on the CPU, and samples the same words.
    model = model_class.load_from_checkpoint(ckpt, weights_only=True, map_location="cpu")
    assert model.itos == data.vocab and model.device.type == "cpu"
    assert model.sample(num_samples=6) == words


@pytest.mark.parametrize("name", SERIES)
def test_bf16_mixed_precision_trains_every_series_model_on_the_cpu(tmp_path, tiny_file, name):
    args = tiny_args(tmp_path, tiny_file, name, "--trainer.max_steps", "3", "--trainer.log_every_n_steps", "1")
    args += ["--trainer.precision", "bf16-mixed", "--trainer.accelerator", "cpu", "--trainer.limit_val_batches", "0"]
    cli = run_cli(MakemoreCLI, ["fit", *args])
    assert cli.trainer.global_step == 3 and cli.trainer.precision == "bf16-mixed"
    assert torch.isfinite(cli.trainer.callback_metrics["train/loss"])
    assert all(p.dtype == torch.float32 and p.isfinite().all() for p in cli.model.parameters())
    assert len(scalars(run_dir(tmp_path, name), "train/loss")) == 3


@pytest.mark.parametrize(("option", "values"), [("dropout", "[0, 0.5]"), ("hidden", "[4, 8]")])
def test_tune_searches_a_series_models_option(tmp_path, tiny_file, option, values, capsys):
    # Fewer steps than log_every_n_steps (50 in the config): no train/nll logged, and still a table.
    args = tiny_args(tmp_path, tiny_file, "gru", "--trainer.max_epochs", "3")
    tune_main([*args, "--tune.option", option, "--tune.values", values])
    table = (tmp_path / "logs" / "gru" / f"tune_{option}.md").read_text()
    rows = table.strip().splitlines()[2:]
    assert [row.split("|")[1].strip().strip("*") for row in rows] == values.strip("[]").split(", ")
    assert len([row for row in rows if "**" in row]) == 1
    assert all(math.isfinite(float(row.split("|")[3])) for row in rows)  # val/nll of each
    assert "makemore-pl tune: best" in capsys.readouterr().err


@pytest.mark.parametrize("name", MODELS)
def test_every_model_trains_on_one_character_words_one_in_each_split(tmp_path, name, capsys):
    path = tmp_path / "singles.txt"
    path.write_text(SINGLES)
    ckpt = fit(tmp_path, path, name) / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, weights_only=True)
    capsys.readouterr()
    cli_main(["predict", *tiny_args(tmp_path, path, name), "--ckpt_path", str(ckpt), "--sampling.num_samples", "4"])
    words = printed_words(capsys)
    assert len(words) == 4 and all(set(w) <= set("abc") for w in words)
    if "block_size" in saved["hyper_parameters"]:  # a sequence model samples words as long as the data's
        assert saved["hyper_parameters"]["block_size"] == 2 and all(len(w) <= 1 for w in words)


def test_a_word_too_long_for_a_sequence_model_is_refused_in_one_line(tmp_path, tiny_file, capsys):
    path = tmp_path / "long.txt"
    path.write_text(tiny_file.read_text() + "a" * 300 + "\n")
    line = len(tiny_file.read_text().splitlines()) + 1
    message = error_of(capsys, ["fit", *tiny_args(tmp_path, path, "transformer")])
    assert f"long.txt, line {line}: a word of 300 characters" in message and "--data.max_word_length" in message
    # A window model reads any length; a sequence model, when the option allows it.
    fit(tmp_path, path, "mlp")
    fit(tmp_path, path, "gru", "--data.max_word_length", "300")


def test_a_checkpoint_meets_words_longer_than_its_positions(tmp_path, tiny_file, capsys):
    longest = max(len(w) for w in tiny_file.read_text().split())
    longer, shorter = tmp_path / "longer.txt", tmp_path / "shorter.txt"
    longer.write_text(tiny_file.read_text() + "abcdeabcdeabcde\n")
    shorter.write_text("".join(f"{w}\n" for w in tiny_file.read_text().split() if len(w) < longest))
    for name in ("transformer", "gru"):
        ckpt = fit(tmp_path, tiny_file, name) / "checkpoints" / "last.ckpt"
        test = ["test", *tiny_args(tmp_path, longer, name), "--ckpt_path", str(ckpt)]
        if name == "transformer":  # a position table: no positions for the longer words
            message = error_of(capsys, test)
            assert f"at most {longest}" in message and "--data.path" in message, message
        else:  # a recurrence reads any length
            cli_main(test)
            assert math.isfinite(scalars(run_dir(tmp_path, name), "test/nll")[0])
        # Shorter words: the checkpoint's positions are kept, and the model loads whole.
        cli_main(["test", *tiny_args(tmp_path, shorter, name), "--ckpt_path", str(ckpt)])
        assert math.isfinite(scalars(run_dir(tmp_path, name), "test/nll")[0])


@pytest.mark.parametrize("name", ["mlp_bn", "wavenet"])
def test_batchnorm_models_never_get_a_batch_of_one_window(tmp_path, tiny_file, name, capsys):
    dm = WordsDataModule(path=str(tiny_file))
    dm.setup()
    windows = len(dm.examples["train"][1])
    # Batches of windows - 1 leave a last batch of one window: it joins the one before.
    fit(tmp_path, tiny_file, name, "--data.batch_size", str(windows - 1))
    message = error_of(capsys, ["fit", *tiny_args(tmp_path, tiny_file, name, "--data.batch_size", "1")])
    assert "--data.batch_size" in message and "BatchNorm" in message


@pytest.mark.parametrize(
    ("name", "option", "value", "named"),
    [
        ("wavenet", "--data.context", "3", "--data.context"),
        ("transformer", "--model.heads", "3", "--model.width"),
        ("gru", "--model.hidden", "0", "--model.hidden"),
        ("bow", "--model.width", "0", "--model.width"),
        ("mlp", "--model.embedding", "0", "--model.embedding"),
    ],
)
def test_bad_series_options_are_refused_in_one_line_naming_the_option(
    tmp_path, tiny_file, capsys, name, option, value, named
):
    assert named in error_of(capsys, ["fit", *tiny_args(tmp_path, tiny_file, name, option, value)])
    assert not list(tmp_path.rglob("*.ckpt"))


@pytest.mark.parametrize(
    ("name", "option", "value"),
    [
        ("lstm", "--sampling.top_k", "0"),
        ("rnn", "--sampling.max_length", "0"),
        ("transformer", "--sampling.prefix", "elizabethh"),  # longer than the longest word
    ],
)
def test_bad_sampling_options_are_refused_by_predict_in_one_line_naming_the_option(
    tmp_path, tiny_file, capsys, name, option, value
):
    message = error_of(capsys, ["predict", *tiny_args(tmp_path, tiny_file, name, option, value)])
    assert message.startswith(f"makemore-pl: error: {option}") and "\n" not in message


def test_a_sampling_option_that_does_not_fit_the_model_never_fails_a_fit(tmp_path, tiny_file, capsys):
    cli_main(["fit", *tiny_args(tmp_path, tiny_file, "gru", "--sampling.prefix", "elizabethh")])
    assert list(tmp_path.rglob("last.ckpt"))
