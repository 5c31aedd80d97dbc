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
    """Raise a UsageError as soon as the weights or a logged training loss are NaN or infinite.

    Lightning runs checkpoint callbacks after all others, so this check comes first at the
    end of every epoch and validation: a NaN model never replaces last.ckpt or the best one.
    It checks once per epoch, never per mini-batch step. The weights are checked too, since
    the losses are only logged every log_every_n_steps steps.
    """

    def _check(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        found = [(key, trainer.callback_metrics.get(key)) for key in WATCHED]
        found += [(f"weight {name}", p.detach()) for name, p in pl_module.named_parameters()]
        for what, value in found:
            if value is not None and not torch.isfinite(value).all():
                shown = float(value) if value.numel() == 1 else "non-finite"
                raise UsageError(
                    f"{what} became {shown} at step {trainer.global_step}: the learning rate is probably too "
                    "high (--model.optimizer.init_args.lr). Training stopped; the checkpoints written so far are "
                    "kept as they were"
                )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._check(trainer, pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self._check(trainer, pl_module)
