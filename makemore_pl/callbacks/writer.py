"""Delivers what `predict` samples, since LightningCLI discards what ``trainer.predict`` returns."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
import torch.distributed as dist
from lightning.pytorch.callbacks import BasePredictionWriter

from makemore_pl.data.files import write_atomic


class SampleWriter(BasePredictionWriter):
    def __init__(self, filename: str = "samples.tsv", stdout: bool = True) -> None:
        """Print the sampled words to stdout, one per line, and save them in the run's log folder.

        Each word is marked as new or as one of the training words, in the file and in a
        summary line on stderr, so that stdout stays one word per line.

        Args:
            filename: File written in the log folder: a word and "new" or "train" per line ("unknown"
                when the words file is missing).
            stdout: Also print the words to stdout.
        """
        super().__init__(write_interval="epoch")
        self.filename, self.stdout = filename, stdout

    def write_on_epoch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, predictions: Any, batch_indices: Any
    ) -> None:
        samples = [pair for batch in predictions for pair in batch]
        if dist.is_available() and dist.is_initialized():
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, samples)
            samples = [pair for part in gathered for pair in part]
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        if not trainer.is_global_zero:
            return
        words = [word for _, word in sorted(samples)]
        data = trainer.datamodule
        if data is None or data.has_file:
            seen = set(data.train_words) if data is not None else set()
            marks = ["train" if word in seen else "new" for word in words]
            summary = f"{marks.count('new')} new and {marks.count('train')} from the training words"
        else:  # sampled from the checkpoint alone: only the marks need the words file
            marks = ["unknown"] * len(words)
            summary = f"not marked new or train, since the words file {data.path} is missing (--data.path)"
        path = Path(log_dir or ".") / self.filename
        write_atomic(path, "".join(f"{w}\t{m}\n" for w, m in zip(words, marks)).encode())
        if self.stdout:
            print("\n".join(words), flush=True)
        print(f"makemore-pl: sampled {len(words)} words, {summary}; saved to {path}", file=sys.stderr)
