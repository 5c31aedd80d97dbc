"""L2-SP: a pull towards the weights fine-tuning started from, instead of weight decay towards zero.

Li, Grandvalet and Davoine (2018), "Explicit Inductive Bias for Transfer Learning with
Convolutional Networks": regularising a fine-tuned network towards its pre-trained weights keeps
what they learned, where plain L2 pulls them towards zero, which here means towards forgetting
names.txt. Applied decoupled, as AdamW applies its decay (Loshchilov and Hutter 2019): after each
optimizer step, ``p -= min(1, lr * strength) * (p - start)``, with each parameter group's current learning
rate, so the pull follows the schedule. The optimizer's own weight decay is set to 0 while it
runs, since it would pull the same weights towards zero.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch import Tensor

from makemore_pl.errors import UsageError


class StayNear(Callback):
    """After every optimizer step, move each parameter towards its ``start`` by ``lr * strength`` of the gap."""

    def __init__(self, start: dict[str, Tensor], strength: float) -> None:
        """
        Args:
            start: The weights to stay near, by parameter name (the model's ``named_parameters``).
            strength: The pull per unit of learning rate (AdamW's ``weight_decay`` is the same kind of number).
        """
        super().__init__()
        if strength < 0:
            raise UsageError(f"StayNear's strength must be at least 0, got {strength}")
        self.start, self.strength = start, strength
        self._pairs: list[tuple[Tensor, Tensor, dict[str, Any]]] = []

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        groups = {
            id(p): group
            for optimizer in trainer.optimizers
            for group in optimizer.param_groups
            for p in group["params"]
        }
        for group in {id(g): g for g in groups.values()}.values():
            group["weight_decay"] = 0.0
        self._pairs = [
            (p, self.start[name].to(p.device, p.dtype), groups[id(p)])
            for name, p in pl_module.named_parameters()
            if name in self.start and id(p) in groups
        ]

    @torch.no_grad()
    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        for p, start, group in self._pairs:
            # At most the whole gap: a pull that overshot the start would oscillate around it.
            p.sub_(p - start, alpha=min(1.0, group["lr"] * self.strength))
