"""`makemore-pl <command>`: the table of every command, and the dispatch to the module that runs it."""

from __future__ import annotations

import importlib
import sys
from typing import NamedTuple

from jsonargparse import Namespace
from lightning.pytorch.cli import ArgsType

from makemore_pl.cli.trainer import MakemoreCLI, exit_on_usage_error, fail, run_cli


class Command(NamedTuple):
    """One `makemore-pl` command: the function that runs it, the optional extra it needs, and what it does."""

    target: str  # "module:function"; LightningCLI's four commands share one parser (TRAINER)
    extra: str | None  # makemore-pl[extra], named in the one line printed when it is not installed
    summary: str


TRAINER = "makemore_pl.cli.trainer:run_cli"
COMMANDS = {
    "fit": Command(TRAINER, None, "train a model (LightningCLI; resume with --ckpt_path, fine-tune with --init_from)"),
    "validate": Command(TRAINER, None, "the validation split's loss of a model or a checkpoint"),
    "test": Command(TRAINER, None, "the test split's loss of a model or a checkpoint"),
    "predict": Command(TRAINER, None, "sample words from a checkpoint"),
    "score": Command("makemore_pl.cli.score:score_main", None, "score words under a checkpoint, one TSV line each"),
    "export": Command("makemore_pl.cli.export:export_main", "export", "export a checkpoint to ONNX"),
    "serve": Command("makemore_pl.serve.server:serve_main", "serve", "serve a checkpoint over HTTP (LitServe)"),
    "tune": Command("makemore_pl.cli.tune:tune", "tune", "search fit's options with Optuna"),
    "lr": Command("makemore_pl.cli.lr:find_lr", None, "lecture 2's learning-rate sweep (Lightning's lr_find)"),
}

DESCRIPTION = (
    "makemore-pl: train, evaluate and sample Karpathy's makemore character-level language models "
    "(the lectures' n-grams, MLP and WaveNet, and makemore.py's BoW, RNN, GRU, LSTM and Transformer) with "
    "PyTorch Lightning. Commands: "
    + "; ".join(f"{name}: {command.summary}" for name, command in COMMANDS.items())
    + ". Each takes --help."
)


def cli_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl`; tests call it in-process with a list of arguments."""
    argv = [] if isinstance(args, (dict, Namespace)) else list(sys.argv[1:] if args is None else args)
    if argv and argv[0] in COMMANDS and COMMANDS[argv[0]].target != TRAINER:
        return _run_command(argv[0], argv[1:])
    run_cli(MakemoreCLI, args, description=DESCRIPTION)


def _run_command(name: str, args: list[str]) -> None:
    target, extra, _ = COMMANDS[name]
    module, function = target.split(":")
    try:
        main = getattr(importlib.import_module(module), function)
    except ModuleNotFoundError as e:
        if extra is None or (e.name or "").startswith("makemore_pl"):  # a missing extra, not a bug of ours
            raise
        fail(f"{name} needs {e.name}, which is not installed: pip install 'makemore-pl[{extra}]'")
    exit_on_usage_error(f"makemore-pl {name}", main, args)
