"""makemore-pl: Karpathy's makemore language models, trained with PyTorch Lightning."""

from makemore_pl.callbacks import Dashboard, Diagnostics, FiniteLossGuard, LateDropout, SampleWriter
from makemore_pl.cli.main import cli_main
from makemore_pl.data import Vocabulary, WordsDataModule
from makemore_pl.data.text import TextDataModule
from makemore_pl.errors import UsageError
from makemore_pl.models import (
    GRU,
    LSTM,
    MLP,
    RNN,
    BoW,
    CountNGram,
    GRUCounts,
    LanguageModel,
    NeuralNGram,
    NGramModel,
    Transformer,
    WaveNet,
)

__all__ = [
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "BoW",
    "CountNGram",
    "Dashboard",
    "Diagnostics",
    "FiniteLossGuard",
    "GRUCounts",
    "LanguageModel",
    "LateDropout",
    "NGramModel",
    "NeuralNGram",
    "SampleWriter",
    "TextDataModule",
    "Transformer",
    "UsageError",
    "Vocabulary",
    "WaveNet",
    "WordsDataModule",
    "cli_main",
]
