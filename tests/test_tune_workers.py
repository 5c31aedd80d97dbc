"""Studies that last, through the real command in subprocesses: two workers on a journal file and on a real
PostgreSQL server, and a study interrupted (Ctrl-C, then a killed process) that the same command finishes."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import psycopg2
import pytest
from conftest import fit_args

from makemore_pl.cli.tune import tune
from makemore_pl.tune.studies import WORKER_KEY, open_storage

pytestmark = pytest.mark.slow
# The counting n-gram fits in one pass (no Dashboard in its config): many trials in a few seconds.
COUNTS_SPACE = "{model.smoothing: {low: 0.01, high: 10.0, log: true}, data.context: [1, 2], data.seed: [1, 2, 3]}"
# The lecture's neural bigram, 30 full-batch steps: long enough to be stopped inside a fit.
LECTURE_SPACE = (
    "{model.optimizer.init_args.lr: {low: 1.0, high: 50.0, log: true}, model.l2: [0, 0.01], data.seed: [1, 2]}"
)
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"))


def counts_args(tmp_path, words, trials, *extra):
    return [*fit_args(tmp_path, words, "configs/counts.yaml"), "--tune.space", COUNTS_SPACE,
            "--tune.trials", str(trials), *extra]  # fmt: skip


def lecture_args(tmp_path, words, trials, *extra):
    # The lecture's config holds no words out: tuning needs a validation split.
    held_out = ["--data.val_fraction", "0.1", "--data.test_fraction", "0.1", "--trainer.max_epochs", "30"]
    return [*fit_args(tmp_path, words, "configs/lecture.yaml", *held_out), "--tune.space", LECTURE_SPACE,
            "--tune.trials", str(trials), *extra]  # fmt: skip


def worker(tmp_path, args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "makemore_pl", "tune", *args],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / f"worker_{time.monotonic_ns()}.err", "w"),
    )


def assert_each_trial_ran_once(tmp_path, study, trials):
    done = study.get_trials()
    numbers = [t.number for t in done]
    assert numbers == list(range(len(done)))
    # Each worker stops at its next trial's end once the study holds enough: a second may have one under way.
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in done) and trials <= len(done) <= trials + 1
    runs = sorted(p.name for p in (tmp_path / "logs" / "counts" / "counts").iterdir())
    assert runs == sorted(f"trial_{n}" for n in numbers)
    for t in done:  # each folder holds its own trial: one fit's events (no second worker ran it) and its values
        run = tmp_path / "logs" / "counts" / "counts" / f"trial_{t.number}"
        fits = [p for p in run.glob("events.*") if "tune/val_nll" in p.read_bytes().decode("latin-1")]
        assert len(fits) == 1, (t.number, list(run.iterdir()))
        assert f"smoothing: {t.params['model.smoothing']}" in (run / "config.yaml").read_text()
    workers = {t.system_attrs[WORKER_KEY] for t in done}
    assert len(workers) == 2, workers  # both worked on the study


def run_two_workers(tmp_path, tiny_file, storage):
    args = counts_args(tmp_path, tiny_file, 6, "--tune.storage", storage)
    workers = [worker(tmp_path, args) for _ in range(2)]
    assert [w.wait(timeout=240) for w in workers] == [0, 0], [p.read_text()[-2000:] for p in tmp_path.glob("*.err")]
    return optuna.load_study(study_name="counts", storage=optuna_storage(storage))


def optuna_storage(storage):
    return open_storage(storage, Path("unused"))  # the tuner's own reading of --tune.storage


def test_two_workers_on_a_journal_file_share_one_study(tmp_path, tiny_file):
    study = run_two_workers(tmp_path, tiny_file, str(tmp_path / "study.log"))
    assert_each_trial_ran_once(tmp_path, study, 6)


@pytest.fixture
def postgres():
    """A real PostgreSQL server from Debian's package, in a temporary folder, on 127.0.0.1 and a free port."""
    assert POSTGRES_BINARIES, "PostgreSQL is missing: apt-get install -y postgresql (.ci/run does)"
    bin_dir = POSTGRES_BINARIES[-1]
    # initdb and postgres refuse root: they run as the postgres user, in a folder it owns, outside pytest's
    # tmp_path (whose parents only root may enter).
    data = Path(tempfile.mkdtemp(prefix="makemore-pl-postgres-"))
    user = pwd.getpwnam("postgres")
    os.chown(data, user.pw_uid, user.pw_gid)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_postgres, bin_dir / "initdb", "-D", data / "db", "-A", "trust", "-U", "postgres", "--no-sync"],
                   check=True, capture_output=True)  # fmt: skip
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*as_postgres, bin_dir / "postgres", "-D", data / "db", "-h", "127.0.0.1", "-p", str(port), "-k", data, "-F"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    try:
        for _ in range(200):
            try:
                psycopg2.connect(url).close()
                break
            except psycopg2.OperationalError:
                assert server.poll() is None, "postgres exited"
                time.sleep(0.1)
        yield url
    finally:
        subprocess.run([*as_postgres, bin_dir / "pg_ctl", "-D", data / "db", "-m", "immediate", "stop"],
                       capture_output=True)  # fmt: skip
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


def test_two_workers_on_a_postgresql_server_share_one_study(tmp_path, tiny_file, postgres):
    study = run_two_workers(tmp_path, tiny_file, postgres)
    assert_each_trial_ran_once(tmp_path, study, 6)


def wait_for_a_running_trial(study, process, finished):
    """Until the worker has ``finished`` trials counted and is inside the fit of another."""
    for _ in range(1200):
        assert process.poll() is None, "the worker ended before it could be stopped"
        trials = study.get_trials()
        # Its values drawn: the fit has started (or is about to).
        running = [t for t in trials if t.state.name == "RUNNING" and WORKER_KEY in t.system_attrs and t.params]
        if sum(t.state.name == "COMPLETE" for t in trials) >= finished and running:
            return running[0]
        time.sleep(0.1)
    raise AssertionError("no trial started")


def test_an_interrupted_then_killed_study_resumes_with_the_same_command(tmp_path, tiny_file, capsys):
    args = lecture_args(tmp_path, tiny_file, 4)
    study = optuna.create_study(study_name="lecture", storage=f"sqlite:///{tmp_path / 'study.db'}")
    args += ["--tune.storage", f"sqlite:///{tmp_path / 'study.db'}"]

    # Ctrl-C: the trial under way ends FAIL and is queued again; the command says so and exits 130.
    process = worker(tmp_path, args)
    interrupted = wait_for_a_running_trial(study, process, 1)
    time.sleep(0.3)  # inside its fit, where Ctrl-C stops at the end of a batch
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 130
    interrupted = study.trials[interrupted.number]
    assert interrupted.state.name == "FAIL" and interrupted.params
    assert [t.params for t in study.trials if t.state.name == "WAITING"] == [interrupted.params]

    # Killed: the trial stays RUNNING in the storage, as the process left it.
    process = worker(tmp_path, args)
    killed = wait_for_a_running_trial(study, process, 2)
    time.sleep(0.3)
    process.kill()
    process.wait(timeout=30)
    before = {t.number: t.values for t in study.get_trials() if t.state.name == "COMPLETE"}
    killed = study.trials[killed.number]
    assert killed.state.name == "RUNNING" and killed.params

    # The same command finishes the study: it fails the dead process's trial and runs its values again.
    tune(args)
    trials = study.get_trials()
    assert {t.number: t.values for t in trials if t.number in before} == before  # no finished trial lost
    assert [t.number for t in trials if t.state.name == "FAIL"] == sorted([interrupted.number, killed.number])
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 4 and not [t for t in trials if t.state.name in ("RUNNING", "WAITING")]
    params = [t.params for t in complete]
    assert interrupted.params in params and killed.params in params
    assert f"trial {killed.number} was left running by a process that is gone" in capsys.readouterr().err
