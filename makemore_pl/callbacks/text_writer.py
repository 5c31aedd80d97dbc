"""Streams what `predict` writes for a model of running text: the prompt, then its continuation as drawn."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import BasePredictionWriter

from makemore_pl.continuation import continue_text, write_stream
from makemore_pl.data.files import write_atomic
from makemore_pl.sampling.text_options import ContinuationRequest


class TextWriter(BasePredictionWriter):
    def __init__(self, filename: str = "continuation.txt") -> None:
        """Write the prompt and its continuation to stdout, each character as soon as it is drawn.

        The whole text is then saved in the run's log folder, and one line on stderr says where.

        Args:
            filename: File written in the log folder: the prompt, then the continuation.
        """
        super().__init__(write_interval="batch")
        self.filename = filename

    def write_on_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        prediction: Any,
        batch_indices: Any,
        batch: ContinuationRequest,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every process must ask
        if not trainer.is_global_zero:
            return
        request = batch
        characters = continue_text(
            pl_module,
            request.prompt,
            request.length,
            temperature=request.temperature,
            top_k=request.top_k,
            seed=request.seed,
            source=request.source,
        )
        text = write_stream(request.prompt, characters, sys.stdout)
        sys.stdout.write("\n")  # the shell's prompt on a line of its own
        sys.stdout.flush()
        path = Path(log_dir or ".") / self.filename
        write_atomic(path, text.encode())
        print(
            f"makemore-pl: wrote {request.length} characters after a prompt of {len(request.prompt)}; saved to {path}",
            file=sys.stderr,
        )
