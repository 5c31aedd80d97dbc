"""F1, time to quality: wall seconds from a command's start until its held-out NLL first reaches a target.

makemore-pl's side is the user's command, `makemore-pl fit --config <config>`, with two of
Lightning's own stopping rules added so that the benchmark need not wait for the whole step
budget: EarlyStopping's ``stopping_threshold`` ends the run once ``val/nll`` reaches the target,
and ``max_time`` caps it. The time is read from the event file: the wall time of the first
``val/nll`` at or below the target. makemore.py's side is its default run, its printed test
loss timed as each line arrives.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from common import fit_command, fit_logged
from reference import run_makemore


@dataclass
class Reached:
    """When a run's held-out NLL first reached the target (None: not within its time), and its best."""

    seconds: float | None
    step: int | None
    best: float
    ran: float  # seconds the run lasted

    def __str__(self) -> str:
        if self.seconds is None:
            return f"not reached in {self.ran:.0f} s (best {self.best:.4f})"
        return f"{self.seconds:.1f} s (step {self.step:,})"


def as_max_time(seconds: float) -> str:
    """Lightning's ``max_time``, DD:HH:MM:SS."""
    minutes, secs = divmod(max(1, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"00:{hours:02d}:{minutes:02d}:{secs:02d}"


def makemore_pl_until(config: Path, workdir: Path, target: float, cap: float, *args: str) -> Reached:
    """Run `makemore-pl fit --config config` until ``val/nll`` reaches ``target`` or ``cap`` seconds pass."""
    logs = workdir / f"until_{config.stem}_{time.monotonic_ns()}"
    stop = ["--trainer.callbacks+=lightning.pytorch.callbacks.EarlyStopping", "--trainer.callbacks.monitor=val/nll",
            "--trainer.callbacks.mode=min", f"--trainer.callbacks.stopping_threshold={target}",
            "--trainer.callbacks.patience=1000000000", f"--trainer.max_time={as_max_time(cap)}"]  # fmt: skip
    fit = fit_logged(fit_command(config, logs, *stop, *args), logs)
    nll = fit.scalars("val/nll")
    best = min((e.value for e in nll), default=float("inf"))
    first = next((e for e in nll if e.value <= target), None)
    if first is None:
        return Reached(None, None, best, fit.seconds)
    return Reached(first.wall_time - fit.start, first.step, best, fit.seconds)


def makemore_until(script: Path, workdir: Path, target: float, cap: float, device: str, *args: str) -> Reached:
    """Run makemore.py at its defaults until its printed test loss reaches ``target`` or ``cap`` seconds pass."""
    run = run_makemore(script, workdir, ["--max-steps", "1000000", *args], device, cap=cap, stop_below=target)
    best = min((loss for _, _, loss in run.evaluations), default=float("inf"))
    first = next(((t, step) for t, step, loss in run.evaluations if loss <= target), None)
    if first is None:
        return Reached(None, None, best, run.seconds)
    return Reached(first[0], first[1], best, run.seconds)
