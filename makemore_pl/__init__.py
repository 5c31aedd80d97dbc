"""makemore-pl: Karpathy's makemore language models, trained with PyTorch Lightning."""

from makemore_pl.api import load, model_for, sample, score_words, training_words
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
from makemore_pl.sampling import Sampled, SampleResult, SamplingOptions
from makemore_pl.scoring import WordScore

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
    "SampleResult",
    "SampleWriter",
    "Sampled",
    "SamplingOptions",
    "TextDataModule",
    "Transformer",
    "UsageError",
    "Vocabulary",
    "WaveNet",
    "WordScore",
    "WordsDataModule",
    "cli_main",
    "load",
    "model_for",
    "sample",
    "score_words",
    "training_words",
]
