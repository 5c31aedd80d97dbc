"""Exercise E03: fit one model per value of a hyperparameter, pick the best on val, test it once."""

from __future__ import annotations

import sys
import warnings

import lightning as L
from lightning.pytorch.cli import ArgsType, LightningArgumentParser

from makemore_pl.cli import MakemoreCLI, exit_on_usage_error, run_cli
from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError


class TuneCLI(MakemoreCLI):
    """The `makemore-pl fit` options, plus the grid to search."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument(
            "--tune.option", type=str, required=True, help="The model option to tune, e.g. smoothing or l2."
        )
        parser.add_argument(
            "--tune.values", type=list[float], required=True, help="The values to try, e.g. [0, 0.1, 1]."
        )


def _val_nll(trainer: L.Trainer) -> float:
    """The run's validation NLL: the best checkpoint's, when one was kept by val/nll, else the last."""
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.monitor == "val/nll" and checkpoint.best_model_score is not None:
        return float(checkpoint.best_model_score)
    if "val/nll" not in trainer.callback_metrics:
        raise UsageError("tuning needs a validation split: set --data.val_fraction above 0")
    return float(trainer.callback_metrics["val/nll"])


def _argument(value: float) -> str:
    """``value`` as the command line writes it: 8, not 8.0, which an integer option (hidden, layers) refuses."""
    return str(int(value)) if float(value).is_integer() else repr(value)


def tune(args: ArgsType = None) -> str:
    """Run the grid and return the results table, also written as tune_<option>.md in the log folder."""
    args = list(sys.argv[1:] if args is None else args)
    # Each run gets the command line's arguments plus its value, on purpose.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    grid = run_cli(TuneCLI, args, run=False)
    option, values = grid.config["tune.option"], grid.config["tune.values"]
    if option not in grid.model.hparams:
        raise UsageError(f"--tune.option: {type(grid.model).__name__} has no option {option!r}")
    runs = []
    for value in values:
        # A fresh model, data module and trainer, with a log folder of its own, per value.
        cli = run_cli(TuneCLI, [*args, f"--model.{option}", _argument(value)], run=False)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        # Logged every log_every_n_steps steps only: a short run may have none.
        train_nll = cli.trainer.callback_metrics.get("train/nll")
        runs.append((value, None if train_nll is None else float(train_nll), _val_nll(cli.trainer), cli))
    best = min(runs, key=lambda run: run[2])
    best_cli = best[3]
    checkpoint = best_cli.trainer.checkpoint_callback
    ckpt_path = checkpoint.best_model_path if checkpoint is not None and checkpoint.best_model_path else None
    test_nll = best_cli.trainer.test(best_cli.model, datamodule=best_cli.datamodule, ckpt_path=ckpt_path)[0]["test/nll"]

    lines = [f"| {option} | train/nll | val/nll | test/nll |", "|---|---|---|---|"]
    for value, train_nll, val_nll, _ in runs:
        mark, test = ("**", f"{test_nll:.4f}") if value == best[0] else ("", "")
        train = "-" if train_nll is None else f"{train_nll:.4f}"
        lines.append(f"| {mark}{value:g}{mark} | {train} | {val_nll:.4f} | {test} |")
    table = "\n".join(lines) + "\n"
    logger = best_cli.trainer.logger
    path = f"{logger.save_dir}/{logger.name}/tune_{option}.md" if logger is not None else f"tune_{option}.md"
    write_atomic(path, table.encode())
    print(table)
    print(f"makemore-pl-tune: best {option} = {best[0]:g} by val/nll; table saved to {path}", file=sys.stderr)
    return table


def tune_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl-tune`."""
    exit_on_usage_error("makemore-pl-tune", tune, args)


if __name__ == "__main__":
    tune_main()
