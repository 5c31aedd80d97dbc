"""Checkpoint files: reading one (weights and plain values, never code), checking that it is makemore-pl's,
the run folder it belongs to, and what it knows on its own: its model, its data options, its training words.

Every command that names a checkpoint (``--ckpt_path``, ``--init_from``) opens it with ``open_checkpoint``,
so that a missing, unreadable, pickled or foreign file gets the same one line whichever command met it.
"""

from __future__ import annotations

import io
import pickle
import pydoc
from pathlib import Path
from typing import Any

import torch
import yaml

from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.remembered import STATE_KEY, copied_words, saved_path
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel
from makemore_pl.sampling import legacy

# What a checkpoint holding pickled objects gets, from open_checkpoint or from Lightning's own loading.
PICKLED = "refusing the checkpoint, it holds pickled objects, not only weights"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents as plain values (never code), memory-mapped: only what is read gets loaded."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def open_checkpoint(path: str | Path, option: str = "--ckpt_path", model_class: bool = True) -> dict[str, Any]:
    """The checkpoint that ``option`` names, read; one line naming the option and the file when it is not usable.

    Refused: a missing file, one that ``torch.load`` cannot read, one that holds pickled objects and,
    with ``model_class``, one that makemore-pl did not save (it records no model class).
    """
    if not Path(path).is_file():
        raise UsageError(f"{option} {path}: no such checkpoint file")
    try:
        saved = read_checkpoint(path)
    except pickle.UnpicklingError:
        raise UsageError(f"{option} {path}: {PICKLED}") from None
    except Exception as e:
        raise UsageError(f"{option} {path}: not a readable checkpoint file ({type(e).__name__})") from None
    if model_class and saved_model_class(saved) is None:
        raise UsageError(f"{option} {path}: not a makemore-pl checkpoint (it records no model class and vocabulary)")
    return saved


def saved_model_class(saved: Any) -> type[LanguageModel] | None:
    """The makemore-pl model class that a checkpoint's contents record, with its vocabulary; None if it records none."""
    hparams = saved.get("hyper_parameters") if isinstance(saved, dict) else None
    if not isinstance(hparams, dict) or "vocab" not in saved:
        return None
    model_class = pydoc.locate(hparams.get("_class_path", ""))
    return model_class if isinstance(model_class, type) and issubclass(model_class, LanguageModel) else None


def run_folder(ckpt_path: str | Path) -> Path | None:
    """The run that a checkpoint belongs to: ``<run>/checkpoints/<file>.ckpt`` beside the run's ``config.yaml``."""
    path = Path(ckpt_path)
    run = path.parent.parent
    if path.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return None


def load_model(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> LanguageModel:
    """The model saved in a makemore-pl checkpoint, from the checkpoint alone: its class, arguments and weights."""
    saved = open_checkpoint(ckpt_path)
    model_class = saved_model_class(saved)
    # Lightning builds the model from the saved hyperparameters and loads the weights (weights only).
    source: str | Path | io.BytesIO = ckpt_path
    if legacy.clean_checkpoint(saved):  # written before --sampling.*: its sampling options left out
        source = io.BytesIO()
        torch.save(saved, source)
        source.seek(0)
    model = model_class.load_from_checkpoint(source, map_location=map_location, weights_only=True)
    return model.eval()


def data_arguments(ckpt_path: str | Path) -> dict[str, Any]:
    """The data options of the run a checkpoint comes from: its run's config.yaml, else the checkpoint's own."""
    run = run_folder(ckpt_path)
    if run is not None:
        data = (yaml.safe_load((run / "config.yaml").read_text()) or {}).get("data") or {}
        data = legacy.drop_data_keys(data.get("init_args", data))  # a text run's data names its class (TextDataModule)
        return {key: value for key, value in data.items() if value is not None or key in ("url", "sha256")}
    saved = legacy.drop_data_keys(read_checkpoint(ckpt_path).get("datamodule_hyper_parameters", {}))
    return {key: value for key, value in saved.items() if key[0] != "_"}


def training_words(ckpt_path: str | Path) -> set[str] | None:
    """The training split's words of the run a checkpoint comes from: its copy, else its words file's; or None."""
    state = read_checkpoint(ckpt_path).get(STATE_KEY)
    copied = copied_words(state)
    if copied is not None:
        return copied
    arguments = data_arguments(ckpt_path)
    if "block_size" in arguments:  # running text (TextDataModule's option) has no words
        return None
    if saved_path(state) is not None:  # a long list: its file's absolute path, when the relative one is not here
        arguments["path"] = str(saved_path(state))
    if not arguments.get("path") or not Path(arguments["path"]).exists():  # a words file, or a folder of them
        return None
    data = WordsDataModule(**{**arguments, "url": None})
    return set(data.split_words()["train"])
