"""`makemore-pl-tune`: search `makemore-pl fit`'s options with Optuna, from one process to many machines.

Each trial is one `makemore-pl fit` with the command's options plus the trial's values, in a
version folder of its own (``<log folder>/<study>/trial_<N>``: TensorBoard's curves, config.yaml,
checkpoints). Two ways to say what to search:

- ``--tune.option smoothing --tune.values "[0, 0.1, 1]"``: exercise E03's exact grid, every value
  once (Optuna's GridSampler), printed as the lecture's table;
- ``--tune.space "{model.optimizer.init_args.lr: {low: 1e-4, high: 1e-2, log: true}, ...}"``:
  ranges and choices (makemore_pl.search_space), sampled by TPE, seeded, for ``--tune.trials``
  trials or ``--tune.timeout`` seconds, with losing runs pruned on ``val/nll``.

The study lives in a storage (makemore_pl.studies), so the same command resumes it, and other
processes or machines given the same ``--tune.storage`` work on it too. docs/tuning.md says how.
"""

from __future__ import annotations

import math
import sys
import warnings
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import ArgsType, LightningArgumentParser

try:
    import optuna
    from optuna_integration import PyTorchLightningPruningCallback
except ImportError as missing:  # an optional extra: one line, not a traceback
    raise SystemExit("makemore-pl-tune: error: Optuna is missing: pip install 'makemore-pl[tune]'") from missing
from optuna.pruners import BasePruner, MedianPruner, NopPruner
from optuna.trial import FrozenTrial, TrialState

from makemore_pl import search_space, studies
from makemore_pl.callbacks.target import TimeToTarget
from makemore_pl.cli import MakemoreCLI, exit_on_usage_error, fit_command, run_cli
from makemore_pl.data.files import write_atomic
from makemore_pl.errors import UsageError

MONITOR = "val/nll"
TARGETS = ("time_to:", "steps_to:")  # objectives with a target: the wall time, or the steps, to reach it


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


class TrialFailed(Exception):
    """A trial that could not finish (its loss diverged, its options were refused): the study goes on."""


class TrialHparams(Callback):
    """Put the trial's number and values in TensorBoard's hparams view, beside its val/nll, as the fit ends."""

    def __init__(self, hparams: dict[str, Any], metric: Callable[[L.Trainer], float | None]) -> None:
        super().__init__()
        self.hparams, self.metric = hparams, metric

    def _log(self, trainer: L.Trainer) -> None:
        value = self.metric(trainer)
        if trainer.logger is not None and value is not None:
            # A tag of its own: logged at step 0, it would put a stray point on the val/nll curve.
            trainer.logger.log_hyperparams(self.hparams, {"tune/val_nll": value})

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if isinstance(exception, optuna.TrialPruned):
            self._log(trainer)


def _val_nll(trainer: L.Trainer) -> float | None:
    """The run's validation NLL: the best checkpoint's, when one was kept by val/nll, else the last."""
    checkpoint = trainer.checkpoint_callback
    if checkpoint is not None and checkpoint.monitor == MONITOR and checkpoint.best_model_score is not None:
        return float(checkpoint.best_model_score)
    value = trainer.callback_metrics.get(MONITOR)
    return None if value is None else float(value)


def _parse_objectives(objectives: list[str]) -> list[float | None]:
    """Each objective's target (None for val/nll itself); one line for anything else."""
    if not objectives:
        raise UsageError("--tune.objectives is empty: give val/nll, time_to:<nll> or steps_to:<nll>")
    targets = []
    for objective in objectives:
        prefix = next((p for p in TARGETS if objective.startswith(p)), None)
        if objective == MONITOR:
            targets.append(None)
            continue
        try:
            targets.append(float(objective.removeprefix(prefix)) if prefix else None)
        except ValueError:
            prefix = None
        if prefix is None:
            raise UsageError(
                f"--tune.objectives: unknown objective {objective!r}: give val/nll, time_to:2.0 or steps_to:2.0"
            )
    if len(set(objectives)) != len(objectives):
        raise UsageError(f"--tune.objectives {objectives}: an objective is repeated")
    return targets


class Search:
    """What one `makemore-pl-tune` command searches, read from its parsed options."""

    def __init__(self, cli: TuneCLI) -> None:
        config = cli.config
        option, values, space = config["tune.option"], config["tune.values"], config["tune.space"]
        if (option is None) == (space is None) or (option is None) != (values is None):
            raise UsageError("give either --tune.space, or --tune.option with --tune.values (a grid)")
        self.grid = option is not None
        self.option = option
        self.space = search_space.grid_space(option, values) if self.grid else search_space.parse_space(space)
        flag = "--tune.option" if self.grid else "--tune.space"
        search_space.check_options(self.space, config, type(cli.model).__name__, flag)
        if cli.datamodule.val_fraction == 0:
            raise UsageError("tuning needs a validation split: set --data.val_fraction above 0")
        self.objectives = list(config["tune.objectives"])
        self.targets = _parse_objectives(self.objectives)
        self.trials, self.timeout = config["tune.trials"], config["tune.timeout"]
        for name, value in (("trials", self.trials), ("timeout", self.timeout)):
            if value is not None and value <= 0:
                raise UsageError(f"--tune.{name} must be above 0, got {value}")
        if not self.grid and self.trials is None and self.timeout is None:
            raise UsageError("a search needs an end: give --tune.trials, --tune.timeout, or both")
        self.pruner = self._pruner(cli.config_init["tune.pruner"])
        self.seed = config["tune.seed"]

    def _pruner(self, asked: BasePruner | None) -> BasePruner:
        if len(self.objectives) > 1:
            # Optuna's Trial.report and should_prune work for one objective only.
            if asked is not None and not isinstance(asked, NopPruner):
                raise UsageError(
                    "--tune.pruner: Optuna prunes single-objective studies only; drop it, or ask one objective"
                )
            return NopPruner()
        if asked is not None:
            return asked
        # The grid is the lecture's table: every value trained in full.
        return NopPruner() if self.grid else MedianPruner()

    def sampler(self, shared: bool) -> optuna.samplers.BaseSampler:
        """GridSampler for the grid, else TPE; on a shared storage each worker mixes its id into the seed."""
        if self.grid:
            grid = {option: d.choices for option, d in self.space.items()}
            return optuna.samplers.GridSampler(grid, seed=self.seed)
        # Two workers with one seed would draw the same points, one after the other.
        seed = (self.seed + zlib.crc32(studies.this_worker().encode())) % 2**32 if shared else self.seed
        return optuna.samplers.TPESampler(seed=seed)

    @property
    def directions(self) -> list[str]:
        return ["minimize"] * len(self.objectives)

    def description(self) -> str:
        return studies.describe(self.space, self.objectives, "grid" if self.grid else "tpe")


class Objective:
    """One trial: a fresh CLI from the command's options and the trial's values, fitted; its objectives' values."""

    def __init__(self, args: list[str], search: Search, study_name: str) -> None:
        self.args, self.search, self.study_name = args, search, study_name
        self.running: int | None = None  # the trial under way in this process, to queue again if interrupted

    def trial_args(self, number: int, params: dict[str, Any]) -> list[str]:
        version = f"{self.study_name}/trial_{number}"
        return [*self.args, *search_space.overrides(params), "--trainer.logger.init_args.version", version]

    def __call__(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        self.running = trial.number
        try:
            values = self._run(trial)
        except KeyboardInterrupt:
            raise
        except BaseException:
            self.running = None
            raise
        self.running = None
        return values

    def _run(self, trial: optuna.Trial) -> float | tuple[float, ...]:
        # Read by studies.reclaim_lost_trials, should this process die with the trial RUNNING.
        trial.storage.set_trial_system_attr(trial._trial_id, studies.WORKER_KEY, studies.this_worker())
        params = search_space.suggest(trial, self.search.space)
        try:
            cli = run_cli(TuneCLI, self.trial_args(trial.number, params), run=False)
        except SystemExit as e:  # run_cli printed the one line: values the model refuses
            raise TrialFailed(f"its options were refused (exit {e.code})") from None
        targets = {o: TimeToTarget(t) for o, t in zip(self.search.objectives, self.search.targets) if t is not None}
        callbacks = [*targets.values(), TrialHparams({"trial": trial.number, **params}, _val_nll)]
        pruning = not isinstance(self.search.pruner, NopPruner)
        if pruning:
            callbacks.append(PyTorchLightningPruningCallback(trial, monitor=MONITOR))
        cli.trainer.callbacks.extend(callbacks)
        try:
            cli.trainer.fit(cli.model, datamodule=cli.datamodule)
            if pruning:
                callbacks[-1].check_pruned()  # under DDP, pruning is decided on process 0 and read back here
        except SystemExit:
            if cli.trainer.interrupted:  # Lightning's answer to Ctrl-C is sys.exit(1); Optuna expects this
                raise KeyboardInterrupt from None
            raise
        except UsageError as e:  # FiniteLossGuard: the loss diverged
            trial.set_user_attr("error", str(e))
            raise TrialFailed(str(e)) from None
        finally:
            self._record(trial, cli.trainer, targets)
        values = [self._value(cli.trainer, objective, targets) for objective in self.search.objectives]
        return values[0] if len(values) == 1 else tuple(values)

    @staticmethod
    def _value(trainer: L.Trainer, objective: str, targets: dict[str, TimeToTarget]) -> float:
        if objective == MONITOR:
            value = _val_nll(trainer)
            if value is None:
                raise TrialFailed("no val/nll was logged: the run stopped before its first validation")
            return value
        callback = targets[objective]
        return callback.seconds if objective.startswith("time_to:") else float(callback.steps)

    def _record(self, trial: optuna.Trial, trainer: L.Trainer, targets: dict[str, TimeToTarget]) -> None:
        """What the results table and the best trial's test need, kept with the trial in the storage."""
        checkpoint = trainer.checkpoint_callback
        train_nll = trainer.callback_metrics.get("train/nll")  # logged every log_every_n_steps: maybe never
        record = {
            MONITOR: _val_nll(trainer),
            "train/nll": None if train_nll is None else float(train_nll),
            "steps": trainer.global_step,
            "log_dir": trainer.log_dir,
            # The best by val/nll where one is kept, else the last (the counts' one pass).
            "ckpt_path": (checkpoint.best_model_path or checkpoint.last_model_path or None) if checkpoint else None,
        }
        for objective in targets:
            record[objective] = self._value(trainer, objective, targets)  # inf: never reached
        for key, value in record.items():
            trial.set_user_attr(key, value)


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
            f"makemore-pl-tune: trial {number} was left running by a process that is gone: queued again",
            file=sys.stderr,
        )

    objective = Objective(args, search, name)
    if not _done(study, search):
        try:
            study.optimize(objective, timeout=search.timeout, callbacks=[_Budget(search.trials)], catch=(TrialFailed,))
        except KeyboardInterrupt:
            if objective.running is not None:
                studies.retry_interrupted(study, objective.running)
            print(
                f"makemore-pl-tune: interrupted; trial {objective.running} will run again. The same command resumes "
                f"study {name!r} in {where}",
                file=sys.stderr,
            )
            raise SystemExit(130) from None
    return report(study, search, objective, log_folder, where)


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


def report(study: optuna.Study, search: Search, objective: Objective, log_folder: Path, where: str) -> str:
    """Print the trials' table, the best trial's test/nll and the command that reproduces it; save them."""
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
            f"  {fit_command(objective.args, '--tune.', search_space.overrides(best.params))}",
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
        print(f"makemore-pl-tune: {suffix}; table saved to {log_folder}/tune_{search.option}.md", file=sys.stderr)
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
    cli = run_cli(TuneCLI, objective.trial_args(trial.number, trial.params), run=False)
    results = cli.trainer.test(cli.model, datamodule=cli.datamodule, ckpt_path=ckpt, verbose=False)
    return float(results[0]["test/nll"])


def tune_main(args: ArgsType = None) -> None:
    """Entry point of `makemore-pl-tune`."""
    exit_on_usage_error("makemore-pl-tune", tune, args)


if __name__ == "__main__":
    tune_main()
