"""`makemore-pl lr`: lecture 2's learning-rate sweep, done by Lightning's learning-rate finder, for any config.

The lecture raises the learning rate exponentially over one run, one step per rate, and reads
off the plot of loss against rate where the loss falls fastest. ``Tuner.lr_find`` does that run
(on a copy of the model's state, restored afterwards) and suggests the rate of the steepest
descent of the smoothed loss; this command draws the curve, saves it in the run's folder, logs
it to TensorBoard, and prints the suggestion as the option to train with.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from lightning.pytorch.cli import ArgsType, LightningArgumentParser
from lightning.pytorch.tuner import Tuner

from makemore_pl.cli.arguments import fit_command
from makemore_pl.cli.trainer import MakemoreCLI, exit_on_usage_error, run_cli
from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError
from makemore_pl.plots.charts import lr_chart
from makemore_pl.plots.figures import save_png
from makemore_pl.plots.tensorboard import tensorboard_writer

LIGHTNING_BETA = 0.98  # the smoothing of the losses that Lightning's finder records


class LRFindCLI(MakemoreCLI):
    """The `makemore-pl fit` options, plus the range to sweep."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument("--lr_find.min_lr", type=float, default=1e-4, help="The first learning rate tried.")
        parser.add_argument("--lr_find.max_lr", type=float, default=1.0, help="The last learning rate tried.")
        parser.add_argument(
            "--lr_find.num_training",
            type=int,
            default=300,
            help="Steps of the sweep, one learning rate each, spaced exponentially from min_lr to max_lr.",
        )


def lr_fit_command(args: list[str], lr: float, max_lr: bool) -> str:
    """The `makemore-pl fit` command with ``args`` (the sweep's own options left out) and the learning rate."""
    extra = ["--model.optimizer.init_args.lr", f"{lr:.3g}"]
    if max_lr:  # a one-cycle schedule sets the rate itself: it is its max_lr that must change
        extra += ["--model.lr_scheduler.init_args.max_lr", f"{lr:.3g}"]
    return fit_command(args, "--lr_find.", extra)


def debiased(losses: list[float], beta: float = LIGHTNING_BETA) -> list[float]:
    """Lightning's smoothed losses, with the bias correction of the step each one was taken at.

    Lightning 2.x divides the running average after step k (counted from 1) by ``1 - beta**(k + 1)``:
    one step late, since ``global_step`` already counts the step just taken. Its first value is
    then about half the loss, and the curve seems to rise before it falls (the symptom of
    Lightning issue #14167). Dividing by ``1 - beta**k`` instead gives the true running average.
    """
    return [loss * (1 - beta ** (k + 1)) / (1 - beta**k) for k, loss in enumerate(losses, start=1)]


def sweep(cli: LRFindCLI) -> tuple[list[float], list[float], float | None]:
    """Run ``Tuner.lr_find`` on the CLI's model and data: the rates, the smoothed losses, and Lightning's suggestion."""
    min_lr, max_lr = cli.config["lr_find.min_lr"], cli.config["lr_find.max_lr"]
    num_training = cli.config["lr_find.num_training"]
    if not 0 < min_lr < max_lr:
        raise UsageError(f"--lr_find.min_lr and --lr_find.max_lr must be 0 < min_lr < max_lr, got {min_lr}, {max_lr}")
    if num_training < 3:
        raise UsageError(f"--lr_find.num_training must be at least 3, got {num_training}")
    if not cli.model.automatic_optimization:
        raise UsageError(f"{type(cli.model).__name__} learns by counting: it has no learning rate to search")
    # update_attr=False: the rate is an argument of the optimizer callable, not a model attribute.
    finder = Tuner(cli.trainer).lr_find(
        cli.model, datamodule=cli.datamodule, min_lr=min_lr, max_lr=max_lr, num_training=num_training, update_attr=False
    )
    if finder is None:  # Lightning skips the search under fast_dev_run
        raise UsageError("the learning-rate search does not run with --trainer.fast_dev_run")
    finder.results["loss"] = debiased(finder.results["loss"])
    return finder.results["lr"], finder.results["loss"], finder.suggestion()


def find_lr(args: ArgsType = None) -> float | None:
    """Sweep the learning rate, save and log the curve, print and return the suggestion (None if there is none)."""
    cli = run_cli(LRFindCLI, args, run=False)
    args = list(sys.argv[1:] if args is None else args)  # for the command printed at the end
    lrs, losses, suggestion = sweep(cli)
    log_dir = Path(cli.trainer.log_dir)  # a collective under DDP: every process must ask
    if not cli.trainer.is_global_zero:
        return suggestion
    finite = [(loss, lr) for lr, loss in zip(lrs, losses) if math.isfinite(loss)]
    lowest = min(finite)[1] if finite else None
    title = f"learning-rate sweep: {type(cli.model).__name__}, {len(lrs)} steps"
    image = lr_chart(lrs, losses, suggestion, lowest, title)
    save_png(image, log_dir / "lr_find.png")
    write_atomic(log_dir / "lr_find.tsv", "".join(f"{lr!r}\t{loss!r}\n" for lr, loss in zip(lrs, losses)).encode())
    writer = tensorboard_writer(cli.trainer)
    if writer is not None:
        writer.add_image("lr_find", image, 0, dataformats="HWC")
        writer.flush()
    saved = f"curve in {log_dir}/lr_find.png and .tsv"
    if suggestion is None:
        print(f"makemore-pl lr: no suggestion: too few finite losses (raise --lr_find.num_training); {saved}")
        return None
    print(
        f"makemore-pl lr: Lightning suggests {suggestion:.3g}, where the loss falls fastest against the rate; "
        f"the loss is lowest at {lowest:.3g} (lecture 2 reads its rate off that valley); {saved}"
    )
    one_cycle = "max_lr" in getattr(getattr(cli.model, "lr_scheduler", None), "keywords", {})
    print(f"train with the suggestion:\n  {lr_fit_command(args, suggestion, one_cycle)}")
    return suggestion


def lr_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl-lr`, the alias of `makemore-pl lr`."""
    exit_on_usage_error("makemore-pl-lr", find_lr, args)
