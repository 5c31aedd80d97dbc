"""Draw a two-objective makemore-pl-tune study as a PNG (docs/transformer_start.png): its Pareto front and curves.

    python scripts/pareto_front.py lightning_logs/transformer_start/study.log --study start2 \
        --runs lightning_logs/transformer_start/transformer/start2 --out docs/transformer_start.png

The storage is what ``--tune.storage`` named: a journal file ending in ``.log``, or an Optuna URL.
Left: each finished trial is a point of its two objectives; the front (``study.best_trials``) is
joined by a line; a trial that never reached the target (an objective of infinity) sits on the top
edge. Right: every trial's ``val/nll`` against its steps, read from its run folder (``--runs``), with
the target and ``--budget``, the steps that a goal allows, as lines.
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


def curve(run: Path) -> list[tuple[int, float]]:
    """A run's ``val/nll`` as (step, value), over all its event files."""
    points = []
    for events in run.glob("events.out.tfevents.*"):
        accumulator = EventAccumulator(str(events), {"scalars": 0})
        accumulator.Reload()
        if "val/nll" in accumulator.Tags()["scalars"]:
            points += [(e.step, e.value) for e in accumulator.Scalars("val/nll")]
    return sorted(points)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("storage")
    parser.add_argument("--study", required=True)
    parser.add_argument("--out", type=Path, default=Path("docs/transformer_start.png"))
    parser.add_argument("--labels", nargs=2, default=["steps to val/nll 2.00", "seconds to val/nll 2.00"])
    parser.add_argument("--runs", type=Path, help="the study's trial folders' parent, for the curves")
    parser.add_argument("--target", type=float, default=2.0)
    parser.add_argument("--budget", type=int, help="the steps that the goal allows, drawn as a line")
    args = parser.parse_args()
    study = load(args.storage, args.study)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    reached = [t for t in done if all(math.isfinite(v) for v in t.values)]
    front = sorted(study.best_trials, key=lambda t: t.values[0])
    top = max((t.values[1] for t in reached), default=1.0) * 1.1
    fig, (ax, curves) = plt.subplots(1, 2, figsize=(12, 4.5))
    for t in done:
        x, y = t.values
        finite = math.isfinite(x) and math.isfinite(y)
        ax.scatter(x if math.isfinite(x) else 0, y if finite else top, color="tab:blue" if finite else "tab:gray")
        params = ", ".join(f"{key.rsplit('.', 1)[-1]} {value:.3g}" for key, value in t.params.items())
        ax.annotate(f"{t.number}: {params}", (x if math.isfinite(x) else 0, y if finite else top), fontsize=6)
    if front:
        ax.plot([t.values[0] for t in front], [t.values[1] for t in front], color="tab:red", label="Pareto front")
        ax.legend(loc="lower right")
    ax.set_xlabel(args.labels[0])
    ax.set_ylabel(args.labels[1] + " (top edge: not reached)")
    ax.set_title(f"study '{args.study}': {len(done)} finished trials")
    for t in study.trials if args.runs else []:
        points = curve(args.runs / f"trial_{t.number}")
        if points:
            params = ", ".join(f"{key.rsplit('.', 1)[-1]} {value:.3g}" for key, value in t.params.items())
            curves.plot(*zip(*points), marker=".", label=f"{t.number}: {params}")
    curves.axhline(args.target, color="black", linewidth=0.8)
    if args.budget:
        curves.axvline(args.budget, color="tab:red", linewidth=0.8, linestyle="--", label=f"{args.budget:,} steps")
    curves.set_xlabel("step")
    curves.set_ylabel("val/nll")
    curves.legend(fontsize=6)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"{args.out}: {len(done)} trials, {len(front)} on the front")


if __name__ == "__main__":
    main()
