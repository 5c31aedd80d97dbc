"""Callbacks that time training: in the benchmark's own process, and inside a whole `makemore-pl` command.

This module imports only Lightning, so that a command can load ``clocks.TrainClock`` by class path.
"""

from __future__ import annotations

import sys
import time

import lightning as L
import torch


def _wait(pl_module: L.LightningModule) -> None:
    # On an accelerator the steps are queued: wait for them before reading a clock that counts.
    if pl_module.device.type != "cpu" and torch.accelerator.is_available():
        torch.accelerator.synchronize(pl_module.device)


class StepClock(L.Callback):
    """Wall time at the end of every training batch, for steady-state rates.

    It can stop the run: once ``train/nll`` reaches ``target`` (the benchmark reads the loss
    back; the package never does), or once ``budget`` seconds have passed after ``warmup`` steps.
    """

    def __init__(self, target: float | None = None, warmup: int | None = None, budget: float | None = None):
        if budget is not None and warmup is None:
            raise ValueError("a budget of steady seconds needs its warmup steps")
        self.times: list[float] = []
        self.target, self.reached = target, None
        self.warmup, self.budget = warmup, budget

    def on_train_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if len(self.times) == self.warmup:
            _wait(pl_module)
        now = time.perf_counter()
        self.times.append(now)
        if self.target is not None and self.reached is None and trainer.callback_metrics["train/nll"] <= self.target:
            self.reached = (now - self.start, len(self.times))
            trainer.should_stop = True
        steady = len(self.times) > (self.warmup or 0) + 1
        if self.budget is not None and steady and now - self.times[self.warmup] > self.budget:
            _wait(pl_module)
            self.times[-1] = time.perf_counter()
            trainer.should_stop = True

    def warmup_cost(self) -> float:
        """Seconds the warm-up steps took beyond as many steady steps: where compiling, and compiling again, happen."""
        return self.times[self.warmup - 1] - self.start - self.warmup * self.steady_step()

    def steady(self) -> list[float]:
        """The end times of the steady steps: after ``warmup`` steps, or the first 20% when none was given."""
        return self.times[self.warmup if self.warmup is not None else len(self.times) // 5 :]

    def steady_step(self) -> float:
        steady = self.steady()
        return (steady[-1] - steady[0]) / (len(steady) - 1)


class TrainClock(L.Callback):
    """Prints how long the training loop took, for a benchmark that times the whole command around it."""

    def on_train_start(self, trainer, pl_module):
        self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module):
        _wait(pl_module)
        print(f"bench: training loop {time.perf_counter() - self.start:.6f} s", file=sys.stderr)
