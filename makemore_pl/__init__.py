"""makemore-pl: Karpathy's makemore language models, trained with PyTorch Lightning."""

from makemore_pl.cli import cli_main
from makemore_pl.counts import CountNGram
from makemore_pl.dashboard import Dashboard
from makemore_pl.data import WordsDataModule
from makemore_pl.errors import UsageError
from makemore_pl.model import NGramModel
from makemore_pl.neural import NeuralNGram
from makemore_pl.vocab import Vocabulary
from makemore_pl.writer import SampleWriter

__all__ = [
    "CountNGram",
    "Dashboard",
    "NGramModel",
    "NeuralNGram",
    "SampleWriter",
    "UsageError",
    "Vocabulary",
    "WordsDataModule",
    "cli_main",
]
