"""One trial of a search: what the command searches (``Search``), and a trial run and measured (``Objective``).

Each trial is one `makemore-pl fit` with the command's options plus the trial's values, in a
version folder of its own (``<log folder>/<study>/trial_<N>``: TensorBoard's curves, config.yaml,
checkpoints). Two ways to say what to search:

- ``--tune.option smoothing --tune.values "[0, 0.1, 1]"``: exercise E03's exact grid, every value
  once (Optuna's GridSampler), printed as the lecture's table;
- ``--tune.space "{model.optimizer.init_args.lr: {low: 1e-4, high: 1e-2, log: true}, ...}"``:
  ranges and choices (makemore_pl.tune.search_space), sampled by TPE, seeded, for ``--tune.trials``
  trials or ``--tune.timeout`` seconds, with losing runs pruned on ``val/nll``.

The study lives in a storage (makemore_pl.tune.studies), so the same command resumes it, and other
processes or machines given the same ``--tune.storage`` work on it too. docs/tuning.md says how.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.cli import LightningCLI

try:
    import optuna
    from optuna_integration import PyTorchLightningPruningCallback
except ImportError as missing:  # an optional extra: one line, not a traceback
    raise SystemExit("makemore-pl tune: error: Optuna is missing: pip install 'makemore-pl[tune]'") from missing
from optuna.pruners import BasePruner, MedianPruner, NopPruner

from makemore_pl.callbacks.target import TimeToTarget
from makemore_pl.errors import UsageError
from makemore_pl.tune import search_space, studies

MONITOR = "val/nll"
TARGETS = ("time_to:", "steps_to:")  # objectives with a target: the wall time, or the steps, to reach it


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


def val_nll(trainer: L.Trainer) -> float | None:
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
    """What one `makemore-pl tune` command searches, read from its parsed options (cli.tune.TuneCLI's)."""

    def __init__(self, cli: LightningCLI) -> None:
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

    def __init__(
        self, args: list[str], search: Search, study_name: str, make_cli: Callable[[list[str]], LightningCLI]
    ) -> None:
        self.args, self.search, self.study_name = args, search, study_name
        self.make_cli = make_cli  # the command's CLI from a trial's arguments, built but not run
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
            cli = self.make_cli(self.trial_args(trial.number, params))
        except SystemExit as e:  # make_cli printed the one line: values the model refuses
            raise TrialFailed(f"its options were refused (exit {e.code})") from None
        targets = {o: TimeToTarget(t) for o, t in zip(self.search.objectives, self.search.targets) if t is not None}
        callbacks = [*targets.values(), TrialHparams({"trial": trial.number, **params}, val_nll)]
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
            value = val_nll(trainer)
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
            MONITOR: val_nll(trainer),
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
