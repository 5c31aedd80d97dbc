"""A study's results: the trials' table (the lecture's, for a grid), the best trial's test/nll, and its command."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from makemore_pl.data.files import write_atomic
from makemore_pl.tune.objective import MONITOR, Objective, Search


def report(
    study: optuna.Study,
    search: Search,
    objective: Objective,
    log_folder: Path,
    where: str,
    reproduce: Callable[[dict[str, Any]], str],
) -> str:
    """Print the trials' table, the best trial's test/nll and its command (``reproduce(params)``); save them."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    front = _best_trials(study)
    lines = [f"study {study.study_name!r} in {where}: {len(trials)} trials", "", *_trials_table(trials, search, front)]
    best = min(front, key=lambda t: t.user_attrs.get(MONITOR, math.inf), default=None)
    test_nll = None
    if best is None:
        lines.append("\nno trial has finished yet")
    else:
        test_nll = _test(best, objective)
        what = "the Pareto front (marked **)" if len(search.objectives) > 1 else "the best trial"
        test = (
            f"test/nll {test_nll:.4f}" if test_nll is not None else "test/nll not measured: its checkpoint is not here"
        )
        lines += [
            "",
            f"{what}: trial {best.number}, val/nll {best.user_attrs[MONITOR]:.4f}, {test}",
            f"its run: {best.user_attrs['log_dir']}",
            "reproduce it with:",
            f"  {reproduce(best.params)}",
        ]
    text = "\n".join(lines) + "\n"
    write_atomic(log_folder / f"{study.study_name}.trials.md", text.encode())
    if search.grid:
        text = _lecture_table(trials, search, best, test_nll)
        write_atomic(log_folder / f"tune_{search.option}.md", text.encode())
        suffix = (
            f"best {search.option} = {best.params[next(iter(search.space))]:g} by val/nll"
            if best
            else "no trial finished"
        )
        print(text)
        print(f"makemore-pl tune: {suffix}; table saved to {log_folder}/tune_{search.option}.md", file=sys.stderr)
    else:
        print(text)
    return text


def _best_trials(study: optuna.Study) -> list[FrozenTrial]:
    if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        return []
    return study.best_trials if len(study.directions) > 1 else [study.best_trial]


def _trials_table(trials: Sequence[FrozenTrial], search: Search, front: list[FrozenTrial]) -> list[str]:
    columns = [*search.space, MONITOR, *[o for o in search.objectives if o != MONITOR], "steps", "state"]
    lines = ["| trial | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    best = {t.number for t in front}
    for t in trials:
        mark = "**" if t.number in best else ""
        cells = [_cell(t.params.get(option)) for option in search.space]
        cells += [_cell(t.user_attrs.get(o)) for o in columns[len(search.space) : -2]]
        cells += [_cell(t.user_attrs.get("steps")), t.state.name]
        lines.append(f"| {mark}{t.number}{mark} | " + " | ".join(cells) + " |")
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 or not math.isfinite(value) else f"{value:.3g}"
    return str(value)


def _lecture_table(
    trials: Sequence[FrozenTrial], search: Search, best: FrozenTrial | None, test_nll: float | None
) -> str:
    """Exercise E03's table: one row per value of the grid, in the order given, the best in bold with its test/nll."""
    ((key, distribution),) = search.space.items()
    lines = [f"| {search.option} | train/nll | val/nll | test/nll |", "|---|---|---|---|"]
    for value in distribution.choices:
        run = next((t for t in trials if t.state == TrialState.COMPLETE and t.params.get(key) == value), None)
        if run is None:
            lines.append(f"| {value:g} | - | - | - |")
            continue
        mark, test = (
            ("**", "-" if test_nll is None else f"{test_nll:.4f}")
            if best is not None and run.number == best.number
            else ("", "")
        )
        train = run.user_attrs.get("train/nll")
        train = "-" if train is None else f"{train:.4f}"
        lines.append(f"| {mark}{value:g}{mark} | {train} | {run.user_attrs[MONITOR]:.4f} | {test} |")
    return "\n".join(lines) + "\n"


def _test(trial: FrozenTrial, objective: Objective) -> float | None:
    """The trial's test/nll, from its checkpoint, logged into its own run folder; None if the file is elsewhere."""
    ckpt = trial.user_attrs.get("ckpt_path")
    if ckpt is None or not Path(ckpt).is_file():  # a fresh model would be tested instead of the trial's
        return None
    cli = objective.make_cli(objective.trial_args(trial.number, trial.params))
    results = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt, verbose=False)
    return float(results[0]["test/nll"])
