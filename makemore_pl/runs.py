"""A run's folder, and the commands that start from one of its checkpoints.

`fit` writes a run to ``<save_dir>/<name>/version_N/``: TensorBoard's events, ``config.yaml`` (the
options it started with) and ``checkpoints/``. One of those checkpoints is enough to go on:

- ``fit --ckpt_path <run>/checkpoints/last.ckpt`` continues the run in its own folder, its curves
  and checkpoints included (``--new_version true`` starts a new version folder instead);
- ``predict``, ``test`` and ``validate --ckpt_path ...`` take their options from the run's
  ``config.yaml`` or, for a checkpoint with no run folder around it, from the checkpoint itself;
- ``fit --init_from <ckpt>`` starts a new run from the checkpoint's weights, with the checkpoint's
  architecture and a vocabulary grown to the new words (``makemore_pl.finetune``).
"""

from __future__ import annotations

import json
import pickle
import pydoc
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse import ArgumentParser, Namespace
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import TensorBoardLogger

from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.files import write_atomic
from makemore_pl.data.remembered import STATE_KEY, copied_words, saved_path
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel, init_arguments
from makemore_pl.models.network import NetworkModel

SUBCOMMANDS = ("fit", "validate", "test", "predict")
# Values of --ckpt_path that Lightning resolves itself instead of reading a file of that name.
LIGHTNING_CHECKPOINTS = ("last", "best", "hpc", "registry")
# The model's arguments that the CLI links from the data (cli.MakemoreCLI.add_arguments_to_parser).
LINKED = ("vocab", "labels", "context", "block_size")
# Model arguments that say how to train or sample, not what the weights are: these may change when
# fine-tuning. Every other saved argument is architecture, and comes from the checkpoint.
TRAINING_ARGUMENTS = init_arguments(NetworkModel) | {"dropout", "l2", "init_seed", "smoothing"}
# Keys of a saved config that say where a command logged and what it started from, not how it trains.
WHERE_KEYS = ("ckpt_path", "new_version", "trainer.logger.init_args.version", "trainer.logger.init_args.purge_step")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents as plain values (never code), memory-mapped: only what is read gets loaded."""
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)


def run_folder(ckpt_path: str | Path) -> Path | None:
    """The run that a checkpoint belongs to: ``<run>/checkpoints/<file>.ckpt`` beside the run's ``config.yaml``."""
    path = Path(ckpt_path)
    run = path.parent.parent
    if path.parent.name == "checkpoints" and (run / "config.yaml").is_file():
        return run
    return None


def complete_arguments(args: list[str]) -> list[str]:
    """``args``, completed with what the checkpoint they name knows, under the options they give.

    Two configs are added. Without a ``--config`` of the user's, the run's own ``config.yaml``
    when the checkpoint lies in a run's folder. And the checkpoint's model: its class and saved
    arguments, after every ``--config`` (so that they build the model that was trained), but
    before the options that follow them (so that ``--model.temperature 0.7`` still overrides).
    A checkpoint from elsewhere gives its data options too.
    """
    command = next((i for i, arg in enumerate(args) if arg in SUBCOMMANDS), None)
    ckpt, init = _value(args, "--ckpt_path"), _value(args, "--init_from")
    if command is not None and init is not None:
        if ckpt is not None:
            raise UsageError(
                "give --init_from (a new run from a checkpoint's weights) or --ckpt_path (that checkpoint's own "
                "run, resumed or evaluated), not both"
            )
        return _after_configs(args, command, _init_config(init, args))
    if command is None or ckpt is None or ckpt in LIGHTNING_CHECKPOINTS:
        return args
    if not Path(ckpt).is_file():
        raise UsageError(f"--ckpt_path {ckpt}: no such checkpoint file")
    saved = read_checkpoint(ckpt)
    model = _model_config(ckpt, saved, args)
    if not any(_given(args, option) for option in ("--config", "-c")):
        run = run_folder(ckpt)
        if run is not None:
            args = [*args[: command + 1], "--config", str(run / "config.yaml"), *args[command + 1 :]]
        elif args[command] == "fit":
            raise UsageError(
                f"fit --ckpt_path {ckpt}: the checkpoint is not in a run's folder beside its config.yaml; "
                "pass the config it was trained with (--config)"
            )
        else:
            model.update(_data_config(ckpt, saved, args[command], args))
    return _after_configs(args, command, model)


def _after_configs(args: list[str], command: int, config: dict[str, Any]) -> list[str]:
    """``args`` with ``config`` after the last ``--config`` (or the subcommand), before the options that follow."""
    last = max([i + 1 for i, arg in enumerate(args) if arg in ("--config", "-c")], default=command)
    return [*args[: last + 1], "--config", json.dumps(config), *args[last + 1 :]]


def read_init_checkpoint(path: str) -> dict[str, Any]:
    """The checkpoint that ``--init_from`` names, checked to be one of makemore-pl's: one line if it is not."""
    if not Path(path).is_file():
        raise UsageError(f"--init_from {path}: no such checkpoint file")
    try:
        saved = read_checkpoint(path)
    except pickle.UnpicklingError:
        raise UsageError(
            f"--init_from {path}: refusing the checkpoint, it holds pickled objects, not only weights"
        ) from None
    except Exception as e:
        raise UsageError(f"--init_from {path}: not a readable checkpoint file ({type(e).__name__})") from None
    hparams = saved.get("hyper_parameters") if isinstance(saved, dict) else None
    if not isinstance(hparams, dict) or "_class_path" not in hparams or "vocab" not in saved:
        raise UsageError(f"--init_from {path}: not a makemore-pl checkpoint (it records no model class and vocabulary)")
    return saved


def _init_config(path: str, args: list[str]) -> dict[str, Any]:
    """What ``--init_from path`` adds after the configs: the checkpoint's architecture, vocabulary and labels.

    Its model class must be the configs' (when they name one), and an architecture option on the
    command line must agree with the checkpoint's. Training and sampling options stay the configs'
    and the command line's.
    """
    saved = read_init_checkpoint(path)
    hparams = saved["hyper_parameters"]
    config_class = _config_class(args)
    if config_class is not None and pydoc.locate(config_class) is not pydoc.locate(hparams["_class_path"]):
        raise UsageError(
            f"--init_from {path} holds a {hparams['_class_path']}, but the config trains a {config_class}: "
            "give the config of the checkpoint's model"
        )
    skip = {*LINKED, *TRAINING_ARGUMENTS}
    architecture = {key: value for key, value in hparams.items() if key[0] != "_" and key not in skip}
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
    if "_class_path" not in hparams:
        if _given(args, "--model"):
            return {}
        raise UsageError(f"{ckpt} does not record its model's class (it was not saved by makemore-pl); pass --model")
    init_args = {key: value for key, value in hparams.items() if key[0] != "_" and key not in LINKED}
    return {"model": {"class_path": hparams["_class_path"], "init_args": init_args}}


def _data_config(ckpt: str, saved: dict[str, Any], command: str, args: list[str]) -> dict[str, Any]:
    """The data options saved in a checkpoint from elsewhere, for want of its run's config."""
    data = {key: value for key, value in saved.get("datamodule_hyper_parameters", {}).items() if key[0] != "_"}
    if not data and command != "predict" and not _given(args, "--data.path"):
        raise UsageError(
            f"{command} needs the words file that {ckpt} was trained on, and neither the checkpoint nor a "
            "run folder around it says which: pass it with --data.path"
        )
    # No seed either: evaluating and sampling (--model.sample_seed) need none.
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


def continue_in_place(config: Namespace) -> None:
    """Point fit's TensorBoard logger at the run folder of ``config.ckpt_path``, to go on from its step.

    Events that the interrupted run wrote after the checkpoint are purged (TensorBoard hides
    them), since the resumed run writes those steps again: the curves go on with no repeated step.
    """
    logger = config.trainer.logger
    if not config.ckpt_path or config.new_version or not _is_tensorboard(logger):
        return
    run = run_folder(config.ckpt_path)
    if run is None:
        return
    args = logger.init_args
    if Path(args.save_dir, args.name or "").resolve() != run.parent.resolve():
        args.save_dir, args.name = str(run.parent.parent), run.parent.name  # run from another folder
    args.version = run.name
    args.purge_step = int(read_checkpoint(config.ckpt_path)["global_step"])


def _is_tensorboard(logger: Any) -> bool:
    if not isinstance(logger, Namespace) or "class_path" not in logger:
        return False
    logger_class = pydoc.locate(logger.class_path)
    return isinstance(logger_class, type) and issubclass(logger_class, TensorBoardLogger)


class RunConfig(SaveConfigCallback):
    """Saves the command's config into its log folder, never over a config saved there before.

    A run continued in its folder keeps ``config.yaml``, the options it started with. A command
    that changes options saves them beside it, as ``config_2.yaml``, then ``config_3.yaml``; one
    that changes none saves nothing.
    """

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self.already_saved:
            return
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        if trainer.is_global_zero and log_dir is not None:
            self._save(Path(log_dir))
            self.save_config(trainer, pl_module, stage)
        self.already_saved = True

    def _save(self, folder: Path) -> None:
        text = self.parser.dump(self.config, skip_none=False)
        saved = sorted(folder.glob("config*.yaml"))
        if any(_options(path.read_text()) == _options(text) for path in saved):
            return
        path, number = folder / "config.yaml", 1
        while path.exists():
            number += 1
            path = folder / f"config_{number}.yaml"
        write_atomic(path, text.encode())


def _options(text: str) -> Any:
    """A saved config without its ``WHERE_KEYS``: what two commands must share to count as the same options."""
    config = yaml.safe_load(text)
    for key in WHERE_KEYS:
        *parents, leaf = key.split(".")
        node = config
        for parent in parents:
            node = node.get(parent) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node.pop(leaf, None)
    return config


def load_model(ckpt_path: str | Path, map_location: str | torch.device = "cpu") -> LanguageModel:
    """The model saved in a makemore-pl checkpoint, from the checkpoint alone: its class, arguments and weights."""
    if not Path(ckpt_path).is_file():
        raise UsageError(f"--ckpt_path {ckpt_path}: no such checkpoint file")
    hparams = read_checkpoint(ckpt_path).get("hyper_parameters", {})
    model_class = pydoc.locate(hparams.get("_class_path", ""))
    if not (isinstance(model_class, type) and issubclass(model_class, LanguageModel)):
        raise UsageError(f"--ckpt_path {ckpt_path}: not a makemore-pl model's checkpoint (it names no model class)")
    # Lightning builds the model from the saved hyperparameters and loads the weights (weights only).
    model = model_class.load_from_checkpoint(ckpt_path, map_location=map_location, weights_only=True)
    return model.eval()


def data_arguments(ckpt_path: str | Path) -> dict[str, Any]:
    """The data options of the run a checkpoint comes from: its run's config.yaml, else the checkpoint's own."""
    run = run_folder(ckpt_path)
    if run is not None:
        data = (yaml.safe_load((run / "config.yaml").read_text()) or {}).get("data") or {}
        return {key: value for key, value in data.items() if value is not None or key in ("url", "sha256")}
    saved = read_checkpoint(ckpt_path).get("datamodule_hyper_parameters", {})
    return {key: value for key, value in saved.items() if key[0] != "_"}


def training_words(ckpt_path: str | Path) -> set[str] | None:
    """The training split's words of the run a checkpoint comes from: its copy, else its words file's; or None."""
    state = read_checkpoint(ckpt_path).get(STATE_KEY)
    copied = copied_words(state)
    if copied is not None:
        return copied
    arguments = data_arguments(ckpt_path)
    if saved_path(state) is not None:  # a long list: its file's absolute path, when the relative one is not here
        arguments["path"] = str(saved_path(state))
    if not arguments.get("path") or not Path(arguments["path"]).exists():  # a words file, or a folder of them
        return None
    data = WordsDataModule(**{**arguments, "url": None})
    return set(data.split_words()["train"])


def checkpoint_parser(command: str, description: str) -> ArgumentParser:
    """The parser of a `makemore-pl <command>` that starts from a checkpoint alone: ``--ckpt_path`` and ``--help``."""
    parser = ArgumentParser(prog=f"makemore-pl {command}", description=description)
    parser.add_argument("--ckpt_path", type=str, required=True, help="A makemore-pl checkpoint; nothing else needed.")
    return parser
