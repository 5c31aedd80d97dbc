"""`makemore-pl tune`: search `makemore-pl fit`'s options with Optuna, from one process to many machines.

Each trial is one `makemore-pl fit` with the command's options plus the trial's values, in a
version folder of its own (``<log folder>/<study>/trial_<N>``). What to search, the study and its
storage, a trial and the report live in makemore_pl.tune; docs/tuning.md says how to use them.
"""

from __future__ import annotations

import sys
import warnings
from functools import partial
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import ArgsType, LightningArgumentParser

from makemore_pl.cli.arguments import fit_command
from makemore_pl.cli.trainer import MakemoreCLI, exit_on_usage_error, run_cli
from makemore_pl.tune import search_space, studies
from makemore_pl.tune.objective import MONITOR, Objective, Search, TrialFailed
from makemore_pl.tune.report import report

try:
    import optuna
except ImportError as missing:  # an optional extra: one line, not a traceback
    raise SystemExit("makemore-pl tune: error: Optuna is missing: pip install 'makemore-pl[tune]'") from missing
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial, TrialState


class TuneCLI(MakemoreCLI):
    """The `makemore-pl fit` options, plus what to search and where the study lives."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        super().add_arguments_to_parser(parser)
        parser.add_argument(
            "--tune.option", type=str | None, default=None, help="A grid over one option, e.g. smoothing or l2."
        )
        parser.add_argument(
            "--tune.values", type=list[float] | None, default=None, help="The grid's values, e.g. [0, 0.1, 1]."
        )
        parser.add_argument(
            "--tune.space",
            type=dict[str, Any] | None,
            default=None,
            help="Options to search, each a range or choices: {model.optimizer.init_args.lr: {low: 1e-4, "
            "high: 1e-2, log: true}, model.dropout: [0, 0.1, 0.2]}; integers when low and high are; step allowed.",
        )
        parser.add_argument(
            "--tune.trials", type=int | None, default=None, help="Stop the study at this many finished trials."
        )
        parser.add_argument(
            "--tune.timeout", type=float | None, default=None, help="Stop starting trials after this many seconds."
        )
        parser.add_argument("--tune.seed", type=int, default=0, help="The seed of the sampler (TPE or the grid).")
        parser.add_argument(
            "--tune.pruner",
            type=BasePruner | None,
            default=None,
            help="How to stop losing trials on val/nll, e.g. optuna.pruners.MedianPruner (the default for a "
            "space); optuna.pruners.NopPruner prunes nothing (the default for the grid and several objectives).",
        )
        parser.add_argument(
            "--tune.objectives",
            type=list[str],
            default=[MONITOR],
            help="What to minimise: val/nll, time_to:<nll> (seconds until val/nll first reaches <nll>), "
            "steps_to:<nll>; two or more give a Pareto front, e.g. [val/nll, time_to:2.0].",
        )
        parser.add_argument(
            "--tune.study", type=str | None, default=None, help="The study's name (default: the logger's name)."
        )
        parser.add_argument(
            "--tune.storage",
            type=str | None,
            default=None,
            help="Where the study lives: a sqlite:/// URL (default: study.db in the log folder), a journal file "
            "ending in .log (workers on one machine), or a postgresql:// URL (workers on several machines).",
        )


def tune(args: ArgsType = None) -> str:
    """Run (or resume) the study, print its results, and return the table printed on stdout."""
    args = list(sys.argv[1:] if args is None else args)
    # Each trial gets the command line's arguments plus its values, on purpose.
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
    # RetryHeartbeatStaleTrialCallback and JournalFileBackend are marked experimental; they are what Optuna offers.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    base = run_cli(TuneCLI, args, run=False)
    search = Search(base)
    logger = base.trainer.logger
    log_folder = Path(logger.root_dir if logger is not None else "lightning_logs")
    name = base.config["tune.study"] or (logger.name if logger is not None else "study")
    storage_spec = base.config["tune.storage"]
    storage = studies.open_storage(storage_spec, log_folder)
    where = storage_spec or str(log_folder / "study.db")
    shared = storage_spec is not None and not storage_spec.startswith("sqlite")
    study = studies.open_study(
        name, storage, where, search.directions, search.description(), search.sampler(shared), search.pruner
    )
    for number in studies.reclaim_lost_trials(study):
        print(
            f"makemore-pl tune: trial {number} was left running by a process that is gone: queued again",
            file=sys.stderr,
        )

    objective = Objective(args, search, name, partial(run_cli, TuneCLI, run=False))
    if not _done(study, search):
        try:
            study.optimize(objective, timeout=search.timeout, callbacks=[_Budget(search.trials)], catch=(TrialFailed,))
        except KeyboardInterrupt:
            if objective.running is not None:
                studies.retry_interrupted(study, objective.running)
            print(
                f"makemore-pl tune: interrupted; trial {objective.running} will run again. The same command resumes "
                f"study {name!r} in {where}",
                file=sys.stderr,
            )
            raise SystemExit(130) from None

    def reproduce(params: dict[str, Any]) -> str:
        return fit_command(args, "--tune.", search_space.overrides(params))

    return report(study, search, objective, log_folder, where, reproduce)


class _Budget:
    """Stop every worker once the study holds ``trials`` finished trials (Optuna's MaxTrialsCallback, less the lost)."""

    def __init__(self, trials: int | None) -> None:
        self.trials = trials

    def __call__(self, study: optuna.Study, trial: FrozenTrial) -> None:
        if self.trials is not None and len(studies.counted(study)) >= self.trials:
            study.stop()


def _done(study: optuna.Study, search: Search) -> bool:
    """Whether a resumed study has nothing left to run (else ``optimize`` would start one trial too many)."""
    if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        return False
    if search.grid:
        return study.sampler.is_exhausted(study)
    return search.trials is not None and len(studies.counted(study)) >= search.trials


def tune_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl-tune`, the alias of `makemore-pl tune`."""
    exit_on_usage_error("makemore-pl-tune", tune, args)
