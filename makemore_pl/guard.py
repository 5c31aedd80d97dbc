"""Stops a run whose loss is no longer a number, before a checkpoint of it is written."""

from __future__ import annotations

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from makemore_pl.errors import UsageError

# The training losses only: an infinite val/nll is a fair verdict on unsmoothed counts that
# never saw a validation n-gram (the lecture's "jq"), not a diverging run.
WATCHED = ("train/loss", "train/nll")


class FiniteLossGuard(Callback):
    """Raise a UsageError as soon as a logged training loss is NaN or infinite.

    Lightning runs checkpoint callbacks after all others, so this check comes first at the
    end of every epoch and validation: a NaN model never replaces last.ckpt or the best one.
    It reads the losses once per epoch, never per mini-batch step.
    """

    def _check(self, trainer: L.Trainer) -> None:
        for key in WATCHED:
            value = trainer.callback_metrics.get(key)
            if value is not None and not torch.isfinite(value).all():
                raise UsageError(
                    f"{key} became {float(value)} at step {trainer.global_step}: the learning rate is probably too "
                    "high (--model.optimizer.init_args.lr). Training stopped; the checkpoints written so far are "
                    "kept as they were"
                )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._check(trainer)
