"""The words file as a LightningDataModule: vocabulary, a split by word, and the batches each model asks for."""

from __future__ import annotations

import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import lightning as L
import torch

from makemore_pl.data.files import Pair, download, line_of, read_folder, read_labelled, read_words
from makemore_pl.data.loaders import WordLoaders
from makemore_pl.data.records import WORDS, Classify
from makemore_pl.data.remembered import copied_words, saved_path, words_state
from makemore_pl.data.splits import check_fractions, classify_words, split_pairs, split_words
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.errors import UsageError
from makemore_pl.sampling.options import SamplingOptions

NAMES_URL = "https://raw.githubusercontent.com/karpathy/makemore/master/names.txt"
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"


class WordsDataModule(WordLoaders, L.LightningDataModule):
    text = False  # linked to the model's ``text``: words, each between boundaries (TextDataModule: running text)

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
        encoding: str = "utf-8",
        url: str | None = NAMES_URL,
        sha256: str | None = NAMES_SHA256,
        labelled: bool = False,
        known_vocab: list[str] | None = None,
        known_labels: list[str] | None = None,
    ) -> None:
        """A text file with one word per line, served as (context, next character) examples.

        Args:
            path: The words file: one word per line; surrounding whitespace and blank lines are dropped.
                Or a folder of ``<label>.txt`` words files, whose names label their words (see docs/labels.md).
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
            encoding: Text encoding of the words file.
            url: Where `prepare_data` downloads the file from when it is missing and its name
                matches the url's; null never downloads.
            sha256: Expected SHA-256 of the download; null skips the check.
            labelled: Each line of the words file is ``word<TAB>label``, and every model is conditioned
                on the label (a folder of ``<label>.txt`` files is labelled by its layout without it).
            known_vocab: The vocabulary of the checkpoint that `--init_from` fine-tunes (it sets this):
                the data's vocabulary is then the union, so the model keeps every character it knows.
            known_labels: The labels of the labelled checkpoint that `--init_from` fine-tunes (it sets this):
                the labels of labelled words are then the union, so the model keeps every label it knows, also
                one without words here. Unlabelled words have no labels whatever it says.
        """
        super().__init__()
        self.save_hyperparameters()
        if context < 1:
            raise UsageError(f"--data.context must be at least 1, got {context}")
        check_fractions(val_fraction, test_fraction)
        if batch_size is not None and batch_size < 1:
            raise UsageError(f"--data.batch_size must be at least 1 (or null for full batch), got {batch_size}")
        if eval_batch_size < 1:
            raise UsageError(f"--data.eval_batch_size must be at least 1, got {eval_batch_size}")
        if max_word_length < 1:
            raise UsageError(f"--data.max_word_length must be at least 1, got {max_word_length}")
        self.path = Path(path)
        self.context = context
        self.val_fraction, self.test_fraction = val_fraction, test_fraction
        self.batch_size, self.seed = batch_size, seed
        # What predict samples: the command line's --sampling group (cli.MakemoreCLI) sets it.
        self.sampling = SamplingOptions()
        self.eval_batch_size, self.max_word_length = eval_batch_size, max_word_length
        self.encoding, self.url, self.sha256 = encoding, url, sha256
        if labelled and self.path.is_dir():
            raise UsageError(
                f"--data.labelled true is for a file of word<TAB>label lines; {self.path} is a folder, whose "
                "<label>.txt files label their words already: leave --data.labelled false"
            )
        self.labelled = labelled
        self.known_vocab = known_vocab or []
        self.known_labels = known_labels or []
        self.splits: dict[str, list[str]] = {}
        # Each split's words' label ids, beside ``splits``, for labelled data.
        self.split_labels: dict[str, torch.Tensor] = {}
        # (x, y) per split: (context, next) windows, or whole padded words, as the model asks.
        self.examples: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.sequences: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        # The label of each row of ``examples`` and ``sequences``, for labelled data.
        self.example_labels: dict[str, torch.Tensor] = {}
        self.sequence_labels: dict[str, torch.Tensor] = {}
        # The training words of the checkpoint a command started from (load_state_dict), if it kept them.
        self.remembered_words: set[str] | None = None

    def state_dict(self) -> dict[str, Any]:
        """What Lightning keeps in a checkpoint: the training words, so that a checkpoint alone knows them."""
        return words_state(self.splits["train"], self.path) if self.splits else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.remembered_words = copied_words(state_dict)
        elsewhere = saved_path(state_dict)
        if elsewhere is not None and not self.has_file:  # a relative path, from another folder
            self.path = elsewhere

    def training_words(self) -> set[str] | None:
        """The training words: the checkpoint's copy, else the words file's split; None when neither is here."""
        if self.remembered_words is not None:
            return self.remembered_words
        return set(self.train_words) if self.has_file else None

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
    def pairs(self) -> list[Pair] | None:
        """The (word, label) pairs of labelled data, in the order read; None for a file of words alone."""
        self.prepare_data()
        if self.path.is_dir():
            return read_folder(self.path, self.encoding)
        return read_labelled(self.path, self.encoding) if self.labelled else None

    @cached_property
    def words(self) -> list[str]:
        if self.pairs is not None:
            return [word for word, _ in self.pairs]
        self.prepare_data()
        return read_words(self.path, self.encoding)

    @cached_property
    def vocab(self) -> list[str]:
        """The vocabulary as plain strings, known from construction on, so the CLI can link it to the model."""
        return Vocabulary.from_words(self.words, self.known_vocab).itos

    @cached_property
    def labels(self) -> list[str] | None:
        """The labels of the words, sorted, linked to the model like the vocabulary; None for unlabelled words.

        With ``known_labels``, the sorted union: a label only the checkpoint knows has no words in any
        split (``split_pairs`` asks every split for the file's labels alone).
        """
        if self.pairs is None:
            return None
        return sorted({label for _, label in self.pairs} | set(self.known_labels))

    @property
    def has_file(self) -> bool:
        """Whether the words file is there: predict samples without it, and needs it only to mark words new or train."""
        return self.path.is_file() or self.path.is_dir()

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

    def split_words(self) -> dict[str, list[str]]:
        """The words of each split (``splits.split_words``; labelled words' by ``splits.split_pairs``)."""
        if self.pairs is not None:
            return {split: [word for word, _ in pairs] for split, pairs in self.split_pairs().items()}
        return split_words(self.words, self.seed, self.val_fraction, self.test_fraction, self.path)

    def split_pairs(self) -> dict[str, list[Pair]]:
        """The labelled split: by word, stratified by label (``splits.split_pairs``)."""
        assert self.pairs is not None
        return split_pairs(self.pairs, self.seed, self.val_fraction, self.test_fraction, self.path)

    def label_ids(self, pairs: list[Pair]) -> torch.Tensor:
        """The label id of each pair, an index into ``labels``."""
        index = {label: i for i, label in enumerate(self.labels or [])}
        return torch.tensor([index[label] for _, label in pairs], dtype=torch.long)

    def setup(self, stage: str | None = None) -> None:
        if stage == "predict":
            return  # predict's requests are only word indices (SampleRequests)
        if not self.splits:
            if self.pairs is None:
                self.splits = self.split_words()
            else:
                pairs = self.split_pairs()
                self.splits = {split: [word for word, _ in p] for split, p in pairs.items()}
                self.split_labels = {split: self.label_ids(p) for split, p in pairs.items()}
        vocab = Vocabulary(self.vocab)
        if self.layout == WORDS:
            if not self.sequences:
                self._check_word_lengths()
                for split, words in self.splits.items():
                    if words:
                        self.sequences[split] = vocab.encode_padded(words, self.block_size)
                self.sequence_labels = dict(self.split_labels)  # one row per word
        elif not self.examples:
            for split, words in self.splits.items():
                if words:
                    self.examples[split] = vocab.encode_words(words, context=self.context)
                    if split in self.split_labels:  # each word's len + 1 windows, in the order of its words
                        lengths = torch.tensor([len(word) + 1 for word in words])
                        self.example_labels[split] = self.split_labels[split].repeat_interleave(lengths)

    @property
    def train_label_counts(self) -> torch.Tensor | None:
        """How many training words each label has: the prior p(label) that Bayes' rule takes."""
        if self.pairs is None:
            return None
        self.setup()
        return torch.bincount(self.split_labels["train"], minlength=len(self.labels or [])).double()

    def classify(self, split: str) -> Classify | None:
        """The split's distinct words, whole, and which labels each one has: what ``test/accuracy`` classifies."""
        if self.pairs is None or not self.splits.get(split):
            return None
        return classify_words(self.splits[split], self.split_labels[split], self.vocab, len(self.labels or []))

    def _check_word_lengths(self) -> None:
        longest = max(range(len(self.words)), key=lambda i: len(self.words[i]))
        if len(self.words[longest]) > self.max_word_length:
            raise UsageError(
                f"{self.line_of(self.words[longest])}: a word of {len(self.words[longest])} "
                f"characters, longer than --data.max_word_length {self.max_word_length} allows for a model that "
                "reads whole words; raise the option or shorten the line"
            )

    def line_of(self, word: str) -> str:
        """The words file and line that hold ``word`` (files.line_of), for error messages."""
        return line_of(self.path, word, self.encoding, self.labelled)

    @property
    def train_words(self) -> list[str]:
        self.setup()
        return self.splits["train"]
