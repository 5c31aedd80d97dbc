"""Scoring against training: words per second for every model, side by side in one run (goal: scoring >= 3x).

    python benchmarks/score.py            # every shipped config but the lecture's, on data/names.txt
    python benchmarks/score.py --quick    # two configs, tiny budgets: seconds (`make bench QUICK=--quick` runs it)
    python benchmarks/score.py --threads 1    # on a shared machine (see --help)

Training is the shipped config inside ``Trainer.fit`` (its model's training step, backward and
optimizer step, at the config's batch size, on the training split), timed in steady state as the
series' throughput is (``series.fit_rate``). Scoring is ``score_words`` on the same training
words with the model that fit left, in the same process, right after it; each keeps its best of
the rounds (noise only slows).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from common import NAMES, names_configs, quiet
from series import Budget, fit_rate

from makemore_pl.scoring.words import score_words

QUICK_CONFIGS = ("trigram", "gru")
GOAL = 3.0


def configs(quick: bool) -> list[Path]:
    """One config per model: every shipped one but the lecture's (the bigram's and counts' again)."""
    found = [c for c in names_configs() if not c.stem.startswith("lecture")]
    return [c for c in found if not quick or c.stem in QUICK_CONFIGS]


def scoring_rate(model, words: list[str], repeats: int) -> float:
    """Words scored per second: the best of ``repeats`` passes over ``words``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        score_words(model, words)
        best = min(best, time.perf_counter() - start)
    return len(words) / best


def measure(config: Path, workdir: Path, budget: Budget, words: int, repeats: int) -> dict:
    train_rates, score_rates = [], []
    for _ in range(budget.rounds):
        # Any number of epochs: the budget of steady seconds stops the fit (a counting model counts
        # afresh every epoch, and a full-batch model steps once per epoch). No validation, so
        # EarlyStopping, which watches val/nll, must not check at each epoch's end either.
        epochs = ("--trainer.max_epochs", "100000", "--trainer.check_val_every_n_epoch", "100000")
        fit = fit_rate(config, workdir, budget, *epochs)
        train_rates.append(fit.rate)
        model, train = fit.cli.model, fit.cli.datamodule.splits["train"]
        score_rates.append(scoring_rate(model, train[:words], repeats))
    data = fit.cli.datamodule
    return {
        "config": config.stem,
        "model": type(fit.cli.model).__name__,
        "batch": "full" if data.batch_size is None else str(data.batch_size),
        "train": max(train_rates),
        "score": max(score_rates),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two configs, tiny budgets: seconds")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch's CPU threads (default: torch's own). 1 on a machine shared with other work: threads that "
        "wait for each other at every op's end, on cores others hold, slow small ops far more than large ones",
    )
    args = parser.parse_args()
    quiet()
    if args.threads:
        torch.set_num_threads(args.threads)
    budget = Budget(
        warmup=2 if args.quick else 10,
        seconds=0.3 if args.quick else 3.0,
        rounds=1 if args.quick else 2,
        makemore_steps=0,
        trainer_args=["--trainer.accelerator", "cpu", "--trainer.devices", "1"],
    )
    words, repeats = (2000, 1) if args.quick else (5000, 2)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(config, Path(tmp), budget, words, repeats) for config in configs(args.quick)]
    print(f"## Scoring against training, words per second{' (quick mode: not for quoting)' if args.quick else ''}\n")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"lightning {L.__version__}; CPU, {torch.get_num_threads()} threads; "
        f"{words:,} training words of {NAMES.name} scored per pass\n"
    )
    print("| config | model | training batch | training words/s | scoring words/s | scoring / training | goal |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = r["score"] / r["train"]
        mark = "met" if ratio >= GOAL else "missed"
        print(
            f"| {r['config']} | {r['model']} | {r['batch']} | {r['train']:,.0f} | {r['score']:,.0f} | "
            f"{ratio:.2f}x | >= {GOAL:g}x, {mark} |"
        )
    print(f"\nThe benchmark took {(time.perf_counter() - started) / 60:.1f} minutes.")


if __name__ == "__main__":
    main()
