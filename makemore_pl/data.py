"""The words file as a LightningDataModule: vocabulary, a split by word, and n-gram batches."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path

import lightning as L
import torch

from makemore_pl.batches import FullBatch, MiniBatches, SampleRequests
from makemore_pl.errors import UsageError
from makemore_pl.files import download, read_words
from makemore_pl.vocab import Vocabulary

NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"


class WordsDataModule(L.LightningDataModule):
    def __init__(
        self,
        path: str = "data/names.txt",
        context: int = 1,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        batch_size: int | None = None,
        seed: int = 42,
        num_samples: int = 20,
        encoding: str = "utf-8",
        url: str | None = NAMES_URL,
        sha256: str | None = NAMES_SHA256,
    ) -> None:
        """A text file with one word per line, served as (context, next character) examples.

        Args:
            path: The words file: one word per line; surrounding whitespace and blank lines are dropped.
            context: How many previous characters predict the next one (1: bigram, 2: trigram).
            val_fraction: Share of the words held out for validation (0: no validation).
            test_fraction: Share of the words held out for testing (0: no test split).
            batch_size: Examples per training step; null trains on the whole training split at every
                step, as the lecture does.
            seed: Seed of the shuffle that splits the words, and of the mini-batch order.
            num_samples: How many words `predict` samples.
            encoding: Text encoding of the words file.
            url: Where `prepare_data` downloads the file from when it is missing and its name
                matches the url's; null never downloads.
            sha256: Expected SHA-256 of the download; null skips the check.
        """
        super().__init__()
        self.save_hyperparameters()
        if context < 1:
            raise UsageError(f"--data.context must be at least 1, got {context}")
        for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
            if not 0 <= value < 1:
                raise UsageError(f"--data.{name} must be in [0, 1), got {value}")
        if val_fraction + test_fraction >= 1:
            raise UsageError(
                f"--data.val_fraction + --data.test_fraction must leave words to train on, got "
                f"{val_fraction} + {test_fraction}"
            )
        if batch_size is not None and batch_size < 1:
            raise UsageError(f"--data.batch_size must be at least 1 (or null for full batch), got {batch_size}")
        if num_samples < 1:
            raise UsageError(f"--data.num_samples must be at least 1, got {num_samples}")
        self.path = Path(path)
        self.context = context
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size, self.seed, self.num_samples = batch_size, seed, num_samples
        self.encoding, self.url, self.sha256 = encoding, url, sha256
        self.splits: dict[str, list[str]] = {}
        self.examples: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def prepare_data(self) -> None:
        if self.path.exists() or self.url is None:
            return
        if self.path.name != Path(self.url).name:
            return  # a file of the user's own: never replace it with a download
        print(f"makemore-pl: downloading {self.url} to {self.path}", file=sys.stderr)
        download(self.url, self.path, self.sha256)

    @cached_property
    def words(self) -> list[str]:
        self.prepare_data()
        return read_words(self.path, self.encoding)

    @cached_property
    def vocab(self) -> list[str]:
        """The vocabulary as plain strings, known from construction on, so the CLI can link it to the model."""
        return Vocabulary.from_words(self.words).itos

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def split_words(self) -> dict[str, list[str]]:
        """Shuffle the words with the seed and cut them into train/val/test, so a word's split never changes."""
        n = len(self.words)
        n_val, n_test = int(n * self.val_fraction), int(n * self.test_fraction)
        # A requested split gets at least one word; training needs at least one too.
        n_val, n_test = max(n_val, self.val_fraction > 0), max(n_test, self.test_fraction > 0)
        if n - n_val - n_test < 1:
            raise UsageError(
                f"{self.path} has {n} words: too few for --data.val_fraction {self.val_fraction} and "
                f"--data.test_fraction {self.test_fraction}; set them to 0 or add words"
            )
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed)).tolist()
        cuts = {"val": order[:n_val], "test": order[n_val : n_val + n_test], "train": order[n_val + n_test :]}
        return {split: [self.words[i] for i in index] for split, index in cuts.items()}

    def setup(self, stage: str | None = None) -> None:
        if self.examples:
            return
        self.splits = self.split_words()
        vocab = Vocabulary(self.vocab)
        for split, words in self.splits.items():
            if words:
                self.examples[split] = vocab.encode_words(words, self.context)

    @property
    def train_words(self) -> list[str]:
        self.setup()
        return self.splits["train"]

    def _shard(self) -> dict:
        trainer = self.trainer
        if trainer is None:
            return {"rank": 0, "world_size": 1, "device": None}
        return {"rank": trainer.global_rank, "world_size": trainer.world_size, "device": trainer.strategy.root_device}

    def _full_batch(self, split: str) -> FullBatch | list:
        if split not in self.examples:
            return []  # Lightning skips a stage whose loader is empty
        return FullBatch(*self.examples[split], **self._shard())

    def train_dataloader(self) -> FullBatch | MiniBatches:
        x, y = self.examples["train"]
        if self.batch_size is None:
            return FullBatch(x, y, **self._shard())
        return MiniBatches(x, y, self.batch_size, self.seed, epoch=lambda: self.trainer.current_epoch, **self._shard())

    def val_dataloader(self) -> FullBatch | list:
        return self._full_batch("val")

    def test_dataloader(self) -> FullBatch | list:
        return self._full_batch("test")

    def predict_dataloader(self) -> SampleRequests:
        shard = self._shard()
        return SampleRequests(self.num_samples, shard["rank"], shard["world_size"])
