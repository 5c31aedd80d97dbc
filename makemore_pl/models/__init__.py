"""The models: the lecture's n-grams and the makemore series, each a LightningModule.

| module | models |
|---|---|
| ``ngram``, ``neural``, ``counts`` | lecture 1: ``NeuralNGram``, ``CountNGram`` |
| ``mlp`` | lectures 2 and 3: ``MLP`` (``batch_norm``) |
| ``wavenet`` | lecture 5: ``WaveNet`` |
| ``bow``, ``recurrent``, ``transformer`` | makemore.py's: ``BoW``, ``RNN``, ``GRU``, ``LSTM``, ``Transformer`` |
| ``mixture`` | ``GRUCounts``: a GRU interpolated with per-label trigram counts (docs/labels.md) |
"""

from makemore_pl.models.base import LanguageModel
from makemore_pl.models.bow import BoW
from makemore_pl.models.counts import CountNGram
from makemore_pl.models.mixture import GRUCounts
from makemore_pl.models.mlp import MLP
from makemore_pl.models.network import NetworkModel, SequenceModel, WindowModel
from makemore_pl.models.neural import NeuralNGram
from makemore_pl.models.ngram import NGramModel
from makemore_pl.models.recurrent import GRU, LSTM, RNN
from makemore_pl.models.transformer import Transformer
from makemore_pl.models.wavenet import WaveNet

__all__ = [
    "GRU",
    "LSTM",
    "MLP",
    "RNN",
    "BoW",
    "CountNGram",
    "GRUCounts",
    "LanguageModel",
    "NGramModel",
    "NetworkModel",
    "NeuralNGram",
    "SequenceModel",
    "Transformer",
    "WaveNet",
    "WindowModel",
]
