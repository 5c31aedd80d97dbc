"""The batches that ``WordsDataModule`` serves, in the layout its model reads, from the splits ``setup`` encoded.

A mixin of the data module: the loaders read its encoded splits (``examples``, ``sequences``), each
row's label, its batch sizes and seed, and the trainer's processes; the data module reads the file,
splits it and encodes it.
"""

from __future__ import annotations

import torch

from makemore_pl.data.batches import EvalBatches, FullBatch, MiniBatches, WordBatches
from makemore_pl.data.records import COUNTED, WORDS, Shard, evaluation_limit
from makemore_pl.sampling.requests import SampleRequests


class WordLoaders:
    """``WordsDataModule``'s loaders: training, validation and test batches, and predict's requests."""

    @property
    def layout(self) -> str:
        """What the attached model reads (see ``batches``): n-gram models' counted windows by default."""
        model = self.trainer.lightning_module if self.trainer is not None else None
        return getattr(model, "layout", COUNTED)

    @property
    def _encoded(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The encoded splits in the attached model's layout: whole padded words, or windows."""
        return self.sequences if self.layout == WORDS else self.examples

    @property
    def _row_labels(self) -> dict[str, torch.Tensor]:
        """The label of each row of ``_encoded``: empty for unlabelled data."""
        return self.sequence_labels if self.layout == WORDS else self.example_labels

    def _evaluation(self, split: str) -> EvalBatches | list:
        data = self._encoded
        if split not in data:
            return []  # Lightning skips a stage whose loader is empty
        counted = self.layout == COUNTED
        labelled = {"label": self._row_labels.get(split), "num_labels": len(self.labels or [])}
        # Only the test split is classified: Bayes' rule runs the model once per label.
        classify = self.classify(split) if split == "test" else None
        shard = Shard.of(self.trainer)
        limit = evaluation_limit(self.trainer, split)
        return EvalBatches(
            *data[split], self.eval_batch_size, shard, counted=counted, classify=classify, limit=limit, **labelled
        )

    def train_dataloader(self) -> FullBatch | MiniBatches | WordBatches:
        layout, shard = self.layout, Shard.of(self.trainer)
        x, y = self._encoded["train"]
        label = self._row_labels.get("train")
        if self.batch_size is None:
            return FullBatch(x, y, shard, counted=layout == COUNTED, label=label)
        epoch = lambda: self.trainer.current_epoch  # noqa: E731 (read when each epoch starts)
        if layout == WORDS:
            return WordBatches(x, y, self.batch_size, self.seed, epoch, shard, label=label)
        count = None if layout == COUNTED else False  # counting would change what BatchNorm sees
        return MiniBatches(x, y, self.batch_size, self.seed, epoch, shard, count=count, label=label)

    def val_dataloader(self) -> EvalBatches | list:
        return self._evaluation("val")

    def test_dataloader(self) -> EvalBatches | list:
        return self._evaluation("test")

    def predict_dataloader(self) -> SampleRequests:
        shard = Shard.of(self.trainer)
        return SampleRequests(self.sampling, shard.rank, shard.world_size)
