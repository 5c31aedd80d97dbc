"""LateDropout: no dropout before its epoch, the model's own from it on, in a real fit, resumed or not."""

import pytest
from conftest import tiny_args
from lightning.pytorch.callbacks import Callback
from torch import nn

from makemore_pl import LateDropout, UsageError
from makemore_pl.cli import MakemoreCLI, run_cli


class RatesSeen(Callback):
    """Each training epoch's dropout rates, as the first batch meets them (after every epoch-start hook)."""

    def __init__(self) -> None:
        self.epochs: dict[int, list[float]] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.current_epoch not in self.epochs:
            self.epochs[trainer.current_epoch] = rates(pl_module)


def rates(model: nn.Module) -> list[float]:
    found = [m.p for m in model.modules() if isinstance(m, nn.Dropout)]
    return found + [m.dropout for m in model.modules() if isinstance(m, nn.RNNBase)]


def late_fit(tmp_path, words, name, *extra):
    """The config with LateDropout from epoch 2 added as a user would, and a recorder after it."""
    late = ["--trainer.callbacks+=makemore_pl.LateDropout", "--trainer.callbacks.start_epoch=2"]
    cli = run_cli(MakemoreCLI, tiny_args(tmp_path, words, name, "--model.dropout", "0.3", *late, *extra), run=False)
    assert any(isinstance(c, LateDropout) and c.start_epoch == 2 for c in cli.trainer.callbacks)
    seen = RatesSeen()
    cli.trainer.callbacks.append(seen)
    return cli, seen


@pytest.mark.parametrize("name", ["transformer", "gru"])
def test_dropout_is_off_before_the_start_epoch_and_the_models_own_from_it(tmp_path, tiny_file, name):
    cli, seen = late_fit(tmp_path, tiny_file, name, "--model.layers", "2", "--trainer.max_epochs", "4")
    built = rates(cli.model)
    assert built and set(built) == {0.3}  # every dropout of the model, attention's and the GRU's included
    cli.trainer.fit(cli.model, datamodule=cli.datamodule)
    assert sorted(seen.epochs) == [0, 1, 2, 3]
    for epoch, found in seen.epochs.items():
        assert found == ([0.0] * len(built) if epoch < 2 else built), epoch
    assert rates(cli.model) == built  # fit leaves the model as it was built


class StopAfterFirstEpoch(Callback):
    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.should_stop = True


def test_a_resumed_run_switches_at_the_same_epoch(tmp_path, tiny_file):
    first, _ = late_fit(tmp_path, tiny_file, "transformer", "--trainer.max_epochs", "3")
    first.trainer.callbacks.append(StopAfterFirstEpoch())  # interrupted: the schedule still spans 3 epochs
    first.trainer.fit(first.model, datamodule=first.datamodule)
    checkpoint = next((tmp_path / "logs").rglob("last.ckpt"))
    resumed, seen = late_fit(tmp_path, tiny_file, "transformer", "--trainer.max_epochs", "3")
    resumed.trainer.fit(resumed.model, datamodule=resumed.datamodule, ckpt_path=checkpoint)
    assert sorted(seen.epochs) == [1, 2]
    assert set(seen.epochs[1]) == {0.0} and set(seen.epochs[2]) == {0.3}


def test_a_negative_start_epoch_is_refused():
    with pytest.raises(UsageError, match="start_epoch must be at least 0, got -1"):
        LateDropout(start_epoch=-1)
