"""What `makemore-pl tune` searches: options of `makemore-pl fit`, each a range or a list of choices.

A space maps an option, written as on the command line without its dashes, to Optuna
distributions (https://optuna.readthedocs.io/en/stable/reference/distributions.html):

- ``{low: 1e-4, high: 1e-2, log: true}``: a range; integers if both ends are integers (and
  ``step`` too, when given), else floats; ``log`` samples on a log scale, ``step`` on a grid;
- ``[0, 0.1, 0.2]``: choices, one of which each trial takes.

A trial's values reach the trial's fit as command-line options (``--model.dropout 0.1``), so a
space can reach any option the fit has: the model's, the data's, the trainer's.
"""

from __future__ import annotations

from typing import Any

import optuna
from jsonargparse import Namespace
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from makemore_pl.errors import UsageError

RANGE_KEYS = {"low", "high", "log", "step"}
Space = dict[str, BaseDistribution]


def parse_space(space: dict[str, Any]) -> Space:
    """``--tune.space`` as Optuna distributions, one per option; a bad entry gets one line naming it."""
    if not space:
        raise UsageError("--tune.space is empty: give at least one option, e.g. {model.l2: {low: 0, high: 0.1}}")
    return {option: _distribution(option, spec) for option, spec in space.items()}


def grid_space(option: str, values: list[float]) -> Space:
    """``--tune.option`` and ``--tune.values``: one option, every value once (a grid for Optuna's GridSampler)."""
    if not values:
        raise UsageError("--tune.values is empty: give the values to try, e.g. [0, 0.1, 1]")
    if len(set(values)) != len(values):
        raise UsageError(f"--tune.values {values}: a value is repeated")
    # A bare name is the model's option: --tune.option smoothing means model.smoothing.
    key = option if "." in option else f"model.{option}"
    return {key: CategoricalDistribution([_integral(value) for value in values])}


def _distribution(option: str, spec: Any) -> BaseDistribution:
    where = f"--tune.space {option}"
    if isinstance(spec, list):
        if not spec:
            raise UsageError(f"{where}: the list of choices is empty")
        if any(not isinstance(choice, (str, int, float, bool)) and choice is not None for choice in spec):
            raise UsageError(f"{where}: choices must be numbers, strings, booleans or null, got {spec}")
        if len(set(map(repr, spec))) != len(spec):
            raise UsageError(f"{where}: a choice is repeated in {spec}")
        return CategoricalDistribution(spec)
    if not isinstance(spec, dict) or not {"low", "high"} <= spec.keys() or spec.keys() - RANGE_KEYS:
        raise UsageError(f"{where}: expected a list of choices or {{low: .., high: .., log: .., step: ..}}, got {spec}")
    low, high, log, step = spec["low"], spec["high"], bool(spec.get("log", False)), spec.get("step")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in (low, high)):
        raise UsageError(f"{where}: low and high must be numbers, got {low!r}, {high!r}")
    if low > high:
        raise UsageError(f"{where}: the range is empty: low {low} > high {high}")
    if log and low <= 0:
        raise UsageError(f"{where}: a log range needs low > 0, got {low}")
    if log and step is not None:
        raise UsageError(f"{where}: give log or step, not both")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
        raise UsageError(f"{where}: step must be a number > 0, got {step!r}")
    # Integers when every number given is one: {low: 1, high: 4} is 1, 2, 3 or 4, not 2.718.
    if all(isinstance(v, int) for v in (low, high, step if step is not None else 1)):
        return IntDistribution(low, high, log=log, step=step or 1)
    return FloatDistribution(float(low), float(high), log=log, step=None if step is None else float(step))


def _integral(value: float) -> float | int:
    # --tune.values is a list of floats: 8.0 becomes 8, which an integer option (hidden, layers) takes.
    return int(value) if float(value).is_integer() else value


def check_options(space: Space, config: Namespace, model_name: str, flag: str = "--tune.space") -> None:
    """Refuse an option that the fit's parsed ``config`` does not have, in one line naming it."""
    for option in space:
        if _config_key(option, config) is None:
            section, _, name = option.partition(".")
            owner = model_name if section == "model" else f"--{section}"
            raise UsageError(f"{flag} {option}: {owner} has no option {name!r}")


def _config_key(option: str, config: Namespace) -> str | None:
    # The model is chosen by class_path, so its options sit under model.init_args in the config;
    # so do those of a class-valued option such as the optimizer (model.optimizer.init_args.lr).
    section, _, rest = option.partition(".")
    candidates = [option, f"{section}.init_args.{rest}"]
    for key in candidates:
        try:
            if key in config:
                return key
        except (KeyError, TypeError):  # a path through a value that is not a Namespace
            continue
    return None


def suggest(trial: optuna.Trial, space: Space) -> dict[str, Any]:
    """The trial's value of every option of the space, drawn by the study's sampler."""
    return {option: _suggest_one(trial, option, distribution) for option, distribution in space.items()}


def _suggest_one(trial: optuna.Trial, option: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(option, distribution.choices)
    suggest_range = trial.suggest_int if isinstance(distribution, IntDistribution) else trial.suggest_float
    return suggest_range(option, distribution.low, distribution.high, step=distribution.step, log=distribution.log)


def as_argument(value: Any) -> str:
    """``value`` as the command line writes it: null, true, 8 (not 8.0, which an integer option refuses), 0.001."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    return str(value)


def overrides(params: dict[str, Any]) -> list[str]:
    """A trial's values as the options of its `makemore-pl fit`."""
    return [arg for option, value in params.items() for arg in (f"--{option}", as_argument(value))]
