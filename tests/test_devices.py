"""Every config's model on an accelerator: nothing float64 for MPS, and on a CUDA GPU, fits, samples and checkpoints.

The tests marked ``gpu`` need a CUDA device: conftest skips them where there is none, and only them.
"""

from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import REPO, fit_args
from helpers import words_for

from makemore_pl.cli import MakemoreCLI, cli_main, run_cli

CONFIGS = sorted((REPO / "configs").glob("*.yaml"))
IDS = [c.stem for c in CONFIGS]


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_no_model_moves_a_float64_tensor_to_an_accelerator(tmp_path, tiny_file, config):
    # Apple's MPS has no float64. The meta device stands in for it: it exists on every
    # machine, and .to() moves a model there exactly as it would to MPS or CUDA.
    words = words_for(config, tiny_file, tmp_path)
    model = run_cli(MakemoreCLI, fit_args(tmp_path, words, str(config)), run=False).model
    model.to("meta")
    tensors = [*model.named_parameters(), *model.named_buffers()]
    moved = [name for name, t in tensors if t.device.type == "meta"]
    assert moved, "nothing moved: the check would pass vacuously"
    float64 = [(name, t.device.type) for name, t in tensors if t.dtype == torch.float64]
    assert all(device == "cpu" for _, device in float64), float64


class DeviceRecorder(L.Callback):
    """The devices that the model's parameters and the batches were on during training."""

    def __init__(self) -> None:
        self.devices: set[str] = set()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.devices |= {t.device.type for t in batch if isinstance(t, torch.Tensor)}
        self.devices |= {p.device.type for p in pl_module.parameters()}


def gpu_fit(tmp_path: Path, words: Path, config: Path, *extra: str) -> MakemoreCLI:
    words = words_for(config, words, tmp_path)
    args = [*fit_args(tmp_path, words, str(config)), "--trainer.accelerator", "gpu", "--trainer.devices", "1"]
    return run_cli(MakemoreCLI, [*args, "--trainer.max_epochs", "2", "--trainer.max_steps", "4", *extra], run=False)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["32-true", "bf16-mixed"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_every_config_fits_a_few_steps_on_the_gpu(tmp_path, tiny_file, config, precision):
    cli = gpu_fit(tmp_path, tiny_file, config, "--trainer.precision", precision)
    recorder = DeviceRecorder()
    cli.trainer.callbacks.append(recorder)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert "cuda" in recorder.devices and recorder.devices <= {"cuda", "cpu"}
    metrics = cli.trainer.callback_metrics  # the lecture's configs hold nothing out: no val/nll
    nll = metrics["val/nll"] if "val/nll" in metrics else metrics["train/nll"]
    assert torch.isfinite(nll), nll


def predicted_words(tmp_path: Path, words: Path, config: Path, checkpoint: Path, accelerator: str, capsys) -> list:
    capsys.readouterr()
    cli_main(
        ["predict", *fit_args(tmp_path, words, str(config)), "--ckpt_path", str(checkpoint),
         "--trainer.accelerator", accelerator, "--trainer.devices", "1", "--sampling.num_samples", "12"]
    )  # fmt: skip
    return capsys.readouterr().out.split("\n")[:-1]


@pytest.mark.gpu
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_a_gpu_checkpoint_samples_the_same_words_on_the_cpu(tmp_path, tiny_file, config, capsys, monkeypatch):
    # TF32 in cuDNN's recurrences rounds to about 1e-3, enough to flip a draw near a tie now
    # and then; in full float32 the two devices agree to about 1e-6.
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    cli = gpu_fit(tmp_path, tiny_file, config)
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    checkpoint = Path(cli.trainer.checkpoint_callback.last_model_path)
    assert checkpoint.exists()

    on_gpu = predicted_words(tmp_path, tiny_file, config, checkpoint, "gpu", capsys)
    on_cpu = predicted_words(tmp_path, tiny_file, config, checkpoint, "cpu", capsys)
    assert len(on_cpu) == 12
    assert on_gpu == on_cpu
