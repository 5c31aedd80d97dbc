"""The sampling options' old homes: a flag that moved gets one line naming its new one, and old checkpoints load.

Before ``--sampling.*``, the options were the model's arguments (``--model.temperature``, ...,
``--model.sample_seed``) and the number of words the data's (``--data.num_samples``); checkpoints
of that time hold them among their hyperparameters, and run folders' config.yaml files too.
"""

from __future__ import annotations

from typing import Any

from makemore_pl.errors import UsageError
from makemore_pl.sampling.options import flag

# Each old model argument, and the option it became: a fixed list, since options added later never were
# the model's (``prompt``, ``length``).
MOVED = "temperature top_k prefix max_length label min_length exclude suffix contains only_new unique beam exact"
MOVED += " max_draws"
MODEL_KEYS = {name: name for name in MOVED.split()} | {"sample_seed": "seed"}
DATA_KEYS = {"num_samples": "num_samples"}


def moved_flags() -> dict[str, str]:
    """Every old flag, and its new one."""
    old = {}
    for key, new in MODEL_KEYS.items():
        old[f"--model.{key}"] = old[f"--model.init_args.{key}"] = flag(new)
    for key, new in DATA_KEYS.items():
        old[f"--data.{key}"] = old[f"--data.init_args.{key}"] = flag(new)
    return old


def refuse_moved(args: list[str]) -> None:
    """A UsageError, one line, for the first old flag in ``args``: ``--model.temperature moved: use ...``."""
    moved = moved_flags()
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in moved:
            raise UsageError(f"{name} moved: use {moved[name]}")


def drop_model_keys(hparams: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's model hyperparameters without the old sampling options."""
    return {key: value for key, value in hparams.items() if key not in MODEL_KEYS}


def drop_data_keys(hparams: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's (or run config's) data options without the old number of words."""
    return {key: value for key, value in hparams.items() if key not in DATA_KEYS}


def clean_checkpoint(checkpoint: dict[str, Any]) -> bool:
    """Drop the old sampling options from ``checkpoint``'s hyperparameters, in place; whether it held any."""
    found = False
    for key, drop in (("hyper_parameters", drop_model_keys), ("datamodule_hyper_parameters", drop_data_keys)):
        saved = checkpoint.get(key)
        if isinstance(saved, dict):
            kept = drop(saved)
            found |= len(kept) != len(saved)
            checkpoint[key] = kept
    return found


def clean_config(config: dict[str, Any]) -> bool:
    """Drop the old sampling options from a run's saved config (``model.init_args``, ``data``); whether it held any."""
    found = False
    model = config.get("model")
    init_args = model.get("init_args") if isinstance(model, dict) else None
    if isinstance(init_args, dict):
        kept = drop_model_keys(init_args)
        found |= len(kept) != len(init_args)
        model["init_args"] = kept
    data = config.get("data")
    if isinstance(data, dict):
        kept = drop_data_keys(data)
        found |= len(kept) != len(data)
        config["data"] = kept
    return found
