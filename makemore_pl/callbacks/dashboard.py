"""What TensorBoard shows while any model learns: counts, learned probabilities, samples, optimum, embeddings."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback

from makemore_pl.data.batches import FullBatch
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.counts import CountNGram
from makemore_pl.models.ngram import NGramModel
from makemore_pl.plots.embeddings import log_embeddings
from makemore_pl.plots.figures import TableFigure, save_png
from makemore_pl.plots.tensorboard import tensorboard_writer
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.sampling.table import sample_words_parallel

SMOOTHING_GRID = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


def fit_counts(itos: list[str], context: int, train_words: list[str]) -> CountNGram:
    """The count model of the training words, with the given vocabulary and context."""
    counts = CountNGram(itos, context=context)
    counts.count(next(iter(FullBatch(*Vocabulary(itos).encode_words(train_words, context)))))
    return counts


def best_val_nll(counts: CountNGram, val_words: list[str]) -> float:
    """The count model's validation NLL at its best smoothing: the optimum a neural n-gram approaches."""
    val = next(iter(FullBatch(*Vocabulary(counts.itos).encode_words(val_words, counts.context))))
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
        embeddings: bool = True,
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
            embeddings: At the end of the fit, log the model's character embedding table, if it has
                one, to TensorBoard's Projector with the characters as labels; when it is 2-D, also
                lecture 2's picture of it (image ``embedding``, and embedding.png in the run's folder).
        """
        super().__init__()
        if every_n_epochs < 1:
            raise ValueError(f"every_n_epochs must be at least 1, got {every_n_epochs}")
        self.every_n_epochs, self.num_samples = every_n_epochs, num_samples
        # The command's --sampling options (cli.MakemoreCLI sets them), checked when first used.
        self.sampling, self._checked = SamplingOptions(), False
        self.counts_heatmap, self.probabilities, self.samples, self.optimum = (
            counts_heatmap,
            probabilities,
            samples,
            optimum,
        )
        self.embeddings = embeddings
        self._figures: dict[tuple[str, ...], TableFigure] = {}  # a frame per set of row labels, drawn once
        self._optimum: float | None = None
        self._train_words: set[str] = set()
        self._validations = 0

    def _draw(
        self, trainer: L.Trainer, tag: str, table: torch.Tensor, rows: list[str], cols: list[str], title: str, **kwargs
    ) -> np.ndarray:
        figure = self._figures.get(tuple(rows))
        if figure is None:
            figure = self._figures[tuple(rows)] = TableFigure(rows, cols, title=title)
        image = figure.image(table.cpu().numpy(), **kwargs)
        tensorboard_writer(trainer).add_image(tag, image, trainer.global_step, dataformats="HWC")
        return image

    def _draw_probabilities(self, trainer: L.Trainer, pl_module: LanguageModel, **kwargs) -> np.ndarray | None:
        probs, rows = pl_module.start_probabilities(self.sampling.temperature)
        if not torch.isfinite(probs).all():
            return None  # a diverged model has nothing to show; FiniteLossGuard stops the run
        if isinstance(pl_module, NGramModel):
            title = f"next character given the previous {pl_module.context} character(s)"
        else:
            title = "next character at a word's start, and after its first character"
        return self._draw(trainer, "probabilities", probs, rows, pl_module.itos, title, **kwargs)

    def on_fit_start(self, trainer: L.Trainer, pl_module: LanguageModel) -> None:
        datamodule = trainer.datamodule
        if datamodule is None or not hasattr(datamodule, "splits"):
            return
        datamodule.setup("fit")
        self._train_words = set(datamodule.train_words)
        # An n-gram's own table; for the networks, the lecture's bigram counts of the data.
        context = pl_module.context if isinstance(pl_module, NGramModel) else 1
        counts = fit_counts(pl_module.itos, context, datamodule.splits["train"])
        # The count model's best is the optimum of an n-gram only: a network can beat it.
        if self.optimum and isinstance(pl_module, NGramModel) and datamodule.splits.get("val"):
            self._optimum = best_val_nll(counts, datamodule.splits["val"])
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        writer = tensorboard_writer(trainer)
        # Once per run folder: a run resumed in its folder has drawn it already.
        if self.counts_heatmap and writer is not None and not (Path(log_dir) / "counts.png").exists():
            rows = [pl_module.itos[0] * (context - 1) + c for c in pl_module.itos]
            title = f"counts of the next character given the previous {context} character(s)"
            table = counts.counts[: len(rows)]
            image = self._draw(trainer, "counts", table, rows, pl_module.itos, title, cell_text=True)
            save_png(image, Path(log_dir) / "counts.png")

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: LanguageModel) -> None:
        if trainer.sanity_checking:
            return
        if self._optimum is not None:
            # Logged through Lightning, at the step of val/nll: a resumed run purges and goes on with both alike.
            pl_module.log("val/nll_optimum", self._optimum)
        writer = tensorboard_writer(trainer)
        if writer is None:
            return
        step = trainer.global_step
        if self.probabilities and self._validations % self.every_n_epochs == 0:
            self._draw_probabilities(trainer, pl_module)
        self._validations += 1
        if self.samples:
            lines = [
                f"{word or '(empty)':<20} {'' if label is None else f'{label:<12} '}"
                f"{'train' if word in self._train_words else 'new'}"
                for word, label in self._sample(pl_module)
            ]
            writer.add_text("samples", "```\n" + "\n".join(lines) + "\n```", step)

    def _options(self, pl_module: LanguageModel) -> SamplingOptions:
        """The --sampling options for ``num_samples`` words; options that do not fit the model warn once, and
        the defaults sample instead: sampling options never fail a fit."""
        if not self._checked:
            self._checked = True
            try:
                self.sampling.check(pl_module)
            except UsageError as e:
                print(f"makemore-pl: the Dashboard samples with the default options: {e}", file=sys.stderr)
                self.sampling = SamplingOptions(seed=self.sampling.seed)
        return replace(self.sampling, num_samples=self.num_samples)

    def _sample(self, pl_module: LanguageModel) -> list[tuple[str, str | None]]:
        """``num_samples`` words and their labels (None when unlabelled); of each label for a labelled model."""
        options = self._options(pl_module)
        if pl_module.labels is not None:
            options = replace(options, label=list(pl_module.labels) if options.labels is None else options.label)
            (result,) = generate(pl_module, [options], self._train_words)
            return [(sampled.word, sampled.label) for sampled in result.words]
        if not isinstance(pl_module, NGramModel) or options.constrained():
            return [(word, None) for word in pl_module.sample(options)]
        # An n-gram's own sampler follows the lecture's loop, one character at a time: here,
        # at every validation epoch, all words advance together instead.
        generator = torch.Generator().manual_seed(options.seed)
        probs = pl_module.probs_table(options.temperature).cpu()
        if not torch.isfinite(probs).all():
            return []
        words = sample_words_parallel(
            probs, pl_module.itos, pl_module.context, self.num_samples, generator, options.max_length
        )
        return [(word, None) for word in words]

    def on_fit_end(self, trainer: L.Trainer, pl_module: LanguageModel) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        writer = tensorboard_writer(trainer)
        if writer is None:
            return
        if self.probabilities:
            image = self._draw_probabilities(trainer, pl_module, cell_text=True)
            if image is not None:
                save_png(image, Path(log_dir) / "probabilities.png")
        if self.embeddings:
            log_embeddings(writer, pl_module, log_dir, trainer.global_step)
