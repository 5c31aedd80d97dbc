"""What the console shows: no warning that a user cannot act on. Each filter is narrow, and says why.

docs/console.md lists them, with the warnings that are kept because a user can act on them.
"""

from __future__ import annotations

import logging
import warnings


def _not_a_tip(record: logging.LogRecord) -> bool:
    # Lightning's advertisements for its cloud services (litlogger, litmodels): nothing about this run.
    return not str(record.msg).startswith("💡 Tip:")


def silence_false_alarms() -> None:
    """For every command: what Lightning says about makemore-pl's choices that are on purpose."""
    logging.getLogger("lightning.pytorch.utilities.rank_zero").addFilter(_not_a_tip)  # added once
    # Our predict loader yields index tensors, not a DataLoader with a sampler: there are no
    # batch indices to infer, and SampleWriter does not need them.
    warnings.filterwarnings("ignore", message="Couldn't infer the batch indices")
    # Raised inside Lightning on newer torch; nothing a user of makemore-pl can act on.
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # CountNGram learns by counting: running with no optimizer is the point.
    warnings.filterwarnings("ignore", message="`LightningModule.configure_optimizers` returned `None`")


def quiet_resume(in_place: bool) -> None:
    """For fit from a checkpoint: ModelCheckpoint's notes on where it writes, each the point of the command."""
    # A resume in place finds the run's own checkpoints in its folder; --new_version writes elsewhere.
    message = "Checkpoint directory .* exists and is not empty" if in_place else "The dirpath has changed from"
    warnings.filterwarnings("ignore", message=message)
    # Lightning replays the end of the restored epoch, whose val/nll the checkpoint does not hold:
    # ModelCheckpoint finds no monitored value there, and the next validation logs it.
    warnings.filterwarnings("ignore", message=r"`ModelCheckpoint\(monitor=.*could not find the monitored key")


def quiet_evaluation() -> None:
    """For validate, test and predict from a checkpoint, which write no checkpoint."""
    # Nor do they need the state that the callbacks which wrote it (ModelCheckpoint, EarlyStopping)
    # keep for a resumed fit: their notes on it are no news.
    warnings.filterwarnings("ignore", message="The dirpath has changed from")
    warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`, callbacks used")
