"""How soon a run is good: the wall time and the steps until ``val/nll`` first reaches a target."""

from __future__ import annotations

import math
import time

import lightning as L
from lightning.pytorch.callbacks import Callback


class TimeToTarget(Callback):
    """Record when the monitored metric first falls to ``target`` or below, at the end of a validation.

    The clock starts when training starts (after setup, the data loaded and the model built),
    the way ``make bench`` times the series, and includes the validations on the way. A run that
    never gets there keeps ``seconds`` and ``steps`` at infinity: never is not "after its whole
    run", which would rank a short run that stopped short above a long one that arrived.
    """

    def __init__(self, target: float, monitor: str = "val/nll") -> None:
        """
        Args:
            target: the value of the metric to reach, e.g. 2.0 nats.
            monitor: the metric, logged at validation.
        """
        super().__init__()
        self.target, self.monitor = target, monitor
        self.seconds = self.steps = math.inf
        self._start: float | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or self._start is None or value is None or math.isfinite(self.seconds):
            return
        if float(value) <= self.target:
            self.seconds, self.steps = time.perf_counter() - self._start, trainer.global_step
