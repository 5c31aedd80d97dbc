"""A run's folder, and the commands that start from one of its checkpoints.

`fit` writes a run to ``<save_dir>/<name>/version_N/``: TensorBoard's events, ``config.yaml`` (the
options it started with) and ``checkpoints/``. One of those checkpoints is enough to go on:

- ``fit --ckpt_path <run>/checkpoints/last.ckpt`` continues the run in its own folder, its curves
  and checkpoints included (``--new_version true`` starts a new version folder instead);
- ``predict``, ``test`` and ``validate --ckpt_path ...`` take their options from the run's
  ``config.yaml`` or, for a checkpoint with no run folder around it, from the checkpoint itself.
"""

from __future__ import annotations

import json
import pydoc
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from jsonargparse import Namespace
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import TensorBoardLogger

from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError
from makemore_pl.models.base import LanguageModel

SUBCOMMANDS = ("fit", "validate", "test", "predict")
# Values of --ckpt_path that Lightning resolves itself instead of reading a file of that name.
LIGHTNING_CHECKPOINTS = ("last", "best", "hpc", "registry")
# The model's arguments that the CLI links from the data (cli.MakemoreCLI.add_arguments_to_parser).
LINKED = ("vocab", "labels", "context", "block_size")
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
    ckpt = _value(args, "--ckpt_path")
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
    last = max([i + 1 for i, arg in enumerate(args) if arg in ("--config", "-c")], default=command)
    return [*args[: last + 1], "--config", json.dumps(model), *args[last + 1 :]]


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
    for i, arg in enumerate(args):
        if arg == option and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


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
    """The training split's words of the run a checkpoint comes from, or None when its words file is not here."""
    arguments = data_arguments(ckpt_path)
    if not arguments.get("path") or not Path(arguments["path"]).exists():  # a words file, or a folder of them
        return None
    data = WordsDataModule(**{**arguments, "url": None})
    return set(data.split_words()["train"])
