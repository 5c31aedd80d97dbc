"""Ctrl-C during fit: deferred to the end of the batch, at once the second time, and only during fit."""

import signal

import pytest

from makemore_pl.callbacks.interrupt import SafeInterrupt


@pytest.fixture
def interrupt():
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # what a command starts with
    callback = SafeInterrupt()
    yield callback
    callback.teardown(None, None, "fit")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handed back after the fit


def test_a_ctrl_c_during_fit_raises_at_the_end_of_the_batch_not_where_it_lands(interrupt):
    interrupt.setup(None, None, "fit")
    signal.raise_signal(signal.SIGINT)  # would raise KeyboardInterrupt here without the callback
    with pytest.raises(KeyboardInterrupt):
        interrupt.on_train_batch_end(None, None, None, None, 0)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the shutdown is Lightning's


def test_a_second_ctrl_c_raises_at_once(interrupt):
    interrupt.setup(None, None, "fit")
    signal.raise_signal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)


def test_without_a_ctrl_c_the_batches_go_on_and_other_stages_keep_the_default(interrupt):
    interrupt.setup(None, None, "fit")
    interrupt.on_train_batch_end(None, None, None, None, 0)
    interrupt.on_validation_batch_end(None, None, None, None, 0)
    interrupt.teardown(None, None, "fit")
    interrupt.setup(None, None, "predict")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
