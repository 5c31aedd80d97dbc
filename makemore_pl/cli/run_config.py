"""A run's folder as the commands keep it: the config each command saves there, and fit resumed in place.

`fit` writes a run to ``<save_dir>/<name>/version_N/``: TensorBoard's events, ``config.yaml`` (the
options it started with) and ``checkpoints/``. ``fit --ckpt_path <run>/checkpoints/last.ckpt``
continues the run in its own folder, its curves and checkpoints included (``--new_version true``
starts a new version folder instead).
"""

from __future__ import annotations

import pydoc
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from jsonargparse import Namespace
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import TensorBoardLogger

from makemore_pl.checkpoints import read_checkpoint, run_folder
from makemore_pl.data.files import write_atomic

# Keys of a saved config that say where a command logged and what it started from, not how it trains.
WHERE_KEYS = ("ckpt_path", "new_version", "trainer.logger.init_args.version", "trainer.logger.init_args.purge_step")


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
