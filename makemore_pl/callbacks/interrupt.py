"""Ctrl-C during fit stops the run at the end of its current batch, never in the middle of a write."""

from __future__ import annotations

import signal
import threading
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback


class SafeInterrupt(Callback):
    """From a fit's first batch on, defer SIGINT to the next batch boundary and raise KeyboardInterrupt there.

    Python raises KeyboardInterrupt wherever the main thread happens to be. Raised inside
    TensorBoard's event queue (``queue.put``, between adding an item and counting it), it kills
    the writer's thread, and the shutdown's flush then waits for that thread forever: a Ctrl-C
    that hangs the run. Raised at a batch boundary instead, Lightning's graceful shutdown runs
    unchanged: ``last.ckpt`` stays as the last epoch wrote it and the command exits with code 1.
    A second Ctrl-C raises at once, as without this callback, so a stuck run can still be stopped.
    Another SIGINT handler installed by the program (or SIGINT ignored) is left alone.
    """

    def __init__(self) -> None:
        super().__init__()
        self._requested = False
        self._fitting = False
        self._installed = False

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._requested, self._fitting = False, True

    def _arm(self) -> None:
        # At the first batch, not in setup or on_fit_start: Lightning's signal connector records
        # every handler after those and puts them back at its teardown, which would reinstall
        # this one after a failed fit. Signal handlers belong to the main thread.
        if not self._fitting or self._installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self._defer)
            self._installed = True

    def _defer(self, signum: int, frame: Any) -> None:
        # Only a flag: a signal handler must not log or take locks that the interrupted code may hold.
        if self._requested:
            raise KeyboardInterrupt
        self._requested = True

    def _raise_if_requested(self) -> None:
        if self._requested:
            self._restore()
            raise KeyboardInterrupt

    def _restore(self) -> None:
        self._fitting = False
        if self._installed:
            # Only if ours is still the handler: Lightning ignores SIGINT while it shuts down.
            if signal.getsignal(signal.SIGINT) == self._defer:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._arm()

    def on_validation_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._arm()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._raise_if_requested()

    def on_validation_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self._raise_if_requested()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._raise_if_requested()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._restore()

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        # A fit that fails calls no teardown hooks: without this, a program that goes on
        # (a notebook, the tests) would keep a handler whose flag nobody reads.
        self._restore()
