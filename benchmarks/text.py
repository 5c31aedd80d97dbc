"""Running text side by side with nanoGPT on tinyshakespeare (issue 22, section 5): T1, T2 and T3.

nanoGPT (karpathy/nanoGPT, MIT) runs as it is, with its README's CPU command line, from a temporary
folder into which ``train.py``, ``model.py``, ``configurator.py`` and its shakespeare_char config are
copied from the clone that ``NANOGPT_DIR`` names (keep it outside the repository). Its data files
(``train.bin``, ``val.bin``, ``meta.pkl``: the sorted characters, uint16 ids, the first 90% to train)
are written here in its format, since its ``prepare.py`` downloads. Without ``NANOGPT_DIR`` the
comparisons are skipped with one line, and makemore-pl's own figures are still measured.

- **T1, the same model**: training characters per second of ``configs/text/nanogpt_cpu.yaml`` (nanoGPT's
  CPU architecture and batch) against nanoGPT's, both from the times of steps 10 to 240 (no evaluation
  falls between them), both the whole user command.
- **T2, time to nanoGPT's result**: seconds from launch until ``configs/text/fast_cpu.yaml``'s exact
  ``val/nll`` first reaches the best val loss that nanoGPT's command printed in the same run, against
  nanoGPT's own seconds from launch to that print.
- **T3, quality within a budget**: the curve (step, seconds from launch, exact ``val/nll``) of
  ``fast_cpu.yaml`` and, with ``--long``, ``long_cpu.yaml``, against ``xz -9e``'s code length of the
  validation text given the training text (Python's lzma, preset 9 with PRESET_EXTREME).

Two kinds of validation loss appear: makemore-pl's exact ``val/nll`` (every held-out character once)
and nanoGPT's estimate (the mean loss of ``eval_iters`` random batches). For the best checkpoint of
each makemore-pl run, the estimate is computed as nanoGPT computes it, so the two can be read together.

    NANOGPT_DIR=/tmp/nanoGPT python benchmarks/text.py [--long] [--out lightning_logs/text_bench.md]
    python benchmarks/text.py --quick      # seconds: the code runs, its figures mean nothing
"""

from __future__ import annotations

import argparse
import lzma
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import CONFIGS, MAKEMORE_PL, REPO, fit_logged, ratio, timed_lines

import makemore_pl

NANOGPT_DIR = "NANOGPT_DIR"
SHAKESPEARE = Path("/work/shared/data/tinyshakespeare.txt")
TEXT_CONFIGS = CONFIGS / "text"
# nanoGPT's README CPU command, after its config file.
README_CPU = ["--device=cpu", "--compile=False", "--eval_iters=20", "--log_interval=1", "--block_size=64",
              "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128", "--max_iters=2000",
              "--lr_decay_iters=2000", "--dropout=0.0"]  # fmt: skip
EVAL = re.compile(r"^step (\d+): train loss (\S+), val loss (\S+)")
ITER = re.compile(r"^iter (\d+): loss ")
CLOCKED = (10, 240)  # steps between which characters per second are read: no evaluation falls between


@dataclass
class Curve:
    """A run's validation losses, each with its step and seconds from launch; its clocked steps; its length."""

    points: list[tuple[int, float, float]] = field(default_factory=list)  # step, seconds, loss
    steps: dict[int, float] = field(default_factory=dict)  # step -> seconds
    seconds: float = 0.0
    best_checkpoint: Path | None = None

    @property
    def best(self) -> tuple[int, float, float]:
        return min(self.points, key=lambda point: point[2])

    def first_at_or_below(self, target: float) -> tuple[int, float, float] | None:
        return next((point for point in self.points if point[2] <= target), None)

    def characters_per_second(self, characters_per_step: int) -> float | None:
        clocked = [step for step in sorted(self.steps) if CLOCKED[0] <= step <= CLOCKED[1]]
        if len(clocked) < 2:
            return None
        first, last = clocked[0], clocked[-1]
        return (last - first) * characters_per_step / (self.steps[last] - self.steps[first])


def nanogpt_folder(workdir: Path, text: Path) -> tuple[Path | None, str]:
    """A runnable copy of nanoGPT's training files with the text in its format; None, and why, without it."""
    given = os.environ.get(NANOGPT_DIR)
    if not given:
        return None, f"skipped: set {NANOGPT_DIR} to a clone of karpathy/nanoGPT"
    source, folder = Path(given), workdir / "nanogpt"
    needed = ["train.py", "model.py", "configurator.py", "config/train_shakespeare_char.py"]
    if missing := [name for name in needed if not (source / name).is_file()]:
        return None, f"skipped: {NANOGPT_DIR}={given} has no {missing[0]}"
    for name in needed:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, folder / name)
    data = folder / "data" / "shakespeare_char"
    data.mkdir(parents=True)
    characters = text.read_text(encoding="utf-8")
    itos = sorted(set(characters))
    stoi = {c: i for i, c in enumerate(itos)}
    ids = np.array([stoi[c] for c in characters], dtype=np.uint16)
    cut = int(len(ids) * 0.9)
    ids[:cut].tofile(data / "train.bin")
    ids[cut:].tofile(data / "val.bin")
    with open(data / "meta.pkl", "wb") as meta:
        pickle.dump({"vocab_size": len(itos), "itos": dict(enumerate(itos)), "stoi": stoi}, meta)
    return folder, f"copied from {given} ({NANOGPT_DIR})"


def run_nanogpt(folder: Path, args: list[str]) -> Curve:
    """nanoGPT's train.py with ``args``, each printed evaluation and step timed from launch."""
    command = [sys.executable, "-u", "train.py", "config/train_shakespeare_char.py", *args, "--out_dir=out"]
    curve, start = Curve(), time.perf_counter()
    try:
        for now, line in timed_lines(command, folder, stderr=subprocess.STDOUT):
            if match := EVAL.match(line):
                curve.points.append((int(match[1]), now, float(match[3])))
            elif match := ITER.match(line):
                curve.steps[int(match[1])] = now
    finally:
        curve.seconds = time.perf_counter() - start
    return curve


def run_makemore_pl(config: Path, workdir: Path, text: Path, *args: str) -> Curve:
    """`makemore-pl fit --config config` on ``text``: its exact val/nll and its steps, timed from launch."""
    logs = workdir / config.stem
    quiet = ["--trainer.logger.init_args.save_dir", str(logs), "--trainer.enable_progress_bar=false"]
    fit = fit_logged([MAKEMORE_PL, "fit", "--config", str(config), "--data.path", str(text), *quiet, *args], logs)
    curve = Curve(seconds=fit.seconds)
    curve.points = [(e.step, e.wall_time - fit.start, e.value) for e in fit.scalars("val/nll")]
    curve.steps = {e.step: e.wall_time - fit.start for e in fit.scalars("train/nll")}
    curve.best_checkpoint = next(fit.version.glob("checkpoints/best-*.ckpt"), None)
    return curve


@torch.no_grad()
def nanogpt_estimate(checkpoint: Path, text: Path, batches: int = 200, batch_size: int = 12) -> float:
    """nanoGPT's kind of val loss for a makemore-pl checkpoint: the mean loss of random validation batches."""
    model = makemore_pl.load(checkpoint)
    characters = text.read_text(encoding="utf-8")
    val = torch.tensor(model.vocabulary.encode(characters[int(len(characters) * 0.9) :]))
    width = model.block_size
    generator = torch.Generator().manual_seed(1337)
    losses = []
    for _ in range(batches):
        starts = torch.randint(len(val) - width, (batch_size,), generator=generator)
        x = torch.stack([val[i : i + width] for i in starts])
        y = torch.stack([val[i + 1 : i + 1 + width] for i in starts])
        losses.append(F.cross_entropy(model.logits(x).flatten(0, 1).float(), y.flatten()).item())
    return sum(losses) / len(losses)


def xz_nats_per_character(text: Path) -> float:
    """``xz -9e``'s cost of the validation text given the training text, in nats per character."""
    characters = text.read_text(encoding="utf-8")
    cut = int(len(characters) * 0.9)
    preset = 9 | lzma.PRESET_EXTREME
    given = len(lzma.compress(characters[:cut].encode(), preset=preset))
    both = len(lzma.compress(characters.encode(), preset=preset))
    return (both - given) * 8 * math.log(2) / (len(characters) - cut)


GOALS = {"fast_cpu.yaml": "<= 1.60 (about 5 min)", "long_cpu.yaml": "<= 1.50 (about 30 min)"}


def row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def curve_table(name: str, curve: Curve) -> list[str]:
    rows = [f"\n{name} ({curve.seconds:.0f} s in all)\n", row("step", "seconds from launch", "val", "bits/char")]
    rows.append(row("---", "---", "---", "---"))
    for step, seconds, loss in curve.points:
        rows.append(row(f"{step:,}", f"{seconds:.1f}", f"{loss:.4f}", f"{loss / math.log(2):.4f}"))
    return rows


def report(nano: Curve | None, runs: dict[str, Curve], estimates: dict[str, float], xz: float) -> list[str]:
    """The table of T1 to T3, then every run's curve."""
    lines = [row("#", "figure", "makemore-pl", "nanoGPT, same run", "ratio", "goal"), row(*["---"] * 6)]
    same, fast = runs["nanogpt_cpu.yaml"], runs["fast_cpu.yaml"]
    ours_rate = same.characters_per_second(12 * 64)
    nano_rate = nano.characters_per_second(12 * 64) if nano else None
    figure = f"training characters/s, nanoGPT's CPU model and batch (steps {CLOCKED[0]} to {CLOCKED[1]})"
    rate = f"{nano_rate:,.0f}" if nano_rate else "-"
    lines.append(row("T1", figure, f"{ours_rate:,.0f}", rate, ratio(ours_rate, nano_rate), ">= 1.0x"))
    if nano:
        step, seconds, target = nano.best
        figure = "best val of the same model and recipe: exact val/nll (nanoGPT's estimate of it)"
        ours = f"{same.best[2]:.4f} ({estimates['nanogpt_cpu.yaml']:.4f}) at {same.best[1]:.0f} s"
        lines.append(row("T1", figure, ours, f"{target:.4f} (its estimate) at {seconds:.0f} s", "", ""))
        reached = fast.first_at_or_below(target)
        ours = f"{reached[1]:.1f} s (step {reached[0]:,}, {reached[2]:.4f})" if reached else "not reached"
        figure = f"seconds from launch to val {target:.4f} (nanoGPT's best), fast_cpu.yaml"
        took = ratio(reached[1] if reached else None, seconds)
        lines.append(row("T2", figure, ours, f"{seconds:.1f} s (step {step:,})", took, "<= 0.5x"))
    for name, curve in runs.items():
        step, seconds, loss = curve.best
        figure = f"best exact val/nll, {name} (nanoGPT's estimate of it)"
        ours = f"{loss:.4f} ({estimates[name]:.4f}) at step {step:,}, {seconds:.0f} s"
        lines.append(row("T3", figure, ours, f"xz -9e: {xz:.4f}", "", GOALS.get(name, "")))
    if nano:
        lines += curve_table("nanoGPT's README CPU command (val: its 20-batch estimate)", nano)
    for name, curve in runs.items():
        lines += curve_table(f"makemore-pl fit --config configs/text/{name} (val: exact val/nll)", curve)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--long", action="store_true", help="also T3's longer config (about 30 minutes)")
    parser.add_argument("--quick", action="store_true", help="tiny budgets: the code runs, the figures mean nothing")
    parser.add_argument("--text", type=Path, default=REPO / "data" / "tinyshakespeare.txt")
    parser.add_argument("--out", type=Path, default=REPO / "lightning_logs" / "text_bench.md")
    options = parser.parse_args()
    text = options.text if options.text.is_file() else SHAKESPEARE
    # --quick: a few steps of each, so that the benchmark never rots; CLOCKED still falls inside them.
    nano_args = README_CPU + (["--max_iters=260", "--eval_interval=130"] if options.quick else [])
    # (every held-out character still: val/nll is the whole split's sum over its length)
    ours_args = ["--trainer.max_steps=260", "--trainer.val_check_interval=130"] if options.quick else []
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        folder, provenance = nanogpt_folder(workdir, text)
        print(f"nanoGPT: {provenance}", flush=True)
        nano = run_nanogpt(folder, nano_args) if folder else None
        names = ["nanogpt_cpu.yaml", "fast_cpu.yaml"] + (["long_cpu.yaml"] if options.long else [])
        runs = {name: run_makemore_pl(TEXT_CONFIGS / name, workdir, text, *ours_args) for name in names}
        estimates = {name: nanogpt_estimate(curve.best_checkpoint, text) for name, curve in runs.items()}
    xz = xz_nats_per_character(text)
    title = f"# Running text against nanoGPT ({time.strftime('%Y-%m-%d %H:%M')}, torch {torch.__version__})"
    lines = [title, f"\nnanoGPT: {provenance}; xz -9e: {xz:.4f} nats/char ({xz / math.log(2):.4f} bits)\n"]
    text_report = "\n".join(lines + report(nano, runs, estimates, xz)) + "\n"
    print(text_report)
    options.out.parent.mkdir(parents=True, exist_ok=True)
    options.out.write_text(text_report, encoding="utf-8")


if __name__ == "__main__":
    main()
