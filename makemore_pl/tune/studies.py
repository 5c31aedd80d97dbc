"""Where a study lives, and how it survives: the storage, the check of its space, and its lost trials.

Three storages, as Optuna's FAQ recommends them
(https://optuna.readthedocs.io/en/stable/faq.html#how-can-i-solve-the-error-that-occurs-when-performing-parallel-optimization-with-sqlite3):

- ``sqlite:///...``, the default, a file in the run's log folder: one process at a time;
- a path ending in ``.log``: ``JournalStorage(JournalFileBackend(path))``, for several worker
  processes on one machine (the file is appended to under a lock);
- ``postgresql://...``: workers on several machines sharing one database server.

A trial whose process died (killed, machine lost) stays RUNNING in the storage. The next worker on
the same machine finds it by its process id and marks it FAIL; a database's workers also send
heartbeats, so that a trial of a machine that went away is marked FAIL after its grace period.
Either way Optuna's ``RetryHeartbeatStaleTrialCallback`` queues the same parameters again as a new
trial: a finished trial is never lost, and a lost one runs again under a new number.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import optuna
import sqlalchemy.exc
from optuna.distributions import distribution_to_json
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend
from optuna.trial import FrozenTrial, TrialState

from makemore_pl.errors import UsageError
from makemore_pl.tune.search_space import Space

# A database worker beats every HEARTBEAT seconds; a trial silent for GRACE seconds is taken as lost.
HEARTBEAT, GRACE = 10, 60
WORKER_KEY = "makemore_pl:worker"  # the trial's system attr: "host:pid" of the process running it
SPACE_KEY = "makemore_pl:space"  # the study's user attr: what it searches, to refuse another space under its name


def open_storage(storage: str | None, log_folder: Path) -> BaseStorage:
    """``--tune.storage`` opened, or the default SQLite file in the log folder; one line if it cannot be."""
    if storage is None:
        log_folder.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{log_folder.resolve() / 'study.db'}"
    where = f"--tune.storage {storage}"
    if storage.endswith(".log") and "://" not in storage:
        path = Path(storage)
        if not path.parent.is_dir():
            raise UsageError(f"{where}: the folder {path.parent} does not exist")
        return JournalStorage(JournalFileBackend(str(path)))
    if "://" not in storage:
        raise UsageError(f"{where}: expected a sqlite:/// or postgresql:// URL, or a journal file ending in .log")
    engine_kwargs = {"connect_args": {"connect_timeout": 10}} if storage.startswith("postgresql") else {}
    heartbeat = {} if storage.startswith("sqlite") else {"heartbeat_interval": HEARTBEAT, "grace_period": GRACE}
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the tune extra installs psycopg2.
    url = (
        storage.replace("postgresql://", "postgresql+psycopg2://", 1)
        if storage.startswith("postgresql://")
        else storage
    )
    for attempt in range(3):
        try:
            return RDBStorage(
                url,
                engine_kwargs=engine_kwargs,
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback() if heartbeat else None,
                **heartbeat,
            )
        except sqlalchemy.exc.IntegrityError:
            # Two workers creating Optuna's tables in a new database at once: the loser's CREATE
            # collides with the winner's. The tables exist a moment later.
            if attempt == 2:
                raise
            time.sleep(1.0)
        except Exception as e:  # sqlalchemy's errors for an unknown driver, a refused connection, a bad file
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise UsageError(f"{where}: cannot open the study's storage: {reason}") from None
    raise AssertionError("unreachable")


def describe(space: Space, objectives: Sequence[str], sampler: str) -> str:
    """What a study searches and optimises, as JSON: two studies are the same search when these are equal."""
    record = {
        "space": {option: json.loads(distribution_to_json(d)) for option, d in space.items()},
        "objectives": list(objectives),
        "sampler": sampler,
    }
    return json.dumps(record, sort_keys=True)


def open_study(
    name: str,
    storage: BaseStorage,
    where: str,
    directions: Sequence[str],
    description: str,
    sampler: optuna.samplers.BaseSampler,
    pruner: optuna.pruners.BasePruner,
) -> optuna.Study:
    """The study ``name``, created or resumed; refused in one line if it searched another space under that name."""
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    stored = study.user_attrs.get(SPACE_KEY)
    if stored is None:
        study.set_user_attr(SPACE_KEY, description)
    elif stored != description:
        raise UsageError(
            f"--tune.study {name}: the study in {where} searched another space or objectives ({stored}); "
            "give it a new name with --tune.study, or the same --tune.space and --tune.objectives"
        )
    return study


def this_worker() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def reclaim_lost_trials(study: optuna.Study) -> list[int]:
    """Fail and queue again the RUNNING trials of this machine whose process is gone; their numbers."""
    host = socket.gethostname()
    reclaimed = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker_host, _, pid = trial.system_attrs.get(WORKER_KEY, "").rpartition(":")
        if worker_host != host or not pid.isdigit() or _alive(int(pid)):
            continue
        try:
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        except (RuntimeError, optuna.exceptions.UpdateFinishedTrialError):
            continue  # another worker reclaimed it first, and queued it again
        retry(study, trial)
        reclaimed.append(trial.number)
    return reclaimed


def retry(study: optuna.Study, trial: FrozenTrial) -> None:
    """Queue ``trial``'s parameters again as a new trial, as Optuna does for a trial whose heartbeat stopped."""
    RetryHeartbeatStaleTrialCallback()(study, trial)


def retry_interrupted(study: optuna.Study, number: int) -> None:
    """Queue again the trial that Ctrl-C stopped: FAIL already, or RUNNING if it landed outside the objective."""
    trial = study.trials[number]
    if trial.state == TrialState.RUNNING:
        study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
        trial = study.trials[number]
    if trial.state == TrialState.FAIL:
        retry(study, trial)


def counted(study: optuna.Study) -> list[FrozenTrial]:
    """The finished trials that count towards ``--tune.trials``: all but those lost and queued again."""
    trials = study.get_trials(deepcopy=False)
    retried = {number for t in trials for number in t.system_attrs.get("retry_history", []) if t.number != number}
    return [t for t in trials if t.state.is_finished() and t.number not in retried]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True
