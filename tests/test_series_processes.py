"""The series beyond one quick process: resuming bitwise, two processes, and learning on the real names.txt."""

import os
import signal
import subprocess

import pytest
import torch
from conftest import REPO, fit_args, tiny_args
from helpers import command, count_model_val_nll, run_dir, scalars
from lightning.pytorch.callbacks import Callback
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from makemore_pl.cli import cli_main
from makemore_pl.data.batches import EvalBatches
from makemore_pl.data.datamodule import WordsDataModule
from makemore_pl.data.vocab import Vocabulary
from makemore_pl.models import GRU


class InterruptAt(Callback):
    """Sends this process a SIGINT, as Ctrl+C would, once training reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), signal.SIGINT)


def weights(run) -> dict[str, torch.Tensor]:
    return torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


@pytest.mark.slow
def test_an_interrupted_gru_with_dropout_resumes_to_bitwise_the_same_weights(tmp_path, tiny_file):
    # Two layers and dropout 0.5: every step draws dropout masks from the global generator.
    # Five batches an epoch: the interruption comes in the middle of the third epoch, and
    # last.ckpt is from the end of the second.
    args = ["fit", *tiny_args(tmp_path, tiny_file, "gru", "--model.layers", "2", "--model.dropout", "0.5")]
    args += ["--trainer.max_epochs", "4", "--trainer.max_steps", "-1"]  # epochs, as the series' configs count
    cli_main(args)
    uninterrupted = run_dir(tmp_path, "gru")

    interrupt = '{"class_path": "test_series_processes.InterruptAt", "init_args": {"step": 12}}'
    handler = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):  # Lightning's graceful shutdown after KeyboardInterrupt
            cli_main([*args, f"--trainer.callbacks+={interrupt}"])
    finally:
        signal.signal(signal.SIGINT, handler)  # Lightning ignores SIGINT after the first
    interrupted = run_dir(tmp_path, "gru")
    last = interrupted / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 10

    cli_main([*args, "--ckpt_path", str(last)])
    resumed = run_dir(tmp_path, "gru")
    assert torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 20
    expected, got = weights(uninterrupted), weights(resumed)
    assert expected.keys() == got.keys()
    for key in expected:
        assert torch.equal(got[key], expected[key]), key


@pytest.mark.slow
def test_two_processes_train_a_sequence_model_with_synced_metrics_and_write_once(tmp_path, tiny_file):
    ddp = ["--trainer.strategy", "ddp_spawn", "--trainer.devices", "2", "--trainer.accelerator", "cpu"]
    fit = ["fit", *tiny_args(tmp_path, tiny_file, "gru", "--trainer.max_epochs", "2"), *ddp]
    result = subprocess.run(command(*fit, "--trainer.log_every_n_steps", "1"), capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    run = run_dir(tmp_path, "gru")
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(run), size_guidance={"tensors": 0})
    events.Reload()
    # Each process takes 16 of the 33 training words in batches of 8: 2 steps an epoch, logged by rank 0.
    assert len(events.Scalars("train/loss")) == 4
    val = [e.value for e in events.Scalars("val/nll")]
    assert len(val) == 2 and len(events.Tensors("samples/text_summary")) == 2

    # Each process's generators are kept for a resume: their dropout masks differ.
    assert len(torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["rng_states"]) == 2

    # Synced: the logged val/nll is the NLL of the whole split, not of process 0's half.
    model = GRU.load_from_checkpoint(run / "checkpoints" / "last.ckpt", weights_only=True, map_location="cpu")
    data = WordsDataModule(path=str(tiny_file))
    data.setup()
    x, y = Vocabulary(data.vocab).encode_padded(data.splits["val"], data.block_size)
    with model.evaluating():
        whole = sum(model.nll(batch).item() for batch in EvalBatches(x, y, 4096))
    assert val[-1] == pytest.approx(whole, rel=1e-5)

    ckpt = str(run / "checkpoints" / "last.ckpt")
    predict = [
        "predict",
        *tiny_args(tmp_path, tiny_file, "gru"),
        *ddp,
        "--sampling.num_samples",
        "7",
        "--ckpt_path",
        ckpt,
    ]
    result = subprocess.run(command(*predict), capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr[-3000:]
    words = result.stdout.removesuffix("\n").split("\n")
    assert len(words) == 7  # each sampled once, printed once, by rank 0
    saved = (run_dir(tmp_path, "gru") / "samples.tsv").read_text().splitlines()
    assert [line.split("\t")[0] for line in saved] == words


@pytest.mark.slow
def test_a_short_gru_run_on_names_beats_the_bigram(tmp_path, names_file):
    # One epoch of the config (401 steps of 64 names), validated once at its end.
    cli_main(["fit", *fit_args(tmp_path, names_file, "configs/gru.yaml"), "--trainer.max_epochs", "1"])
    val = scalars(run_dir(tmp_path, "gru"), "val/nll")
    data = WordsDataModule(path=str(names_file))
    data.setup()
    bigram = count_model_val_nll(data)  # the count bigram at its best smoothing on the same split: 2.45
    assert len(val) == 1 and val[0] < bigram - 0.1, (val, bigram)
