"""What every figure of the benchmark shares: paths, quiet logs, clocks that wait for the device, whole commands."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.cli import MakemoreCLI, run_cli

REPO = Path(__file__).resolve().parents[1]
NAMES = REPO / "data" / "names.txt"
CONFIGS = REPO / "configs"
MAKEMORE_PL = str(Path(sys.executable).parent / "makemore-pl")


def names_configs() -> list[Path]:
    """The shipped configs that train on names.txt: all of configs/*.yaml but those of labelled words."""
    return [c for c in sorted(CONFIGS.glob("*.yaml")) if not yaml.safe_load(c.read_text())["data"].get("labelled")]


def quiet() -> None:
    warnings.filterwarnings("ignore")
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for the device's queued work, so that a clock read after it means something (a no-op on the CPU)."""
    device = torch.device(device or "cpu")
    if device.type != "cpu" and torch.accelerator.is_available():
        torch.accelerator.synchronize(device)


def trainer(**kwargs) -> L.Trainer:
    """A bare CPU trainer for the bigram figures: no logger, checkpoints, progress bar or validation."""
    defaults = dict(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    return L.Trainer(**{**defaults, **kwargs})


def config_cli(config: Path, workdir: Path, *args: str) -> MakemoreCLI:
    """A shipped config as the command line builds it (model, data and trainer), ready to fit, quiet."""
    return run_cli(
        MakemoreCLI,
        ["--config", str(config), "--data.path", str(NAMES), "--trainer.logger.init_args.save_dir", str(workdir),
         "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false", *args],
        run=False,
    )  # fmt: skip


def fit_command(config: Path, workdir: Path, *args: str) -> list[str]:
    """The `makemore-pl fit` command a user runs, on the benchmark's names.txt, logging under ``workdir``."""
    return [MAKEMORE_PL, "fit", "--config", str(config), "--data.path", str(NAMES),
            "--trainer.logger.init_args.save_dir", str(workdir), *args]  # fmt: skip


def run(command: list[str], env: dict | None = None) -> str:
    """Run a command from the repository; what it wrote to stderr, or its stderr's end in the error if it failed."""
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, env=env)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stderr


def wall(command: list[str], env: dict | None = None) -> tuple[float, str]:
    """Seconds a whole command takes, and what it wrote to stderr."""
    start = time.perf_counter()
    stderr = run(command, env)
    return time.perf_counter() - start, stderr


def with_clocks_importable() -> dict[str, str]:
    """The environment for a command that loads ``clocks.TrainClock`` by class path, from this folder."""
    paths = [str(REPO / "benchmarks"), os.environ.get("PYTHONPATH")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}


def rate(words: float | None) -> str:
    """A words-per-second figure for a table, or "-" where there is none."""
    return f"{words:,.0f}" if words else "-"


def ratio(a: float | None, b: float | None, digits: int = 2) -> str:
    """``a / b`` for a table, as "1.23x", or "-" where either is missing."""
    return f"{a / b:.{digits}f}x" if a and b else "-"


def markdown_table(columns: list[str], rows: Iterable[list[str]]) -> list[str]:
    """A Markdown table's lines: the header, its rule, and one line per row of cells, as many as ``columns``."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for cells in rows:
        assert len(cells) == len(columns), f"{len(cells)} cells for {len(columns)} columns: {cells}"
        lines.append("| " + " | ".join(cells) + " |")
    return lines


@dataclass
class Logged:
    """A finished `makemore-pl fit`: its run folder, every scalar of its TensorBoard events, and its wall clock."""

    version: Path
    events: EventAccumulator
    start: float  # time.time() at launch: the clock of the events' wall_time
    seconds: float

    def scalars(self, tag: str) -> list:
        """The events of ``tag``, none when it was never logged."""
        return self.events.Scalars(tag) if tag in self.events.Tags()["scalars"] else []


def fit_logged(command: list[str], logs: Path) -> Logged:
    """Run a `makemore-pl fit` ``command`` that logs under ``logs``, and read its run's events."""
    start = time.time()
    run(command)
    seconds = time.time() - start
    version = next(logs.glob("*/version_*"))
    events = EventAccumulator(str(version), size_guidance={"scalars": 0})  # every event, none sampled away
    events.Reload()
    return Logged(version, events, start, seconds)


def timed_lines(command: list[str], cwd: Path, stderr: int = subprocess.DEVNULL) -> Iterator[tuple[float, str]]:
    """Each line ``command`` prints, with the seconds since its launch, as it arrives.

    The command runs in a session of its own; when the caller stops reading (close the generator,
    or read it to its end), the session is stopped, workers included. A command that ends on its
    own with a failure raises.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True
    )
    stopped = False
    try:
        for line in process.stdout:
            yield time.perf_counter() - start, line
    finally:
        if process.poll() is None:
            stopped = True
            os.killpg(process.pid, signal.SIGTERM)
        process.wait()
    if not stopped and process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode})")
