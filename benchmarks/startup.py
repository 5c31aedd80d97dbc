"""F4, start-up: what a whole `makemore-pl fit` command costs beyond its training loop, against `import lightning`.

    python benchmarks/startup.py           # F4 alone, as `make bench` measures it (about 5 minutes)

Each config runs a few steps as the user's command, with ``clocks.TrainClock`` added: it prints
how long the training loop took, and everything else the command did (imports, reading and
encoding the words, building the model, the sanity check, the Dashboard's first pictures,
the last checkpoint) is its start-up.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from common import fit_command, names_configs, wall, with_clocks_importable

LOOP = re.compile(r"bench: training loop (\S+) s")


@dataclass
class Startup:
    config: str
    command: float
    training: float

    @property
    def startup(self) -> float:
        return self.command - self.training


def import_lightning(repeats: int) -> float:
    """A bare `python -c "import lightning"`: the fastest of ``repeats``, as for the commands."""
    return min(wall([sys.executable, "-c", "import lightning"])[0] for _ in range(repeats))


def startup(config: Path, workdir: Path, steps: int, repeats: int, *args: str) -> Startup:
    """The whole command's wall time and its training loop's, from the run whose start-up was shortest."""
    command = fit_command(config, workdir, "--trainer.max_steps", str(steps),
                          "--trainer.callbacks+=clocks.TrainClock", *args)  # fmt: skip
    runs = []
    for _ in range(repeats):
        seconds, stderr = wall(command, env=with_clocks_importable())
        runs.append(Startup(config.stem, seconds, float(LOOP.search(stderr)[1])))
    return min(runs, key=lambda r: r.startup)


def table(runs: list[Startup], imported: float) -> list[str]:
    lines = [
        "| config | whole command | its training loop | start-up (the rest) | start-up / `import lightning` |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(
            f"| {r.config} | {r.command:.2f} s | {r.training:.2f} s | {r.startup:.2f} s | {r.startup / imported:.2f}x |"
        )
    return lines


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="training steps of each command")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each config; the shortest start-up counts")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        starts = [startup(c, Path(tmp), options.steps, options.repeats) for c in names_configs()]
        imported = import_lightning(3)
    slowest = max(starts, key=lambda s: s.startup)
    print(
        f"F4: the slowest start-up ({slowest.config}) {slowest.startup:.2f} s, {slowest.startup / imported:.2f}x "
        f"`import lightning` ({imported:.2f} s); goal <= 1.5x\n"
    )
    print("\n".join(table(starts, imported)))
