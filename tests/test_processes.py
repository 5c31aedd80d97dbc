"""Interruption and resume, and several processes: through the real command, in subprocesses."""

import signal
import subprocess
import time

import pytest
import torch
from conftest import REPO, fit_args
from helpers import command, scalars
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.cli import cli_main

# The lecture's loop (no validation, no early stopping): its end is fixed by max_epochs alone.
EPOCHS = "400"


def final_weights(run_dir) -> torch.Tensor:
    return torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]["W"]


def runs(root):
    return sorted((root / "logs" / "lecture").glob("version_*"), key=lambda p: int(p.name.split("_")[1]))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_resumes_in_its_folder_to_bitwise_the_same_weights(tmp_path, tiny_file, sig):
    straight = [
        "fit",
        *fit_args(tmp_path / "straight", tiny_file, "configs/lecture.yaml"),
        "--trainer.max_epochs",
        EPOCHS,
    ]
    subprocess.run(command(*straight), check=True, capture_output=True, cwd=tmp_path)
    (uninterrupted,) = runs(tmp_path / "straight")

    args = ["fit", *fit_args(tmp_path, tiny_file, "configs/lecture.yaml"), "--trainer.max_epochs", EPOCHS]
    # stderr to a file, not an unread pipe: a pipe that fills up would block the run before it ends.
    stderr = tmp_path / "stderr.txt"
    with stderr.open("wb") as sink:
        process = subprocess.Popen(command(*args), cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=sink)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not runs(tmp_path):
        time.sleep(0.05)
    (interrupted,) = runs(tmp_path)
    last = interrupted / "checkpoints" / "last.ckpt"
    while time.monotonic() < deadline and not last.exists():
        time.sleep(0.02)
    time.sleep(0.3)  # some epochs in
    process.send_signal(sig)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"the run did not stop within 60 s of {sig!r}; its stderr ends:\n{stderr.read_text()[-3000:]}")
    saved = torch.load(last, weights_only=True)  # usable: it loads, written whole
    assert 0 < saved["epoch"] < int(EPOCHS) - 1, saved["epoch"]

    cli_main(["fit", "--ckpt_path", str(last)])  # the run's own config, in the run's own folder
    assert runs(tmp_path) == [interrupted]
    assert torch.equal(final_weights(interrupted), final_weights(uninterrupted))
    # One train/loss curve as TensorBoard reads it: the steps logged after last.ckpt were purged.
    events = EventAccumulator(str(interrupted))
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(int(EPOCHS)))


@pytest.mark.slow
def test_two_processes_train_the_default_config_like_one(tmp_path, names_file):
    one = ["fit", *fit_args(tmp_path, names_file), "--trainer.accelerator", "cpu"]
    subprocess.run(command(*one), check=True, capture_output=True, cwd=REPO)
    ddp = [*one, "--trainer.strategy", "ddp_spawn", "--trainer.devices", "2", "--trainer.logger.init_args.name", "ddp"]
    result = subprocess.run(command(*ddp), capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    single = next((tmp_path / "logs" / "bigram").glob("version_*"))
    double = next((tmp_path / "logs" / "ddp").glob("version_*"))
    assert abs(min(scalars(double, "val/nll")) - min(scalars(single, "val/nll"))) < 1e-3
    assert len(scalars(double, "val/nll")) == len(scalars(single, "val/nll"))  # one event per step, from rank 0
    assert len(list(double.glob("events.out.tfevents.*"))) == 1

    ckpt = double / "checkpoints" / "last.ckpt"
    predict = ["predict", *fit_args(tmp_path, names_file), "--trainer.accelerator", "cpu", "--ckpt_path", str(ckpt)]
    predict += ["--trainer.strategy", "ddp_spawn", "--trainer.devices", "2", "--sampling.num_samples", "9"]
    result = subprocess.run(command(*predict), capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    words = result.stdout.split()
    assert len(words) == 9  # each sampled once, printed once, by rank 0
    samples = max((tmp_path / "logs" / "bigram").glob("version_*/samples.tsv"))
    assert [line.split("\t")[0] for line in samples.read_text().splitlines()] == words
