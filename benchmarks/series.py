"""The series' throughput (F2, F3, bf16-mixed, compile): words per second at each config's own batch size.

Inside ``Trainer.fit`` is the shipped config as the command line builds it (its model, data
module, logger and callbacks; no validation, no progress bar), timed in steady state. Beside
it: a bare loop over the same network, batches, optimizer and schedule, in the same process;
and makemore.py's model of the same kind and size, stepped by its own loop.
"""

from __future__ import annotations

import copy
import importlib
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch.nn.functional as F
import yaml
from clocks import StepClock
from common import config_cli, markdown_table, names_configs, rate, ratio, synchronize
from reference import run_makemore, twin, words_per_second

from makemore_pl.cli import MakemoreCLI
from makemore_pl.data.records import WORDS
from makemore_pl.data.vocab import PAD
from makemore_pl.models import NetworkModel


@dataclass
class Budget:
    """How long each measurement runs: steps to warm up, then seconds of steady state."""

    warmup: int
    seconds: float
    rounds: int  # fit and raw loop alternate this many times; each keeps its best (noise only slows)
    makemore_steps: int  # makemore.py's run, below its first sampling (step 200) and evaluation (500)
    trainer_args: list[str] = field(default_factory=list)  # e.g. the accelerator
    device: str = "cpu"  # for makemore.py


def series_configs() -> list[Path]:
    """The shipped configs whose model is a network of the series (the n-grams have their own figures)."""
    found = []
    for config in names_configs():
        module, _, name = yaml.safe_load(config.read_text())["model"]["class_path"].rpartition(".")
        if issubclass(getattr(importlib.import_module(module), name), NetworkModel):
            found.append(config)
    return found


def words_per_step(cli: MakemoreCLI) -> float:
    """Words a training step reads: its batch of words, or its batch of windows over the characters per word."""
    dm = cli.datamodule
    if dm.batch_size is None:  # the full batch (the n-grams' configs): every training word, every step
        return len(dm.splits["train"])
    if cli.model.layout == WORDS:
        return dm.batch_size
    train = dm.splits["train"]
    return dm.batch_size / (sum(len(word) + 1 for word in train) / len(train))  # one window per prediction


@dataclass
class Fit:
    """A steady-state fit of a config: its words per second, its clock, the command, and its model before training."""

    rate: float
    clock: StepClock
    cli: MakemoreCLI
    untrained: NetworkModel


def fit_rate(config: Path, workdir: Path, budget: Budget, *args: str) -> Fit:
    """Words per second inside ``Trainer.fit`` of the config, in steady state."""
    cli = config_cli(config, workdir, "--trainer.limit_val_batches", "0", *budget.trainer_args, *args)
    untrained = copy.deepcopy(cli.model)
    clock = StepClock(warmup=budget.warmup, budget=budget.seconds)
    cli.trainer.callbacks.append(clock)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    return Fit(words_per_step(cli) / clock.steady_step(), clock, cli, untrained)


def endless(loader) -> Iterator:
    while True:
        yield from loader


def raw_rate(fit: Fit, warmup: int) -> float:
    """Words per second of a bare loop as long as ``fit``: its model's network, optimizer and batches, untrained."""
    fitted, untrained, steps = fit.cli, fit.untrained, len(fit.clock.times)
    device = fitted.trainer.strategy.root_device
    network = untrained.to(device).train().network
    untrained.trainer = fitted.trainer  # so that the schedule knows the config's step budget
    configured = untrained.configure_optimizers()
    optimizer = configured["optimizer"] if isinstance(configured, dict) else configured
    scheduler = configured["lr_scheduler"]["scheduler"] if isinstance(configured, dict) else None
    times: list[float] = []
    for x, y, *_ in endless(fitted.datamodule.train_dataloader()):
        logits = network(x)
        loss = F.cross_entropy(logits.flatten(0, -2), y.flatten(), ignore_index=PAD)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if len(times) == warmup:  # as StepClock does
            synchronize(device)
        times.append(time.perf_counter())
        if len(times) == steps:
            break
    synchronize(device)
    times[-1] = time.perf_counter()
    steady = times[warmup:]
    return words_per_step(fitted) * (len(steady) - 1) / (steady[-1] - steady[0])


@dataclass
class Throughput:
    config: str
    batch_size: int
    fit: float
    raw: float
    twin: str  # makemore.py's model, or why there is none
    makemore: float | None = None
    bf16: float | None = None
    compiled: float | None = None
    compile_seconds: float | None = None


def measure(
    config: Path, workdir: Path, budget: Budget, makemore: Path | None, compiled: bool, bf16: bool
) -> Throughput:
    """Every throughput figure of one config, each beside its baseline."""
    fits, raws = [], []
    for _ in range(budget.rounds):
        fit = fit_rate(config, workdir, budget)
        fits.append(fit.rate)
        raws.append(raw_rate(fit, budget.warmup))
    batch_size = fit.cli.datamodule.batch_size
    result = Throughput(config.stem, batch_size, max(fits), max(raws), "none of its kind and size")
    arguments = twin(fit.cli.model)
    if arguments is not None:
        result.twin = " ".join(arguments[1:])
        if makemore is None:
            result.twin += " (makemore.py not available)"
        else:
            args = [*arguments, "--batch-size", str(batch_size), "--max-steps", str(budget.makemore_steps)]
            run = run_makemore(makemore, workdir, args, budget.device, cap=600)
            result.makemore = words_per_second(run, batch_size, warmup=min(40, budget.makemore_steps // 3))
    if bf16:
        precision = ("--trainer.precision", "bf16-mixed")
        result.bf16 = max(fit_rate(config, workdir, budget, *precision).rate for _ in range(budget.rounds))
    if compiled:
        fit = fit_rate(config, workdir, budget, "--model.compile", "true")
        result.compiled, result.compile_seconds = fit.rate, fit.clock.warmup_cost()
    return result


def table(rows: list[Throughput]) -> list[str]:
    columns = [
        "config", "batch", "Trainer.fit words/s", "raw loop", "fit / raw (F2)", "makemore.py's model", "its words/s",
        "fit / makemore.py", "bf16-mixed", "bf16 / fp32", "compiled", "compiled / eager (compile time)",
    ]  # fmt: skip
    return markdown_table(columns, (row_cells(r) for r in rows))


def row_cells(r: Throughput) -> list[str]:
    compile_time = f" ({r.compile_seconds:.0f} s)" if r.compile_seconds else ""
    return [
        r.config, str(r.batch_size), rate(r.fit), rate(r.raw), ratio(r.fit, r.raw), r.twin, rate(r.makemore),
        ratio(r.fit, r.makemore), rate(r.bf16), ratio(r.bf16, r.fit), rate(r.compiled),
        ratio(r.compiled, r.fit) + compile_time,
    ]  # fmt: skip
