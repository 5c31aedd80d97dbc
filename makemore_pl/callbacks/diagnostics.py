"""Lecture 3's diagnostics, live in TensorBoard: activations, their gradients, and how much each step moves the weights.

Every ``every_n_steps`` training steps, and on those steps only, forward hooks on the activation
layers record the step's activations, tensor hooks on their outputs record the gradients flowing
back into them, the weights' gradients are read just before the optimizer steps, and the
parameters are compared before and after the step. The hooks are removed at the end of the step:
the other steps run exactly as without the callback, and no step's maths changes (hooks that
return nothing alter neither the outputs nor the gradients).

What counts as an activation layer, and its saturation:

- an elementwise nonlinearity (``nn.Tanh``, ``nn.GELU``, ``nn.ReLU``, ``nn.SiLU``, ``nn.Sigmoid``):
  saturated where its local gradient ``|f'(x)|`` is below ``1 - 0.97**2``, tanh's at ``|t| = 0.97``.
  For tanh this is exactly lecture 3's ``|t| > 0.97``; for any other, the same thing the lecture
  warns about: units that pass back almost none of the gradient (GELU's flat negative side,
  ReLU's dead half);
- a fused recurrent layer (``nn.RNN``, ``nn.GRU``, ``nn.LSTM``), whose nonlinearities run inside
  one kernel: its output sequence, the last layer's hidden states, saturated where ``|h| > 0.97``.
  For a tanh RNN ``h`` is the tanh's output itself, so this is the lecture's measure; a GRU's
  ``h`` mixes tanh outputs, so ``|h| > 0.97`` needs them saturated; an LSTM's
  ``h = o * tanh(c)`` reaches it only where the tanh saturates with its gate open: a lower bound.

For models that read whole words, the padded positions after a word's end (which the loss
ignores, and whose gradient is zero) are left out of every statistic. A network run through
``torch.compile`` does not call hooks added after compiling: its activations go unseen.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from makemore_pl.data.vocab import PAD
from makemore_pl.errors import UsageError
from makemore_pl.plots.charts import update_ratio_chart
from makemore_pl.plots.figures import save_png
from makemore_pl.plots.tensorboard import tensorboard_writer

ELEMENTWISE = (nn.Tanh, nn.GELU, nn.ReLU, nn.SiLU, nn.Sigmoid)
SATURATED_SLOPE = 1 - 0.97**2  # tanh's local gradient where |t| = 0.97: lecture 3's threshold
BINS = 100  # uniform bins between the smallest and largest value, as torch.histogram draws the lecture's


def activation_layers(module: nn.Module) -> dict[str, nn.Module]:
    """The layers whose outputs the diagnostics watch, by qualified name (``network.4``)."""
    return {name: m for name, m in module.named_modules() if isinstance(m, (*ELEMENTWISE, nn.RNNBase))}


def saturation(layer: nn.Module, inputs: Tensor, outputs: Tensor) -> Tensor:
    """The share of ``layer``'s units that are saturated on this step (see the module's docstring)."""
    if isinstance(layer, nn.RNNBase):
        return (outputs.abs() > 0.97).float().mean()
    with torch.enable_grad():
        x = inputs.detach().float().requires_grad_()
        # layer.forward, not layer(...): its hooks must not see this second, private call.
        (slope,) = torch.autograd.grad(layer.forward(x).sum(), x)
    return (slope.abs() < SATURATED_SLOPE).float().mean()


def add_histogram(writer: Any, tag: str, values: Tensor, step: int) -> None:
    """Log ``values`` as a TensorBoard histogram of ``BINS`` uniform bins, computed in torch.

    ``SummaryWriter.add_histogram`` computes in numpy, whose ``values.dot(values)`` starts
    OpenBLAS's threads; they spin after each call and, on a 2-core CPU, slowed every later
    torch op of an mlp_bn fit by a fifth. ``torch.histc`` runs on the tensor's own device.
    """
    values = values.detach().flatten().float()
    low, high = values.min(), values.max()
    if low == high:  # one value: a bin of width 1 around it, as numpy draws it
        low, high = low - 0.5, high + 0.5
    counts = torch.histc(values, bins=BINS, min=float(low), max=float(high))
    edges = torch.linspace(float(low), float(high), BINS + 1)
    moments = torch.stack([values.min(), values.max(), values.sum(), values.square().sum()])
    minimum, maximum, total, squares = moments.tolist()
    writer.add_histogram_raw(
        tag,
        min=minimum,
        max=maximum,
        num=values.numel(),
        sum=total,
        sum_squares=squares,
        # TensorBoard stores each bin's right edge: an empty bin first carries the left edge.
        bucket_limits=edges.tolist(),
        bucket_counts=[0.0, *counts.tolist()],
        global_step=step,
    )


def update_to_data(before: Tensor, after: Tensor) -> Tensor:
    """log10(std(update) / std(data)), lecture 3's ratio, with the data after the update as in the lecture."""
    after = after.detach().float()
    return ((after - before.float()).std() / after.std()).log10()


class Diagnostics(Callback):
    def __init__(self, every_n_steps: int = 100) -> None:
        """Lecture 3's diagnostics in TensorBoard, every ``every_n_steps`` steps, for any model.

        Logs, on process 0 only:

        - per activation layer: ``activation_mean/``, ``activation_std/`` and ``saturation/``
          scalars, and histograms of its outputs (``activation/``) and of the gradient flowing
          back into them (``activation_grad/``);
        - per weight matrix (a parameter of 2 or more dimensions): a histogram of its gradient
          (``grad/``) and ``grad_data_ratio/``, std(gradient) / std(weights);
        - per parameter: ``update_data_ratio/``, log10(std(update) / std(data)), where the update is
          the change the optimizer's step actually made, whatever the optimizer; and at the end of
          the fit, all of them over the steps in one picture with lecture 3's guide at -3
          (image ``update_data_ratio``, and update_data_ratio.png in the run's folder).

        Args:
            every_n_steps: Record every this many training steps, starting with the first (the
                initialisation). The hooks exist on those steps only, so the other steps cost
                nothing extra.
        """
        super().__init__()
        if every_n_steps < 1:
            raise UsageError(f"Diagnostics' every_n_steps must be at least 1, got {every_n_steps}")
        self.every_n_steps = every_n_steps
        self.history: dict[str, list[tuple[int, float]]] = {}  # update:data per parameter, for the picture
        self._handles: list[RemovableHandle] = []
        self._layers: dict[str, nn.Module] = {}
        self._activations: dict[str, tuple[Tensor, Tensor]] = {}  # name: (inputs, outputs) of one step
        self._activation_grads: dict[str, Tensor] = {}
        self._before: dict[str, Tensor] = {}  # the parameters just before the optimizer's step
        self._mask: Tensor | None = None  # the positions that count, for models that read words
        self._recorded_step = -1

    def _records(self, trainer: L.Trainer) -> bool:
        return trainer.global_step % self.every_n_steps == 0 and tensorboard_writer(trainer) is not None

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero and tensorboard_writer(trainer) is None:
            rank_zero_warn("Diagnostics logs to TensorBoard, and this run has no TensorBoardLogger: nothing is logged")
        if getattr(pl_module, "compile_network", False):
            # torch.compile's graphs skip module hooks added after compiling (dynamo's
            # skip_nnmodule_hook_guards): the activations would silently be missing.
            rank_zero_warn(
                "Diagnostics cannot see the activations of a compiled network (--model.compile true): only the "
                "gradients and update-to-data ratios of the weights are logged"
            )
        self._layers = activation_layers(pl_module)

    # The activations: forward hooks for the step being recorded, removed at its end.

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        # With gradient accumulation a step spans several batches: record the first one's activations.
        if not self._records(trainer) or self._recorded_step == trainer.global_step:
            return
        self._recorded_step = trainer.global_step
        targets = batch.y
        self._mask = targets != PAD if targets.ndim == 2 else None
        for name, layer in self._layers.items():
            self._handles.append(layer.register_forward_hook(partial(self._on_forward, name)))

    def _on_forward(self, name: str, layer: nn.Module, inputs: tuple, output: Any) -> None:
        if name in self._activations:
            return  # a layer called twice in a step: its first call is the one recorded
        output = output[0] if isinstance(output, tuple) else output  # a recurrent layer's (sequence, state)
        self._activations[name] = (inputs[0].detach(), output.detach())
        if output.requires_grad:
            output.register_hook(partial(self._on_backward, name))

    def _on_backward(self, name: str, grad: Tensor) -> None:
        self._activation_grads[name] = grad.detach()

    # The weights: their gradients before the optimizer's step, and the step itself.

    def on_before_optimizer_step(
        self, trainer: L.Trainer, pl_module: L.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if not self._records(trainer):
            return
        writer, step = tensorboard_writer(trainer), trainer.global_step
        for name, p in pl_module.named_parameters():
            if p.grad is None:
                continue
            if p.ndim >= 2:
                grad = p.grad.detach().float()
                add_histogram(writer, f"grad/{name}", grad, step)
                writer.add_scalar(f"grad_data_ratio/{name}", grad.std() / p.detach().float().std(), step)
            self._before[name] = p.detach().clone()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._remove_hooks()
        if not self._activations and not self._before:
            return  # not a recorded step: nothing to do
        writer, step = tensorboard_writer(trainer), self._recorded_step
        for name, (inputs, output) in self._activations.items():
            layer = self._layers[name]
            tag = f"{name} ({type(layer).__name__})"
            values = self._counted(output).float()
            writer.add_scalar(f"activation_mean/{tag}", values.mean(), step)
            writer.add_scalar(f"activation_std/{tag}", values.std(), step)
            writer.add_scalar(f"saturation/{tag}", saturation(layer, self._counted(inputs), values), step)
            add_histogram(writer, f"activation/{tag}", values, step)
            if name in self._activation_grads:
                grads = self._counted(self._activation_grads[name]).float()
                add_histogram(writer, f"activation_grad/{tag}", grads, step)
        if self._before:
            # global_step has moved on by one: the ratio belongs to the step that made the update.
            step = trainer.global_step - 1
            parameters = dict(pl_module.named_parameters())
            for name, before in self._before.items():
                ratio = float(update_to_data(before, parameters[name]))
                if math.isfinite(ratio):  # a parameter with all its values equal has no ratio
                    writer.add_scalar(f"update_data_ratio/{name}", ratio, step)
                    self.history.setdefault(name, []).append((step, ratio))
        self._activations, self._activation_grads, self._before = {}, {}, {}

    def _counted(self, values: Tensor) -> Tensor:
        """``values`` without the padded positions after the words' ends, when they are laid out by position."""
        mask = self._mask
        if mask is not None and values.shape[: mask.ndim] == mask.shape:
            return values[mask]
        return values

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._remove_hooks()  # a run interrupted inside a recorded step leaves none behind

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        writer = tensorboard_writer(trainer)
        if writer is None or not self.history:
            return
        shapes = {name: tuple(p.shape) for name, p in pl_module.named_parameters()}
        image = update_ratio_chart(self.history, shapes)
        writer.add_image("update_data_ratio", image, trainer.global_step, dataformats="HWC")
        save_png(image, Path(log_dir) / "update_data_ratio.png")

    def state_dict(self) -> dict[str, Any]:
        # Kept in checkpoints, so that a resumed run's picture starts at step 0.
        return {"history": {name: [list(point) for point in points] for name, points in self.history.items()}}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.history = {name: [tuple(point) for point in points] for name, points in state_dict["history"].items()}
