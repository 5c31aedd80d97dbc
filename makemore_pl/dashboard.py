"""What TensorBoard shows while a model learns: the counts, the learned probabilities, samples, the optimum."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger

from makemore_pl.batches import FullBatch
from makemore_pl.counts import CountNGram
from makemore_pl.figures import TableFigure, save_png
from makemore_pl.model import NGramModel
from makemore_pl.sampling import sample_words_parallel

SMOOTHING_GRID = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def fit_counts(model: NGramModel, examples: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> CountNGram:
    """The count model of the training split, with the model's vocabulary and context."""
    counts = CountNGram(model.itos, context=model.context)
    counts.count(next(iter(FullBatch(*examples["train"]))))
    return counts


def best_val_nll(counts: CountNGram, examples: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> float:
    """The count model's validation NLL at its best smoothing: the optimum a neural model approaches."""
    val = next(iter(FullBatch(*examples["val"])))
    best = float("inf")
    for smoothing in SMOOTHING_GRID:
        counts.smoothing = smoothing
        best = min(best, counts.nll(val).item())
    return best


class Dashboard(Callback):
    def __init__(
        self,
        every_n_epochs: int = 25,
        num_samples: int = 8,
        counts_heatmap: bool = True,
        probabilities: bool = True,
        samples: bool = True,
        optimum: bool = True,
    ) -> None:
        """Logs the lecture's pictures to TensorBoard while a model trains; each part can be switched off.

        Images, text and files come from process 0 only.

        Args:
            every_n_epochs: Draw the learned probabilities every this many validation epochs.
            num_samples: Words sampled into TensorBoard's text tab at every validation epoch.
            counts_heatmap: Log the training split's count table once per fit, and save it as
                counts.png in the run's folder.
            probabilities: Log the model's next-character probabilities as the same grid.
            samples: Log sampled words, each marked new or as one of the training words.
            optimum: Log val/nll_optimum, the count model's validation NLL at its best smoothing:
                the line the neural val/nll curve must end on.
        """
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be at least 1, got {every_n_epochs}")
        self.every_n_epochs, self.num_samples = every_n_epochs, num_samples
        self.counts_heatmap, self.probabilities, self.samples, self.optimum = (
            counts_heatmap,
            probabilities,
            samples,
            optimum,
        )
        self._figure: TableFigure | None = None
        self._optimum: float | None = None
        self._train_words: set[str] = set()
        self._validations = 0

    def _writer(self, trainer: L.Trainer):
        logger = trainer.logger
        return logger.experiment if isinstance(logger, TensorBoardLogger) and trainer.is_global_zero else None

    def _slice(self, pl_module: NGramModel, table: torch.Tensor) -> tuple[torch.Tensor, list[str]]:
        """The rows after an all-boundary context: the whole table for a bigram, the word starts beyond."""
        itos = pl_module.itos
        prefix = itos[0] * (pl_module.context - 1)
        return table[: len(itos)], [prefix + c for c in itos]

    def _draw(self, trainer: L.Trainer, pl_module: NGramModel, tag: str, table: torch.Tensor, **kwargs) -> np.ndarray:
        values, rows = self._slice(pl_module, table)
        if self._figure is None:
            self._figure = TableFigure(
                rows, list(pl_module.itos), title=f"next character given the previous {pl_module.context} character(s)"
            )
        image = self._figure.image(values.cpu().numpy(), **kwargs)
        self._writer(trainer).add_image(tag, image, trainer.global_step, dataformats="HWC")
        return image

    def on_fit_start(self, trainer: L.Trainer, pl_module: NGramModel) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "examples"):
            return
        datamodule.setup("fit")
        self._train_words = set(datamodule.train_words)
        counts = fit_counts(pl_module, datamodule.examples)
        if self.optimum and "val" in datamodule.examples:
            self._optimum = best_val_nll(counts, datamodule.examples)
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        if self.counts_heatmap and self._writer(trainer) is not None:
            image = self._draw(trainer, pl_module, "counts", counts.counts, cell_text=True)
            save_png(image, Path(log_dir) / "counts.png")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: NGramModel) -> None:
        if trainer.sanity_checking:
            return
        writer = self._writer(trainer)
        if writer is None:
            return
        probs = pl_module.probs_table()
        if not torch.isfinite(probs).all():
            return  # a diverged model has nothing to show; FiniteLossGuard stops the run
        step = trainer.global_step
        if self._optimum is not None:
            # A constant, the same on every process: written directly, at the step of val/nll.
            writer.add_scalar("val/nll_optimum", self._optimum, step)
        if self.probabilities and self._validations % self.every_n_epochs == 0:
            self._draw(trainer, pl_module, "probabilities", probs)
        self._validations += 1
        if self.samples:
            generator = torch.Generator().manual_seed(pl_module.sample_seed)
            words = sample_words_parallel(
                probs.cpu(), pl_module.itos, pl_module.context, self.num_samples, generator, pl_module.max_length
            )
            lines = [f"{w or '(empty)':<20} {'train' if w in self._train_words else 'new'}" for w in words]
            writer.add_text("samples", "```\n" + "\n".join(lines) + "\n```", step)

    def on_fit_end(self, trainer: L.Trainer, pl_module: NGramModel) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        probs = pl_module.probs_table()
        if self.probabilities and self._writer(trainer) is not None and torch.isfinite(probs).all():
            image = self._draw(trainer, pl_module, "probabilities", probs, cell_text=True)
            save_png(image, Path(log_dir) / "probabilities.png")
