"""karpathy/makemore's makemore.py, run side by side: its own models, stepped by its own training loop.

The script is copied at run time from the file that the environment variable ``MAKEMORE_PY`` names
(a copy kept outside the repository) into a temporary folder; nothing of it is kept. Without it,
the comparisons with makemore.py are skipped, and the tables say so in one line.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from common import NAMES, timed_lines

from makemore_pl.models import GRU, LSTM, RNN, BoW, NetworkModel, Transformer

# The environment variable that names the user's copy of karpathy/makemore's makemore.py.
MAKEMORE_PY = "MAKEMORE_PY"

# What its loop prints: every 10 steps, and after each evaluation (every 500 steps).
STEP = re.compile(r"^step (\d+) \| loss ")
EVALUATION = re.compile(r"^step (\d+) train loss: (\S+) test loss: (\S+)")


def fetch_makemore(workdir: Path) -> tuple[Path | None, str]:
    """makemore.py copied into ``workdir`` from ``$MAKEMORE_PY``, and where it came from; None, and why, without it."""
    given = os.environ.get(MAKEMORE_PY)
    if not given:
        return None, f"skipped: set {MAKEMORE_PY} to a copy of karpathy/makemore's makemore.py"
    if not Path(given).is_file():
        return None, f"skipped: {MAKEMORE_PY}={given} is no file"
    script = workdir / "makemore.py"
    shutil.copyfile(given, script)
    return script, f"copied from {given} ({MAKEMORE_PY})"


def twin(model: NetworkModel) -> list[str] | None:
    """makemore.py's arguments for its model of the same kind and size as ``model``; None where it has none.

    makemore.py has no LSTM: an LSTM is compared with its GRU of the same sizes. Its RNN and GRU
    have one layer, and its MLP reads the whole word's length of characters, not a few.
    """
    if isinstance(model, Transformer):
        return ["--type", "transformer", "--n-layer", str(model.layers), "--n-head", str(model.heads),
                "--n-embd", str(model.width)]  # fmt: skip
    if isinstance(model, BoW):
        return ["--type", "bow", "--n-embd", str(model.width), "--n-embd2", str(model.hidden)]
    if isinstance(model, (RNN, GRU, LSTM)) and model.layers == 1:
        kind = "rnn" if type(model) is RNN else "gru"
        return ["--type", kind, "--n-embd", str(model.embedding), "--n-embd2", str(model.hidden)]
    return None


@dataclass
class Run:
    """What one run of makemore.py printed, each line with the seconds since its launch."""

    steps: list[tuple[float, int]]
    evaluations: list[tuple[float, int, float]]  # seconds, step, test loss
    seconds: float


def run_makemore(
    script: Path, workdir: Path, args: list[str], device: str, cap: float, stop_below: float | None = None
) -> Run:
    """Run makemore.py with ``args`` until it ends, ``cap`` seconds pass, or its test loss reaches ``stop_below``."""
    command = [sys.executable, "-u", str(script), "--input-file", str(NAMES), "--work-dir", str(workdir / "out"),
               "--device", device, *args]  # fmt: skip
    run = Run([], [], 0.0)
    start = time.perf_counter()
    with closing(timed_lines(command, workdir)) as lines:
        for now, line in lines:
            if match := STEP.match(line):
                run.steps.append((now, int(match[1])))
            elif match := EVALUATION.match(line):
                run.evaluations.append((now, int(match[1]), float(match[3])))
                if stop_below is not None and float(match[3]) <= stop_below:
                    break
            if now > cap:
                break
    run.seconds = time.perf_counter() - start
    return run


def words_per_second(run: Run, batch_size: int, warmup: int) -> float | None:
    """Words per second of its loop, from the times its step lines arrived after ``warmup`` steps."""
    steady = [(t, step) for t, step in run.steps if step >= warmup]
    if len(steady) < 2:
        return None
    (t0, s0), (t1, s1) = steady[0], steady[-1]
    return (s1 - s0) * batch_size / (t1 - t0)
