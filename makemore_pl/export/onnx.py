"""A model as an ONNX file that needs no torch (`makemore-pl export`, makemore_pl.cli.export).

The file's graph, by what the model reads:

- a sequence model (BoW, RNN, GRU, LSTM, Transformer): input ``tokens`` int64 ``(batch, length)``, the
  boundary then a word's start; output ``logits`` ``(batch, length, vocab)``, row ``t`` the next
  character's after ``tokens[:, :t + 1]``. Batch and length are dynamic (length up to ``block_size``
  for BoW and the Transformer, whose position tables end there).
- a window model (MLP, WaveNet) and an n-gram: input ``tokens`` int64 ``(batch, context)``, the last
  ``context`` characters, padded at a word's start with the boundary (id 0); output ``logits``
  ``(batch, vocab)``. Batch is dynamic.
- a labelled model adds an input ``label`` int64 ``(batch,)``: each row's label id.

An n-gram exports its table, not its arithmetic: every context's logits (under every label, for a
labelled model), computed once by the model itself, become one constant that the graph gathers
rows from. Whatever the model does to get a row (the counts' smoothing, a per-label back-off) is
then in the file exactly, and a consumer drives it like a window model.

The metadata (``metadata_props``, key ``makemore_pl``, a JSON object) holds what a consumer needs
to sample: the class, the vocabulary (boundary first), the labels, the input layout and its
``context`` or ``block_size``, and the sampling defaults. ``examples/onnx_sample.py`` reads it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor, nn

from makemore_pl.data.records import WORDS
from makemore_pl.export import onnx_rnn
from makemore_pl.models.base import LanguageModel
from makemore_pl.models.ngram import NGramModel
from makemore_pl.sampling.options import SamplingOptions

METADATA_KEY = "makemore_pl"
# Example sizes for torch.export: 2 or more, since a size of 1 would be frozen into the graph
# (torch.export specialises sizes 0 and 1).
EXAMPLE_BATCH, EXAMPLE_LENGTH = 3, 2


class Logits(nn.Module):
    """The model's logits as the exported graph gives them: ``forward(tokens, label=None)``."""

    def __init__(self, model: LanguageModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        return self.model.logits(tokens, label)


class TableLogits(nn.Module):
    """An n-gram's logits as a constant table ``(labels, rows, vocab)`` and the row of each context."""

    def __init__(self, model: NGramModel) -> None:
        super().__init__()
        digits = torch.arange(model.num_rows)[:, None] // model.powers.cpu() % model.vocab_size
        contexts = digits.to(model.device)  # row r's context, oldest character first
        with model.evaluating():
            every = [torch.full_like(contexts[:, 0], i) for i in range(model.num_labels)]
            table = torch.stack([model.logits(contexts, label).float().cpu() for label in every or [None]])
        self.register_buffer("table", table)
        self.register_buffer("powers", model.powers.cpu())

    def forward(self, tokens: Tensor, label: Tensor | None = None) -> Tensor:
        rows = (tokens * self.powers).sum(1)
        return self.table[0 if label is None else label, rows]


def metadata(model: LanguageModel) -> dict[str, Any]:
    """What a consumer of the file needs to know to sample from it (see the module's docstring)."""
    sequence = model.layout == WORDS
    defaults = asdict(SamplingOptions())
    meta = {
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "vocab": model.itos,
        "boundary": model.itos[0],
        "labels": model.labels,
        "input": "sequence" if sequence else "window",
        "block_size" if sequence else "context": model.block_size if sequence else model.context,
        # Every --sampling option's default, the longest word cut to the model's positions.
        "sampling": {**defaults, "max_length": model.longest_sample(defaults["max_length"])},
    }
    return meta


def dynamic_shapes(model: LanguageModel) -> dict[str, Any]:
    """torch.export's dynamic dimensions of each input: the batch, and a sequence model's length."""
    batch = torch.export.Dim("batch")
    if model.layout == WORDS:
        # A position table ends at block_size; a recurrence reads any length.
        longest = None if model.longest_word is None else model.longest_word + 1
        tokens = {0: batch, 1: torch.export.Dim("length", max=longest) if longest else torch.export.Dim("length")}
    else:
        tokens = {0: batch}
    shapes: dict[str, Any] = {"tokens": tokens}
    if model.num_labels:
        shapes["label"] = {0: batch}
    return shapes


def example_inputs(model: LanguageModel) -> tuple[Tensor, ...]:
    width = EXAMPLE_LENGTH if model.layout == WORDS else model.context
    tokens = torch.randint(0, model.vocab_size, (EXAMPLE_BATCH, width), generator=torch.Generator().manual_seed(0))
    if not model.num_labels:
        return (tokens,)
    return tokens, torch.arange(EXAMPLE_BATCH) % model.num_labels


def to_onnx(model: LanguageModel) -> bytes:
    """The model as an ONNX file's bytes: ``torch.onnx.export`` (dynamo), with the metadata added."""
    model = model.to("cpu").eval()
    module = TableLogits(model) if isinstance(model, NGramModel) else Logits(model)
    inputs = example_inputs(model)
    names = ["tokens", "label"][: len(inputs)]
    with torch.no_grad(), warnings.catch_warnings(), onnx_rnn.dynamic_length_recurrences():
        # torch.export warns of its own internals (deprecations, nn.RNN's flat weights); the
        # tests check the result against torch instead.
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            inputs,
            input_names=names,
            output_names=["logits"],
            dynamic_shapes=dynamic_shapes(model),
            custom_translation_table=onnx_rnn.TRANSLATIONS,
            dynamo=True,
            verbose=False,
        )
    proto = program.model_proto
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata(model))
    return proto.SerializeToString()
