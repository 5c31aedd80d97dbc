"""What pruning saves: the same study of configs/mlp.yaml on names.txt, with and without MedianPruner, side by side.

Both studies draw their trials with the same seeded TPE sampler over the same space, for the
same number of trials, at a reduced size (6 epochs of 40 batches each, validated on the whole
split). Pruning changes what TPE learns from, so after the first pruned trial the two studies
draw different points: the figure is what a user gets, the whole command's wall and CPU time and
the training steps, against the best val/nll reached.

    python benchmarks/pruning.py                 # 8 trials of 6 epochs x 40 batches (docs/tuning.md)
    python benchmarks/pruning.py --trials 4 --epochs 2 --batches 10
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import optuna
from common import CONFIGS, NAMES, wall

TUNE = str(Path(sys.executable).parent / "makemore-pl-tune")
SPACE = (
    "{model.lr_scheduler.init_args.max_lr: {low: 0.001, high: 0.3, log: true}, model.hidden: [50, 100, 200], "
    "data.batch_size: [256, 1024]}"
)
PRUNERS = {
    "no pruning": ["--tune.pruner", "optuna.pruners.NopPruner"],
    "MedianPruner": ["--tune.pruner", "optuna.pruners.MedianPruner", "--tune.pruner.init_args.n_startup_trials", "3",
                     "--tune.pruner.init_args.n_warmup_steps", "1"],
}  # fmt: skip


def study(
    workdir: Path, name: str, trials: int, epochs: int, batches: int, pruner: list[str]
) -> tuple[float, float, optuna.Study]:
    command = [
        TUNE, "--config", str(CONFIGS / "mlp.yaml"), "--data.path", str(NAMES),
        "--trainer.logger.init_args.save_dir", str(workdir), "--trainer.max_epochs", str(epochs),
        "--trainer.limit_train_batches", str(batches),
        "--trainer.enable_progress_bar", "false", "--trainer.enable_model_summary", "false",
        "--tune.space", SPACE, "--tune.trials", str(trials), "--tune.seed", "0", "--tune.study", name, *pruner,
    ]  # fmt: skip
    cpu = _children_cpu()
    seconds, _ = wall(command)
    cpu = _children_cpu() - cpu  # less sensitive than the wall time to other work on the machine
    return seconds, cpu, optuna.load_study(study_name=name, storage=f"sqlite:///{workdir / 'mlp' / 'study.db'}")


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--batches", type=int, default=40, help="training batches per epoch")
    options = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| study | wall time | CPU time | training steps | trials pruned | best val/nll |\n|---|---|---|---|---|---|")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        for label, pruner in PRUNERS.items():
            seconds, cpu, done = study(
                Path(workdir), label.replace(" ", "_"), options.trials, options.epochs, options.batches, pruner
            )
            steps = sum(t.user_attrs.get("steps", 0) for t in done.trials)
            pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in done.trials)
            results[label] = seconds, cpu, steps
            print(
                f"| {label} | {seconds:.0f} s | {cpu:.0f} s | {steps:,} | {pruned} of {len(done.trials)} "
                f"| {done.best_value:.4f} |"
            )
    (base_s, base_cpu, base_steps), (pruned_s, pruned_cpu, pruned_steps) = results.values()
    print(
        f"\npruning: {pruned_s / base_s:.2f}x the wall time, {pruned_cpu / base_cpu:.2f}x the CPU time, "
        f"{pruned_steps / base_steps:.2f}x the training steps"
    )


if __name__ == "__main__":
    main()
