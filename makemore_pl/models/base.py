"""What every makemore-pl model shares: a vocabulary, the NLL, evaluation, sampling and the checkpoint's vocabulary."""

from __future__ import annotations

import inspect
import math
import multiprocessing
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any, ClassVar

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor

from makemore_pl.data.records import WORDS, Batch
from makemore_pl.data.vocab import PAD, Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.models.classifier import BayesClassifier, setup_labels, with_label_term
from makemore_pl.sampling.decoders import Decoder, Rerunning
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.sampling.predict import sample_batch
from makemore_pl.sampling.records import Prediction
from makemore_pl.sampling.requests import SampleBatch


def init_arguments(cls: type) -> set[str]:
    """The names of the arguments that ``cls`` and its bases take in ``__init__``, ``**kwargs`` aside."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" in vars(klass) and issubclass(klass, LanguageModel):
            parameters = inspect.signature(klass.__init__).parameters.values()
            names |= {p.name for p in parameters if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    return names - {"self"}


class LanguageModel(BayesClassifier, L.LightningModule):
    """A model of the next character of a word given the characters before it.

    A subclass says what it reads (``layout``, see ``makemore_pl.data.records``), gives
    ``logits(x)`` for a batch's ``x``, and samples words with ``sample``. The loss, validation,
    test, predict, and the vocabulary kept in the checkpoint are the same for every model and
    live here.
    """

    layout: ClassVar[str]
    # Whether the model reads words through a table of ``block_size`` positions (BoW, the Transformer):
    # then no word longer than ``longest_word`` fits. N-grams, windows and recurrences read any length.
    position_table: ClassVar[bool] = False

    def __init__(
        self,
        vocab: list[str],
        labels: list[str] | None = None,
        text: bool = False,
        label_weight: float = 0.0,
    ) -> None:
        """
        Args:
            vocab: The tokens, boundary first; linked from the data, and saved in the checkpoint.
            labels: The labels the words come with (e.g. languages), linked from the data and saved in the
                checkpoint; null for unlabelled words. A labelled model is conditioned on the label.
            text: Trained on running text (``TextDataModule``), not words: linked from the data, saved in the
                checkpoint. Evaluation then also logs bits per character (``val/bpc``).
            label_weight: Adds this times -log p(label | word) to the loss, to classify as well (docs/labels.md).
        """
        super().__init__()
        self.vocabulary = Vocabulary(vocab)
        self.itos, self.vocab_size = self.vocabulary.itos, len(vocab)
        if labels is not None and (not labels or len(set(labels)) != len(labels)):
            raise UsageError(f"labels must be distinct and at least one, got {labels!r}")
        self.labels = list(labels) if labels is not None else None
        self.text = text
        self.num_labels = len(self.labels) if self.labels is not None else 0
        setup_labels(self, label_weight)  # the label prior and temperature buffers, the label term's weight
        # Every argument of every subclass, as plain values the checkpoint can hold: the
        # optimizer and schedule are code, and the run's config.yaml keeps them.
        self.save_hyperparameters(ignore=["optimizer", "lr_scheduler"])
        # LightningCLI records every value linked from the data, also one that this model does
        # not take (block_size for a window model, context for a sequence model). Keep only its
        # own arguments, so that the checkpoint's hyperparameters build the same model again.
        accepted = init_arguments(type(self))
        foreign = [key for key in self.hparams if key not in accepted and not key.startswith("_")]
        self.remove_ignored_hparams(foreign)
        for key in foreign:
            self._hparams_initial.pop(key, None)

    def logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        """The logits of the next character at every prediction of ``x``: ``y``'s shape plus the vocabulary.

        ``label`` is each row's label id ``(n,)`` for a labelled model, None for an unlabelled one.
        """
        raise NotImplementedError

    @property
    def longest_word(self) -> int | None:
        """The longest word the model can read, ``block_size - 1`` with a position table; None: any length."""
        return self.block_size - 1 if self.position_table else None

    def longest_sample(self, max_length: int) -> int:
        """The longest word sampled under ``max_length``: the same, unless the model has fewer positions."""
        return max_length

    def next_logits(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        """The logits ``(n, V)`` of the character after ``tokens`` ``(n, t)``: the boundary, then a word's start."""
        raise NotImplementedError

    def word_logits(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        """The logits ``(n, T, V)`` after every prefix of whole words: row ``t`` follows ``x[:, :t + 1]``.

        ``x`` is the boundary then each word, padded with the boundary (``Vocabulary.encode_padded``).
        A model that reads whole words predicts every position in one pass; a window or n-gram model
        reads each position's window of its last ``context`` characters, padded at the word's start
        with the boundary, as in training. Positions after a word's end are padding: ignore them.
        """
        if self.layout == WORDS:
            return self.logits(x, label)
        n, length = x.shape
        windows = F.pad(x, (self.context - 1, 0)).unfold(1, self.context, 1).reshape(n * length, self.context)
        rows_label = None if label is None else label.repeat_interleave(length)
        return self.logits(windows, rows_label).view(n, length, -1)

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        """Incremental next-character logits for ``n`` words written together (see ``decoding``).

        This one re-runs ``next_logits`` on each whole prefix; a family that can carry its state
        from one character to the next overrides it.
        """
        return Rerunning(self.next_logits, n, label, self.device)

    @contextmanager
    def evaluating(self) -> Iterator[None]:
        """No gradients, no dropout, and BatchNorm's running statistics rather than the batch's, for a while."""
        was_training = self.training
        self.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            self.train(was_training)

    def nll(self, batch: Batch) -> Tensor:
        """Mean negative log likelihood per predicted character: ``sum(count * cross_entropy) / total``."""
        total = batch.total
        if batch.y.numel() == 0:  # an empty share of a tiny split under DDP: it adds nothing
            return total.new_zeros(())
        return self.losses(batch).sum() / total

    def losses(self, batch: Batch) -> Tensor:
        """Each prediction's NLL times its count, flat (0 at padding), each row under its own label if labelled."""
        # float32 logits: under bf16-mixed the loss is still taken in full precision.
        logits = self.logits(batch.x, batch.label_ids).float()
        losses = F.cross_entropy(logits.flatten(0, -2), batch.y.flatten(), ignore_index=PAD, reduction="none")
        if batch.count is not None:
            losses = losses * batch.count
        return losses

    def objective(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """The loss that training minimises, and the NLL alone (the same, unless a subclass adds a penalty)."""
        nll = self.nll(batch)
        return nll, nll

    def training_step(self, batch: Batch, batch_idx: int) -> Tensor:
        loss, nll = with_label_term(self, batch, *self.objective(batch))
        # Lightning's logger writes every log_every_n_steps steps, but each self.log call costs
        # about 0.45 ms (more than a whole full-batch n-gram step), so call it only on those steps.
        if (self.global_step + 1) % self.trainer.log_every_n_steps == 0:
            self.log("train/loss", loss, prog_bar=True, sync_dist=True)
            self.log("train/nll", nll, sync_dist=True)
        return loss

    def _evaluate(self, batch: Batch, stage: str) -> Tensor:
        total, empty = batch.total, batch.y.numel() == 0
        losses = total.new_zeros(0) if empty else self.losses(batch)
        nll = losses.sum() / total
        # Each batch's part of the whole split's mean, summed over batches and processes: exact.
        self.log(f"{stage}/nll", nll, on_epoch=True, reduce_fx="sum", sync_dist=True, prog_bar=stage == "val")
        if self.text:  # the same exact mean, in bits: char-rnn's and the compressors' unit
            self.log(f"{stage}/bpc", nll / math.log(2), on_epoch=True, reduce_fx="sum", sync_dist=True)
        if batch.labels is not None:
            per_row = losses.view(batch.y.shape)
            self._evaluate_labels(batch.labels, per_row.sum(1) if per_row.ndim > 1 else per_row, stage)
        return nll

    def validation_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, "val")

    def test_step(self, batch: Batch, batch_idx: int) -> Tensor:
        return self._evaluate(batch, "test")

    def sample(self, options: SamplingOptions | None = None, **changes: Any) -> list[str]:
        """Sample words (of each label asked for) under ``options``, with ``changes`` to them (``num_samples=10``).

        The same seed gives the same words on any device; fewer when the budget of draws runs out.
        """
        request = replace(options or SamplingOptions(), **changes)
        (result,) = generate(self, [request])
        return [sampled.word for sampled in result.words]

    def start_probabilities(self, temperature: float = 1.0) -> tuple[Tensor, list[str]]:
        """The next character's probabilities after each short context, one row each, and the rows' labels.

        What the Dashboard draws as the lecture's grid: for an n-gram, its table's rows after a
        word's start; for a network, the first character, then the next after each first character.
        """
        raise NotImplementedError

    def predict_step(self, batch: SampleBatch, batch_idx: int) -> Prediction:
        """Sample the request that ``batch`` carries: its share of the words, for ``SampleWriter``. A text model's
        ``ContinuationRequest`` passes through to ``TextWriter``, which streams each character as it is drawn."""
        if self.text:
            return batch
        data = self.trainer.datamodule
        train = data.training_words() if batch.options.only_new and data is not None else None
        return sample_batch(self, batch, train)

    def teardown(self, stage: str) -> None:
        # A process started by multiprocessing (ddp_spawn) ends with os._exit, which skips the atexit hook where
        # Lightning destroys the process group; gloo then aborts the process as it exits. Nothing needs it now.
        if multiprocessing.parent_process() is not None and dist.is_available() and dist.is_initialized():
            dist.destroy_process_group()

    def on_fit_start(self) -> None:
        counts = getattr(self.trainer.datamodule, "train_label_counts", None) if self.labels is not None else None
        if counts is not None:
            self.label_prior.copy_(counts / counts.sum())

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["vocab"] = list(self.itos)
        if self.labels is not None:  # an unlabelled model's checkpoint holds what it always held
            checkpoint["labels"] = list(self.labels)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The one place where a checkpoint's vocabulary and labels are checked against the data given now."""
        saved = checkpoint.get("vocab")
        if saved is not None and list(saved) != self.itos:
            raise UsageError(
                "the checkpoint was trained on another vocabulary than the data given now: "
                f"checkpoint {Vocabulary(saved).summary()}; data {self.vocabulary.summary()}. "
                "Pass the words file it was trained on with --data.path"
            )
        labels = checkpoint.get("labels", checkpoint.get("hyper_parameters", {}).get("labels"))
        if labels != self.labels:
            raise UsageError(
                f"the checkpoint was trained on other labels than the data given now: checkpoint {_labels(labels)}; "
                f"data {_labels(self.labels)}. Pass the words file it was trained on with --data.path "
                "(and --data.labelled as it was)"
            )


def _labels(labels: Sequence[str] | None) -> str:
    return "no labels" if labels is None else f"labels {', '.join(labels)}"
