"""Ctrl-C during fit: deferred to the end of the batch, at once the second time, and only during fit."""

import signal

import pytest
from conftest import fit_args

from makemore_pl.callbacks.interrupt import SafeInterrupt
from makemore_pl.cli import cli_main


@pytest.fixture
def interrupt():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # what a command starts with
    callback = SafeInterrupt()
    yield callback
    callback.teardown(None, None, "fit")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back after the fit


def test_a_ctrl_c_during_fit_raises_at_the_end_of_the_batch_not_where_it_lands(interrupt):
    interrupt.on_fit_start(None, None)
    interrupt.on_train_batch_start(None, None, None, 0)
    signal.raise_signal(signal.SIGINT)  # would raise KeyboardInterrupt here without the callback
    with pytest.raises(KeyboardInterrupt):
        interrupt.on_train_batch_end(None, None, None, None, 0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the shutdown is Lightning's


def test_a_second_ctrl_c_raises_at_once(interrupt):
    interrupt.on_fit_start(None, None)
    interrupt.on_train_batch_start(None, None, None, 0)
    signal.raise_signal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_without_a_ctrl_c_the_batches_go_on_and_other_commands_keep_the_default(interrupt):
    interrupt.on_fit_start(None, None)
    interrupt.on_train_batch_start(None, None, None, 0)
    interrupt.on_train_batch_end(None, None, None, None, 0)
    interrupt.on_validation_batch_end(None, None, None, None, 0)
    interrupt.teardown(None, None, "fit")
    interrupt.on_validation_batch_start(None, None, None, 0)  # validate, test, predict: Python's Ctrl-C
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_a_fit_that_fails_hands_ctrl_c_back(interrupt):
    interrupt.on_fit_start(None, None)
    interrupt.on_train_batch_start(None, None, None, 0)
    interrupt.on_exception(None, None, ValueError("the data was bad"))  # Lightning calls no teardown then
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_failed_fit_leaves_python_s_ctrl_c_behind(tmp_path, tiny_file, capsys):
    args = fit_args(tmp_path, tiny_file)  # the bigram, with a learning rate that overflows W at once
    with pytest.raises(SystemExit):
        cli_main(["fit", *args, "--model.optimizer.lr", "1e30", "--trainer.max_epochs", "5"])
    assert "became" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
