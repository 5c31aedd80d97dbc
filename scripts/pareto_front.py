"""Draw a two-objective makemore-pl tune study as a PNG (docs/transformer_start.png): its Pareto front and curves.

    python scripts/pareto_front.py lightning_logs/transformer_start/study.log --study start --seconds \
        --runs lightning_logs/transformer_start/transformer/start --out docs/transformer_start.png

The storage is what ``--tune.storage`` named: a journal file ending in ``.log``, or an Optuna URL.
Left: each finished trial is a point of its two objectives; the front (``study.best_trials``) is
joined by a line; a trial that never reached the target (an objective of infinity) sits on the far
edge of that axis. Right: every trial's ``val/nll`` against its steps (``--seconds``: its seconds),
read from its run folder (``--runs``), with the target and ``--budget``, what a goal allows, as lines.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: a file
import matplotlib.pyplot as plt
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def load(storage: str, name: str) -> optuna.Study:
    if storage.endswith(".log"):
        return optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(storage)))
    return optuna.load_study(study_name=name, storage=storage)


def curve(run: Path, seconds: bool = False) -> list[tuple[float, float]]:
    """A run's ``val/nll`` as (step, value), or (seconds since its first event, value), over all its event files."""
    points, start = [], math.inf
    for events in run.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), {"scalars": 0})
        accumulator.Reload()
        tags = accumulator.Tags()["scalars"]
        start = min([start] + [e.wall_time for tag in tags for e in accumulator.Scalars(tag)])
        if "val/nll" in tags:
            points += [(e.wall_time if seconds else e.step, e.value) for e in accumulator.Scalars("val/nll")]
    return sorted((x - start if seconds else x, y) for x, y in points)


def describe(trial: optuna.trial.FrozenTrial) -> str:
    """A trial's number and values, each option by its last name: "3: max_lr 0.0034, dropout 0"."""
    values = ", ".join(f"{key.rsplit('.', 1)[-1]} {value:.3g}" for key, value in trial.params.items())
    return f"{trial.number}: {values}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("storage")
    parser.add_argument("--study", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/transformer_start.png"))
    parser.add_argument("--labels", nargs=2, default=["steps to val/nll 2.00", "seconds to val/nll 2.00"])
    parser.add_argument("--runs", type=Path, help="the study's trial folders' parent, for the curves")
    parser.add_argument("--target", type=float, default=2.0)
    parser.add_argument("--budget", type=float, help="the steps (or seconds) that the goal allows, drawn as a line")
    parser.add_argument("--seconds", action="store_true", help="draw the curves against seconds, not steps")
    args = parser.parse_args()
    study = load(args.storage, args.study)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    front = sorted(study.best_trials, key=lambda t: t.values[0])
    # A trial that never reached the target (infinity) sits on the far edge of that objective's axis.
    edges = [max((t.values[i] for t in done if math.isfinite(t.values[i])), default=1.0) * 1.1 for i in (0, 1)]
    fig, (ax, curves) = plt.subplots(1, 2, figsize=(12, 4.5))
    for t in done:
        x, y = (v if math.isfinite(v) else edge for v, edge in zip(t.values, edges))
        reached = all(math.isfinite(v) for v in t.values)
        ax.scatter(x, y, color="tab:blue" if reached else "tab:gray")
        ax.annotate(describe(t), (x, y), fontsize=6)
    if front:
        ax.plot([t.values[0] for t in front], [t.values[1] for t in front], color="tab:red", label="Pareto front")
        ax.legend(loc="lower right")
    ax.set_xlabel(args.labels[0])
    ax.set_ylabel(args.labels[1])
    ax.set_xlim(right=edges[0] * 1.05)
    ax.set_title(f"study '{args.study}': {len(done)} finished trials")
    for t in study.trials if args.runs else []:
        points = curve(args.runs / f"trial_{t.number}", args.seconds)
        if points:
            curves.plot(*zip(*points), marker=".", label=describe(t))
    curves.axhline(args.target, color="black", linewidth=0.8)
    if args.budget:
        unit = "s" if args.seconds else "steps"
        curves.axvline(args.budget, color="tab:red", linewidth=0.8, linestyle="--", label=f"{args.budget:,g} {unit}")
    curves.set_xlabel("seconds since the run's first event" if args.seconds else "step")
    curves.set_ylabel("val/nll")
    curves.legend(fontsize=6)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"{args.out}: {len(done)} trials, {len(front)} on the front")


if __name__ == "__main__":
    main()
