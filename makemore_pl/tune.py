"""Exercise E03: fit one model per value of a hyperparameter, pick the best on val, test it once."""

from __future__ import annotations

import sys
import warnings

import lightning as L
from lightning.pytorch.cli import ArgsType, LightningArgumentParser

from makemore_pl.cli import MakemoreCLI, run_cli
from makemore_pl.errors import UsageError
from makemore_pl.files import write_atomic


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
        cli = run_cli(TuneCLI, [*args, f"--model.{option}", str(value)], run=False)
        cli.trainer.fit(cli.model, datamodule=cli.datamodule)
        runs.append((value, float(cli.trainer.callback_metrics["train/nll"]), _val_nll(cli.trainer), cli))
    best = min(runs, key=lambda run: run[2])
    best_cli = best[3]
    checkpoint = best_cli.trainer.checkpoint_callback
    ckpt_path = checkpoint.best_model_path if checkpoint is not None and checkpoint.best_model_path else None
    test_nll = best_cli.trainer.test(best_cli.model, datamodule=best_cli.datamodule, ckpt_path=ckpt_path)[0]["test/nll"]

    lines = [f"| {option} | train/nll | val/nll | test/nll |", "|---|---|---|---|"]
    for value, train_nll, val_nll, _ in runs:
        mark, test = ("**", f"{test_nll:.4f}") if value == best[0] else ("", "")
        lines.append(f"| {mark}{value:g}{mark} | {train_nll:.4f} | {val_nll:.4f} | {test} |")
    table = "\n".join(lines) + "\n"
    logger = best_cli.trainer.logger
    path = f"{logger.save_dir}/{logger.name}/tune_{option}.md" if logger is not None else f"tune_{option}.md"
    write_atomic(path, table.encode())
    print(table)
    print(f"makemore-pl-tune: best {option} = {best[0]:g} by val/nll; table saved to {path}", file=sys.stderr)
    return table


def tune_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl-tune`."""
    try:
        tune(args)
    except UsageError as e:
        print(f"makemore-pl-tune: error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    tune_main()
