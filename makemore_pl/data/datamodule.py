"""The words file as a LightningDataModule: vocabulary, a split by word, and the batches each model asks for."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path

import lightning as L
import torch

from makemore_pl.data.batches import COUNTED, WORDS, EvalBatches, FullBatch, MiniBatches, SampleRequests, WordBatches
from makemore_pl.data.files import download, read_lines, read_words
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError

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
        eval_batch_size: int = 4096,
        max_word_length: int = 256,
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
            batch_size: Examples per training step (words, for models that read whole words); null trains
                on the whole training split at every step, as the lecture does.
            eval_batch_size: Examples (or words) per validation and test batch. The NLL is exact however
                the split is cut; smaller batches need less memory.
            max_word_length: The longest word that models reading whole words accept (their memory grows
                with it); a longer one is refused with its line. Window and n-gram models read any length.
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
        if eval_batch_size < 1:
            raise UsageError(f"--data.eval_batch_size must be at least 1, got {eval_batch_size}")
        if max_word_length < 1:
            raise UsageError(f"--data.max_word_length must be at least 1, got {max_word_length}")
        if num_samples < 1:
            raise UsageError(f"--data.num_samples must be at least 1, got {num_samples}")
        self.path = Path(path)
        self.context = context
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size, self.seed, self.num_samples = batch_size, seed, num_samples
        self.eval_batch_size, self.max_word_length = eval_batch_size, max_word_length
        self.encoding, self.url, self.sha256 = encoding, url, sha256
        self.splits: dict[str, list[str]] = {}
        # (x, y) per split: (context, next) windows, or whole padded words, as the model asks.
        self.examples: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.sequences: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def prepare_data(self) -> None:
        if self.path.exists() or self.url is None:
            return
        if self.trainer is not None and self.trainer.predicting:
            return  # sampling needs only the model: no download, and none on a machine without internet
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
    def labels(self) -> list[str] | None:
        """The labels of the words, linked to the model: None, since every line of the file is a word alone."""
        return None

    @property
    def has_file(self) -> bool:
        """Whether the words file is there: predict samples without it, and needs it only to mark words new or train."""
        return self.path.is_file()

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @cached_property
    def block_size(self) -> int:
        """The positions a whole word occupies: its longest word plus the boundary, linked to models that read words.

        Capped at ``max_word_length``: the model is built from it before ``setup`` refuses a longer
        word, and a position table must not grow with a word that is about to be refused.
        """
        return min(max(map(len, self.words)), self.max_word_length) + 1

    @property
    def layout(self) -> str:
        """What the attached model reads (see ``batches``): n-gram models' counted windows by default."""
        model = self.trainer.lightning_module if self.trainer is not None else None
        return getattr(model, "layout", COUNTED)

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
        if stage == "predict":
            return  # predict's requests are only word indices (SampleRequests)
        if not self.splits:
            self.splits = self.split_words()
        vocab = Vocabulary(self.vocab)
        if self.layout == WORDS:
            if not self.sequences:
                self._check_word_lengths()
                for split, words in self.splits.items():
                    if words:
                        self.sequences[split] = vocab.encode_padded(words, self.block_size)
        elif not self.examples:
            for split, words in self.splits.items():
                if words:
                    self.examples[split] = vocab.encode_words(words, self.context)

    def _check_word_lengths(self) -> None:
        longest = max(range(len(self.words)), key=lambda i: len(self.words[i]))
        if len(self.words[longest]) > self.max_word_length:
            raise UsageError(
                f"{self.path}, line {self._line_of(self.words[longest])}: a word of {len(self.words[longest])} "
                f"characters, longer than --data.max_word_length {self.max_word_length} allows for a model that "
                "reads whole words; raise the option or shorten the line"
            )

    def _line_of(self, word: str) -> int:
        """The line of the file that holds ``word``, for error messages (the words skip blank lines)."""
        for number, line in enumerate(read_lines(self.path, self.encoding), start=1):
            if line.strip() == word:
                return number
        return 0

    @property
    def train_words(self) -> list[str]:
        self.setup()
        return self.splits["train"]

    def _shard(self) -> dict:
        trainer = self.trainer
        if trainer is None:
            return {"rank": 0, "world_size": 1, "device": None}
        return {"rank": trainer.global_rank, "world_size": trainer.world_size, "device": trainer.strategy.root_device}

    @property
    def _encoded(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The encoded splits in the attached model's layout: whole padded words, or windows."""
        return self.sequences if self.layout == WORDS else self.examples

    def _evaluation(self, split: str) -> EvalBatches | list:
        data = self._encoded
        if split not in data:
            return []  # Lightning skips a stage whose loader is empty
        counted = self.layout == COUNTED
        return EvalBatches(*data[split], self.eval_batch_size, counted=counted, **self._shard())

    def train_dataloader(self) -> FullBatch | MiniBatches | WordBatches:
        layout, shard = self.layout, self._shard()
        x, y = self._encoded["train"]
        if self.batch_size is None:
            return FullBatch(x, y, counted=layout == COUNTED, **shard)
        epoch = lambda: self.trainer.current_epoch  # noqa: E731 (read when each epoch starts)
        if layout == WORDS:
            return WordBatches(x, y, self.batch_size, self.seed, epoch=epoch, **shard)
        count = None if layout == COUNTED else False  # counting would change what BatchNorm sees
        return MiniBatches(x, y, self.batch_size, self.seed, epoch=epoch, count=count, **shard)

    def val_dataloader(self) -> EvalBatches | list:
        return self._evaluation("val")

    def test_dataloader(self) -> EvalBatches | list:
        return self._evaluation("test")

    def predict_dataloader(self) -> SampleRequests:
        shard = self._shard()
        return SampleRequests(self.num_samples, shard["rank"], shard["world_size"])
