"""The real command line, in-process, on a tiny words file: fit, test, predict, and every shipped config."""

import pytest
import torch
from conftest import REPO, TINY_WORDS, fit_args
from helpers import run_dir, words_for

from makemore_pl.cli import cli_main

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))


def test_fit_test_predict_end_to_end(tmp_path, tiny_file, capsys):
    cli_main(["fit", *fit_args(tmp_path, tiny_file, "configs/bigram.yaml", "--trainer.max_epochs", "30")])
    fitted = run_dir(tmp_path)
    last = fitted / "checkpoints" / "last.ckpt"
    assert last.exists() and list((fitted / "checkpoints").glob("best-*.ckpt"))
    assert (fitted / "config.yaml").exists()
    ckpt = torch.load(last, weights_only=True)  # plain values only: loads without unpickling code
    assert ckpt["vocab"][0] == "." and ckpt["hyper_parameters"]["vocab"] == ckpt["vocab"]

    capsys.readouterr()
    cli_main(["test", *fit_args(tmp_path, tiny_file), "--ckpt_path", str(last)])
    assert "test/nll" in capsys.readouterr().out

    cli_main(["predict", *fit_args(tmp_path, tiny_file), "--ckpt_path", str(last), "--sampling.num_samples", "7"])
    out, err = capsys.readouterr()
    words = out.strip().splitlines()
    assert len(words) == 7 and all(set(w) <= set("".join(TINY_WORDS)) for w in words)
    assert "sampled 7 words" in err
    saved = (run_dir(tmp_path) / "samples.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in saved] == words
    assert {line.split("\t")[1] for line in saved} <= {"new", "train"}

    # The same seed samples the same words again.
    cli_main(["predict", *fit_args(tmp_path, tiny_file), "--ckpt_path", str(last), "--sampling.num_samples", "7"])
    assert capsys.readouterr().out.strip().splitlines() == words


def test_a_rerun_into_the_same_log_folder_works(tmp_path, tiny_file):
    for _ in range(2):
        cli_main(["fit", *fit_args(tmp_path, tiny_file, "configs/bigram.yaml", "--trainer.max_epochs", "2")])
    assert len(list((tmp_path / "logs" / "bigram").glob("version_*"))) == 2


@pytest.mark.parametrize("config", CONFIGS, ids=[c.name for c in CONFIGS])
def test_every_config_parses_and_instantiates(tmp_path, tiny_file, config, capsys):
    words = words_for(config, tiny_file, tmp_path)  # configs/labelled.yaml reads word<TAB>label lines
    cli_main(["fit", *fit_args(tmp_path, words, str(config)), "--trainer.max_epochs", "1"])
    assert "Error" not in capsys.readouterr().err


def test_help_documents_the_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in [
        "--data.path",
        "--data.batch_size",
        "--data.val_fraction",
        "--data.test_fraction",
        "--sampling.num_samples",
    ]:
        assert option in out
    assert "One word per line" in out or "one word per line" in out


def test_predict_help_shows_each_sampling_option_with_its_own_docstring(capsys):
    from makemore_pl.sampling.options import field_help

    with pytest.raises(SystemExit):
        cli_main(["predict", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name, help_text in field_help().items():
        assert f"--sampling.{name}" in out
        assert " ".join(help_text.split()[:6]) in out, name


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("--model.temperature", "--sampling.temperature"),
        ("--model.init_args.prefix", "--sampling.prefix"),
        ("--model.sample_seed", "--sampling.seed"),
        ("--data.num_samples", "--sampling.num_samples"),
    ],
)
def test_an_old_sampling_flag_gets_one_line_naming_its_new_one(old, new, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["predict", "--ckpt_path", "x.ckpt", f"{old}=1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err == f"makemore-pl: error: {old} moved: use {new}\n"


def test_print_config_shows_the_model_options(capsys, tiny_file, tmp_path):
    with pytest.raises(SystemExit):
        cli_main(["fit", *fit_args(tmp_path, tiny_file), "--print_config"])
    out = capsys.readouterr().out
    assert "l2: 0.01" in out and "temperature: 1.0" in out and "class_path: torch.optim.Adam" in out
    assert "sampling:" in out and "temperature" not in out.split("sampling:")[0]


def test_bad_input_is_one_line_naming_the_option(tmp_path, tiny_file, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli_main(["fit", *fit_args(tmp_path, tiny_file), "--model.l2", "-1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "makemore-pl: error: --model.l2 must be >= 0, got -1.0"


def test_sample_writer_marks_training_words_and_keeps_stdout_one_word_per_line(tmp_path, capsys):
    from types import SimpleNamespace

    from makemore_pl.callbacks.writer import SampleWriter
    from makemore_pl.sampling.records import Prediction, Sampled

    trainer = SimpleNamespace(
        is_global_zero=True,
        log_dir=str(tmp_path),
        datamodule=SimpleNamespace(training_words=lambda: {"emma", "ava"}),
    )
    zed, emma, ava = (Sampled(word, None, -1.5, draws) for word, draws in (("zed", 3), ("emma", 1), ("ava", 2)))
    # Two batches (two processes), out of order; the second ran out of draws.
    predictions = [
        Prediction([zed, emma], [(0, 2), (0, 0)]),
        Prediction([ava], [(0, 1)], missing=2, advice="relax --sampling.suffix (it rejected 9 of 10 draws)"),
    ]
    SampleWriter().write_on_epoch_end(trainer, None, predictions, [])
    out, err = capsys.readouterr()
    assert out.splitlines() == ["emma", "ava", "zed"]
    rows = "emma\ttrain\t-1.5000\t1\nava\ttrain\t-1.5000\t2\nzed\tnew\t-1.5000\t3\n"
    assert (tmp_path / "samples.tsv").read_text() == rows
    assert "draws per word: 1 2 3" in err
    assert "makemore-pl: 2 of 5 words missing: relax --sampling.suffix (it rejected 9 of 10 draws)" in err
    assert "1 new and 2 from the training words" in err
