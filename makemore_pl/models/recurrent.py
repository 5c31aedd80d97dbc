"""Recurrent language models: Elman's RNN (Mikolov 2010), the GRU (Cho 2014) and the LSTM (Graves 2013).

torch's ``nn.RNN``, ``nn.GRU`` and ``nn.LSTM`` step through a word in one fused call (cuDNN on a
GPU), where makemore.py steps its own cells in a Python loop.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from makemore_pl.errors import UsageError
from makemore_pl.models.embedding import TokenEmbedding
from makemore_pl.models.network import SequenceModel
from makemore_pl.sampling.decoders import Decoder, Stepping, take

# The recurrence's state: the hidden state (layers, n, hidden) alone, or an LSTM's hidden and cell states.
State = tuple[Tensor, ...]


class RecurrentNetwork(nn.Module):
    """Embedding, a stack of recurrent layers from a learned start state, dropout, logits."""

    def __init__(
        self,
        rnn_class: type[nn.RNNBase],
        vocab_size: int,
        embedding: int,
        hidden: int,
        layers: int,
        dropout: float,
        num_labels: int = 0,
    ) -> None:
        super().__init__()
        self.tokens = TokenEmbedding(vocab_size, embedding, num_labels)
        # dropout here acts between stacked layers; the one below acts on the last layer's output.
        self.rnn = rnn_class(
            embedding, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0
        )
        states = 2 if rnn_class is nn.LSTM else 1  # an LSTM carries a cell state beside its hidden state
        self.start = nn.Parameter(torch.zeros(states, layers, 1, hidden))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, x: Tensor, label: Tensor | None = None) -> Tensor:
        return self.read(self.run(x, label, self.start_state(x.shape[0]))[0])

    def start_state(self, n: int) -> State:
        """The learned start state, repeated for ``n`` words: each ``(layers, n, hidden)``."""
        return tuple(self.start.expand(-1, -1, n, -1).contiguous())

    def run(self, x: Tensor, label: Tensor | None, state: State) -> tuple[Tensor, State]:
        """The last layer's output at every position of ``x`` ``(n, t)`` after ``state``, and the state after ``x``."""
        inputs, state = self.tokens(x, label), state if len(state) == 2 else state[0]
        if isinstance(self.rnn, nn.LSTM) and inputs.device.type == "cpu" and torch.is_autocast_enabled("cpu"):
            # oneDNN has no bfloat16 LSTM on CPUs without AVX-512 (it fails to build the primitive there):
            # on the CPU the LSTM's recurrence runs in float32, the rest of the model under autocast.
            with torch.autocast("cpu", enabled=False):
                output, after = self.rnn(inputs.float(), tuple(s.float() for s in state))
        else:
            output, after = self.rnn(inputs, state)
        return output, after if isinstance(after, tuple) else (after,)

    def read(self, output: Tensor) -> Tensor:
        """The logits from the last layer's output."""
        return self.head(self.dropout(output))


class RecurrentDecoder(Stepping):
    """Carries the recurrence's state: one fused step of ``nn.RNN``/``GRU``/``LSTM`` per character."""

    def __init__(self, network: RecurrentNetwork, n: int, label: Tensor | None = None) -> None:
        self.network = network
        with torch.no_grad():
            self.state = network.start_state(n)
        super().__init__(n, label, network.start.device)

    def step(self, x: Tensor) -> Tensor:
        output, self.state = self.network.run(x, self.label, self.state)
        return output[:, -1]

    def read(self, output: Tensor) -> Tensor:
        return self.network.read(output)

    def keep_state(self, rows: Tensor) -> None:
        # The words are along dimension 1: (layers, n, hidden).
        self.state = tuple(take(s, rows, 1) for s in self.state)


class Recurrent(SequenceModel):
    rnn_class: ClassVar[type[nn.RNNBase]]
    position_table = False  # a recurrence reads words of any length

    def __init__(
        self,
        vocab: list[str],
        block_size: int = 16,
        embedding: int = 64,
        hidden: int = 64,
        layers: int = 1,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        """Embed each character, run the recurrence over the word, and read the logits off every hidden state.

        Args:
            vocab: The tokens, boundary first; linked from the data.
            block_size: Positions of the longest word, linked from the data (the recurrence itself
                reads any length; sampling stops there).
            embedding: Size of each character's embedding (makemore.py's ``n_embd``).
            hidden: Size of the hidden state (makemore.py's ``n_embd2``).
            layers: Recurrent layers stacked.
            dropout: Dropout between stacked layers and on the last layer's output, while training.
            **kwargs: Training options and the labels: see ``NetworkModel`` and ``LanguageModel``.
        """
        super().__init__(vocab, block_size, **kwargs)
        if min(embedding, hidden, layers) < 1:
            raise UsageError(
                f"--model.embedding, --model.hidden and --model.layers must be at least 1, got {embedding}, "
                f"{hidden}, {layers}"
            )
        self.embedding, self.hidden, self.layers, self.dropout = embedding, hidden, layers, dropout
        self.network = self.build_network()

    def decoder(self, n: int, label: Tensor | None = None) -> Decoder:
        return RecurrentDecoder(self.network, n, label)

    def build_network(self) -> nn.Module:
        return RecurrentNetwork(
            self.rnn_class, self.vocab_size, self.embedding, self.hidden, self.layers, self.dropout, self.num_labels
        )


class RNN(Recurrent):
    """An Elman RNN: ``h = tanh(W x + U h + b)``."""

    rnn_class = nn.RNN


class GRU(Recurrent):
    """A gated recurrent unit: update and reset gates decide how much of the state to keep."""

    rnn_class = nn.GRU


class LSTM(Recurrent):
    """A long short-term memory: input, forget and output gates around a cell state."""

    rnn_class = nn.LSTM
