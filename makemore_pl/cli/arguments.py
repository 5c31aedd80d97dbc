"""The command line of a command that starts from a checkpoint, completed with what the checkpoint knows.

- ``predict``, ``test`` and ``validate --ckpt_path ...`` take their options from the run's
  ``config.yaml`` or, for a checkpoint with no run folder around it, from the checkpoint itself;
- ``fit --ckpt_path`` resumes a run with its own config (makemore_pl.cli.run_config);
- ``fit --init_from <ckpt>`` starts a new run from the checkpoint's weights, with the checkpoint's
  architecture and a vocabulary grown to the new words (``makemore_pl.finetune``).
"""

from __future__ import annotations

import json
import pydoc
import shlex
from pathlib import Path
from typing import Any

import yaml

from makemore_pl.checkpoints import open_checkpoint, run_folder
from makemore_pl.cli.parser import CommandParser
from makemore_pl.data.text import is_text_class
from makemore_pl.errors import UsageError
from makemore_pl.linked import LINKED
from makemore_pl.models.base import init_arguments
from makemore_pl.models.network import NetworkModel
from makemore_pl.sampling import legacy

SUBCOMMANDS = ("fit", "validate", "test", "predict")
# Values of --ckpt_path that Lightning resolves itself instead of reading a file of that name.
LIGHTNING_CHECKPOINTS = ("last", "best", "hpc", "registry")
# Model arguments that say how to train or sample, not what the weights are: these may change when
# fine-tuning. Every other saved argument is architecture, and comes from the checkpoint.
TRAINING_ARGUMENTS = init_arguments(NetworkModel) | {"dropout", "l2", "init_seed", "smoothing"}


def complete_arguments(args: list[str]) -> list[str]:
    """``args``, completed with what the checkpoint they name knows, under the options they give.

    Two configs are added. Without a ``--config`` of the user's, the run's own ``config.yaml``
    when the checkpoint lies in a run's folder, first, as the command's defaults. And last, the
    checkpoint's model: its class and saved arguments, which build the model that was trained
    (Lightning applies them again from ``--ckpt_path``). A checkpoint from elsewhere gives its
    data options too. A checkpoint or config written before ``--sampling.*`` loses its sampling
    options (``sampling.legacy``).
    """
    command = next((i for i, arg in enumerate(args) if arg in SUBCOMMANDS), None)
    ckpt, init = _value(args, "--ckpt_path"), _value(args, "--init_from")
    if command is not None and init is not None:
        if ckpt is not None:
            raise UsageError(
                "give --init_from (a new run from a checkpoint's weights) or --ckpt_path (that checkpoint's own "
                "run, resumed or evaluated), not both"
            )
        return [*args, "--config", json.dumps(_init_config(init, args))]
    if command is None or ckpt is None or ckpt in LIGHTNING_CHECKPOINTS:
        return args
    saved = open_checkpoint(ckpt, model_class=not _given(args, "--model"))
    model = _model_config(ckpt, saved, args)
    if not any(_given(args, option) for option in ("--config", "-c")):
        run = run_folder(ckpt)
        if run is not None:
            args = [*args[: command + 1], "--config", _run_config(run), *args[command + 1 :]]
        elif args[command] == "fit":
            raise UsageError(
                f"fit --ckpt_path {ckpt}: the checkpoint is not in a run's folder beside its config.yaml; "
                "pass the config it was trained with (--config)"
            )
        else:
            model.update(_data_config(ckpt, saved, args[command], args))
    return [*args, "--config", json.dumps(model)]


def _run_config(run: Path) -> str:
    """The run's ``config.yaml`` for ``--config``: its path, or its options as JSON less the old sampling ones."""
    path = run / "config.yaml"
    config = yaml.safe_load(path.read_text()) or {}
    return json.dumps(config) if legacy.clean_config(config) else str(path)


def _init_config(path: str, args: list[str]) -> dict[str, Any]:
    """What ``--init_from path`` adds after the configs: the checkpoint's architecture, vocabulary and labels.

    Its model class must be the configs' (when they name one), and an architecture option on the
    command line must agree with the checkpoint's. Training options stay the configs' and the
    command line's.
    """
    saved = open_checkpoint(path, "--init_from")
    hparams = saved["hyper_parameters"]
    config_class = _config_class(args)
    if config_class is not None and pydoc.locate(config_class) is not pydoc.locate(hparams["_class_path"]):
        raise UsageError(
            f"--init_from {path} holds a {hparams['_class_path']}, but the config trains a {config_class}: "
            "give the config of the checkpoint's model"
        )
    skip = {*LINKED, *TRAINING_ARGUMENTS}
    architecture = {
        key: value for key, value in legacy.drop_model_keys(hparams).items() if key[0] != "_" and key not in skip
    }
    for key, value in architecture.items():
        _refuse_conflict(args, (f"--model.{key}", f"--model.init_args.{key}"), value, path)
    # The data's vocabulary becomes the union with the checkpoint's (WordsDataModule.known_vocab), and
    # so do labelled words' labels (known_labels; unlabelled words meet finetune.start_from's refusal).
    data: dict[str, Any] = {"known_vocab": list(saved["vocab"])}
    if hparams.get("labels") is not None:
        data["known_labels"] = list(hparams["labels"])
    if "context" in hparams:  # a window or n-gram model reads that many characters
        _refuse_conflict(args, ("--data.context",), hparams["context"], path)
        data["context"] = hparams["context"]
    return {"model": {"class_path": hparams["_class_path"], "init_args": architecture}, "data": data}


def _config_class(args: list[str]) -> str | None:
    """The model class that the command's configs and options name, the last one winning."""
    found = None
    for i, arg in enumerate(args[:-1]):
        if arg not in ("--config", "-c"):
            continue
        source = Path(args[i + 1])
        try:
            config = yaml.safe_load(source.read_text() if source.is_file() else args[i + 1])
        except (OSError, yaml.YAMLError):
            continue  # jsonargparse words that error
        model = config.get("model") if isinstance(config, dict) else None
        if isinstance(model, dict):
            found = model.get("class_path", found)
        elif isinstance(model, str):
            found = model
    return _value(args, "--model.class_path") or _value(args, "--model") or found


def _refuse_conflict(args: list[str], options: tuple[str, ...], saved: Any, path: str) -> None:
    for option in options:
        given = _value(args, option)
        if given is not None and yaml.safe_load(given) != saved:
            raise UsageError(
                f"{option} {given} conflicts with the checkpoint's {option.rsplit('.', 1)[1]} {json.dumps(saved)} "
                f"(--init_from {path}): architecture options come from the checkpoint; leave it out"
            )


def _model_config(ckpt: str, saved: dict[str, Any], args: list[str]) -> dict[str, Any]:
    """The checkpoint's model as a config: its class and saved arguments, less those linked from the data."""
    hparams = saved.get("hyper_parameters", {})
    if "_class_path" not in hparams:  # a checkpoint from elsewhere, with --model given (open_checkpoint)
        return {}
    init_args = {
        key: value for key, value in legacy.drop_model_keys(hparams).items() if key[0] != "_" and key not in LINKED
    }
    return {"model": {"class_path": hparams["_class_path"], "init_args": init_args}}


def _data_config(ckpt: str, saved: dict[str, Any], command: str, args: list[str]) -> dict[str, Any]:
    """The data options saved in a checkpoint from elsewhere, for want of its run's config."""
    saved_data = legacy.drop_data_keys(saved.get("datamodule_hyper_parameters", {}))
    data = {key: value for key, value in saved_data.items() if key[0] != "_"}
    if not data and command != "predict" and not _given(args, "--data.path"):
        raise UsageError(
            f"{command} needs the words file that {ckpt} was trained on, and neither the checkpoint nor a "
            "run folder around it says which: pass it with --data.path"
        )
    text_class = saved.get("datamodule_hyper_parameters", {}).get("_class_path")
    if data and is_text_class(text_class):  # running text: the CLI reads words unless the data names its class
        data = {"class_path": text_class, "init_args": data}
    # No seed either: evaluating and sampling (--sampling.seed) need none.
    return {"data": data, "seed_everything": False} if data else {"seed_everything": False}


def _value(args: list[str], option: str) -> str | None:
    """The value of ``option`` in ``args``: the last one given, which is the one the parser keeps."""
    value = None
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            value = args[i + 1]
        elif arg.startswith(option + "="):
            value = arg.split("=", 1)[1]
    return value


def _given(args: list[str], option: str) -> bool:
    return any(arg == option or arg.startswith(option + "=") for arg in args)


def checkpoint_parser(command: str, description: str) -> CommandParser:
    """The parser of a `makemore-pl <command>` that starts from a checkpoint alone: ``--ckpt_path`` and ``--help``."""
    parser = CommandParser(prog=f"makemore-pl {command}", description=description)
    parser.add_argument("--ckpt_path", type=str, required=True, help="A makemore-pl checkpoint; nothing else needed.")
    return parser


def fit_command(args: list[str], drop: str, extra: list[str]) -> str:
    """The `makemore-pl fit` command with ``args`` less the options starting with ``drop``, plus ``extra``."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith(drop):
            skip = "=" not in arg  # "--tune.trials 20" spans two arguments
        else:
            kept.append(arg)
    return shlex.join(["makemore-pl", "fit", *kept, *extra])
