"""makemore-pl from Python (docs/python.md): each function is the piece that a command uses.

- ``load``: a trained model from its checkpoint alone (``predict``, ``score``, ``serve``);
- ``sample``: words under a ``SamplingOptions`` (``predict --sampling.*``, the server's ``/sample``);
- ``score_words``: each word's NLL, perplexity and posterior (``scoring.words``, as ``makemore-pl score``);
- ``training_words``: the words a checkpoint was trained on, for ``only_new`` and ``in_train``;
- ``model_for``: a model whose data-decided arguments come from a data module, to train with ``lightning.Trainer``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from makemore_pl.checkpoints import load_model, training_words
from makemore_pl.linked import model_for
from makemore_pl.models.base import LanguageModel
from makemore_pl.sampling.exact import generate
from makemore_pl.sampling.options import SamplingOptions
from makemore_pl.sampling.protocol import Samplable
from makemore_pl.sampling.records import SampleResult
from makemore_pl.scoring.words import score_words

__all__ = ["load", "model_for", "sample", "score_words", "training_words"]


def load(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> LanguageModel:
    """The model saved in a makemore-pl checkpoint, in eval mode, on ``map_location`` (the CPU by default)."""
    return load_model(ckpt_path, map_location=map_location)


def sample(
    model: Samplable,
    options: SamplingOptions | None = None,
    train_words: set[str] | None = None,
    **changes: Any,
) -> SampleResult:
    """One request's words: ``options`` (the defaults if None) with ``changes``, e.g. ``num_samples=5``.

    ``train_words`` (``training_words(ckpt)``, or a data module's ``training_words()``) lets
    ``only_new`` leave them out. The result's ``words`` each carry the word, its label and its
    log-probability; ``missing`` and ``advice`` say which option to relax when the budget ran out.
    """
    (result,) = generate(model, [replace(options or SamplingOptions(), **changes)], train_words)
    return result
