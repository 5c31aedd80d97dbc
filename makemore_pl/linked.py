"""The model's arguments that its data decides: the vocabulary, the labels, the context, the longest word, text.

The command line links them from ``--data`` to ``--model`` (``cli.trainer``); from Python,
``model_for`` builds a model with them filled from a data module. One list, ``LINKED``, for both.
"""

from __future__ import annotations

from typing import Any, TypeVar

import lightning as L

from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel, init_arguments

# What the data module reads from its words (its properties), each the model's argument of the same name...
DECIDED = ("vocab", "labels", "block_size", "text")
# ...and the data's option that the model takes too: the characters of context.
LINKED = (*DECIDED, "context")

# Lightning's own builder of a model from a checkpoint's ``_class_path`` (one it trusts: saving._ALLOWED_INSTANTIATORS).
INSTANTIATOR = "lightning.pytorch.cli.instantiate_module"

Model = TypeVar("Model", bound=LanguageModel)


def linked_arguments(model_class: type[LanguageModel], data: L.LightningDataModule) -> dict[str, Any]:
    """The arguments of ``model_class`` that ``data`` decides, read from it (each one the class takes)."""
    accepted = init_arguments(model_class)
    return {key: getattr(data, key) for key in LINKED if key in accepted and hasattr(data, key)}


def model_for(model_class: type[Model], data: L.LightningDataModule, **options: Any) -> Model:
    """A ``model_class`` for ``data``: its linked arguments from the data, the rest from ``options``.

    ``model_for(MLP, WordsDataModule(path="names.txt", context=3), hidden=200)``; an option that
    the data decides (``vocab``, ``context``, ...) is refused, as the command line refuses ``--model.vocab``.
    """
    linked = linked_arguments(model_class, data)
    given = sorted(set(options) & set(LINKED))
    if given:
        raise UsageError(f"{', '.join(given)}: decided by the data module, not given to {model_class.__name__}")
    model = model_class(**linked, **options)
    # What LightningCLI records of a model it builds: its class, and how to build it again from the checkpoint.
    # With them, a checkpoint saved from Python is read like a command's (checkpoints.load_model, predict).
    model.hparams.update(_class_path=f"{model_class.__module__}.{model_class.__qualname__}", _instantiator=INSTANTIATOR)
    return model
