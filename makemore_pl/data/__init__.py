"""The words file: reading it, its vocabulary, its split, and the batches served from it."""

from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.vocab import Vocabulary

__all__ = ["Vocabulary", "WordsDataModule"]
